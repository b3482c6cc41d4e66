//! `switchyard check` and start-up refusal on a bad routes.toml, through the real binary.

#![allow(clippy::unwrap_used)]

mod common;

use common::run;

#[test]
fn check_prints_ok_for_the_repository_routes() {
    let routes = concat!(env!("CARGO_MANIFEST_DIR"), "/../routes.toml");
    let output = run(&["check", "--routes", routes]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
}

const BAD: &str = r#"[tables.orders]
key = "orderId"
stream_retention = "30 parsecs"

[pipes.p]
source = "orderz"
target = { queue = "q" }

[queues.q]
"#;

#[test]
fn check_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, BAD).unwrap();
    let output = run(&["check", "--routes", routes.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = routes.display();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:3:20: tables.orders.stream_retention: invalid duration `30 parsecs`"
        )),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!("{file}:6:10: pipes.p.source: no table named `orderz` (declared: `orders`)")
    );
}

#[test]
fn up_refuses_to_start_on_a_bad_routes_file() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, BAD).unwrap();
    let output = run(&[
        "up",
        "--routes",
        routes.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no table named `orderz`"), "{stderr}");
    assert!(stderr.contains("not starting"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing was served");
}

#[test]
fn check_names_a_missing_routes_file() {
    let output = run(&["check", "--routes", "/nonexistent/routes.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read `/nonexistent/routes.toml`")
    );
}
