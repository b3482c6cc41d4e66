//! Plugin calls: a filter in Rust, JavaScript and Python, through the host's plugin API (warm
//! pool, and `fresh_instance`), beside a raw wasmtime call on one reused instance of the same
//! component (the limit). Also: loading every example plugin with a warm compiled-code cache.
//! Run: `cargo bench -p switchyard --bench plugins`.

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use switchyard::config;
use switchyard::plugin::Plugins;

mod fixtures;
use fixtures::{build_examples, filter_event, plugin_routes, repo};

fn plugins(c: &mut Criterion) {
    build_examples(&repo());
    let config = config::compile(&plugin_routes(&repo()), &repo().join("routes.toml"))
        .expect("the bench routes are valid");
    let cache = repo().join("target/plugin-cache");
    let plugins = Plugins::load(&config, Some(&cache)).expect("the plugins load");
    let event = filter_event();
    let id = |name: &str| config.plugin_id(name).expect("a bench plugin");

    for language in ["rust", "js", "python"] {
        let warm = plugins.filter(id(&format!("{language}-warm")));
        let fresh = plugins.filter(id(&format!("{language}-fresh")));
        let mut direct = warm.direct().expect("an instance starts");
        assert_eq!(direct.keep(&event).expect("the call runs"), Ok(true));
        c.bench_function(
            &format!("plugin/{language} filter, raw call on a reused instance"),
            |b| b.iter(|| direct.keep(black_box(&event)).expect("the call runs")),
        );
        c.bench_function(&format!("plugin/{language} filter, host warm pool"), |b| {
            b.iter(|| warm.keep(black_box(&event)).expect("the call succeeds"))
        });
        c.bench_function(
            &format!("plugin/{language} filter, host fresh_instance"),
            |b| b.iter(|| fresh.keep(black_box(&event)).expect("the call succeeds")),
        );
    }

    // Start-up: every example plugin loaded from the warm compiled-code cache.
    let started = Instant::now();
    drop(Plugins::load(&config, Some(&cache)).expect("the plugins load"));
    eprintln!(
        "loading {} plugins with a warm cache took {:?}",
        config.plugins.len(),
        started.elapsed()
    );
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.bench_function("load all example plugins, warm cache", |b| {
        b.iter(|| Plugins::load(&config, Some(&cache)).expect("the plugins load"))
    });
    group.finish();
}

criterion_group!(benches, plugins);
criterion_main!(benches);
