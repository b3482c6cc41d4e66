//! Plugin calls: a filter in Rust, JavaScript and Python, through the host's plugin API (warm
//! pool, and `fresh_instance`), beside a raw wasmtime call on one reused instance of the same
//! component (the limit). Also: loading every example plugin with a warm compiled-code cache.
//! Run: `cargo bench -p switchyard --bench plugins`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use switchyard::config;
use switchyard::plugin::{Event, Plugins, build};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository")
        .to_path_buf()
}

/// Builds the example plugins (installing their toolchains on first use).
fn build_examples() {
    let repo = repo();
    build::run(
        "rustup target add wasm32-wasip2 >/dev/null 2>&1; env -u CARGO_TARGET_DIR cargo build --release --quiet",
        &repo.join("plugins/rust"),
    )
    .expect("the Rust plugins build");
    for script in ["plugins/js/build.sh", "plugins/python/build.sh"] {
        build::run(&format!("sh {script}"), &repo).expect("the JS and Python plugins build");
    }
}

/// Each language's high-value filter, warm and fresh, plus the other example plugins.
fn routes() -> String {
    let repo = repo().display().to_string();
    let filters = [
        (
            "rust",
            format!("{repo}/target/wasm32-wasip2/release/high_value.wasm"),
            "64MiB",
        ),
        (
            "js",
            format!("{repo}/target/plugins/js_high_value.wasm"),
            "256MiB",
        ),
        (
            "python",
            format!("{repo}/target/plugins/py_high_value.wasm"),
            "256MiB",
        ),
    ];
    let mut routes = String::new();
    for (language, wasm, memory) in &filters {
        for (suffix, fresh) in [("warm", false), ("fresh", true)] {
            routes.push_str(&format!(
                "[plugins.{language}-{suffix}]\nworld = \"filter\"\nwasm = \"{wasm}\"\nmemory = \"{memory}\"\ntimeout = \"1s\"\nfresh_instance = {fresh}\n\n"
            ));
        }
    }
    routes.push_str(&format!(
        "[plugins.tier]\nworld = \"enricher\"\nwasm = \"{repo}/target/wasm32-wasip2/release/customer_tier.wasm\"\n\n\
         [plugins.notify]\nworld = \"consumer\"\nwasm = \"{repo}/target/wasm32-wasip2/release/notify.wasm\"\n\n\
         [plugins.js-audit]\nworld = \"consumer\"\nwasm = \"{repo}/target/plugins/js_audit.wasm\"\nmemory = \"256MiB\"\n\n\
         [plugins.py-zone]\nworld = \"enricher\"\nwasm = \"{repo}/target/plugins/py_shipping_zone.wasm\"\nmemory = \"256MiB\"\n"
    ));
    routes
}

fn plugins(c: &mut Criterion) {
    build_examples();
    let config = config::compile(&routes(), &repo().join("routes.toml"))
        .expect("the bench routes are valid");
    let cache = repo().join("target/plugin-cache");
    let plugins = Plugins::load(&config, Some(&cache)).expect("the plugins load");
    let event = Event {
        id: "000000000000000000001".into(),
        payload: r#"{"eventName": "INSERT", "dynamodb": {"NewImage": {"orderId": {"S": "o-1"}, "total": {"N": "412.5"}}}}"#.into(),
    };
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
