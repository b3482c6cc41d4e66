//! The repository's container image (`Dockerfile`), built from the repository and run with podman,
//! offline: the host statically linked in an image `FROM scratch`, with the default routes and
//! their plugins, as a non-root user, its data on a volume. Skipped, saying so, only where podman
//! cannot be installed.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::podman::{Container, Podman, plugin_files};
use common::repo;
use common::stall::{self, Stall};
use serde_json::{Value, json};

const TAG: &str = "localhost/switchyard-test:latest";

/// Debian's bundle of CA certificates (package `ca-certificates`), where the AWS SDK looks.
const CA_CERTIFICATES: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The user the image runs as.
const UID: &str = "10001";

/// Podman, or `None` after saying on the real stderr (not the captured one) why not.
fn podman() -> Option<Podman> {
    match Podman::new() {
        Ok(podman) => Some(podman),
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the container image tests need podman: {why}"
            );
            None
        }
    }
}

/// `host.shutdown_grace` of the repository's routes.toml, in whole seconds.
fn shutdown_grace() -> u64 {
    let text = std::fs::read_to_string(repo().join("routes.toml")).unwrap();
    let routes: toml::Table = text.parse().unwrap();
    let grace = routes["host"]["shutdown_grace"].as_str().unwrap();
    humantime::parse_duration(grace).unwrap().as_secs()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits until the host in `container` answers `GET /readyz` on `url`.
async fn wait_ready(container: &Container<'_>, url: &str) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("{url}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        let status = container.state("Status");
        assert!(
            status == "running" && std::time::Instant::now() < deadline,
            "the host in `{}` is not ready; the container is {status}; its logs:\n{}",
            container.name,
            container.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A table's change records from the start of its stream, through DynamoDB Streams' API.
async fn stream_records(url: &str, table: &str) -> Value {
    let streams = common::aws_call(
        url,
        "DynamoDBStreams_20120810.ListStreams",
        json!({"TableName": table}),
    )
    .await;
    let arn = streams["Streams"][0]["StreamArn"].clone();
    let described = common::aws_call(
        url,
        "DynamoDBStreams_20120810.DescribeStream",
        json!({"StreamArn": arn}),
    )
    .await;
    let shard = described["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let iterator = common::aws_call(
        url,
        "DynamoDBStreams_20120810.GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    common::aws_call(
        url,
        "DynamoDBStreams_20120810.GetRecords",
        json!({"ShardIterator": iterator["ShardIterator"], "Limit": 1000}),
    )
    .await
}

/// The repository's routes.toml with one more table, to tell it from the image's own.
fn routes_with_table(table: &str, key: &str) -> String {
    let routes = std::fs::read_to_string(repo().join("routes.toml")).unwrap();
    format!("{routes}\n[tables.{table}]\nkey = \"{key}\"\n")
}

#[tokio::test]
async fn the_image_serves_orders_as_a_non_root_user_keeps_them_on_its_volume_and_stops_on_sigterm()
{
    let Some(podman) = podman() else { return };
    podman.build_image(TAG);

    let mut expected: Vec<String> = plugin_files()
        .iter()
        .map(|wasm| format!("etc/switchyard/{wasm}"))
        .chain(["etc/switchyard/routes.toml".into()])
        .chain(["usr/local/bin/switchyard".into()])
        .collect();
    expected.sort();
    assert_eq!(
        podman.image_files(TAG),
        expected,
        "the binary, the default routes and their plugins"
    );
    let size = podman.run(&["image", "inspect", "--format", "{{.Size}}", TAG]);
    eprintln!("image size (dev profile): {} bytes", size.trim());

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let publish = format!("127.0.0.1:{port}:8080");
    let volume = "switchyard-data:/var/lib/switchyard";
    let grace = shutdown_grace();

    // The image's own routes.
    let first = podman.start("first", &["--volume", volume, "--publish", &publish, TAG]);
    wait_ready(&first, &url).await;
    let pid = first.state("Pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().skip(1).collect::<Vec<_>>(),
        [UID; 4],
        "the host runs as {UID}: {uid}"
    );
    let created = reqwest::Client::new()
        .post(format!("{url}/orders"))
        .json(&json!({"customerId": "c-1", "total": 42, "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let order: Value = created.json().await.unwrap();
    let id = order["orderId"].as_str().unwrap().to_string();
    let handled = format!("order handled orderId=\"{id}\"");
    first.wait_for(
        "the consumer plugin handles the order",
        Duration::from_secs(60),
        |first| first.logs().contains(&handled),
    );
    // Past the grace period podman would SIGKILL it (exit 137).
    assert_eq!(first.stop(grace), 0, "{}", first.logs());
    assert!(first.logs().contains("stopped"), "{}", first.logs());

    // Routes from the environment, the same volume.
    let routes = format!(
        "SWITCHYARD_ROUTES_TOML={}",
        routes_with_table("customers", "customerId")
    );
    let second = podman.start(
        "second",
        &[
            "--volume",
            volume,
            "--publish",
            &publish,
            "--env",
            &routes,
            TAG,
        ],
    );
    wait_ready(&second, &url).await;
    let (status, item) = get(&format!("{url}/orders/{id}")).await;
    assert_eq!(
        (status, &item["customerId"]),
        (200, &json!("c-1")),
        "{item}"
    );
    // The admin door stays inside the container: the stream is read through DynamoDB Streams'
    // API on the order API's door.
    let stream = stream_records(&url, "orders").await;
    let records: Vec<&Value> = stream["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dynamodb"]["Keys"]["orderId"]["S"] == id.as_str())
        .collect();
    assert_eq!(records.len(), 1, "{stream}");
    assert_eq!(records[0]["eventName"], "INSERT");
    assert_eq!(get(&format!("{url}/customers")).await.0, 200, "its table");
    assert_eq!(second.stop(grace), 0, "{}", second.logs());

    // Routes from a file mounted over the image's.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.toml");
    std::fs::write(&file, routes_with_table("invoices", "invoiceId")).unwrap();
    let mount = format!("{}:/etc/switchyard/routes.toml:ro", file.display());
    let third = podman.start(
        "third",
        &[
            "--volume",
            volume,
            "--volume",
            &mount,
            "--publish",
            &publish,
            TAG,
        ],
    );
    wait_ready(&third, &url).await;
    assert_eq!(get(&format!("{url}/invoices")).await.0, 200, "its table");
    assert_eq!(get(&format!("{url}/orders/{id}")).await.0, 200);
    assert_eq!(third.stop(grace), 0, "{}", third.logs());
}

/// As PID 1 the host gets only the signals it handles: one that came before its handlers would
/// be lost. Here it is still starting, asking an AWS endpoint that never answers.
#[test]
fn the_image_stops_on_sigterm_while_the_host_is_still_starting() {
    let Some(podman) = podman() else { return };
    podman.build_image(TAG);
    let mut aws = Stall::start();
    let routes = format!("SWITCHYARD_ROUTES_TOML={}", aws.routes());
    let credentials: Vec<String> = stall::CREDENTIALS
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    // The AWS SDK wants CA certificates even for an http:// endpoint; the image has none.
    let certificates = format!("{CA_CERTIFICATES}:{CA_CERTIFICATES}:ro");
    // The host network, to reach the endpoint on 127.0.0.1; so the host listens there too.
    let mut args = vec![
        "--network",
        "host",
        "--volume",
        &certificates,
        "--env",
        &routes,
    ];
    for credential in &credentials {
        args.extend(["--env", credential]);
    }
    args.extend([
        TAG,
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        "/var/lib/switchyard",
    ]);
    let host = podman.start("starting", &args);
    host.wait_for("the host asks AWS", Duration::from_secs(60), |_| {
        aws.has_a_client()
    });

    assert_eq!(host.stop(stall::GRACE_SECONDS), 0, "{}", host.logs());
    assert!(
        host.logs().contains("stopped while starting"),
        "{}",
        host.logs()
    );
}
