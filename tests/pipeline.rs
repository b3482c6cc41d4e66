//! The routing pipeline end to end, through the real binary with real compiled plugins: orders
//! POSTed to the API flow through the change stream, a pipe, a bus and a queue into a consumer.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Host, build_rust_plugins, repo};
use reqwest::StatusCode;
use serde_json::json;

fn wasm(name: &str) -> String {
    repo()
        .join("target/wasm32-wasip2/release")
        .join(name)
        .display()
        .to_string()
}

/// The order pipeline with a high-value threshold of 100, plus a DLQ consumer on each DLQ.
fn routes(filter_plugin: &str, extra: &str) -> String {
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
        tier = wasm("customer_tier.wasm"),
        notify = wasm("notify.wasm"),
    )
}

fn build_test_plugins() {
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
struct Handled {
    plugin: String,
    order: String,
    tier: String,
    receive_count: u32,
}

fn field(line: &str, name: &str) -> String {
    let start = line.find(&format!("{name}=\"")).map(|i| i + name.len() + 2);
    start
        .and_then(|s| line[s..].find('"').map(|e| line[s..s + e].to_string()))
        .unwrap_or_default()
}

fn handled(host: &Host) -> Vec<Handled> {
    host.logs()
        .lines()
        .filter(|line| line.contains("order handled"))
        .map(|line| Handled {
            plugin: field(line, "plugin"),
            order: field(line, "orderId"),
            tier: field(line, "customerTier"),
            receive_count: field(line, "receiveCount").parse().unwrap_or(0),
        })
        .collect()
}

/// Waits (at most 60 s) until `done` holds for what the consumers have logged.
fn wait_for(host: &Host, what: &str, done: impl Fn(&[Handled]) -> bool) -> Vec<Handled> {
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

async fn post(client: &reqwest::Client, host: &Host, order: serde_json::Value) {
    let response = client
        .post(format!("{}/orders", host.url))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn orders_arrive_at_the_consumer_enriched_and_filtered_exactly_as_routed() {
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    let customers = ["c-1", "c-2", "c-9"];
    let posts = (0..1000).map(|i| {
        let (client, url) = (client.clone(), format!("{}/orders", host.url));
        let order = json!({"orderId": format!("o-{i:04}"), "customerId": customers[i % 3], "total": (i % 200) as f64 + 0.5});
        tokio::spawn(async move { client.post(url).json(&order).send().await.unwrap().status() })
    });
    let statuses = futures::future::join_all(posts).await;
    assert!(
        statuses
            .into_iter()
            .all(|s| s.unwrap() == StatusCode::CREATED)
    );
    // Changes to existing orders are MODIFY records: the pattern filter drops them.
    for i in [150, 151] {
        let patch = client
            .patch(format!("{}/orders/o-{i:04}", host.url))
            .header("if-match", "\"1\"")
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"note": "changed"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(patch.status(), StatusCode::OK);
    }

    let expected: BTreeMap<String, &str> = (0..1000)
        .filter(|i| (i % 200) as f64 + 0.5 > 100.0)
        .map(|i| (format!("o-{i:04}"), ["gold", "silver", "standard"][i % 3]))
        .collect();
    wait_for(&host, "every high-value order", |seen| {
        seen.len() >= expected.len()
    });
    std::thread::sleep(Duration::from_millis(500)); // anything extra would arrive now
    let seen = handled(&host);
    let mut orders = BTreeMap::new();
    for h in &seen {
        assert_eq!(h.plugin, "notify");
        assert!(
            orders.insert(h.order.clone(), h.tier.clone()).is_none(),
            "order {} arrived twice",
            h.order
        );
    }
    let expected: BTreeMap<String, String> = expected
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    assert_eq!(
        orders, expected,
        "exactly the orders above the threshold, each enriched with its tier"
    );
}

#[tokio::test]
async fn a_record_the_filter_plugin_fails_goes_to_the_pipe_dlq_and_the_rest_still_flow() {
    build_test_plugins();
    let host = Host::start(&routes("faulty", ""));
    let client = Host::client();
    post(
        &client,
        &host,
        json!({"orderId": "o-1", "customerId": "c-1"}),
    )
    .await;
    post(
        &client,
        &host,
        json!({"orderId": "o-2", "customerId": "c-2", "do": "error"}),
    )
    .await;
    post(
        &client,
        &host,
        json!({"orderId": "o-3", "customerId": "c-9"}),
    )
    .await;
    let seen = wait_for(&host, "two orders and one dead letter", |seen| {
        seen.len() >= 3
    });
    let by_plugin: BTreeSet<(String, String)> = seen
        .iter()
        .map(|h| (h.plugin.clone(), h.order.clone()))
        .collect();
    assert_eq!(
        by_plugin,
        BTreeSet::from([
            ("notify".to_string(), "o-1".to_string()),
            ("notify".to_string(), "o-3".to_string()),
            ("dead-letters".to_string(), "o-2".to_string()),
        ])
    );
    let logs = host.logs();
    assert!(logs.contains("record sent to the pipe's dlq"), "{logs}");
    assert!(
        logs.contains("plugin `faulty` returned an error: the event asked for an error"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_message_the_consumer_keeps_retrying_reaches_the_queue_dlq_after_max_receive_count() {
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    post(&client, &host, json!({"orderId": "o-1", "customerId": "c-1", "total": 500, "fail": "retry", "retryAfter": 0})).await;
    post(
        &client,
        &host,
        json!({"orderId": "o-2", "customerId": "c-2", "total": 500}),
    )
    .await;
    let seen = wait_for(&host, "three tries then a dead letter", |seen| {
        seen.iter().any(|h| h.plugin == "dead-letters")
    });
    let tries: Vec<u32> = seen
        .iter()
        .filter(|h| h.plugin == "notify" && h.order == "o-1")
        .map(|h| h.receive_count)
        .collect();
    assert_eq!(
        tries,
        [1, 2, 3],
        "received max_receive_count times, then moved"
    );
    let dead: Vec<&Handled> = seen.iter().filter(|h| h.plugin == "dead-letters").collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].order, "o-1");
    assert!(
        seen.iter()
            .any(|h| h.plugin == "notify" && h.order == "o-2"),
        "the other order flows on"
    );
}
