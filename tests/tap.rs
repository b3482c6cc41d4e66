//! `switchyard tap`, through the real binary against a running host: what a point shows, a
//! pattern narrowing it, a consumer's outcomes, the end of a tap (its limit, Ctrl-C, the host
//! stopping), and a reader too slow to keep up, which loses tap lines and never events.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pipeline::*;
use common::{BINARY, Host};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A `switchyard tap` running against `host`, its stdout read only once asked to.
struct Tapping {
    child: Option<Child>,
    stdout: Option<ChildStdout>,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Tapping {
    /// Starts the tap and waits (at most 30 s) until the host has it listening.
    fn start(host: &Host, args: &[&str]) -> Tapping {
        let mut tapping = Tapping::spawn(host, args);
        tapping.read();
        tapping
    }

    /// Starts the tap, leaving its stdout unread, as a reader that cannot keep up does.
    fn spawn(host: &Host, args: &[&str]) -> Tapping {
        let routes = host.routes_path();
        let mut child = Command::new(BINARY)
            .arg("tap")
            .args(args)
            .args([
                "--routes",
                routes.to_str().unwrap(),
                "--url",
                &host.admin_url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut from = child.stderr.take().unwrap();
        let into = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buffer) {
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let tapping = Tapping {
            stdout: child.stdout.take(),
            child: Some(child),
            lines: Arc::default(),
            stderr,
        };
        tapping.wait_for_stderr("tapping `");
        tapping
    }

    /// Reads its stdout from now on.
    fn read(&mut self) {
        let stdout = self.stdout.take().expect("stdout is read once");
        let lines = self.lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
    }

    fn lines(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for_stderr(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.stderr().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the tap never said `{text}`; it said:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most 30 s) for the tap to end.
    fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                // Its stdout and stderr are read to their end by now, or nearly.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the tap did not end; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C.
    fn interrupt(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Tapping {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn order_id(event: &Value) -> &str {
    event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_tap_prints_what_a_pipe_delivers_until_its_limit_and_ends_when_the_host_stops() {
    build_test_plugins();
    let mut host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    let mut tap = Tapping::start(&host, &["pipe/orders/out", "--limit", "2"]);
    for (order, customer) in [("o-1", "c-1"), ("o-2", "c-2"), ("o-3", "c-9")] {
        post(
            &client,
            &host,
            json!({"orderId": order, "customerId": customer, "total": 500}),
        )
        .await;
    }
    let status = tap.wait();
    assert!(status.success(), "{status}; stderr:\n{}", tap.stderr());
    let lines = tap.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, (order, tier)) in lines.iter().zip([("o-1", "gold"), ("o-2", "silver")]) {
        assert_eq!(line["point"], "pipe/orders/out");
        let time = line["time"].as_str().unwrap();
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|err| panic!("`{time}`: {err}"));
        // What the pipe delivers: the EventBridge event, enriched.
        let event = &line["data"];
        assert_eq!(event["detail-type"], "OrderCreated");
        assert_eq!(event["source"], "switchyard.orders");
        assert_eq!(order_id(event), order);
        assert_eq!(event["detail"]["customerTier"], tier);
    }
    assert!(!tap.stderr().contains("dropped"), "{}", tap.stderr());

    // A tap with no limit goes on until the host goes away, and says so.
    let mut endless = Tapping::start(&host, &["queue/notifications"]);
    let stopped = host.terminate();
    assert!(
        stopped.success(),
        "a tap does not hold the host's shutdown up: {stopped}"
    );
    let status = endless.wait();
    assert_eq!(status.code(), Some(1), "stderr:\n{}", endless.stderr());
    assert!(
        endless.stderr().contains("the host is stopping"),
        "{}",
        endless.stderr()
    );
}

#[tokio::test]
async fn a_pattern_narrows_a_tap_and_a_consumer_tap_shows_each_message_outcome() {
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    let mut gold = Tapping::start(
        &host,
        &[
            "rule/orders/new-orders",
            "--pattern",
            r#"{"detail": {"customerTier": ["gold"]}}"#,
            "--limit",
            "1",
        ],
    );
    // The body of a queue message is JSON text; a pattern reads it as JSON, as Pipes does.
    let mut outcomes = Tapping::start(
        &host,
        &[
            "consumer/notify",
            "--pattern",
            r#"{"body": {"detail": {"dynamodb": {"NewImage": {"orderId": {"S": ["o-ok", "o-dead"]}}}}}}"#,
            "--limit",
            "2",
        ],
    );
    post(
        &client,
        &host,
        json!({"orderId": "o-silver", "customerId": "c-2", "total": 500}),
    )
    .await;
    post(
        &client,
        &host,
        json!({"orderId": "o-ok", "customerId": "c-1", "total": 500}),
    )
    .await;
    post(
        &client,
        &host,
        json!({"orderId": "o-dead", "customerId": "c-9", "total": 500, "fail": "dead-letter"}),
    )
    .await;

    assert!(gold.wait().success(), "{}", gold.stderr());
    let matched = gold.lines();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0]["point"], "rule/orders/new-orders");
    assert_eq!(order_id(&matched[0]["data"]), "o-ok");

    assert!(outcomes.wait().success(), "{}", outcomes.stderr());
    let mut handled: Vec<(String, Value)> = outcomes
        .lines()
        .into_iter()
        .map(|line| {
            let data = line["data"].clone();
            let body: Value = serde_json::from_str(data["body"].as_str().unwrap()).unwrap();
            (order_id(&body).to_string(), data)
        })
        .collect();
    handled.sort_by(|a, b| a.0.cmp(&b.0));
    let [(dead, dead_outcome), (ok, ok_outcome)] = &handled[..] else {
        panic!("{handled:?}")
    };
    assert_eq!((dead.as_str(), ok.as_str()), ("o-dead", "o-ok"));
    assert_eq!(ok_outcome["outcome"], "ok");
    assert_eq!(ok_outcome["receiveCount"], 1);
    assert!(
        ok_outcome["messageId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(dead_outcome["outcome"], "dead-letter");
    assert!(
        dead_outcome["reason"]
            .as_str()
            .is_some_and(|r| r.contains("o-dead")),
        "{dead_outcome}"
    );

    // A point or a pattern the host does not know is refused, saying what it knows.
    let routes = host.routes_path();
    let refused = |args: &[&str]| {
        let mut all = vec!["tap"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--routes",
            routes.to_str().unwrap(),
            "--url",
            &host.admin_url,
        ]);
        let output = common::run(&all);
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let unknown = refused(&["pipe/payments/in"]);
    assert!(
        unknown.contains("404 Not Found: this host has no pipe `payments`; its tap points are: `pipe/orders/in`, `pipe/orders/out`, `rule/orders/new-orders`, "),
        "{unknown}"
    );
    let bad = refused(&["queue/notifications", "--pattern", r#"{"source": "shop"}"#]);
    assert!(
        bad.contains("400 Bad Request: `pattern` is not an event pattern: "),
        "{bad}"
    );
}

#[tokio::test]
async fn a_tap_too_slow_to_keep_up_loses_tap_lines_counted_and_never_an_event() {
    build_test_plugins();
    let host = Host::start(&routes("high-value", ""));
    let client = Host::client();
    // Its stdout is not read: once the pipes and sockets between are full, the host holds one
    // line for it and drops the rest.
    let mut slow = Tapping::spawn(&host, &["pipe/orders/in", "--buffer", "1"]);
    let note = "x".repeat(8 * 1024);
    let mut posted = BTreeSet::new();
    let mut dropped = 0;
    for batch in 0..30 {
        let posts = (0..100).map(|i| {
            let id = format!("o-{batch:02}-{i:03}");
            let order = json!({"orderId": id, "customerId": "c-1", "total": 500, "note": note});
            let (client, url) = (client.clone(), format!("{}/orders", host.url));
            posted.insert(id);
            tokio::spawn(
                async move { client.post(url).json(&order).send().await.unwrap().status() },
            )
        });
        for status in futures::future::join_all(posts).await {
            assert_eq!(status.unwrap(), StatusCode::CREATED);
        }
        let taps = host.get_json("/admin/taps").await;
        dropped = taps["taps"][0]["dropped"].as_u64().unwrap();
        if dropped > 0 {
            break;
        }
    }
    assert!(
        dropped > 0,
        "{} orders and no tap line dropped",
        posted.len()
    );

    // Every order still reaches the consumer.
    wait_for(&host, "every order handled", |seen| {
        let handled: BTreeSet<&String> = seen.iter().map(|h| &h.order).collect();
        posted.iter().all(|order| handled.contains(order))
    });
    // Read now, the tap catches up, and counts what it lost: each record it read was either
    // printed or counted as dropped.
    slow.read();
    slow.wait_for_stderr("tap lines dropped here");
    let reported = |stderr: &str| -> u64 {
        stderr
            .lines()
            .filter_map(|line| line.strip_prefix("switchyard: "))
            .filter_map(|line| line.strip_suffix(" tap lines dropped here: the tap fell behind"))
            .map(|n| n.parse::<u64>().unwrap())
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while slow.lines().len() as u64 + reported(&slow.stderr()) < posted.len() as u64 {
        assert!(
            Instant::now() < deadline,
            "{} lines and {} dropped of {} records",
            slow.lines().len(),
            reported(&slow.stderr()),
            posted.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lost = reported(&slow.stderr());
    assert!(lost >= dropped, "{lost} < {dropped}");
    assert_eq!(slow.lines().len() as u64 + lost, posted.len() as u64);
    slow.interrupt();
    let status = slow.wait();
    assert!(status.success(), "Ctrl-C ends a tap cleanly: {status}");
    assert!(
        slow.stderr()
            .contains(&format!("switchyard: {lost} tap lines dropped in all")),
        "{}",
        slow.stderr()
    );
}
