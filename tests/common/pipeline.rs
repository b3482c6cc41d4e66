//! Helpers for pipeline tests: routes built on the example and test plugins, and reading what
//! the consumer plugins logged.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::{Host, build_rust_plugins, repo};

pub fn wasm(name: &str) -> String {
    repo()
        .join("target/wasm32-wasip2/release")
        .join(name)
        .display()
        .to_string()
}

/// The order pipeline with a high-value threshold of 100, plus a DLQ consumer on each DLQ.
pub fn routes(filter_plugin: &str, extra: &str) -> String {
    format!(
        r#"
[tables.orders]
key = "orderId"

[plugins.high-value]
world = "filter"
wasm = "{high_value}"
config = {{ threshold = 100 }}

[plugins.faulty]
world = "filter"
wasm = "{faulty}"

[plugins.faulty-enricher]
world = "enricher"
wasm = "{faulty_enricher}"

[plugins.customer-tier]
world = "enricher"
wasm = "{tier}"
config = {{ "tier.c-1" = "gold", "tier.c-2" = "silver", default = "standard" }}

[plugins.notify]
world = "consumer"
wasm = "{notify}"

[plugins.dead-letters]
world = "consumer"
wasm = "{notify}"
config = {{ honor_fail = false }}

[pipes.orders]
source = "orders"
filter = ['{{"eventName": ["INSERT"]}}']
filter_plugin = "{filter_plugin}"
enrichment = "customer-tier"
target = {{ bus = "orders", detail_type = "OrderCreated", source = "switchyard.orders" }}
retry = {{ attempts = 1 }}
dlq = "pipe-dlq"

[buses.orders.rules.new-orders]
pattern = '{{"source": ["switchyard.orders"]}}'
targets = [{{ queue = "notifications" }}]

[queues.notifications]
visibility_timeout = "5s"
max_receive_count = 3
dlq = "notifications-dlq"

[queues.notifications-dlq]
[queues.pipe-dlq]

[consumers.notify]
queue = "notifications"
handler = "notify"
batch_size = 10
concurrency = 2

[consumers.pipe-dead-letters]
queue = "pipe-dlq"
handler = "dead-letters"

[consumers.queue-dead-letters]
queue = "notifications-dlq"
handler = "dead-letters"
{extra}"#,
        high_value = wasm("high_value.wasm"),
        faulty = wasm("fault_filter.wasm"),
        faulty_enricher = wasm("fault_enricher.wasm"),
        tier = wasm("customer_tier.wasm"),
        notify = wasm("notify.wasm"),
    )
}

pub fn build_test_plugins() {
    build_rust_plugins();
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "env -u CARGO_TARGET_DIR cargo build --release --quiet",
        ])
        .current_dir(repo().join("tests/plugins"))
        .status()
        .unwrap();
    assert!(status.success());
}

/// One "order handled" log line of a consumer plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub plugin: String,
    pub order: String,
    pub tier: String,
    pub version: String,
    pub receive_count: u32,
}

pub fn field(line: &str, name: &str) -> String {
    let start = line.find(&format!("{name}=\"")).map(|i| i + name.len() + 2);
    start
        .and_then(|s| line[s..].find('"').map(|e| line[s..s + e].to_string()))
        .unwrap_or_default()
}

pub fn handled(host: &Host) -> Vec<Handled> {
    host.logs()
        .lines()
        .filter(|line| line.contains("order handled"))
        .map(|line| Handled {
            plugin: field(line, "plugin"),
            order: field(line, "orderId"),
            tier: field(line, "customerTier"),
            version: field(line, "version"),
            receive_count: field(line, "receiveCount").parse().unwrap_or(0),
        })
        .collect()
}

/// Waits (at most 60 s) until `done` holds for what the consumers have logged.
pub fn wait_for(host: &Host, what: &str, done: impl Fn(&[Handled]) -> bool) -> Vec<Handled> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = handled(host);
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; consumers logged {} lines:\n{}",
            seen.len(),
            host.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub async fn post(client: &reqwest::Client, host: &Host, order: serde_json::Value) {
    let response = client
        .post(format!("{}/orders", host.url))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Applies a merge patch to order `key` at `version`.
pub async fn patch(client: &reqwest::Client, host: &Host, key: &str, version: u32, body: &str) {
    let response = client
        .patch(format!("{}/orders/{key}", host.url))
        .header("if-match", format!("\"{version}\""))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// When each "order handled" line of `order` was logged, with its receive count.
pub fn handled_at(host: &Host, order: &str) -> Vec<(time::OffsetDateTime, u32)> {
    host.logs()
        .lines()
        .filter(|line| line.contains("order handled") && field(line, "orderId") == order)
        .map(|line| {
            let stamp = line.split_whitespace().next().unwrap();
            let at =
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            (at, field(line, "receiveCount").parse().unwrap())
        })
        .collect()
}

/// The messages on `queue`, oldest first, once there are at least `n` (waits at most 60 s).
pub async fn wait_for_messages(host: &Host, queue: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = host
            .get_json(&format!("/admin/queues/{queue}/messages?limit=100"))
            .await;
        let messages = listed["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() >= n {
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} messages on `{queue}`: {listed}; the host's log:\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pipe's report in `/admin/pipes`.
pub async fn pipe_report(host: &Host, pipe: &str) -> serde_json::Value {
    let pipes = host.get_json("/admin/pipes").await;
    pipes["pipes"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == pipe))
        .cloned()
        .unwrap_or_else(|| panic!("no pipe `{pipe}` in {pipes}"))
}

/// One table whose pipe filters with the `faulty` test filter (unless `filter_plugin` is
/// empty) and delivers to the queue `out`, with the DLQ `pipe-dlq`.
pub fn faulty_pipe(pipe_settings: &str, filter_plugin: &str) -> String {
    let filter = if filter_plugin.is_empty() {
        String::new()
    } else {
        format!("filter_plugin = \"{filter_plugin}\"")
    };
    format!(
        r#"
[tables.orders]
key = "orderId"

[plugins.faulty]
world = "filter"
wasm = "{faulty}"

[pipes.orders]
source = "orders"
{filter}
target = {{ queue = "out" }}
dlq = "pipe-dlq"
{pipe_settings}

[queues.out]
[queues.pipe-dlq]
"#,
        faulty = wasm("fault_filter.wasm"),
    )
}
