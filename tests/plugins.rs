//! Plugins end to end: the example consumers name each item by its table's own key, not by a
//! hard-coded `orderId`; the SDKs pass their own tests; Lambda handlers run unchanged; a call
//! ends at its timeout whatever it waits on, and an outgoing request at its own limits; the
//! compiled-code cache knows a component by its content. The templates of `switchyard plugin
//! new` are tested in templates.rs.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pipeline::{build_test_plugins, field, wasm};
use common::{BINARY, Host, build_rust_plugins, repo, run};
use reqwest::StatusCode;
use serde_json::json;

/// A table keyed `id`, whose changes reach the consumer plugin `wasm` twice: as EventBridge
/// events through a bus (plugin `{consumer}`), and as the stream records themselves from a pipe
/// that targets a queue (plugin `{consumer}-records`).
fn id_keyed_table_consumed_by(consumer: &str, wasm: &str, memory: &str) -> String {
    format!(
        r#"
[tables.things]
key = "id"

[plugins.{consumer}]
world = "consumer"
wasm = "{wasm}"
memory = "{memory}"

[plugins.{consumer}-records]
world = "consumer"
wasm = "{wasm}"
memory = "{memory}"

[pipes.events]
source = "things"
target = {{ bus = "things", detail_type = "ThingCreated", source = "switchyard.things" }}

[buses.things.rules.all]
pattern = '{{"source": ["switchyard.things"]}}'
targets = [{{ queue = "events" }}]

[queues.events]

[pipes.records]
source = "things"
target = {{ queue = "records" }}

[queues.records]

[consumers.events]
queue = "events"
handler = "{consumer}"

[consumers.records]
queue = "records"
handler = "{consumer}-records"
"#
    )
}

/// Creates item `x-1` in the table keyed `id`.
async fn post_thing(host: &Host) {
    let response = Host::client()
        .post(format!("{}/things", host.url))
        .json(&json!({"id": "x-1", "customerId": "c-1", "total": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Waits (at most 60 s) until each of `plugins` has logged a line containing `message`; the
/// first such line of each, in the order of `plugins`.
fn wait_for_lines(host: &Host, message: &str, plugins: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = host.logs();
        let lines: Vec<String> = plugins
            .iter()
            .filter_map(|plugin| {
                logs.lines()
                    .find(|line| line.contains(message) && field(line, "plugin") == *plugin)
                    .map(str::to_string)
            })
            .collect();
        if lines.len() == plugins.len() {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for `{message}` from each of {plugins:?}; the log:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn the_rust_notify_consumer_logs_the_key_of_a_table_keyed_id_from_an_event_or_a_record() {
    build_rust_plugins();
    let host = Host::start(&id_keyed_table_consumed_by(
        "notify",
        &wasm("notify.wasm"),
        "32MiB",
    ));
    post_thing(&host).await;
    let lines = wait_for_lines(&host, "order handled", &["notify", "notify-records"]);
    for line in &lines {
        assert!(line.contains(r#" id="x-1""#), "{line}");
        assert!(!line.contains("orderId"), "{line}");
    }
}

/// Builds the JavaScript example plugins once per test run (installing componentize-js on
/// first use); the folder of their components.
/// Runs a language's plugin build script once per test run; the folder the components land in.
fn built(script: &'static str, once: &'static OnceLock<()>) -> PathBuf {
    once.get_or_init(|| {
        let status = Command::new("sh")
            .arg(script)
            .current_dir(repo())
            .status()
            .expect("sh runs");
        assert!(status.success(), "{script} builds the plugins");
    });
    repo().join("target/plugins")
}

fn js_plugins() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    built("plugins/js/build.sh", &BUILT)
}

fn python_plugins() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    built("plugins/python/build.sh", &BUILT)
}

#[tokio::test]
async fn the_javascript_audit_consumer_logs_the_key_of_a_table_keyed_id_from_an_event_or_a_record()
{
    let audit = js_plugins().join("js_audit.wasm");
    let host = Host::start(&id_keyed_table_consumed_by(
        "audit",
        audit.to_str().unwrap(),
        "256MiB",
    ));
    post_thing(&host).await;
    let lines = wait_for_lines(&host, "order audited", &["audit", "audit-records"]);
    for line in &lines {
        assert!(line.contains(r#" id="x-1""#), "{line}");
        assert!(!line.contains("orderId"), "{line}");
    }
}

#[test]
fn the_rust_sdk_passes_its_own_tests() {
    // Natively: its conversions need no host. Its own target folder, under the repository's.
    let target = repo().join("target/sdk");
    let status = Command::new("sh")
        .arg("-c")
        .arg("env -u CARGO_TARGET_DIR cargo test --quiet --locked --target-dir \"$1\"")
        .arg("sh")
        .arg(&target)
        .current_dir(repo().join("plugins/sdk/rust"))
        .status()
        .unwrap();
    assert!(status.success(), "the SDK's tests fail");
}

#[tokio::test]
async fn the_aws_samples_python_lambda_handler_runs_unchanged_as_a_consumer() {
    let wasm = python_plugins().join("py_order_created.wasm");
    let host = Host::start(&id_keyed_table_consumed_by(
        "order-created",
        wasm.to_str().unwrap(),
        "256MiB",
    ));
    post_thing(&host).await;
    // `logging.info(event)` of Lambda's SQS event, in the host's log, tagged with the plugin.
    let lines = wait_for_lines(
        &host,
        "{'Records': [{'messageId': ",
        &["order-created", "order-created-records"],
    );
    for line in &lines {
        for part in [
            "'eventSource': 'aws:sqs'",
            "'eventSourceARN': 'arn:aws:sqs:us-east-1:000000000000:switchyard'",
            "'md5OfBody': '",
            "'ApproximateReceiveCount': '1'",
            r#""Keys":{"id":{"S":"x-1"}}"#,
        ] {
            assert!(line.contains(part), "{part} is not in {line}");
        }
    }
    // A normal return handles every message: none is left on the queues.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queues = host.get_json("/admin/queues").await;
        let left: u64 = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["visible"].as_u64().unwrap() + q["in_flight"].as_u64().unwrap())
            .sum();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "messages left: {queues}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_javascript_lambda_handlers_batch_item_failures_are_retried_and_the_rest_handled() {
    let wasm = js_plugins().join("js_order_created.wasm");
    let routes = format!(
        r#"
[tables.things]
key = "id"

[plugins.order-created]
world = "consumer"
wasm = "{}"
memory = "256MiB"

[pipes.records]
source = "things"
target = {{ queue = "records" }}

[queues.records]
visibility_timeout = "1s"

[consumers.records]
queue = "records"
handler = "order-created"
"#,
        wasm.display()
    );
    let host = Host::start(&routes);
    for (id, fail) in [("x-1", "no"), ("x-2", "retry")] {
        let response = Host::client()
            .post(format!("{}/things", host.url))
            .json(&json!({"id": id, "fail": fail}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    // x-2 is reported failed, so it comes back after its visibility timeout; x-1 does not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = |logs: &str, id: &str| {
        let key = format!(r#"{{"id":{{"S":"{id}"}}}}"#);
        logs.lines()
            .filter(|l| l.contains("order received") && l.contains(&key))
            .count()
    };
    loop {
        let logs = host.logs();
        if count(&logs, "x-2") >= 3 {
            assert_eq!(count(&logs, "x-1"), 1, "{logs}");
            assert!(
                logs.contains("switchyard-plugin"),
                "the context's function name"
            );
            break;
        }
        assert!(Instant::now() < deadline, "x-2 was not retried:\n{logs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn the_javascript_sdk_passes_its_own_tests() {
    let status = Command::new("node")
        .args([
            "--import",
            "./test/register.mjs",
            "--test",
            "test/sdk.test.mjs",
        ])
        .current_dir(repo().join("plugins/sdk/js"))
        .status()
        .unwrap();
    assert!(status.success(), "the JavaScript SDK's tests fail");
}

#[test]
fn the_python_sdk_passes_its_own_tests() {
    let status = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .current_dir(repo().join("plugins/sdk/python"))
        .status()
        .unwrap();
    assert!(status.success(), "the Python SDK's tests fail");
}

/// A folder holding `routes` and an input file, for `switchyard check` and `switchyard plugin
/// run`; the default data dir (so the compiled-code cache) is in the folder too.
struct Routes {
    dir: tempfile::TempDir,
}

impl Routes {
    fn new(routes: &str) -> Routes {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("routes.toml"), routes).unwrap();
        Routes { dir }
    }

    fn path(&self) -> String {
        self.dir.path().join("routes.toml").display().to_string()
    }

    /// `switchyard check`, which also fills the compiled-code cache.
    fn check(&self) -> std::process::Output {
        run(&["check", "--routes", &self.path()])
    }

    /// `switchyard plugin run NAME` on `input`, run so that a test's own tasks go on; its
    /// output and how long it took.
    async fn plugin_run(&self, name: &str, input: &str) -> (std::process::Output, Duration) {
        let file = self.dir.path().join("input.json");
        std::fs::write(&file, input).unwrap();
        let started = Instant::now();
        let out = tokio::process::Command::new(BINARY)
            .args(["plugin", "run", name, "--routes", &self.path(), "--input"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        (out, started.elapsed())
    }
}

#[tokio::test]
async fn a_consumer_sleeping_past_its_timeout_is_stopped_at_the_timeout() {
    build_test_plugins();
    let routes = Routes::new(&format!(
        "[plugins.sleepy]\nworld = \"consumer\"\nwasm = \"{}\"\ntimeout = \"300ms\"\n",
        wasm("fetch_consumer.wasm")
    ));
    assert_eq!(routes.check().status.code(), Some(0));
    // Sleeping is a host call (WASI's clocks), where the epoch deadline never fires.
    let (out, took) = routes
        .plugin_run("sleepy", r#"[{"sleep_ms": 10000}]"#)
        .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plugin `sleepy` timed out after 300ms"),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the call ended well before the 10 s sleep: {took:?}"
    );
}

/// An upstream on 127.0.0.1 that accepts connections and never answers, until dropped.
struct Silent {
    address: std::net::SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepting = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                held.push(connection);
            }
        });
        Silent { address, accepting }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

#[tokio::test]
async fn an_enricher_waiting_on_a_slow_upstream_fails_its_request_at_the_first_byte_limit() {
    build_test_plugins();
    let upstream = Silent::start().await;
    let url = format!("http://{}/tier", upstream.address);
    let enricher = |limits: &str| {
        format!(
            "[plugins.fetch]\nworld = \"enricher\"\nwasm = \"{}\"\nconfig = {{ url = \"{url}\" }}\nallowed_outbound_hosts = [\"http://{}\"]\n{limits}",
            wasm("fetch_enricher.wasm"),
            upstream.address
        )
    };

    let limited = Routes::new(&enricher(
        "timeout = \"60s\"\noutbound_first_byte_timeout = \"300ms\"\n",
    ));
    assert_eq!(limited.check().status.code(), Some(0));
    let (out, took) = limited.plugin_run("fetch", r#"{"id": "a"}"#).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "plugin `fetch` returned an error: GET {url}: ErrorCode::ConnectionReadTimeout"
        )),
        "the guest sees its request fail: {stderr}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the request ended well before the call's 60 s: {took:?}"
    );

    let short_call = Routes::new(&enricher("timeout = \"300ms\"\n"));
    assert_eq!(short_call.check().status.code(), Some(0));
    let (out, took) = short_call.plugin_run("fetch", r#"{"id": "a"}"#).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plugin `fetch` timed out after 300ms"),
        "a call's timeout shorter than the request's limits ends it: {stderr}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// `component` with a custom section appended that makes it `len` bytes long.
fn padded(mut component: Vec<u8>, len: usize) -> Vec<u8> {
    // Section id 0, its size as a 5-byte LEB128 (padding is allowed), a 1-byte name, filler.
    let filler = len - component.len() - 8;
    let size = filler as u32 + 2;
    component.push(0);
    component.extend((0..5).map(|i| {
        let bits = ((size >> (7 * i)) & 0x7f) as u8;
        if i < 4 { bits | 0x80 } else { bits }
    }));
    component.extend([1, b'p']);
    component.resize(len, 0);
    component
}

#[test]
fn check_reads_a_replaced_component_even_with_the_same_size_and_modification_time() {
    build_test_plugins();
    let filter = std::fs::read(wasm("fault_filter.wasm")).unwrap();
    let consumer = std::fs::read(wasm("notify.wasm")).unwrap();
    let len = filter.len().max(consumer.len()) + 64;
    let routes = Routes::new("[plugins.f]\nworld = \"filter\"\nwasm = \"plugin.wasm\"\n");
    let component = routes.dir.path().join("plugin.wasm");
    let modified = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let put = |bytes: Vec<u8>| {
        std::fs::write(&component, padded(bytes, len)).unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(&component)
            .unwrap();
        file.set_modified(modified).unwrap();
    };

    put(filter);
    let out = routes.check();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // Another world's component under the same name, size and modification time.
    put(consumer);
    assert_eq!(std::fs::metadata(&component).unwrap().len(), len as u64);
    let out = routes.check();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "expected a component of world `filter` (exporting `keep`), but it exports `handle`"
        ),
        "{stderr}"
    );
}
