//! Small promises kept at the edges, through the real binary: a path that does not decode gets
//! the API's JSON error; `/readyz` says not ready while writes cannot commit (a full disk), and
//! ready again once they can; a plugin may call an allowed origin written as an IPv6 literal.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Host;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_id_that_does_not_decode_gets_the_json_error_body() {
    let host = Host::start("[tables.orders]\nkey = \"orderId\"\n[queues.jobs]\n");
    for path in [
        "/orders/%FF",
        "/orders/o-%C3%28",
        "/admin/queues/jobs/messages/%FF%FE",
    ] {
        let response = Host::client()
            .get(format!("{}{path}", host.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/json", "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_path", "{path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn readyz_says_not_ready_while_writes_cannot_commit() {
    // Files the host writes may not grow past 2 MiB (dash counts 512-byte blocks): a disk that
    // fills up. A write past it fails with EFBIG instead of killing the process.
    let mut host = Host::start_in_shell(
        "[host]\nmax_body = \"1MiB\"\n[tables.orders]\nkey = \"orderId\"\n",
        "ulimit -S -f 4096 && trap '' XFSZ",
    );
    let client = Host::client();
    let ready = || async {
        let response = client.get(format!("{}/readyz", host.url)).send().await;
        response.unwrap().status()
    };
    assert_eq!(ready().await, StatusCode::OK);
    let pad = "x".repeat(400_000);
    let mut refused = None;
    for i in 0..40 {
        let response = client
            .post(format!("{}/orders", host.url))
            .json(&json!({"orderId": format!("o-{i}"), "pad": pad}))
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::CREATED {
            refused = Some(response.status());
            break;
        }
    }
    assert_eq!(
        refused,
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "writes fail once the files cannot grow"
    );
    assert_eq!(
        ready().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while writes fail"
    );

    // Room again: readiness tries a write, and says ready once it commits.
    let lifted = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &host.pid().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .status();
    if lifted.is_ok_and(|s| s.success()) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while ready().await != StatusCode::OK {
            assert!(Instant::now() < deadline, "never ready again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let response = client
            .post(format!("{}/orders", host.url))
            .json(&json!({"orderId": "after"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    host.kill();
}

/// A one-request-at-a-time HTTP server on the IPv6 loopback address that answers `ok` and keeps
/// the paths it was asked for; stopped when dropped.
struct Ipv6Server {
    address: std::net::SocketAddr,
    paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Ipv6Server {
    fn start() -> Ipv6Server {
        let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
        let address = listener.local_addr().unwrap();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (paths.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head, up to its empty line.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                if let Some(path) = line.split(' ').nth(1) {
                    seen.lock().unwrap().push(path.to_string());
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Ipv6Server {
            address,
            paths,
            stop,
        }
    }
}

impl Drop for Ipv6Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop to see it.
        let _ = std::net::TcpStream::connect(self.address);
    }
}

#[tokio::test]
async fn a_plugin_may_call_an_allowed_origin_written_as_an_ipv6_literal() {
    common::pipeline::build_test_plugins();
    let server = Ipv6Server::start();
    let origin = format!("http://[::1]:{}", server.address.port());
    let routes = format!(
        r#"
[plugins.fetch]
world = "consumer"
wasm = "{wasm}"
allowed_outbound_hosts = ["{origin}"]

[queues.fetches]

[consumers.fetch]
queue = "fetches"
handler = "fetch"
"#,
        wasm = common::pipeline::wasm("fetch_consumer.wasm"),
    );
    let host = Host::start(&routes);
    let response = Host::client()
        .post(format!("{}/", host.url))
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .header("content-type", "application/x-amz-json-1.0")
        .body(
            json!({
                "QueueUrl": format!("{}/000000000000/fetches", host.url),
                "MessageBody": json!({"url": format!("{origin}/ping")}).to_string(),
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.paths.lock().unwrap().contains(&"/ping".to_string()) {
        assert!(
            Instant::now() < deadline,
            "the plugin never reached {origin}; the host's log:\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_item_as_deep_as_dynamodb_allows_is_readable_and_routable_and_a_deeper_one_is_refused() {
    let host = Host::start(
        r#"
[tables.orders]
key = "orderId"

[pipes.deep]
source = "orders"
filter = ['{"dynamodb": {"NewImage": {"kind": ["deep"]}}}']
unmarshal = true
target = { queue = "deep" }

[queues.deep]
"#,
    );
    // DynamoDB holds 31 levels of lists and maps above a value.
    let nested = |levels: usize| (0..levels).fold(json!("leaf"), |inner, _| json!([inner]));
    let post = |body: Value| {
        Host::client()
            .post(format!("{}/orders", host.url))
            .json(&body)
            .send()
    };
    let accepted = post(json!({"orderId": "o-31", "kind": "deep", "tree": nested(31)}))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let refused = post(json!({"orderId": "o-32", "kind": "deep", "tree": nested(32)}))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_value", "{error}");

    // The change stream reads it, and the pipe's unmarshalled filter routes it to the queue.
    let records = host.records("orders").await;
    assert_eq!(records.len(), 1, "only the accepted item has a record");
    let messages = common::pipeline::wait_for_messages(&host, "deep", 1).await;
    let body: Value = serde_json::from_str(messages[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["dynamodb"]["Keys"]["orderId"]["S"], "o-31");
    let item = host.get_json("/orders/o-31").await;
    assert_eq!(item["tree"], nested(31));
}
