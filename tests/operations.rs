//! Operating the pipeline, through the real binary: DLQ commands, a pipe stuck without a DLQ,
//! graceful shutdown, archive replay, the admin endpoints and `/metrics`, and the host's memory.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::pipeline::*;
use common::stall::{self, Stall};
use common::{DLQ_ROUTES, Host};
use serde_json::json;

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
        let queues = host.get_json("/admin/queues").await;
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

    let pipes = host.get_json("/admin/pipes").await;
    assert_eq!(pipes["pipes"][0]["name"], "orders");
    assert_eq!(pipes["pipes"][0]["state"], "running");
    assert_eq!(pipes["pipes"][0]["lag"], 0);
    let buses = host.get_json("/admin/buses").await;
    assert_eq!(buses["buses"][0]["rules"][0]["name"], "new-orders");
    let metrics = host.get_text("/metrics").await;
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

/// As a container's PID 1 the host gets no signal it has no handler for: a SIGTERM that came
/// while it started would be lost, and `docker stop` would wait and then kill it.
#[test]
fn sigterm_while_the_host_is_starting_stops_it_with_exit_0() {
    let mut aws = Stall::start();
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, aws.routes()).unwrap();
    let mut host = Process(
        Command::new(common::BINARY)
            .arg("up")
            .arg("--routes")
            .arg(&routes)
            .args(["--listen", "127.0.0.1:0"])
            .envs(stall::CREDENTIALS)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The host is starting: it asks AWS whether its resources match routes.toml, in vain.
    aws.wait_for_a_client(Duration::from_secs(60));

    let status = host.terminate(Duration::from_secs(30));
    let mut stderr = String::new();
    host.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM while starting exits 0: {status}
{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// A child process that is killed if the test ends first.
struct Process(Child);

impl Process {
    /// Sends SIGTERM and waits for the process to exit; fails after `within`.
    fn terminate(&mut self, within: Duration) -> ExitStatus {
        let kill = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        assert!(kill.is_ok_and(|s| s.success()), "kill -TERM works");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
        let pipes = host.get_json("/admin/pipes").await;
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
    let metrics = host.get_text("/metrics").await;
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

/// Transparent huge pages would keep every 2 MiB that mimalloc touches resident: 130 MiB at rest
/// on the default routes, against 60 MiB with them off.
#[cfg(target_os = "linux")]
#[test]
fn the_host_runs_without_transparent_huge_pages() {
    let host = Host::start("[tables.orders]\nkey = \"orderId\"\n");
    let status = std::fs::read_to_string(format!("/proc/{}/status", host.pid())).unwrap();
    let thp = status
        .lines()
        .find_map(|line| line.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled in /proc/PID/status:\n{status}"));
    assert_eq!(thp.trim(), "0");
}

#[tokio::test]
async fn a_bus_counts_the_events_each_rule_matched_once_they_are_delivered() {
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    for order in ["o-1", "o-2"] {
        post(
            &client,
            &host,
            json!({"orderId": order, "customerId": "c-1", "total": 500}),
        )
        .await;
    }
    wait_for(&host, "both orders", |seen| seen.len() >= 2);
    let buses = host.get_json("/admin/buses").await;
    let orders = &buses["buses"][0];
    assert_eq!(
        (
            &orders["name"],
            &orders["rules"][0]["matched"],
            &orders["unmatched"]
        ),
        (&json!("orders"), &json!(2), &json!(0)),
        "{buses}"
    );
    let metrics = host.get_text("/metrics").await;
    let expected = "switchyard_rule_events_matched_total{bus=\"orders\",rule=\"new-orders\"} 2";
    assert!(
        metrics.contains(expected),
        "`{expected}` is not in:\n{metrics}"
    );
}

#[tokio::test]
async fn a_pipe_dlq_redrives_through_its_pipe_once_the_cause_is_fixed() {
    build_test_plugins();
    let mut host = Host::start(&faulty_pipe("retry = { attempts = 0 }", "faulty"));
    let client = Host::client();
    post(&client, &host, json!({"orderId": "o-1", "do": "error"})).await;
    post(&client, &host, json!({"orderId": "o-2"})).await;
    let dead = wait_for_messages(&host, "pipe-dlq", 1).await;
    assert_eq!(dead[0]["origin"], "pipe:orders");
    wait_for_messages(&host, "out", 1).await;

    let routes = host.routes_path();
    let redrive = |url: &str| {
        common::run(&[
            "dlq",
            "redrive",
            "pipe-dlq",
            "--routes",
            routes.to_str().unwrap(),
            "--url",
            url,
        ])
    };
    // Still broken: the record fails again, stays on the DLQ, and the command says so.
    let refused = redrive(&host.url);
    assert_eq!(refused.status.code(), Some(1));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr),
    );
    assert!(
        stdout.contains("pipe `orders` failed it again: plugin `faulty` returned an error: the event asked for an error"),
        "{stdout}"
    );
    assert_eq!(
        stderr.trim(),
        "switchyard: nothing redriven: every message of `pipe-dlq` was skipped (1)"
    );
    assert_eq!(wait_for_messages(&host, "pipe-dlq", 1).await.len(), 1);

    // Fixed: the filter goes. The record goes through the pipe again, to its target.
    std::fs::write(&routes, faulty_pipe("retry = { attempts = 0 }", "")).unwrap();
    host.restart();
    let redriven = redrive(&host.url);
    assert_eq!(
        String::from_utf8_lossy(&redriven.stdout).trim(),
        "moved 1 messages",
        "{}",
        String::from_utf8_lossy(&redriven.stderr)
    );
    assert!(redriven.status.success());
    let delivered = wait_for_messages(&host, "out", 2).await;
    assert!(delivered[1]["body"].as_str().unwrap().contains("\"o-1\""));
    assert_eq!(
        host.get_json("/admin/queues/pipe-dlq/messages").await["messages"],
        json!([])
    );
    let again = redrive(&host.url);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr).trim(),
        "switchyard: nothing to redrive: `pipe-dlq` has no messages"
    );
}

/// Puts a message on `queue` through SQS's API on the host; its id.
async fn send_message(host: &Host, queue: &str, body: &str) -> String {
    let response = Host::client()
        .post(format!("{}/", host.url))
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .header("content-type", "application/x-amz-json-1.0")
        .body(
            json!({"QueueUrl": format!("{}/000000000000/{queue}", host.url), "MessageBody": body})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let sent: serde_json::Value = response.json().await.unwrap();
    sent["MessageId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_redrive_refuses_a_rate_it_cannot_keep_and_a_queue_into_itself() {
    let host = Host::start(DLQ_ROUTES);
    let id = send_message(&host, "jobs-dlq", "job 1").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let redrive = format!("{}/admin/queues/jobs-dlq/redrive", host.admin_url);
    for (request, says) in [
        (json!({"to": "jobs-dlq"}), "`to`"),
        (json!({"rate": 1e-300}), "`rate`"),
        (json!({"rate": 0}), "`rate`"),
        (json!({"rate": -1}), "`rate`"),
        (json!({"rate": 1e300}), "`rate`"),
    ] {
        let response = client.post(&redrive).json(&request).send().await;
        let response = response.unwrap_or_else(|err| panic!("{request}: no answer: {err}"));
        assert_eq!(
            response.status(),
            reqwest::StatusCode::BAD_REQUEST,
            "{request}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_body", "{request}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{request}: {message}");
    }
    let waiting = host.get_json("/admin/queues/jobs-dlq/messages").await;
    assert_eq!(
        waiting["messages"][0]["messageId"],
        id.as_str(),
        "{waiting}"
    );

    let moved = client
        .post(&redrive)
        .json(&json!({"to": "jobs", "rate": 0.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), reqwest::StatusCode::OK);
    assert_eq!(moved.json::<serde_json::Value>().await.unwrap()["moved"], 1);
}

#[tokio::test]
async fn a_stream_cursor_past_any_sequence_number_is_a_bad_request() {
    let host = Host::start(DLQ_ROUTES);
    let client = Host::client();
    for order in ["o-1", "o-2"] {
        let created = client
            .post(format!("{}/orders", host.url))
            .json(&json!({"orderId": order}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    }
    let read = |after: &str| {
        client
            .get(format!(
                "{}/admin/tables/orders/stream?after={after}",
                host.admin_url
            ))
            .send()
    };
    for after in [
        "9223372036854775808", // one past i64::MAX: wrapped to negative, read from the start
        "999999999999999999999", // 21 digits, past u64::MAX
        "18446744073709551616", // u64::MAX + 1
        "1000000000000000000000000000000000000000", // 40 digits
    ] {
        let response = read(after).await.unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::BAD_REQUEST,
            "{after}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_query", "{after}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`after`"),
            "{body}"
        );
    }
    let records = |body: serde_json::Value| body["Records"].as_array().unwrap().len();
    let last = read("9223372036854775807").await.unwrap();
    assert_eq!(last.status(), reqwest::StatusCode::OK);
    assert_eq!(records(last.json().await.unwrap()), 0);
    let after_first = read("000000000000000000001").await.unwrap();
    assert_eq!(records(after_first.json().await.unwrap()), 1);
    assert!(!host.logs().contains("ERROR"), "{}", host.logs());
}

#[tokio::test]
async fn dlq_redrive_of_named_messages_moves_only_those() {
    let host = Host::start(DLQ_ROUTES);
    let kept = send_message(&host, "jobs-dlq", "job 1").await;
    let named = send_message(&host, "jobs-dlq", "job 2").await;
    let redrive = |ids: &[&str]| {
        let routes = host.routes_path();
        let mut args = vec!["dlq", "redrive", "jobs-dlq", "--to", "jobs"];
        args.extend(["--routes", routes.to_str().unwrap(), "--url", &host.url]);
        for id in ids {
            args.extend(["--message-id", id]);
        }
        let output = common::run(&args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = redrive(&[&named, "no-such-message"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "moved 1 messages\nskipped \"no-such-message\": not on the DLQ\n"
    );
    let waiting = host.get_json("/admin/queues/jobs-dlq/messages").await;
    let ids: Vec<_> = waiting["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [kept]);

    let (code, _, stderr) = redrive(&[&named]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "switchyard: nothing redriven: every message named was skipped (1)\n"
    );
}
