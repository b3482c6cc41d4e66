//! The routing pipeline end to end, through the real binary with real compiled plugins: orders
//! POSTed to the API flow through the change stream, a pipe, a bus and a queue into a consumer.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::Host;
use common::pipeline::*;
use reqwest::StatusCode;
use serde_json::json;

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
        patch(
            &client,
            &host,
            &format!("o-{i:04}"),
            1,
            r#"{"note": "changed"}"#,
        )
        .await;
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
        // The order's own version, not the EventBridge envelope's "version": "0".
        assert_eq!(h.version, "1", "the version logged for {}", h.order);
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
async fn a_record_that_makes_the_enricher_fail_goes_to_the_pipe_dlq_and_the_rest_still_flow() {
    build_test_plugins();
    let host = Host::start(
        &routes("high-value", "")
            .replace(
                "enrichment = \"customer-tier\"",
                "enrichment = \"faulty-enricher\"",
            )
            .replace("threshold = 100", "threshold = 0"),
    );
    let client = Host::client();
    for (order, ask) in [("o-1", "keep"), ("o-2", "error"), ("o-3", "keep")] {
        post(
            &client,
            &host,
            json!({"orderId": order, "customerId": "c-1", "total": 5, "do": ask}),
        )
        .await;
    }
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
        logs.contains("plugin `faulty-enricher` returned an error: event"),
        "{logs}"
    );
    assert!(logs.contains("asked the enricher to fail"), "{logs}");
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
            patch(
                &client,
                &host,
                &format!("o-{o}"),
                version,
                r#"{"fail": null}"#,
            )
            .await;
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
            // asks for a retry), each first in order. A batch may hold several changes of the
            // order, and then all of them come again: see the test below.
            let mut firsts: Vec<u32> = Vec::new();
            for v in &versions {
                if !firsts.contains(v) {
                    firsts.push(*v);
                }
            }
            assert_eq!(
                firsts,
                [1, 2, 3, 4, 5],
                "the changes of {order} first arrive in order: {versions:?}"
            );
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

#[tokio::test]
async fn in_a_fifo_batch_the_changes_after_a_retried_one_are_retried_with_it() {
    build_test_plugins();
    let routes = format!(
        r#"
[tables.orders]
key = "orderId"

[plugins.notify]
world = "consumer"
wasm = "{notify}"

[plugins.dead-letters]
world = "consumer"
wasm = "{notify}"
config = {{ honor_fail = false }}

[pipes.changes]
source = "orders"
target = {{ queue = "changes.fifo" }}

[queues."changes.fifo"]
fifo = true
visibility_timeout = "30s"
max_receive_count = 2
dlq = "changes-dlq.fifo"

[queues."changes-dlq.fifo"]
fifo = true

[consumers.notify]
queue = "changes.fifo"
handler = "notify"
batch_size = 10

[consumers.dead-letters]
queue = "changes-dlq.fifo"
handler = "dead-letters"
"#,
        notify = wasm("notify.wasm")
    );
    let host = Host::start(&routes);
    let client = Host::client();
    // Version 1 asks to be retried, and its first receive is slow, so versions 2 and 3 are
    // queued behind it and the next receive takes all three in one batch. Version 2's record
    // still carries version 1's image, so it asks to be retried too; version 3's does not.
    post(
        &client,
        &host,
        json!({"orderId": "o-1", "fail": "retry", "retryAfter": 0, "slowMs": 1000}),
    )
    .await;
    for version in 1..=2 {
        patch(
            &client,
            &host,
            "o-1",
            version,
            r#"{"fail": null, "slowMs": null}"#,
        )
        .await;
    }
    let seen = wait_for(
        &host,
        "version 2 in the DLQ and version 3 received again",
        |seen| {
            seen.iter()
                .any(|h| h.plugin == "dead-letters" && h.version == "2")
                && seen
                    .iter()
                    .any(|h| h.plugin == "notify" && h.version == "3" && h.receive_count == 2)
        },
    );
    let receives = |plugin: &str, version: &str| -> Vec<u32> {
        seen.iter()
            .filter(|h| h.plugin == plugin && h.version == version)
            .map(|h| h.receive_count)
            .collect()
    };
    // The plugin answered ok for version 3 in the batch behind version 1, but version 3 came
    // again: it was not done while the changes ahead of it were being retried.
    assert_eq!(receives("notify", "3"), [1, 2], "{seen:?}");
    let dead: Vec<&str> = seen
        .iter()
        .filter(|h| h.plugin == "dead-letters")
        .map(|h| h.version.as_str())
        .collect();
    assert_eq!(dead[..2], ["1", "2"], "{seen:?}");
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
    // "later" must not share a batch with "slow": that batch outlives the 1 s visibility timeout,
    // so "later" would come back after 1 s whatever its retry delay, as it would in SQS.
    wait_for(&host, "the slow order handled once", |seen| {
        seen.iter().any(|h| h.order == "slow")
    });
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

/// A `latest` pipe starts after the records written before it first ran, and from then on
/// loses none: a record committed after it started is delivered after a restart that came
/// before its first delivery, whether the host stopped cleanly or crashed.
async fn a_latest_pipe_delivers_a_record_committed_before_a_restart(crash: bool) {
    build_test_plugins();
    let latest = "starting_position = \"latest\"\nretry = { attempts = -1 }";
    let mut host =
        Host::start("[tables.orders]\nkey = \"orderId\"\n[queues.out]\n[queues.pipe-dlq]\n");
    let client = Host::client();
    post(&client, &host, json!({"orderId": "before"})).await;

    // The pipe's first run: its filter fails every record, and it retries without end.
    std::fs::write(host.routes_path(), faulty_pipe(latest, "faulty")).unwrap();
    host.restart();
    post(&client, &host, json!({"orderId": "after", "do": "error"})).await;
    if crash {
        host.kill();
    } else {
        let deadline = Instant::now() + Duration::from_secs(60);
        while pipe_report(&host, "orders").await["failed_attempts"] == 0 {
            assert!(Instant::now() < deadline, "the filter never failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(host.terminate().success());
    }

    // Fixed: the filter goes. The record is delivered; the one from before the pipe is not.
    std::fs::write(host.routes_path(), faulty_pipe(latest, "")).unwrap();
    host.restart();
    let delivered = wait_for_messages(&host, "out", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // anything extra would arrive now
    let delivered = wait_for_messages(&host, "out", delivered.len()).await;
    let keys: Vec<String> = delivered
        .iter()
        .map(|m| {
            let record: serde_json::Value =
                serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
            common::record_key(&record, "orderId")
        })
        .collect();
    assert_eq!(keys, ["after"]);
    assert_eq!(pipe_report(&host, "orders").await["dead_lettered"], 0);
}

#[tokio::test]
async fn a_latest_pipe_delivers_a_record_committed_before_a_clean_restart() {
    a_latest_pipe_delivers_a_record_committed_before_a_restart(false).await;
}

#[tokio::test]
async fn a_latest_pipe_delivers_a_record_committed_before_a_crash() {
    a_latest_pipe_delivers_a_record_committed_before_a_restart(true).await;
}

#[tokio::test]
async fn a_record_a_filter_calls_invalid_goes_to_the_pipe_dlq_at_once_despite_endless_retries() {
    build_test_plugins();
    let host = Host::start(&faulty_pipe("retry = { attempts = -1 }", "faulty"));
    let client = Host::client();
    post(&client, &host, json!({"orderId": "bad", "do": "invalid"})).await;
    post(&client, &host, json!({"orderId": "good"})).await;
    let dead = wait_for_messages(&host, "pipe-dlq", 1).await;
    assert_eq!(
        dead[0]["error"],
        "plugin `faulty` returned an error: the event asked to be called invalid"
    );
    assert!(dead[0]["body"].as_str().unwrap().contains("\"bad\""));
    let delivered = wait_for_messages(&host, "out", 1).await;
    assert!(delivered[0]["body"].as_str().unwrap().contains("\"good\""));
    let logs = host.logs();
    assert!(
        logs.contains("a plugin called the input invalid; bisecting without retries"),
        "{logs}"
    );
    assert!(!logs.contains("batch failed; retrying"), "{logs}");
}

#[tokio::test]
async fn a_message_the_consumer_calls_invalid_goes_to_the_queue_dlq_at_once_and_its_batch_flows_on()
{
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    for (order, fail) in [("o-1", ""), ("o-2", "invalid"), ("o-3", "")] {
        post(
            &client,
            &host,
            json!({"orderId": order, "customerId": "c-1", "total": 500, "fail": fail}),
        )
        .await;
    }
    let seen = wait_for(&host, "o-2 dead-lettered, the others handled", |seen| {
        seen.iter()
            .any(|h| h.plugin == "dead-letters" && h.order == "o-2")
            && ["o-1", "o-3"]
                .iter()
                .all(|o| seen.iter().any(|h| h.plugin == "notify" && h.order == *o))
    });
    // Bisection may hand o-2 to the plugin more than once, but it is never received again.
    let o2: Vec<u32> = seen
        .iter()
        .filter(|h| h.plugin == "notify" && h.order == "o-2")
        .map(|h| h.receive_count)
        .collect();
    assert!(!o2.is_empty() && o2.iter().all(|&n| n == 1), "{o2:?}");
    let dead: Vec<&Handled> = seen.iter().filter(|h| h.plugin == "dead-letters").collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        host.logs().lines().all(|l| !l.contains("batch failed")),
        "no batch failed as a whole"
    );
}
