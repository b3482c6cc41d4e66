//! Progress of long operator commands, through the real binary: drawn on a terminal (a
//! pseudo-terminal made by util-linux's `script`), absent from a pipe, where the commands print
//! exactly their own lines.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BINARY, DLQ_ROUTES, Host};
use serde_json::json;

/// Puts `count` messages on `queue` through SQS's API on the host.
async fn fill(host: &Host, queue: &str, count: usize) {
    let queue_url = format!("{}/000000000000/{queue}", host.url);
    for first in (0..count).step_by(10) {
        let entries: Vec<_> = (first..count.min(first + 10))
            .map(|i| json!({"Id": i.to_string(), "MessageBody": format!("job {i}")}))
            .collect();
        common::aws_call(
            &host.url,
            "AmazonSQS.SendMessageBatch",
            json!({"QueueUrl": queue_url, "Entries": entries}),
        )
        .await;
    }
    let depth = || async {
        let queues = host.get_json("/admin/queues").await;
        let queues = queues["queues"].as_array().unwrap().clone();
        let found = queues.into_iter().find(|q| q["name"] == queue).unwrap();
        found["visible"].as_u64().unwrap()
    };
    assert_eq!(depth().await, count as u64);
}

/// `switchyard dlq redrive` of `jobs-dlq` into `jobs`, at `rate` messages a second.
fn redrive_args(host: &Host, rate: u32) -> Vec<String> {
    let routes = host.routes_path();
    [
        "dlq",
        "redrive",
        "jobs-dlq",
        "--to",
        "jobs",
        "--rate",
        &rate.to_string(),
        "--routes",
        routes.to_str().unwrap(),
        "--url",
        &host.url,
    ]
    .map(String::from)
    .to_vec()
}

/// Runs the binary with `args` and `env`, its stdout and stderr piped, within `within`.
fn piped(args: &[String], env: &[(&str, &str)], within: Duration) -> Output {
    let child = Command::new(BINARY)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, within)
}

/// Runs the binary with `args` and `env` on a pseudo-terminal, as `script` makes one: what the
/// terminal got (stdout and stderr together).
fn on_a_terminal(args: &[String], env: &[(&str, &str)], within: Duration) -> Output {
    let quoted: Vec<String> = std::iter::once(BINARY.to_string())
        .chain(args.iter().cloned())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let child = Command::new("script")
        .args(["-qefc", &quoted.join(" "), "/dev/null"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux's `script` runs");
    finish(child, within)
}

fn finish(mut child: std::process::Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `output` holds anything a terminal draws with: a carriage return or an escape.
fn drawn(output: &str) -> bool {
    output.contains('\r') || output.contains('\x1b')
}

#[tokio::test]
async fn a_redrive_draws_its_progress_on_a_terminal_and_nothing_extra_in_a_pipe() {
    let host = Host::start(DLQ_ROUTES);
    let within = Duration::from_secs(60);

    fill(&host, "jobs-dlq", 200).await;
    let quiet = piped(&redrive_args(&host, 200), &[], within);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stdout), "moved 200 messages\n");
    assert_eq!(text(&quiet.stderr), "", "nothing but the result in a pipe");

    // Slower, so that the bar is drawn several times.
    fill(&host, "jobs-dlq", 200).await;
    let shown = on_a_terminal(&redrive_args(&host, 100), &[], within);
    let terminal = text(&shown.stdout);
    assert!(shown.status.success(), "{terminal}{}", text(&shown.stderr));
    assert!(drawn(&terminal), "{terminal:?}");
    assert!(
        terminal.contains("redriving `jobs-dlq` ["),
        "the bar names the queue: {terminal:?}"
    );
    let counts: Vec<u64> = terminal
        .split(|c: char| c.is_whitespace() || c == ']')
        .filter_map(|word| word.strip_suffix("/200"))
        .filter_map(|done| done.parse().ok())
        .collect();
    assert!(
        counts.iter().any(|done| (1..200).contains(done)),
        "the bar counts the messages moved out of 200: {terminal:?}"
    );
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "the count only goes up: {counts:?}"
    );
    // The bar is cleared before the result, which ends the output as in a pipe.
    assert!(terminal.ends_with("moved 200 messages\r\n"), "{terminal:?}");

    // A terminal that cannot redraw a line gets the result alone.
    fill(&host, "jobs-dlq", 20).await;
    let dumb = on_a_terminal(&redrive_args(&host, 100), &[("TERM", "dumb")], within);
    assert_eq!(text(&dumb.stdout), "moved 20 messages\r\n");
}

#[test]
fn up_build_names_the_running_build_on_a_terminal_and_streams_its_output_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[plugins.slow]\nworld = \"filter\"\nwasm = \"{0}/nowhere.wasm\"\n\
             build = \"sleep 1; echo compiled; exit 3\"\nworkdir = \"{0}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let args = [
        "up",
        "--routes",
        routes.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--build",
    ]
    .map(String::from);
    let failed = "switchyard: building plugin `slow` failed: `sleep 1; echo compiled; exit 3` \
                  exited with exit status: 3";
    let within = Duration::from_secs(30);

    let quiet = piped(&args, &[("RUST_LOG", "info")], within);
    assert_eq!(quiet.status.code(), Some(1));
    let stderr = text(&quiet.stderr);
    assert!(!drawn(&stderr), "{stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].contains("building plugin") && lines[0].contains("plugin=\"slow\""),
        "{stderr}"
    );
    assert_eq!(lines[1..], ["compiled", failed], "{stderr}");

    let shown = on_a_terminal(&args, &[("RUST_LOG", "info")], within);
    let terminal = text(&shown.stdout);
    assert_eq!(shown.status.code(), Some(1), "{terminal}");
    assert!(drawn(&terminal), "{terminal:?}");
    assert!(
        terminal.contains("building plugin `slow` (1/1): `sleep 1; echo compiled; exit 3`"),
        "each build is named as it starts: {terminal:?}"
    );
    assert!(
        terminal.contains("building plugin `slow` (1/1) "),
        "the spinner names the build running: {terminal:?}"
    );
    assert!(terminal.contains("compiled"), "{terminal:?}");
    assert!(terminal.ends_with(&format!("{failed}\r\n")), "{terminal:?}");
}

#[test]
fn import_counts_the_resources_it_converts_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let template = common::repo().join("tests/import/api.json");
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let args =
        |name: &str| ["import", template.to_str().unwrap(), "--out", &out(name)].map(String::from);
    let within = Duration::from_secs(30);

    let quiet = piped(&args("piped.toml"), &[], within);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    let report = text(&quiet.stderr);
    assert!(!drawn(&report), "{report:?}");
    assert_eq!(report.lines().count(), 7, "one line per resource: {report}");

    let shown = on_a_terminal(&args("shown.toml"), &[], within);
    let terminal = text(&shown.stdout);
    assert!(shown.status.success(), "{terminal}");
    assert!(terminal.contains("importing ["), "{terminal:?}");
    assert!(terminal.contains("] 7/7 "), "{terminal:?}");
    // The bar is cleared before the report, which follows as in a pipe.
    assert!(
        terminal.ends_with(&report.replace('\n', "\r\n")),
        "{terminal:?}"
    );
    assert_eq!(
        std::fs::read_to_string(out("shown.toml")).unwrap(),
        std::fs::read_to_string(out("piped.toml")).unwrap()
    );
}

#[test]
fn deploy_shows_the_resources_it_checks_on_a_terminal() {
    let moto = common::moto::Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[host]\nbackend = \"aws\"\n\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
             prefix = \"progress-\"\n{DLQ_ROUTES}",
            moto.url
        ),
    )
    .unwrap();
    let args = ["deploy", "--routes", routes.to_str().unwrap(), "--dry-run"].map(String::from);
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let within = Duration::from_secs(60);

    let quiet = piped(&args, &credentials, within);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    let planned = text(&quiet.stdout);
    assert!(
        planned.ends_with("changes planned; run without --dry-run to make them\n"),
        "{planned}"
    );
    assert!(!drawn(&text(&quiet.stderr)), "{:?}", text(&quiet.stderr));

    let shown = on_a_terminal(&args, &credentials, within);
    let terminal = text(&shown.stdout);
    assert!(shown.status.success(), "{terminal}");
    assert!(terminal.contains("planning ["), "{terminal:?}");
    assert!(
        terminal.contains("checking queue `progress-jobs-dlq`"),
        "{terminal:?}"
    );
    assert!(
        terminal.ends_with(&planned.replace('\n', "\r\n")),
        "the plan follows the bar as in a pipe: {terminal:?}"
    );
}
