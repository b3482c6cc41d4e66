//! The plugin runtime on real components: the Rust example plugins and the fault filter in
//! tests/plugins, built from source by these tests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::*;
use crate::config;

mod calling_out;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository")
}

/// Builds the Rust example plugins and the test plugins once per test run; their folder.
fn wasm_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        for workspace in ["plugins/rust", "tests/plugins"] {
            build::run(
                "rustup target add wasm32-wasip2 >/dev/null 2>&1; env -u CARGO_TARGET_DIR cargo build --release --quiet",
                &repo().join(workspace),
            )
            .unwrap_or_else(|err| panic!("building {workspace}: {err}"));
        }
        repo().join("target/wasm32-wasip2/release")
    })
}

fn load(routes: &str) -> Result<Plugins, Vec<LoadError>> {
    let routes = routes.replace("WASM", &wasm_dir().display().to_string());
    let config =
        config::compile(&routes, Path::new("routes.toml")).unwrap_or_else(|err| panic!("{err}"));
    Plugins::load(&config, Some(&repo().join("target/plugin-cache")))
}

fn event(id: &str, payload: serde_json::Value) -> Event {
    Event {
        id: id.into(),
        payload: payload.to_string(),
    }
}

fn message(id: &str, body: serde_json::Value) -> Message {
    Message {
        id: id.into(),
        body: body.to_string(),
        receive_count: 1,
        attributes: vec![],
    }
}

const EXAMPLES: &str = r#"
[plugins.high-value]
world = "filter"
wasm = "WASM/high_value.wasm"
config = { threshold = 250 }

[plugins.tier]
world = "enricher"
wasm = "WASM/customer_tier.wasm"
config = { "tier.c-1" = "gold", default = "bronze" }

[plugins.notify]
world = "consumer"
wasm = "WASM/notify.wasm"
"#;

#[test]
fn a_filter_reads_its_config_and_both_record_shapes() {
    let plugins = load(EXAMPLES).unwrap();
    let filter = plugins.filter(PluginId(0));
    let record = |total: &str| {
        event(
            "e",
            serde_json::json!({"dynamodb": {"NewImage": {"total": {"N": total}}}}),
        )
    };
    assert_eq!(filter.keep(&record("300")), Ok(true));
    assert_eq!(
        filter.keep(&record("250")),
        Ok(false),
        "the threshold comes from config"
    );
    assert_eq!(
        filter.keep(&event("e", serde_json::json!({"detail": {"total": 251.5}}))),
        Ok(true)
    );
    assert_eq!(
        filter.keep(&event("e", serde_json::json!({"detail": {}}))),
        Ok(false)
    );
}

#[test]
fn an_enricher_adds_fields_from_its_config() {
    let plugins = load(EXAMPLES).unwrap();
    let enricher = plugins.enricher(PluginId(2));
    let events = [
        event(
            "a",
            serde_json::json!({"dynamodb": {"NewImage": {"customerId": {"S": "c-1"}}}}),
        ),
        event("b", serde_json::json!({"detail": {"customerId": "c-9"}})),
    ];
    let enriched = enricher.enrich(&events).unwrap();
    let tiers: Vec<serde_json::Value> = enriched
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["customerTier"].clone()
        })
        .collect();
    assert_eq!(tiers, ["gold", "bronze"]);
    assert_eq!(
        enriched.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn a_consumer_answers_for_each_message() {
    let plugins = load(EXAMPLES).unwrap();
    let consumer = plugins.consumer(PluginId(1));
    let outcomes = consumer
        .handle(&[
            // An EventBridge event around a change record: its `Keys` name the order.
            message("1", serde_json::json!({"detail": {"dynamodb": {"Keys": {"orderId": {"S": "o-1"}}}}})),
            message("2", serde_json::json!({"detail": {"dynamodb": {"Keys": {"orderId": {"S": "o-2"}}}, "fail": "retry", "retryAfter": 30}})),
            message("3", serde_json::json!({"detail": {"dynamodb": {"Keys": {"orderId": {"S": "o-3"}}}, "fail": "dead-letter"}})),
        ])
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Ok,
            Outcome::Retry(Some(30)),
            Outcome::DeadLetter("order o-3 asked to be dead-lettered".into())
        ]
    );
    let failed = consumer.handle(&[message(
        "4",
        serde_json::json!({"dynamodb": {"Keys": {"orderId": {"S": "o-4"}}}, "fail": "batch"}),
    )]);
    assert_eq!(
        failed,
        Err(PluginError::Returned {
            plugin: "notify".into(),
            message: "order o-4 failed the batch".into(),
            retryable: true
        })
    );
}

#[test]
fn a_component_of_the_wrong_world_is_refused_naming_the_expected_one() {
    let errors = load("[plugins.wrong]\nworld = \"filter\"\nwasm = \"WASM/notify.wasm\"\n")
        .err()
        .unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].plugin, "wrong");
    assert_eq!(
        errors[0].message,
        "expected a component of world `filter` (exporting `keep`), but it exports `handle`"
    );
}

#[test]
fn missing_and_corrupt_components_are_reported_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.wasm");
    std::fs::write(&corrupt, b"\0asm not really").unwrap();
    let routes = format!(
        "[plugins.missing]\nworld = \"filter\"\nwasm = \"{}/nope.wasm\"\nbuild = \"make\"\n[plugins.corrupt]\nworld = \"consumer\"\nwasm = \"{}\"\n",
        dir.path().display(),
        corrupt.display()
    );
    let errors = load(&routes).err().unwrap();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with(&format!(
            "plugin `corrupt` ({}): not a valid WebAssembly component: ",
            corrupt.display()
        )),
        "{}",
        shown[0]
    );
    assert_eq!(
        shown[1],
        format!(
            "plugin `missing` ({}/nope.wasm): cannot read the component: No such file or directory (os error 2); build it with `switchyard up --build`",
            dir.path().display()
        )
    );
}

#[test]
fn compiled_code_is_cached_only_in_a_dir_no_one_else_may_write_to() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("plugin-cache");
    let routes = "[plugins.f]\nworld = \"filter\"\nwasm = \"WASM/fault_filter.wasm\"\n"
        .replace("WASM", &wasm_dir().display().to_string());
    let config = config::compile(&routes, Path::new("routes.toml")).unwrap();
    let cached = || std::fs::read_dir(&cache).unwrap().count();
    let mode = || std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;

    assert!(Plugins::load(&config, Some(&cache)).is_ok());
    assert_eq!(mode(), 0o700, "the host makes the dir its own");
    assert_eq!(cached(), 1);

    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    for entry in std::fs::read_dir(&cache).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert!(
        Plugins::load(&config, Some(&cache)).is_ok(),
        "compiled anew"
    );
    assert_eq!(cached(), 0, "nothing is written where others may write");
}

const FAULTS: &str = r#"
[plugins.faulty]
world = "filter"
wasm = "WASM/fault_filter.wasm"
timeout = "100ms"
memory = "16MiB"
"#;

fn asks(what: &str) -> Event {
    event(what, serde_json::json!({"do": what}))
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline_and_the_next_call_works() {
    let plugins = load(FAULTS).unwrap();
    let faulty = plugins.filter(PluginId(0));
    let started = Instant::now();
    assert_eq!(
        faulty.keep(&asks("loop")),
        Err(PluginError::Timeout {
            plugin: "faulty".into(),
            timeout: Duration::from_millis(100)
        })
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(200),
        "stopped within twice the timeout: {took:?}"
    );
    assert_eq!(faulty.keep(&asks("keep")), Ok(true));
}

#[test]
fn a_filter_sleeping_in_a_host_call_is_stopped_at_its_timeout_and_its_instance_replaced() {
    let plugins = load(FAULTS).unwrap();
    let faulty = plugins.filter(PluginId(0));
    assert_eq!(faulty.keep(&asks("count")), Ok(true), "a new instance");
    let started = Instant::now();
    // Sleeping is a host call (WASI's clocks), where the epoch deadline never fires.
    assert_eq!(
        faulty.keep(&asks("sleep")),
        Err(PluginError::Timeout {
            plugin: "faulty".into(),
            timeout: Duration::from_millis(100)
        })
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "ended well before the 10 s sleep: {took:?}"
    );
    assert_eq!(
        faulty.keep(&asks("count")),
        Ok(true),
        "the instance that timed out is not called again"
    );
}

#[test]
fn a_consumer_sleeping_past_its_timeout_times_out_and_the_next_call_works() {
    let plugins = load(
        "[plugins.sleepy]\nworld = \"consumer\"\nwasm = \"WASM/fetch_consumer.wasm\"\ntimeout = \"300ms\"\n",
    )
    .unwrap();
    let sleepy = plugins.consumer(PluginId(0));
    let sleep = |ms: u64| message("m", serde_json::json!({ "sleep_ms": ms }));
    let started = Instant::now();
    assert_eq!(
        sleepy.handle(&[sleep(4000)]),
        Err(PluginError::Timeout {
            plugin: "sleepy".into(),
            timeout: Duration::from_millis(300)
        })
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "ended well before the 4 s sleep: {took:?}"
    );
    assert_eq!(sleepy.handle(&[sleep(1)]), Ok(vec![Outcome::Ok]));
}

#[test]
fn allocating_without_end_is_refused_by_the_memory_limit() {
    // Time enough that the limit, not the deadline, stops it even on a busy machine.
    let plugins = load(&FAULTS.replace("100ms", "30s")).unwrap();
    let faulty = plugins.filter(PluginId(0));
    assert_eq!(
        faulty.keep(&asks("hog")),
        Err(PluginError::MemoryLimit {
            plugin: "faulty".into(),
            limit: 16 << 20
        })
    );
    assert_eq!(faulty.keep(&asks("keep")), Ok(true));
}

#[test]
fn a_panic_fails_the_call_with_its_message() {
    let plugins = load(FAULTS).unwrap();
    let faulty = plugins.filter(PluginId(0));
    let Err(PluginError::Trap { plugin, cause }) = faulty.keep(&asks("panic")) else {
        panic!("a panic traps")
    };
    assert_eq!(plugin, "faulty");
    assert!(
        cause.contains("the event asked for a panic"),
        "the cause carries the panic message: {cause}"
    );
    assert_eq!(faulty.keep(&asks("keep")), Ok(true));
}

#[test]
fn an_error_the_plugin_returns_is_reported_as_its_own() {
    let plugins = load(FAULTS).unwrap();
    let faulty = plugins.filter(PluginId(0));
    assert_eq!(
        faulty.keep(&asks("error")),
        Err(PluginError::Returned {
            plugin: "faulty".into(),
            message: "the event asked for an error".into(),
            retryable: true
        })
    );
    assert_eq!(faulty.keep(&asks("keep")), Ok(true));
}

#[test]
fn warm_instances_are_reused_unless_fresh_instance_or_max_invocations_says_otherwise() {
    let warm = load(FAULTS).unwrap();
    let first_calls: Vec<bool> = (0..3)
        .map(|_| warm.filter(PluginId(0)).keep(&asks("count")).unwrap())
        .collect();
    assert_eq!(
        first_calls,
        [true, false, false],
        "one warm instance serves every call"
    );

    let fresh = load(&format!("{FAULTS}fresh_instance = true\n")).unwrap();
    let first_calls: Vec<bool> = (0..3)
        .map(|_| fresh.filter(PluginId(0)).keep(&asks("count")).unwrap())
        .collect();
    assert_eq!(
        first_calls,
        [true, true, true],
        "each call gets a new instance"
    );

    let capped = load(&format!("{FAULTS}max_invocations = 2\n")).unwrap();
    let first_calls: Vec<bool> = (0..4)
        .map(|_| capped.filter(PluginId(0)).keep(&asks("count")).unwrap())
        .collect();
    assert_eq!(
        first_calls,
        [true, false, true, false],
        "an instance is replaced after 2 calls"
    );
}

#[test]
fn fuel_stops_a_loop_when_configured() {
    let plugins =
        load(&FAULTS.replace("timeout = \"100ms\"", "timeout = \"10s\"\nfuel = 1000000")).unwrap();
    assert_eq!(
        plugins.filter(PluginId(0)).keep(&asks("loop")),
        Err(PluginError::OutOfFuel {
            plugin: "faulty".into()
        })
    );
    assert_eq!(plugins.filter(PluginId(0)).keep(&asks("keep")), Ok(true));
}

/// A log writer that keeps what is written, for asserting on log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn guest_logs_and_output_reach_the_host_log_with_the_plugin_and_event() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let plugins = load(FAULTS).unwrap();
        assert_eq!(plugins.filter(PluginId(0)).keep(&asks("print")), Ok(true));
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("a structured line event=\"print\""),
        "{text}"
    );
    assert!(
        text.contains("plugin=\"faulty\"") && text.contains("handling=\"print\""),
        "{text}"
    );
    assert!(
        text.contains("stream=\"stdout\"") && text.contains("hello from the guest's stdout"),
        "{text}"
    );
    assert!(
        text.contains("stream=\"stderr\"") && text.contains("and from its stderr"),
        "{text}"
    );
}

/// Builds the JavaScript and Python example plugins once per test run (installing their
/// toolchains on first use); their folder.
fn guest_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        for script in ["plugins/js/build.sh", "plugins/python/build.sh"] {
            build::run(&format!("sh {script}"), repo())
                .unwrap_or_else(|err| panic!("{script}: {err}"));
        }
        repo().join("target/plugins")
    })
}

fn load_guests(routes: &str) -> Plugins {
    let routes = routes.replace("GUESTS", &guest_dir().display().to_string());
    load(&routes).unwrap_or_else(|errors| panic!("{errors:?}"))
}

const GUESTS: &str = r#"
[plugins.js-high-value]
world = "filter"
wasm = "GUESTS/js_high_value.wasm"
memory = "256MiB"
timeout = "1s"
config = { threshold = 250 }

[plugins.js-audit]
world = "consumer"
wasm = "GUESTS/js_audit.wasm"
memory = "256MiB"

[plugins.py-high-value]
world = "filter"
wasm = "GUESTS/py_high_value.wasm"
memory = "256MiB"
timeout = "1s"
config = { threshold = 250 }

[plugins.py-shipping-zone]
world = "enricher"
wasm = "GUESTS/py_shipping_zone.wasm"
memory = "256MiB"
config = { "zone.PT" = "eu" }
"#;

#[test]
fn javascript_and_python_filters_agree_with_the_rust_one() {
    let plugins = load_guests(GUESTS);
    let record = |total: &str| {
        event(
            "e",
            serde_json::json!({"dynamodb": {"NewImage": {"total": {"N": total}}}}),
        )
    };
    // Plugins are numbered by name: js-audit, js-high-value, py-high-value, py-shipping-zone.
    for id in [PluginId(1), PluginId(2)] {
        let filter = plugins.filter(id);
        assert_eq!(filter.keep(&record("300")), Ok(true), "{}", filter.name());
        assert_eq!(filter.keep(&record("250")), Ok(false), "{}", filter.name());
        assert_eq!(
            filter.keep(&event("e", serde_json::json!({"detail": {"total": 251.5}}))),
            Ok(true),
            "{}",
            filter.name()
        );
        let Err(PluginError::Returned {
            message, retryable, ..
        }) = filter.keep(&Event {
            id: "x".into(),
            payload: "{bad".into(),
        })
        else {
            panic!("{}: bad input is the plugin's own error", filter.name())
        };
        assert!(
            message.starts_with("payload is not JSON") && !retryable,
            "{}: {message}",
            filter.name()
        );
    }
}

#[test]
fn a_javascript_consumer_answers_for_each_message() {
    let plugins = load_guests(GUESTS);
    let outcomes = plugins
        .consumer(PluginId(0))
        .handle(&[
            message("1", serde_json::json!({"detail": {"orderId": "o-1"}})),
            message(
                "2",
                serde_json::json!({"detail": {"orderId": "o-2", "fail": "retry", "retryAfter": 7}}),
            ),
            Message {
                id: "3".into(),
                body: "not json".into(),
                receive_count: 2,
                attributes: vec![],
            },
        ])
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Ok,
            Outcome::Retry(Some(7)),
            Outcome::DeadLetter("message 3 is not JSON".into())
        ]
    );
}

#[test]
fn a_python_enricher_adds_fields_from_its_config() {
    let plugins = load_guests(GUESTS);
    let enriched = plugins
        .enricher(PluginId(3))
        .enrich(&[
            event("a", serde_json::json!({"dynamodb": {"NewImage": {"shipping": {"M": {"country": {"S": "PT"}}}}}})),
            event("b", serde_json::json!({"detail": {"shipping": {"country": "BR"}}})),
        ])
        .unwrap();
    let zones: Vec<serde_json::Value> = enriched
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["shippingZone"].clone()
        })
        .collect();
    assert_eq!(zones, ["eu", "world"]);
}
