//! The same pipeline on the AWS backend, through the real binary, against a real moto server:
//! orders POSTed to the host are written to DynamoDB, read back from DynamoDB Streams, put on
//! EventBridge, routed by its rules to SQS and consumed by the consumer plugin. `switchyard
//! deploy` makes the resources first. Two replicas share the stream through shard leases.
//!
//! moto gives a table's stream one shard that never closes, so shard lineage (a child shard
//! after its parent) is shown by the unit test in `host/src/pipe/tests.rs` instead.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::pipeline::*;
use common::{BINARY, Host};
use serde_json::json;

/// Credentials for moto; the standard AWS chain reads them from the environment.
const CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
];

/// The pipeline tests' routes with `backend = "aws"`, pointed at moto.
fn aws_routes(moto: &Moto) -> String {
    format!(
        "[host]\nbackend = \"aws\"\n\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nprefix = \"e2e-\"\n{}",
        moto.url,
        routes("high-value", "")
    )
}

/// Runs `switchyard deploy` on `routes` with `args`; returns what it printed.
fn deploy(routes: &Path, args: &[&str]) -> String {
    let out = Command::new(BINARY)
        .arg("deploy")
        .arg("--routes")
        .arg(routes)
        .args(args)
        .envs(CREDENTIALS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "deploy failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn write_routes(dir: &Path, routes: &str) -> std::path::PathBuf {
    let path = dir.join("routes.toml");
    std::fs::write(&path, routes).unwrap();
    path
}

/// The shards whose lease `host` holds, as `/admin/pipes` shows them.
async fn leases(host: &Host) -> Vec<String> {
    let pipes = host.get_json("/admin/pipes").await;
    pipes["pipes"][0]["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Every order the consumer plugins of `hosts` logged, waiting (at most 90 s) for `expected`.
fn wait_for_orders(hosts: &[&Host], expected: &BTreeSet<String>) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen: BTreeSet<String> = hosts
            .iter()
            .flat_map(|h| handled(h))
            .filter(|h| h.plugin == "notify")
            .map(|h| h.order)
            .collect();
        if expected.is_subset(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "missing orders: {:?}\nlogs:\n{}",
            expected.difference(&seen).collect::<Vec<_>>(),
            hosts
                .iter()
                .map(|h| h.logs())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn deploy_then_orders_flow_through_dynamodb_streams_eventbridge_and_sqs() {
    build_test_plugins();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let routes = aws_routes(&moto);
    let path = write_routes(dir.path(), &routes);

    let planned = deploy(&path, &["--dry-run"]);
    assert!(
        planned.contains(
            "~ create table `e2e-orders` keyed by `orderId` (S) with a NEW_AND_OLD_IMAGES stream"
        ),
        "{planned}"
    );
    assert!(planned.contains("changes planned"), "{planned}");
    let made = deploy(&path, &[]);
    assert!(
        made.contains("+ create rule `new-orders` on bus `e2e-orders`"),
        "{made}"
    );
    assert_eq!(
        deploy(&path, &[]),
        "no changes\n",
        "the second deploy changes nothing"
    );

    let host = Host::start_env(&routes, &[], &CREDENTIALS);
    let client = Host::client();
    for i in 0..40 {
        let total = if i % 2 == 0 { 150.0 } else { 20.0 };
        let order = json!({"orderId": format!("o-{i:02}"), "customerId": "c-1", "total": total});
        post(&client, &host, order).await;
    }
    let expected: BTreeSet<String> = (0..40).step_by(2).map(|i| format!("o-{i:02}")).collect();
    let seen = wait_for_orders(&[&host], &expected);
    std::thread::sleep(Duration::from_secs(1)); // anything filtered out would arrive now
    let seen_now: BTreeSet<String> = handled(&host)
        .into_iter()
        .filter(|h| h.plugin == "notify")
        .map(|h| h.order)
        .collect();
    assert_eq!(seen_now, expected, "only the high-value orders arrive");
    assert_eq!(seen, expected);
    // Enriched on the way, by the enricher plugin.
    assert!(
        handled(&host)
            .iter()
            .filter(|h| h.plugin == "notify")
            .all(|h| h.tier == "gold")
    );
    assert_eq!(leases(&host).await.len(), 1);
}

#[tokio::test]
async fn two_replicas_share_the_stream_and_one_takes_over_when_the_other_dies() {
    build_test_plugins();
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let routes = aws_routes(&moto);
    deploy(&write_routes(dir.path(), &routes), &[]);
    let mut one = Host::start_env(&routes, &[], &CREDENTIALS);
    let mut two = Host::start_env(&routes, &[], &CREDENTIALS);

    // Each shard is leased by exactly one replica.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (held_one, held_two) = loop {
        let (a, b) = (leases(&one).await, leases(&two).await);
        if a.len() + b.len() == 1 {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "one replica should hold the one shard: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(held_one.len() + held_two.len(), 1);
    let (holder, survivor) = if held_one.len() == 1 {
        (&mut one, &two)
    } else {
        (&mut two, &one)
    };

    let client = Host::client();
    for i in 0..20 {
        post(
            &client,
            survivor,
            json!({"orderId": format!("a-{i:02}"), "customerId": "c-2", "total": 500}),
        )
        .await;
    }
    let first: BTreeSet<String> = (0..20).map(|i| format!("a-{i:02}")).collect();
    wait_for_orders(&[&*holder, survivor], &first);

    // The holder dies; the survivor takes its shard within the lease time and goes on from
    // the checkpoint.
    holder.kill();
    for i in 0..20 {
        post(
            &client,
            survivor,
            json!({"orderId": format!("b-{i:02}"), "customerId": "c-2", "total": 500}),
        )
        .await;
    }
    let all: BTreeSet<String> = first
        .iter()
        .cloned()
        .chain((0..20).map(|i| format!("b-{i:02}")))
        .collect();
    wait_for_orders(&[&*holder, survivor], &all);
    assert_eq!(
        leases(survivor).await.len(),
        1,
        "the survivor holds the shard now"
    );
}
