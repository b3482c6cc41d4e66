//! Plugins and patterns, timed in-process: plugin calls per second per language through the
//! host's warm pool, beside a raw call on one reused instance (the limit); pattern matches per
//! second; and a 100-rule bus per event. The criterion benches (`cargo bench -p switchyard`)
//! measure the same things in more detail.

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchyard::config;
use switchyard::pattern::{Pattern, RuleSet};
use switchyard::plugin::Plugins;

#[path = "../../benches/fixtures/mod.rs"]
mod fixtures;

use crate::report::Report;

const RUNS: usize = 3;

/// Calls `f` for about `time`; returns calls per second.
fn rate(time: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up, then time batches until `time` has passed.
    for _ in 0..100 {
        f();
    }
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < time {
        for _ in 0..100 {
            f();
        }
        calls += 100;
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

fn runs(time: Duration, mut f: impl FnMut()) -> Vec<f64> {
    (0..RUNS).map(|_| rate(time, &mut f)).collect()
}

pub fn patterns(report: &mut Report) {
    let time = Duration::from_millis(700);
    let text = fixtures::order_event();
    let pattern = Pattern::compile(&fixtures::rule("shop.orders")).expect("the pattern compiles");
    let event = pattern.read(&text).expect("the event reads");
    report.add(
        "Patterns",
        "pattern matches/s, 5 fields, event already read",
        "/s",
        runs(time, || {
            black_box(pattern.matches(black_box(&event)));
        }),
    );
    report.add(
        "Patterns",
        "pattern matches/s, 5 fields, from 1 KiB JSON",
        "/s",
        runs(time, || {
            black_box(
                pattern
                    .matches_json(black_box(&text))
                    .expect("the event reads"),
            );
        }),
    );
    let bus = RuleSet::new(fixtures::bus_sources().iter().map(|s| fixtures::rule(s)))
        .expect("the rules compile");
    let per_event: Vec<f64> = runs(time, || {
        black_box(
            bus.matching_json(black_box(&text))
                .expect("the event reads"),
        );
    })
    .into_iter()
    .map(|r| 1e6 / r)
    .collect();
    report.add(
        "Patterns",
        "100-rule bus, per event from JSON",
        "µs",
        per_event,
    );
    report.goal_below("100-rule bus, per event from JSON", 20.0, "µs");
}

pub fn plugins(report: &mut Report) {
    let repo = crate::procs::repo();
    fixtures::build_examples(&repo);
    let config = config::compile(&fixtures::plugin_routes(&repo), &repo.join("routes.toml"))
        .expect("the bench routes are valid");
    let plugins =
        Plugins::load(&config, Some(&repo.join("target/plugin-cache"))).expect("the plugins load");
    let event = fixtures::filter_event();
    let time = Duration::from_millis(700);
    for language in [
        "rust",
        "rust-bindings",
        "js",
        "js-bindings",
        "python",
        "python-bindings",
    ] {
        let id = config
            .plugin_id(&format!("{language}-warm"))
            .expect("a bench plugin");
        let warm = plugins.filter(id);
        let mut direct = warm.direct().expect("an instance starts");
        let raw = runs(time, || {
            black_box(direct.keep(black_box(&event)).expect("the call runs")).ok();
        });
        let host = runs(time, || {
            black_box(warm.keep(black_box(&event)).expect("the call succeeds"));
        });
        let raw_name = format!("{language} filter calls/s, raw call on a reused instance");
        let host_name = format!("{language} filter calls/s, host warm pool");
        report.add("Plugins", raw_name.clone(), "/s", raw);
        report.add("Plugins", host_name.clone(), "/s", host);
        report.ratio(
            format!("{language} plugin: host / raw reused instance"),
            &host_name,
            &raw_name,
            None,
        );
    }
    for language in ["rust", "js", "python"] {
        report.ratio(
            format!("{language} filter: SDK / hand-written bindings, raw calls"),
            &format!("{language} filter calls/s, raw call on a reused instance"),
            &format!("{language}-bindings filter calls/s, raw call on a reused instance"),
            Some(0.9),
        );
    }

    // The enricher and the consumer of the default routes, on the SDK and as written before it,
    // a batch of 10 of what they see for an order.
    let events = vec![fixtures::filter_event(); 10];
    let messages = vec![fixtures::consumer_message(); 10];
    // Items per second from batches of 10 per second.
    let per_item = |batches: Vec<f64>| batches.iter().map(|b| b * 10.0).collect::<Vec<f64>>();
    for (plugin, what) in [
        ("tier", "rust enricher"),
        ("bindings-tier", "rust-bindings enricher"),
    ] {
        let enricher = plugins.enricher(config.plugin_id(plugin).expect("a bench plugin"));
        let batches = runs(time, || {
            black_box(
                enricher
                    .enrich(black_box(&events))
                    .expect("the call succeeds"),
            );
        });
        let name = format!("{what} events/s, host warm pool");
        report.add("Plugins", name, "/s", per_item(batches));
    }
    for (plugin, what) in [
        ("notify", "rust consumer"),
        ("bindings-notify", "rust-bindings consumer"),
    ] {
        let consumer = plugins.consumer(config.plugin_id(plugin).expect("a bench plugin"));
        let batches = runs(time, || {
            black_box(
                consumer
                    .handle(black_box(&messages))
                    .expect("the call succeeds"),
            );
        });
        let name = format!("{what} messages/s, host warm pool");
        report.add("Plugins", name, "/s", per_item(batches));
    }
    for world in ["enricher events/s", "consumer messages/s"] {
        report.ratio(
            format!(
                "rust {}: SDK / hand-written bindings",
                world.split(' ').next().unwrap_or(world)
            ),
            &format!("rust {world}, host warm pool"),
            &format!("rust-bindings {world}, host warm pool"),
            Some(0.9),
        );
    }
}
