//! What a listener accepts of connections, through the real binary: silent connections beyond
//! `host.max_connections` make room for others instead of keeping health checks out, a silent
//! connection is closed after `host.header_timeout`, and SIGTERM does not wait for idle ones.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Host;

/// Opens `n` connections to the host that never send a byte.
fn silent_connections(host: &Host, n: usize) -> Vec<TcpStream> {
    let address = host.url.trim_start_matches("http://");
    (0..n)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect()
}

/// Whether the host has closed `stream`, waiting at most `wait` to see it.
fn closed_by_host(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => !matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// How many of `streams` the host closes within `within`, once `expected` of them are.
fn count_closed(streams: &mut [TcpStream], expected: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut closed = vec![false; streams.len()];
    while closed.iter().filter(|c| **c).count() < expected && Instant::now() < deadline {
        for (stream, closed) in streams.iter_mut().zip(&mut closed) {
            if !*closed {
                *closed = closed_by_host(stream, Duration::from_millis(50));
            }
        }
    }
    closed.iter().filter(|c| **c).count()
}

async fn healthz(host: &Host) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let response = client.get(format!("{}/healthz", host.url)).send().await;
    response.unwrap().status()
}

#[tokio::test]
async fn silent_connections_beyond_the_limit_make_room_and_health_checks_still_answer() {
    let host = Host::start(
        "[host]\nmax_connections = 8\nheader_timeout = \"5m\"\n[tables.orders]\nkey = \"orderId\"\n",
    );
    let mut silent = silent_connections(&host, 30);
    assert_eq!(healthz(&host).await, reqwest::StatusCode::OK);
    // At the limit, the connection that waited longest for a request made room for the next.
    let closed = count_closed(&mut silent, 22, Duration::from_secs(20));
    assert!(
        closed >= 22,
        "{closed} of 30 silent connections were closed; at most 8 stay open"
    );
    for _ in 0..3 {
        assert_eq!(healthz(&host).await, reqwest::StatusCode::OK);
    }
    let logs = host.logs();
    assert!(
        logs.contains("at the connection limit") && logs.contains("max_connections=8"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_no_request_is_closed_after_the_header_timeout() {
    let host = Host::start("[host]\nheader_timeout = \"1s\"\n[tables.orders]\nkey = \"orderId\"\n");
    let mut silent = silent_connections(&host, 2);
    // Half a request line, then nothing: the headers never end.
    silent[1]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let closed = count_closed(&mut silent, 2, Duration::from_secs(30));
    assert_eq!(closed, 2, "the host closed both within 30s");
    assert_eq!(healthz(&host).await, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn sigterm_does_not_wait_for_connections_without_a_request() {
    let mut host = Host::start(
        "[host]\nshutdown_grace = \"60s\"\nheader_timeout = \"5m\"\nidle_timeout = \"5m\"\n\
         [tables.orders]\nkey = \"orderId\"\n",
    );
    let mut idle = silent_connections(&host, 5);
    idle[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    // One kept alive after a request, waiting for its next.
    idle[1]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 12];
    idle[1].read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let started = Instant::now();
    let status = host.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the host waited {:?} for idle connections (grace 60s)",
        started.elapsed()
    );
}
