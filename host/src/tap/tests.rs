//! The tap hub: who gets which line, what a full reader loses, and what a point costs.

use super::*;
use std::path::Path;

fn tap() -> Arc<Tap> {
    let config = crate::config::compile(
        r#"
[tables.orders]
key = "orderId"

[pipes.orders]
source = "orders"
target = { bus = "orders" }

[buses.orders.rules.big]
pattern = '{"detail": {"total": [{"numeric": [">", 100]}]}}'
targets = [{ queue = "jobs" }]

[queues.jobs]
"#,
        Path::new("routes.toml"),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    Arc::new(Tap::new(&config))
}

fn data(line: &Next) -> Value {
    match line {
        Next::Line(line) => serde_json::from_str::<Value>(line).unwrap()["data"].clone(),
        other => panic!("not a line: {other:?}"),
    }
}

#[test]
fn a_point_nobody_taps_makes_nothing_and_keeps_nothing() {
    let tap = tap();
    let point = tap.point("pipe/orders/out").unwrap();
    assert!(!tap.listening(point));
    tap.show(point, [1, 2, 3], |_| panic!("made data nobody reads"));
    let mut held = Vec::new();
    tap.hold(&mut held, point, || panic!("made data nobody reads"));
    assert!(held.is_empty());
}

#[tokio::test]
async fn a_reader_gets_each_line_with_its_point_and_time_and_stops_when_dropped() {
    let tap = tap();
    let point = tap.point("queue/jobs").unwrap();
    let mut reader = tap.subscribe(point, None, 10);
    assert!(tap.listening(point));
    tap.show(point, [r#"{"body": "a"}"#], str::to_string);
    let Next::Line(line) = reader.next().await else {
        panic!("no line")
    };
    assert!(line.ends_with('\n'), "{line}");
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["point"], "queue/jobs");
    assert_eq!(line["data"], serde_json::json!({"body": "a"}));
    let time = line["time"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{time}"
    );
    drop(reader);
    assert!(!tap.listening(point), "a reader gone is no longer counted");
}

#[tokio::test]
async fn a_full_reader_loses_lines_counted_where_they_were_lost_and_the_sender_never_waits() {
    let tap = tap();
    let point = tap.point("pipe/orders/in").unwrap();
    let mut slow = tap.subscribe(point, None, 2);
    let mut fast = tap.subscribe(point, None, 100);
    // No reader reads meanwhile: the sender goes on regardless.
    tap.show(point, 1..=5, |n| format!(r#"{{"n": {n}}}"#));
    assert_eq!(data(&slow.next().await)["n"], 1);
    assert_eq!(data(&slow.next().await)["n"], 2);
    assert_eq!(
        slow.next().await,
        Next::Dropped(3),
        "after the lines before the loss"
    );
    tap.show(point, [6], |n| format!(r#"{{"n": {n}}}"#));
    assert_eq!(data(&slow.next().await)["n"], 6, "reported once");
    assert_eq!(slow.dropped(), 3);
    for n in 1..=6 {
        assert_eq!(
            data(&fast.next().await)["n"],
            n,
            "another reader loses nothing"
        );
    }
    assert_eq!(fast.dropped(), 0);
    let taps = tap.readers();
    assert_eq!(
        (taps[0]["lines"].clone(), taps[0]["dropped"].clone()),
        (3.into(), 3.into())
    );
}

#[tokio::test]
async fn a_pattern_narrows_a_reader_to_the_lines_it_matches_reading_a_json_body_as_json() {
    let tap = tap();
    let point = tap.point("queue/jobs").unwrap();
    let pattern = Pattern::compile(r#"{"body": {"total": [{"numeric": [">", 100]}]}}"#);
    let mut big = tap.subscribe(point, Some(pattern.unwrap()), 10);
    let mut all = tap.subscribe(point, None, 10);
    let bodies = [r#"{"total": 5}"#, "not json", r#"{"total": 500}"#];
    tap.show(point, bodies, |body| {
        json(&serde_json::json!({"body": body}))
    });
    assert_eq!(data(&big.next().await)["body"], r#"{"total": 500}"#);
    for body in bodies {
        assert_eq!(data(&all.next().await)["body"], body);
    }
    tap.stop();
    assert_eq!(big.next().await, Next::Stopping, "nothing else matched");
}

#[test]
fn lines_held_for_a_delivery_show_only_once_it_is_shown() {
    let tap = tap();
    let point = tap.point("rule/orders/big").unwrap();
    let mut reader = tap.subscribe(point, None, 10);
    let mut held = Vec::new();
    tap.hold(&mut held, point, || r#"{"id": "e-1"}"#.into());
    assert!(
        reader.lines.try_recv().is_err(),
        "nothing shown before it commits"
    );
    tap.show_held(&held);
    assert!(reader.lines.try_recv().is_ok());
}

#[tokio::test]
async fn stopping_the_host_ends_every_tap() {
    let tap = tap();
    let mut reader = tap.subscribe(tap.point("queue/jobs").unwrap(), None, 1);
    tap.stop();
    assert_eq!(reader.next().await, Next::Stopping);
}

#[test]
fn a_point_is_named_as_routes_toml_names_its_parts_and_a_wrong_name_lists_the_right_ones() {
    let tap = tap();
    for name in [
        "pipe/orders/in",
        "pipe/orders/out",
        "rule/orders/big",
        "queue/jobs",
    ] {
        let point = tap.point(name).unwrap();
        assert_eq!(tap.name(point), name);
    }
    let known = "`pipe/orders/in`, `pipe/orders/out`, `rule/orders/big`, `queue/jobs`";
    let unknown = |name| tap.point(name).unwrap_err().to_string();
    assert_eq!(
        unknown("queue/nope"),
        format!("this host has no queue `nope`; its tap points are: {known}")
    );
    assert_eq!(
        unknown("rule/orders/small"),
        format!("this host has no rule `orders/small`; its tap points are: {known}")
    );
    assert_eq!(
        unknown("rule/audit/all"),
        format!("this host has no bus `audit`; its tap points are: {known}")
    );
    assert_eq!(
        unknown("consumer/c"),
        format!("this host has no consumer `c`; its tap points are: {known}")
    );
    assert_eq!(
        unknown("pipe/orders"),
        "`pipe/orders` is not a tap point; points are `pipe/NAME/in`, `pipe/NAME/out`, `rule/BUS/RULE`, `queue/NAME` and `consumer/NAME`"
    );
}
