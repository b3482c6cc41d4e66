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
    version: String,
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
            version: field(line, "version"),
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

#[tokio::test]
async fn after_repeated_sigkills_every_acknowledged_order_reaches_the_consumer() {
    use std::sync::{Arc, Mutex};
    build_test_plugins();
    let mut host =
        Host::start(&routes("high-value", "").replace("threshold = 100", "threshold = 0"));
    let acknowledged = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    // Kill points spread over the run, drawn from the clock (the moments differ run to run).
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    let kills: Vec<usize> = (1..=5).map(|k| k * 800 + (seed * k) % 500).collect();
    println!("killing the host after {kills:?} acknowledged orders");
    for (round, kill_at) in kills.iter().chain(std::iter::once(&5000)).enumerate() {
        let url = format!("{}/orders", host.url);
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (url, acknowledged) = (url.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    let client = Host::client();
                    for i in 0.. {
                        if acknowledged.lock().unwrap().len() >= 5000 {
                            return;
                        }
                        let order = json!({"orderId": format!("k{round}-{w}-{i:05}"), "customerId": "c-1", "total": 500});
                        match client.post(&url).json(&order).send().await {
                            Ok(r) if r.status() == StatusCode::CREATED => {
                                acknowledged.lock().unwrap().insert(order["orderId"].as_str().unwrap().to_string());
                            }
                            Ok(r) => panic!("unexpected status {}", r.status()),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged.lock().unwrap().len() < *kill_at.min(&5000) && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if round < kills.len() {
            host.kill();
        }
        for writer in writers {
            writer.await.unwrap();
        }
        if round < kills.len() {
            host.restart();
        }
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 5000,
        "the load ran: {}",
        acknowledged.len()
    );

    let seen = wait_for(&host, "every acknowledged order", |seen| {
        let consumed: BTreeSet<&str> = seen.iter().map(|h| h.order.as_str()).collect();
        acknowledged
            .iter()
            .all(|order| consumed.contains(order.as_str()))
    });
    let stored: BTreeSet<String> = host
        .items("/orders")
        .await
        .iter()
        .map(|item| item["orderId"].as_str().unwrap().to_string())
        .collect();
    let consumed: BTreeSet<String> = seen.iter().map(|h| h.order.clone()).collect();
    let not_committed: Vec<&String> = consumed.difference(&stored).collect();
    assert!(
        not_committed.is_empty(),
        "consumed orders that were never committed: {not_committed:?}"
    );
    println!(
        "acknowledged {}, committed {}, consumed {} distinct, {} deliveries, {} duplicates",
        acknowledged.len(),
        stored.len(),
        consumed.len(),
        seen.len(),
        seen.len() - consumed.len()
    );
}

#[tokio::test]
async fn dlq_redrive_brings_a_message_back_to_a_fixed_consumer_and_operators_see_it_all() {
    build_test_plugins();
    // No consumer on the DLQ: the dead letter waits there for an operator.
    let without_dlq_consumer = |routes: String| {
        let start = routes.find("[consumers.queue-dead-letters]").unwrap();
        routes[..start].to_string()
    };
    let broken = without_dlq_consumer(routes("high-value", ""));
    let mut host = Host::start(&broken);
    let client = Host::client();
    post(&client, &host, json!({"orderId": "o-1", "customerId": "c-1", "total": 500, "fail": "retry", "retryAfter": 0})).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queues: serde_json::Value = client
            .get(format!("{}/admin/queues", host.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let dlq = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "notifications-dlq")
            .unwrap()
            .clone();
        if dlq["visible"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the message never reached the DLQ: {queues}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let routes = host.routes_path();
    let cli = |args: &[&str], url: &str| {
        let mut all = vec!["dlq"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--routes", routes.to_str().unwrap(), "--url", url]);
        common::run(&all)
    };
    let listed = cli(&["list", "notifications-dlq"], &host.url);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["origin"], "queue:notifications");
    assert_eq!(
        lines[0]["error"],
        "received 3 times without being deleted (max_receive_count = 3)"
    );
    assert!(
        lines[0]["body"]
            .as_str()
            .unwrap()
            .contains("\"orderId\":{\"S\":\"o-1\"}")
    );
    let shown = cli(
        &[
            "show",
            "notifications-dlq",
            lines[0]["messageId"].as_str().unwrap(),
        ],
        &host.url,
    );
    assert!(String::from_utf8_lossy(&shown.stdout).contains("\"receiveCount\": 3"));

    // The fix is a config change: the consumer stops honouring "fail". Restart, then redrive.
    std::fs::write(
        &routes,
        broken.replace(
            "[plugins.notify]\nworld = \"consumer\"\n",
            "[plugins.notify]\nworld = \"consumer\"\nconfig = { honor_fail = false }\n",
        ),
    )
    .unwrap();
    host.restart();
    let redriven = cli(&["redrive", "notifications-dlq"], &host.url);
    assert_eq!(
        String::from_utf8_lossy(&redriven.stdout).trim(),
        "moved 1 messages",
        "{}",
        String::from_utf8_lossy(&redriven.stderr)
    );
    let seen = wait_for(&host, "the redriven order", |seen| {
        seen.iter().filter(|h| h.order == "o-1").count() >= 4
    });
    assert_eq!(
        seen.iter()
            .filter(|h| h.order == "o-1")
            .map(|h| h.receive_count)
            .collect::<Vec<_>>(),
        [1, 2, 3, 1]
    );

    let pipes: serde_json::Value = client
        .get(format!("{}/admin/pipes", host.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pipes["pipes"][0]["name"], "orders");
    assert_eq!(pipes["pipes"][0]["state"], "running");
    assert_eq!(pipes["pipes"][0]["lag"], 0);
    let buses: serde_json::Value = client
        .get(format!("{}/admin/buses", host.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(buses["buses"][0]["rules"][0]["name"], "new-orders");
    let metrics = client
        .get(format!("{}/metrics", host.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "switchyard_consumer_messages_received_total{consumer=\"notify\"} 1",
        "switchyard_queue_messages{queue=\"notifications-dlq\",state=\"visible\"} 0",
        "switchyard_plugin_invocations_total{plugin=\"notify\"} 1",
        "switchyard_pipe_lag_records{pipe=\"orders\"} 0",
        "# TYPE switchyard_plugin_duration_seconds histogram",
    ] {
        assert!(
            metrics.contains(expected),
            "`{expected}` is not in:\n{metrics}"
        );
    }
    let unknown = cli(&["list", "nope"], &host.url);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no queue named `nope`"));
}

#[tokio::test]
async fn sigterm_stops_the_pipeline_cleanly_and_nothing_is_lost() {
    build_test_plugins();
    let mut host =
        Host::start(&routes("high-value", "").replace("threshold = 100", "threshold = 0"));
    let client = Host::client();
    for i in 0..300 {
        post(
            &client,
            &host,
            json!({"orderId": format!("o-{i:03}"), "customerId": "c-1", "total": 5}),
        )
        .await;
    }
    let started = Instant::now();
    let status = host.terminate();
    assert!(status.success(), "SIGTERM exits 0: {status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "within the grace period: {:?}",
        started.elapsed()
    );
    let logs = host.logs();
    assert!(
        logs.contains("pipe stopped") && logs.contains("stopped"),
        "{logs}"
    );

    host.restart();
    let seen = wait_for(&host, "all 300 orders", |seen| {
        seen.iter().map(|h| &h.order).collect::<BTreeSet<_>>().len() >= 300
    });
    let distinct: BTreeSet<&String> = seen.iter().map(|h| &h.order).collect();
    assert_eq!(distinct.len(), 300);
    assert_eq!(seen.len(), 300, "a clean stop redelivers nothing");
}

#[tokio::test]
async fn a_pipe_without_a_dlq_stops_at_a_poison_record_and_says_so() {
    build_test_plugins();
    let routes = routes("faulty", "").replace("dlq = \"pipe-dlq\"\n", "");
    let host = Host::start(&routes);
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
    wait_for(&host, "the order before the poison record", |seen| {
        seen.iter().any(|h| h.order == "o-1")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let pipe = loop {
        let pipes: serde_json::Value = client
            .get(format!("{}/admin/pipes", host.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pipe = pipes["pipes"][0].clone();
        if pipe["state"] == "stuck" {
            break pipe;
        }
        assert!(
            Instant::now() < deadline,
            "the pipe never said it was stuck: {pipe}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = pipe["stuck"].as_str().unwrap();
    assert!(
        reason.contains("plugin `faulty` returned an error: the event asked for an error"),
        "{reason}"
    );
    assert_eq!(
        pipe["lag"], 2,
        "the poison record and the one after it wait"
    );
    let metrics = client
        .get(format!("{}/metrics", host.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_pipe_stuck{pipe=\"orders\"} 1"),
        "{metrics}"
    );
    assert!(
        host.logs()
            .contains("pipe stopped at a record it cannot deliver and has no dlq")
    );
    assert!(
        handled(&host).iter().all(|h| h.order == "o-1"),
        "nothing after the poison record is delivered"
    );
}

#[tokio::test]
async fn a_fifo_queue_keeps_each_items_order_under_concurrency_while_one_item_fails() {
    build_test_plugins();
    let routes = format!(
        r#"
[tables.orders]
key = "orderId"

[plugins.notify]
world = "consumer"
wasm = "{notify}"

[pipes.changes]
source = "orders"
target = {{ queue = "changes.fifo" }}

[queues."changes.fifo"]
fifo = true
visibility_timeout = "5s"
max_receive_count = 3
dlq = "changes-dlq.fifo"

[queues."changes-dlq.fifo"]
fifo = true

[consumers.notify]
queue = "changes.fifo"
handler = "notify"
batch_size = 3
concurrency = 4
"#,
        notify = wasm("notify.wasm")
    );
    let host = Host::start(&routes);
    let client = Host::client();
    // Five orders, each changed four times. Order o-0 asks to be retried while at version 1.
    for o in 0..5 {
        let fail = if o == 0 { json!("retry") } else { json!(null) };
        post(
            &client,
            &host,
            json!({"orderId": format!("o-{o}"), "fail": fail, "retryAfter": 0}),
        )
        .await;
    }
    for version in 1..=4 {
        for o in 0..5 {
            let patch = client
                .patch(format!("{}/orders/o-{o}", host.url))
                .header("if-match", format!("\"{version}\""))
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"fail": null}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(patch.status(), StatusCode::OK);
        }
    }
    let seen = wait_for(&host, "every change of every order", |seen| {
        (0..5).all(|o| {
            seen.iter()
                .any(|h| h.order == format!("o-{o}") && h.version == "5")
        })
    });
    for o in 0..5 {
        let order = format!("o-{o}");
        let versions: Vec<u32> = seen
            .iter()
            .filter(|h| h.order == order)
            .map(|h| h.version.parse().unwrap())
            .collect();
        if o == 0 {
            // Retried messages come again (version 2's record still carries the old image that
            // asks for a retry), but never out of order.
            assert!(
                versions.windows(2).all(|w| w[0] <= w[1]),
                "the changes of {order} arrive in order: {versions:?}"
            );
            let mut distinct = versions.clone();
            distinct.dedup();
            assert_eq!(distinct, [1, 2, 3, 4, 5]);
            assert_eq!(
                versions.iter().filter(|v| **v == 1).count(),
                3,
                "retried up to max_receive_count"
            );
        } else {
            assert_eq!(
                versions,
                [1, 2, 3, 4, 5],
                "the changes of {order} arrive in order"
            );
        }
    }
}

/// When each "order handled" line of `order` was logged, with its receive count.
fn handled_at(host: &Host, order: &str) -> Vec<(time::OffsetDateTime, u32)> {
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

#[tokio::test]
async fn a_slow_consumer_sees_a_message_again_after_its_visibility_timeout_and_retry_delays_hold() {
    build_test_plugins();
    let routes = routes("high-value", "")
        .replace("visibility_timeout = \"5s\"", "visibility_timeout = \"1s\"")
        .replace("max_receive_count = 3", "max_receive_count = 10");
    let host = Host::start(&routes);
    let client = Host::client();
    post(
        &client,
        &host,
        json!({"orderId": "slow", "customerId": "c-1", "total": 500, "slowMs": 2500}),
    )
    .await;
    post(&client, &host, json!({"orderId": "later", "customerId": "c-1", "total": 500, "fail": "retry", "retryAfter": 2})).await;
    wait_for(&host, "both orders twice", |seen| {
        ["slow", "later"]
            .iter()
            .all(|o| seen.iter().filter(|h| h.order == *o).count() >= 2)
    });

    let slow = handled_at(&host, "slow");
    assert_eq!(
        (slow[0].1, slow[1].1),
        (1, 2),
        "the second receive comes while the first is still running"
    );
    let gap = (slow[1].0 - slow[0].0).as_seconds_f64();
    assert!(gap >= 0.9, "not before the 1 s visibility timeout: {gap}");
    assert!(gap < 10.0, "soon after it: {gap}");

    let later = handled_at(&host, "later");
    let gap = (later[1].0 - later[0].0).as_seconds_f64();
    assert!(gap >= 1.9, "retry(2) hides the message at least 2 s: {gap}");
    assert!(gap < 15.0, "and brings it back after: {gap}");
}

#[tokio::test]
async fn archived_events_replay_in_their_original_order() {
    let routes = r#"
[tables.orders]
key = "orderId"

[pipes.orders]
source = "orders"
target = { bus = "orders", detail_type = "OrderCreated", source = "shop" }

[buses.orders]
archive = { retention = "7d" }

[buses.orders.rules.audit]
pattern = '{"source": ["shop"]}'
targets = [{ queue = "audit" }]

[queues.audit]
"#;
    let host = Host::start(routes);
    let client = Host::client();
    let started = time::OffsetDateTime::now_utc() - Duration::from_secs(1);
    for i in 0..20 {
        post(&client, &host, json!({"orderId": format!("o-{i:02}")})).await;
    }
    let peek = || async {
        let messages: serde_json::Value = client
            .get(format!(
                "{}/admin/queues/audit/messages?limit=100",
                host.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        messages["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                serde_json::from_str::<serde_json::Value>(m["body"].as_str().unwrap()).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while peek().await.len() < 20 {
        assert!(Instant::now() < deadline, "the originals never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let from = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let output = common::run(&[
        "replay",
        "--bus",
        "orders",
        "--from",
        &from,
        "--routes",
        host.routes_path().to_str().unwrap(),
        "--url",
        &host.url,
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.starts_with("replayed 20 events as \"replay-"),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let events = peek().await;
    assert_eq!(events.len(), 40);
    let order = |e: &serde_json::Value| {
        e["detail"]["dynamodb"]["NewImage"]["orderId"]["S"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let originals: Vec<String> = events[..20].iter().map(order).collect();
    let replayed: Vec<String> = events[20..].iter().map(order).collect();
    assert_eq!(replayed, originals, "replays keep the original order");
    assert!(events[..20].iter().all(|e| e.get("replay-name").is_none()));
    assert!(
        events[20..]
            .iter()
            .all(|e| e["replay-name"].as_str().unwrap().starts_with("replay-"))
    );
    assert_eq!(
        events[20]["id"], events[0]["id"],
        "a replayed event keeps its id"
    );
}
