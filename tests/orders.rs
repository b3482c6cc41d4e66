//! The order API and its transactional outbox, through the real `switchyard` binary: concurrency,
//! crashes, and bad input.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Host, record_key};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn two_hundred_concurrent_posts_make_two_hundred_items_and_records() {
    let host = Host::start_default();
    let client = Host::client();
    let posts = (0..200).map(|i| {
        let (client, url) = (client.clone(), format!("{}/orders", host.url));
        tokio::spawn(async move {
            let body = json!({"orderId": format!("o-{i:03}"), "customerId": "c-1", "total": i});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    });
    for post in futures::future::join_all(posts).await {
        assert_eq!(post.unwrap().unwrap(), StatusCode::CREATED);
    }

    let items = host.items("/orders").await;
    assert_eq!(items.len(), 200);
    let records = host.records("orders").await;
    assert_eq!(
        records.len(),
        200,
        "one change record per write, none lost or doubled"
    );
    let keys: BTreeSet<String> = records.iter().map(|r| record_key(r, "orderId")).collect();
    let expected: BTreeSet<String> = (0..200).map(|i| format!("o-{i:03}")).collect();
    assert_eq!(keys, expected);
    let seqs: Vec<u128> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence numbers strictly increase"
    );
    assert!(records.iter().all(|r| r["eventName"] == "INSERT"));
}

#[tokio::test]
async fn after_sigkill_every_acknowledged_write_is_there_with_its_record_and_nothing_else() {
    let mut host = Host::start_default();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));

    // Three rounds: eight clients post as fast as they can until the host is killed under them.
    for round in 0..3 {
        let url = format!("{}/orders", host.url);
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (url, acknowledged) = (url.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    let client = Host::client();
                    for i in 0.. {
                        let key = format!("r{round}-w{w}-{i:05}");
                        let body = json!({"orderId": key, "total": i});
                        match client.post(&url).json(&body).send().await {
                            Ok(r) if r.status() == StatusCode::CREATED => {
                                acknowledged.lock().unwrap().push(key)
                            }
                            Ok(r) => panic!("unexpected status {} for {key}", r.status()),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // Bounded: at most 30 s of load per round.
        let target = (round + 1) * 500;
        for _ in 0..3000 {
            if acknowledged.lock().unwrap().len() >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        host.kill();
        for writer in writers {
            writer.await.unwrap();
        }
        host.restart();
    }
    let acknowledged: BTreeSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    assert!(
        acknowledged.len() >= 1500,
        "the load ran: {} writes acknowledged",
        acknowledged.len()
    );

    let stored: BTreeSet<String> = host
        .items("/orders")
        .await
        .iter()
        .map(|i| i["orderId"].as_str().unwrap().to_string())
        .collect();
    let recorded: Vec<String> = host
        .records("orders")
        .await
        .iter()
        .map(|r| record_key(r, "orderId"))
        .collect();
    let recorded_set: BTreeSet<String> = recorded.iter().cloned().collect();

    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost in the crashes: {lost:?}"
    );
    assert_eq!(
        recorded.len(),
        recorded_set.len(),
        "no change record is doubled"
    );
    assert_eq!(
        recorded_set, stored,
        "every stored item has its record, and no record exists without its item"
    );
    // Writes in flight at a kill may or may not have committed; either way they are whole.
    println!(
        "acknowledged {}, stored {} (in flight at a kill and committed: {})",
        acknowledged.len(),
        stored.len(),
        stored.len() - acknowledged.len()
    );
}

#[tokio::test]
async fn bad_input_gets_its_documented_status_and_changes_nothing() {
    let host = Host::start_default();
    let client = Host::client();
    let orders = format!("{}/orders", host.url);
    let created = client
        .post(&orders)
        .json(&json!({"orderId": "o-1", "total": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let items_before = host.items("/orders").await;
    let records_before = host.records("orders").await;

    let json_type = "application/json";
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    // DynamoDB holds 31 levels of lists and maps above a value; this is 32.
    let too_deep = format!("{{\"a\": {}1{}}}", "[".repeat(32), "]".repeat(32));
    let cases: Vec<(&str, &str, &str, Vec<u8>, Option<&str>, u16)> = vec![
        (
            "malformed JSON",
            "POST",
            "/orders",
            b"{\"total\": 1".to_vec(),
            Some(json_type),
            400,
        ),
        (
            "a 10 MiB body",
            "POST",
            "/orders",
            vec![b' '; 10 << 20],
            Some(json_type),
            413,
        ),
        (
            "wrong content type",
            "POST",
            "/orders",
            b"{}".to_vec(),
            Some("text/plain"),
            415,
        ),
        (
            "orderId with /",
            "POST",
            "/orders",
            br#"{"orderId": "a/b"}"#.to_vec(),
            Some(json_type),
            400,
        ),
        (
            "orderId with ..",
            "POST",
            "/orders",
            br#"{"orderId": "../etc"}"#.to_vec(),
            Some(json_type),
            400,
        ),
        (
            "10,000 levels of nesting",
            "POST",
            "/orders",
            deep.into_bytes(),
            Some(json_type),
            400,
        ),
        (
            "32 levels of nesting",
            "POST",
            "/orders",
            too_deep.into_bytes(),
            Some(json_type),
            400,
        ),
        (
            "a number of 39 significant digits",
            "POST",
            "/orders",
            br#"{"total": 123456789012345678901234567890123456789}"#.to_vec(),
            Some(json_type),
            400,
        ),
        (
            "a number too small for DynamoDB",
            "POST",
            "/orders",
            br#"{"total": 1e-400}"#.to_vec(),
            Some(json_type),
            400,
        ),
        (
            "a member named twice",
            "POST",
            "/orders",
            br#"{"orderId": "o-2", "total": 1, "orderId": "o-3"}"#.to_vec(),
            Some(json_type),
            400,
        ),
        (
            "invalid UTF-8",
            "POST",
            "/orders",
            b"{\"note\": \"\xc3\x28\"}".to_vec(),
            Some(json_type),
            400,
        ),
        (
            "duplicate orderId",
            "POST",
            "/orders",
            br#"{"orderId": "o-1"}"#.to_vec(),
            Some(json_type),
            409,
        ),
        (
            "stale If-Match",
            "PUT",
            "/orders/o-1",
            br#"{"total": 9}"#.to_vec(),
            Some(json_type),
            412,
        ),
        (
            "missing If-Match",
            "PATCH",
            "/orders/o-1",
            br#"{"total": 9}"#.to_vec(),
            Some(json_type),
            428,
        ),
        (
            "schema violation",
            "POST",
            "/orders",
            br#"{"total": "lots"}"#.to_vec(),
            Some(json_type),
            422,
        ),
        (
            "key with / in the path",
            "GET",
            "/orders/a%2F..%2Fb",
            Vec::new(),
            None,
            400,
        ),
    ];
    for (name, method, path, body, content_type, status) in cases {
        let mut request = client
            .request(method.parse().unwrap(), format!("{}{path}", host.url))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if name == "stale If-Match" {
            request = request.header("if-match", "\"5\"");
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(response.status().as_u16(), status, "{name}");
        let error: Value = response
            .json()
            .await
            .unwrap_or_else(|err| panic!("{name}: the body is JSON: {err}"));
        let message = error["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {error}"));
        assert!(
            !error["error"]["code"].as_str().unwrap_or("").is_empty(),
            "{name}: {error}"
        );
        for leak in ["sqlite", "SQL", "/tmp", ".rs", "switchyard.db"] {
            assert!(
                !message.contains(leak),
                "{name}: the message leaks `{leak}`: {message}"
            );
        }
    }
    assert_eq!(host.items("/orders").await, items_before, "no item changed");
    assert_eq!(
        host.records("orders").await,
        records_before,
        "no change record was written"
    );
}

#[tokio::test]
async fn numbers_are_stored_and_returned_with_every_digit_up_to_dynamodbs_38() {
    let host = Host::start_default();
    let client = Host::client();
    let body = r#"{"orderId": "o-1", "total": 12345678901234567890123456789012345678, "rate": 0.1000000000000000055511151231257827, "small": 1e-130}"#;
    let created = client
        .post(format!("{}/orders", host.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = host.get_text("/orders/o-1").await;
    for digits in [
        r#""total":12345678901234567890123456789012345678"#,
        r#""rate":0.1000000000000000055511151231257827"#,
    ] {
        assert!(text.contains(digits), "{digits} in {text}");
    }
    let records = host.records("orders").await;
    assert_eq!(
        records[0]["dynamodb"]["NewImage"]["total"],
        json!({"N": "12345678901234567890123456789012345678"})
    );
}

#[tokio::test]
async fn items_and_records_survive_a_graceful_restart() {
    let mut host = Host::start_default();
    let client = Host::client();
    for i in 0..5 {
        let body = json!({"orderId": format!("o-{i}"), "total": i});
        client
            .post(format!("{}/orders", host.url))
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    let status = host.terminate();
    assert!(status.success(), "SIGTERM stops the host cleanly: {status}");
    host.restart();
    assert_eq!(host.items("/orders").await.len(), 5);
    assert_eq!(host.records("orders").await.len(), 5);
    let health = client
        .get(format!("{}/healthz", host.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = client
        .get(format!("{}/readyz", host.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

/// A table keyed by a partition key and a number sort key, through the real binary: items are
/// addressed by both keys, a partition lists in sort-key order across a restart, and change
/// records carry both keys.
#[tokio::test]
async fn a_partition_and_sort_key_table_keeps_its_order_and_keys_across_a_restart() {
    let routes = r#"
[tables.ledger]
key = "account"
sort_key = { name = "seq", type = "N" }
"#;
    let mut host = Host::start(routes);
    let client = Host::client();
    for seq in [json!(10), json!(-2), json!(7), json!(1.5)] {
        let body = json!({"account": "a-1", "seq": seq, "amount": 1});
        let reply = client
            .post(format!("{}/ledger", host.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
    }
    let status = host.terminate();
    assert!(status.success(), "{status}");
    host.restart();
    let partition: Value = client
        .get(format!("{}/ledger/a-1", host.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seqs: Vec<Value> = partition["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seq"].clone())
        .collect();
    assert_eq!(seqs, [json!(-2), json!(1.5), json!(7), json!(10)]);
    let item = client
        .get(format!("{}/ledger/a-1/7.0", host.url))
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), StatusCode::OK);
    let records = host.records("ledger").await;
    assert_eq!(
        records[1]["dynamodb"]["Keys"],
        json!({"account": {"S": "a-1"}, "seq": {"N": "-2"}})
    );
}
