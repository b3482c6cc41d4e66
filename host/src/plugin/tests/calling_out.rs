//! Outgoing HTTP (wasi:http) from enrichers and consumers: the allowed origins, the time and
//! size limits, against a server on 127.0.0.1.

use super::*;

/// A tiny HTTP/1.1 server on 127.0.0.1 for the outbound tests, one connection at a time,
/// stopped when dropped. By path: `/missing` is a 404; `/big` declares and sends a body one byte
/// over the response limit, `/big-streamed` sends it without declaring it; `/hang` reads the
/// request and never answers; `/stall` sends half its body and no more; any other path answers
/// `gold`.
struct Server {
    address: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    Server::answer(stream);
                }
            }
        });
        Server {
            address,
            stop,
            thread: Some(thread),
        }
    }

    /// The origin to allow, `http://127.0.0.1:PORT`.
    fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    fn answer(mut stream: std::net::TcpStream) {
        use std::io::{Read, Write};
        // A client that goes quiet is let go.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        let request = String::from_utf8_lossy(&request);
        let path = request.split(' ').nth(1).unwrap_or_default();
        let over = || vec![b'x'; crate::plugin::outbound::MAX_RESPONSE_BODY as usize + 1];
        // Holds the connection until the client gives up and closes it.
        let hold = |mut stream: std::net::TcpStream| {
            let _ = stream.read_to_end(&mut Vec::new());
        };
        let (head, body): (String, Vec<u8>) = match path {
            "/hang" => return hold(stream),
            "/stall" => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngo");
                return hold(stream);
            }
            "/missing" => ("404 Not Found\r\nContent-Length: 0\r\n".into(), vec![]),
            "/big" => (
                format!("200 OK\r\nContent-Length: {}\r\n", over().len()),
                over(),
            ),
            // No length: the body ends when the connection closes.
            "/big-streamed" => ("200 OK\r\n".into(), over()),
            _ => ("200 OK\r\nContent-Length: 4\r\n".into(), b"gold".to_vec()),
        };
        let head = format!("HTTP/1.1 {head}Connection: close\r\n\r\n");
        // A client that cuts the body off makes the write fail, which is fine.
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&body));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wakes the accept loop, which then sees `stop`.
        let _ = std::net::TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn fetcher(url: &str, allowed: &str) -> String {
    format!(
        "[plugins.fetch]\nworld = \"enricher\"\nwasm = \"WASM/fetch_enricher.wasm\"\nconfig = {{ url = \"{url}\" }}\nallowed_outbound_hosts = [{allowed}]\n"
    )
}

#[test]
fn an_enricher_reaches_the_hosts_it_is_allowed() {
    let server = Server::start();
    let plugins = load(&fetcher(
        &server.url("/tier"),
        &format!("\"{}\"", server.origin()),
    ))
    .unwrap();
    let enriched = plugins
        .enricher(PluginId(0))
        .enrich(&[event("a", serde_json::json!({"id": 1}))])
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&enriched[0].payload).unwrap();
    assert_eq!(payload["fetched"], "gold");
}

#[test]
fn a_request_to_a_host_not_allowed_fails_in_the_guest() {
    let server = Server::start();
    let url = server.url("/tier");
    let plugins = load(&fetcher(&url, "\"https://api.example.com\"")).unwrap();
    let Err(PluginError::Returned {
        plugin, message, ..
    }) = plugins
        .enricher(PluginId(0))
        .enrich(&[event("a", serde_json::json!({}))])
    else {
        panic!("the request must fail")
    };
    assert_eq!(plugin, "fetch");
    assert!(
        message.contains(&format!("GET {url}")) && message.to_lowercase().contains("denied"),
        "{message}"
    );
    let none = load(&fetcher(&url, "")).unwrap();
    assert!(
        none.enricher(PluginId(0))
            .enrich(&[event("a", serde_json::json!({}))])
            .is_err(),
        "no host is allowed by default"
    );
}

/// The fetch consumer, allowed `allowed` (TOML array items), with `extra` keys.
fn fetch_consumer(allowed: &str, extra: &str) -> String {
    format!(
        "[plugins.fetch]\nworld = \"consumer\"\nwasm = \"WASM/fetch_consumer.wasm\"\nallowed_outbound_hosts = [{allowed}]\n{extra}"
    )
}

/// A message asking the fetch consumer to GET `url`.
fn get(url: &str) -> Message {
    message("m", serde_json::json!({ "url": url }))
}

/// The error the fetch plugin fails with when the guest's request fails with `error`.
fn failed(url: &str, error: &str) -> Result<Vec<Outcome>, PluginError> {
    Err(PluginError::Returned {
        plugin: "fetch".into(),
        message: format!("GET {url}: {error}"),
        retryable: true,
    })
}

#[test]
fn a_consumer_reaches_the_origins_it_is_allowed() {
    let server = Server::start();
    let plugins = load(&fetch_consumer(&format!("\"{}\"", server.origin()), "")).unwrap();
    let missing = server.url("/missing");
    assert_eq!(
        plugins
            .consumer(PluginId(0))
            .handle(&[get(&server.url("/tier")), get(&missing)]),
        Ok(vec![
            Outcome::Ok,
            Outcome::DeadLetter(format!("GET {missing}: status 404"))
        ])
    );
}

#[test]
fn a_consumer_request_to_another_port_host_or_scheme_is_refused_in_the_guest() {
    let (server, other) = (Server::start(), Server::start());
    let plugins = load(&fetch_consumer(&format!("\"{}\"", server.origin()), "")).unwrap();
    let port = server.address.port();
    for url in [
        other.url("/tier"),
        format!("http://localhost:{port}/tier"),
        format!("https://127.0.0.1:{port}/tier"),
    ] {
        assert_eq!(
            plugins.consumer(PluginId(0)).handle(&[get(&url)]),
            failed(&url, "ErrorCode::HttpRequestDenied"),
        );
    }
}

#[test]
fn a_consumer_may_call_no_origin_by_default() {
    let server = Server::start();
    let url = server.url("/tier");
    let plugins =
        load("[plugins.fetch]\nworld = \"consumer\"\nwasm = \"WASM/fetch_consumer.wasm\"\n")
            .unwrap();
    assert_eq!(
        plugins.consumer(PluginId(0)).handle(&[get(&url)]),
        failed(&url, "ErrorCode::HttpRequestDenied"),
    );
}

#[test]
fn a_request_that_gets_no_answer_times_the_call_out() {
    let server = Server::start();
    let allowed = format!("\"{}\"", server.origin());
    let timeout = "timeout = \"300ms\"\n";
    let timed_out = PluginError::Timeout {
        plugin: "fetch".into(),
        timeout: Duration::from_millis(300),
    };

    let plugins = load(&fetch_consumer(&allowed, timeout)).unwrap();
    let consumer = plugins.consumer(PluginId(0));
    assert_eq!(
        consumer.handle(&[get(&server.url("/hang"))]),
        Err(timed_out.clone())
    );
    assert_eq!(
        consumer.handle(&[get(&server.url("/stall"))]),
        Err(timed_out.clone()),
        "a body that stops coming times out too"
    );
    assert_eq!(
        consumer.handle(&[get(&server.url("/tier"))]),
        Ok(vec![Outcome::Ok]),
        "the next call works"
    );

    let plugins = load(&format!(
        "{}{timeout}",
        fetcher(&server.url("/hang"), &allowed)
    ))
    .unwrap();
    assert_eq!(
        plugins
            .enricher(PluginId(0))
            .enrich(&[event("a", serde_json::json!({}))])
            .err(),
        Some(timed_out),
        "enrichers' requests stop at the deadline too"
    );
}

#[test]
fn a_request_fails_in_the_guest_at_its_own_limits_before_the_calls_timeout() {
    let server = Server::start();
    let allowed = format!("\"{}\"", server.origin());
    let limits = "timeout = \"60s\"\noutbound_first_byte_timeout = \"300ms\"\noutbound_between_bytes_timeout = \"300ms\"\n";
    let plugins = load(&fetch_consumer(&allowed, limits)).unwrap();
    let consumer = plugins.consumer(PluginId(0));

    let started = Instant::now();
    let hang = server.url("/hang");
    assert_eq!(
        consumer.handle(&[get(&hang)]),
        failed(&hang, "ErrorCode::ConnectionReadTimeout"),
        "no answer within the first-byte limit"
    );
    let stall = server.url("/stall");
    let result = consumer.handle(&[get(&stall)]);
    let Err(PluginError::Returned { message, .. }) = &result else {
        panic!("a body that stops coming fails the request: {result:?}")
    };
    assert!(
        message.starts_with(&format!("GET {stall}: reading the body: ")),
        "{message}"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "both ended well before the call's 60 s: {took:?}"
    );
}

#[test]
fn a_response_body_over_the_limit_fails_with_the_size_error() {
    let server = Server::start();
    let plugins = load(&fetch_consumer(&format!("\"{}\"", server.origin()), "")).unwrap();
    let consumer = plugins.consumer(PluginId(0));
    let big = server.url("/big");
    assert_eq!(
        consumer.handle(&[get(&big)]),
        failed(
            &big,
            &format!(
                "ErrorCode::HttpResponseBodySize(Some({}))",
                crate::plugin::outbound::MAX_RESPONSE_BODY
            )
        ),
        "a declared length over the limit fails the response"
    );

    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let streamed = server.url("/big-streamed");
    let result =
        tracing::subscriber::with_default(subscriber, || consumer.handle(&[get(&streamed)]));
    let Err(PluginError::Returned { message, .. }) = result else {
        panic!("a body going over the limit fails: {result:?}")
    };
    assert!(
        message.starts_with(&format!("GET {streamed}: reading the body: ")),
        "{message}"
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("outgoing response cut off: its body went over the limit")
            && text.contains("plugin=\"fetch\""),
        "{text}"
    );
}

#[test]
fn a_filter_cannot_make_outgoing_requests() {
    // routes.toml refuses `allowed_outbound_hosts` on a filter at its line (see the config
    // tests); a config made otherwise is refused at load.
    let routes = "[plugins.f]\nworld = \"filter\"\nwasm = \"WASM/fault_filter.wasm\"\n"
        .replace("WASM", &wasm_dir().display().to_string());
    let mut config = config::compile(&routes, Path::new("routes.toml")).unwrap();
    config.plugins[0]
        .allowed_outbound_hosts
        .push("https://x.example".into());
    let errors = Plugins::load(&config, Some(&repo().join("target/plugin-cache")))
        .err()
        .unwrap();
    assert_eq!(
        errors[0].message,
        "a filter cannot make outgoing requests: only enrichers and consumers may have `allowed_outbound_hosts`"
    );
}

#[test]
fn output_that_is_not_json_is_refused() {
    let plugins = load(&fetcher("http://127.0.0.1:9/", "")).unwrap();
    let result = plugins
        .enricher(PluginId(0))
        .enrich(&[event("a", serde_json::json!({"do": "bad-json"}))]);
    let Err(PluginError::InvalidOutput { plugin, problem }) = result else {
        panic!("bad JSON is invalid output: {result:?}")
    };
    assert_eq!(plugin, "fetch");
    assert!(
        problem.starts_with("the payload of event `a` is not JSON"),
        "{problem}"
    );
}
