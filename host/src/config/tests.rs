use std::path::Path;
use std::time::Duration;

use super::*;

fn compile_text(text: &str) -> Result<Config, Vec<String>> {
    compile(text, Path::new("routes.toml")).map_err(|err| match err {
        ConfigError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    })
}

fn problems(text: &str) -> Vec<String> {
    match compile_text(text) {
        Ok(_) => panic!("expected problems, the config compiled"),
        Err(problems) => problems,
    }
}

const FULL: &str = r#"
[host]
listen = "0.0.0.0:9000"
data_dir = "/var/lib/switchyard"
max_body = "1MiB"
auth_token_env = "SWITCHYARD_API_TOKEN"

[host.admin]
listen = "127.0.0.1:9090"
auth_token_file = "secrets/admin.token"

[aws]
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:5000"

[tables.orders]
key = "orderId"
stream_view_type = "NEW_IMAGE"

[plugins.high-value]
world = "filter"
wasm = "plugins/high-value.wasm"
config = { threshold = 100, currency = "EUR", strict = true }

[plugins.tier]
world = "enricher"
wasm = "plugins/tier.wasm"
timeout = "2s"
allowed_outbound_hosts = ["https://crm.example.com"]

[plugins.notify]
world = "consumer"
wasm = "plugins/notify.wasm"
memory = "128MiB"

[pipes.orders]
source = "orders"
filter = ['{"eventName": ["INSERT"]}']
filter_plugin = "high-value"
enrichment = "tier"
target = { bus = "events", detail_type = "OrderCreated", source = "shop.orders" }
retry = { attempts = 5, max_age = "1h" }
dlq = "pipe-dlq"

[buses.events]
archive = { retention = "7d" }

[buses.events.rules.big-orders]
pattern = '{"detail-type": ["OrderCreated"]}'
targets = [{ queue = "notifications", input_path = "$.detail" }]

[queues.notifications]
visibility_timeout = "45s"
max_receive_count = 3
dlq = "notifications-dlq"

[queues.notifications-dlq]
retention = "14d"

[queues.pipe-dlq]

[consumers.notify]
queue = "notifications"
handler = "notify"
batch_size = 5
"#;

#[test]
fn the_repository_routes_toml_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../routes.toml");
    let config = load(&path).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(config.tables[0].name, "orders");
    assert_eq!(config.tables[0].key, KeySchema::simple("orderId"));
    assert!(config.tables[0].schema.is_some());
}

#[test]
fn every_section_compiles_with_references_resolved() {
    let config = compile_text(FULL).unwrap_or_else(|p| panic!("{}", p.join("\n")));
    assert_eq!(config.host.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.host.max_body, 1 << 20);
    assert_eq!(config.aws.region, "eu-west-1");
    assert_eq!(config.tables[0].stream_view_type, StreamViewType::NewImage);
    assert_eq!(config.tables[0].path, "/orders");

    let pipe = &config.pipes[0];
    assert_eq!(config[pipe.source].name, "orders");
    assert_eq!(
        pipe.filter_plugin.map(|p| config[p].name.as_str()),
        Some("high-value")
    );
    assert_eq!(
        pipe.enrichment.map(|p| config[p].world),
        Some(World::Enricher)
    );
    let Destination::Bus(bus) = pipe.target.destination else {
        panic!("pipe targets a bus")
    };
    assert_eq!(config[bus].name, "events");
    assert_eq!(pipe.target.detail_type, "OrderCreated");
    assert_eq!(
        pipe.retry,
        RetryPolicy {
            attempts: Some(5),
            max_age: Some(Duration::from_secs(3600))
        }
    );
    assert_eq!(pipe.dlq.map(|q| config[q].name.as_str()), Some("pipe-dlq"));

    let rule = &config.buses[0].rules[0];
    assert_eq!(rule.name, "big-orders");
    assert_eq!(rule.targets[0].input, TargetInput::Path("$.detail".into()));
    assert_eq!(
        rule.targets[0].retry,
        RetryPolicy {
            attempts: Some(185),
            max_age: Some(Duration::from_secs(86400))
        }
    );

    let queue = &config.queues[0];
    assert_eq!(queue.visibility_timeout, Duration::from_secs(45));
    let redrive = queue
        .redrive
        .expect("a queue with a dlq has a redrive policy");
    assert_eq!(
        (config[redrive.dlq].name.as_str(), redrive.max_receive_count),
        ("notifications-dlq", 3)
    );

    let plugin = &config.plugins[0];
    assert_eq!(plugin.config["threshold"], "100");
    assert_eq!(plugin.config["strict"], "true");
    assert_eq!(
        plugin.timeout,
        Duration::from_millis(100),
        "a filter's default deadline"
    );
    let notify = config.plugins.iter().find(|p| p.name == "notify").unwrap();
    assert_eq!(notify.memory, 128 << 20);
    assert_eq!(config.consumers[0].batch_size, 5);
    assert_eq!(config[config.consumers[0].handler].name, "notify");
}

#[test]
fn an_empty_file_gets_the_defaults() {
    let config = compile_text("").unwrap();
    assert_eq!(config.host.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.host.backend, Backend::Embedded);
    assert_eq!(config.host.max_body, 256 * 1024);
    assert_eq!(config.host.data_dir, Path::new(".switchyard"));
    assert!(config.tables.is_empty());
}

#[test]
fn relative_paths_resolve_against_the_routes_file_folder() {
    let text = "[host]\ndata_dir = \"state\"\n[plugins.p]\nworld = \"filter\"\nwasm = \"p.wasm\"\n";
    let config = compile(text, Path::new("/srv/app/routes.toml")).unwrap();
    assert_eq!(config.host.data_dir, Path::new("/srv/app/state"));
    assert_eq!(config.plugins[0].wasm, Path::new("/srv/app/p.wasm"));
}

#[test]
fn every_problem_is_reported_at_once_with_its_line_and_key() {
    let text = r#"[host]
listen = "localhost"

[tables.orders]
key = "orderId"

[pipes.orders]
source = "order"
target = { bus = "events" }
retry = { max_age = "30 parsecs" }
fliter = []

[pipes.other]
source = "orders"
filter_plugin = "notify"
target = { queue = "q" }
batch_size = 20000

[plugins.notify]
world = "consumer"
wasm = "n.wasm"

[queues.q]
visibility_timeout = "13h"
max_receive_count = 5
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:2:10: host.listen: invalid address `localhost`, expected HOST:PORT like `127.0.0.1:8080`",
            "routes.toml:11:1: pipes.orders: unknown field `fliter`, expected one of `source`, `starting_position`, `batch_size`, `batching_window`, `filter`, `unmarshal`, `filter_plugin`, `enrichment`, `target`, `retry`, `dlq`",
            "routes.toml:15:17: pipes.other.filter_plugin: plugin `notify` has world `consumer`, but this role needs world `filter`",
            "routes.toml:17:14: pipes.other.batch_size: 20000 is out of range: it must be from 1 to 10000",
            "routes.toml:24:22: queues.q.visibility_timeout: `13h` is out of range: it must be from 0s to 12h",
            "routes.toml:25:21: queues.q.max_receive_count: needs `dlq`: the queue that messages move to after this many receives",
        ]
    );
}

#[test]
fn references_to_missing_entries_name_what_is_declared() {
    let text = r#"
[tables.orders]
key = "orderId"

[pipes.p]
source = "order"
target = { bus = "events" }
retry = { max_age = "30 parsecs" }
dlq = "dead"

[queues.q]
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:6:10: pipes.p.source: no table named `order` (declared: `orders`)",
            "routes.toml:7:18: pipes.p.target.bus: no bus named `events` (no bus is declared)",
            "routes.toml:8:21: pipes.p.retry.max_age: invalid duration `30 parsecs`: unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)",
            "routes.toml:9:7: pipes.p.dlq: no queue named `dead` (declared: `q`)",
        ]
    );
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_line() {
    let found = problems("[tables.orders]\nkey = \"orderId\"\nstream_retention = \"24h\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("routes.toml:3:"), "{}", found[0]);
    assert!(found[0].contains("invalid basic string"), "{}", found[0]);
}

#[test]
fn unknown_sections_and_bad_names_are_refused() {
    assert_eq!(
        problems("[tabels.orders]\nkey = \"id\"\n[tables.\"a b\"]\nkey = \"id\"\n"),
        [
            "routes.toml:1:2: tabels: unknown section `tabels`, expected one of `host`, `aws`, `tables`, `plugins`, `pipes`, `buses`, `queues`, `consumers`",
            "routes.toml:3:9: tables.a b: a name has 1 to 80 characters: letters, digits, `-`, `_` and `.`",
        ]
    );
}

#[test]
fn a_bad_schema_or_pattern_is_reported_where_it_is_written() {
    let text = "[tables.t]\nkey = \"id\"\nschema = '{\"type\": 12}'\n\n[buses.b.rules.r]\npattern = '{\"source\": '\ntargets = [{ queue = \"q\" }]\n\n[queues.q]\n";
    let found = problems(text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with(
            "routes.toml:3:10: tables.t.schema: the schema is not a valid JSON Schema: "
        ),
        "{}",
        found[0]
    );
    assert_eq!(
        found[1],
        "routes.toml:6:11: buses.b.rules.r.pattern: invalid event pattern: invalid JSON at line 1, column 12: unexpected end of text"
    );
}

#[test]
fn a_pattern_problem_names_its_place_in_routes_toml_and_in_the_pattern() {
    let text = "[pipes.p]\nsource = \"t\"\ntarget = { queue = \"q\" }\nfilter = [\n  '{\"eventName\": [\"INSERT\"]}',\n  '{\"dynamodb\": {\"NewImage\": {\"total\": {\"N\": [{\"numeric\": [\">\", \"100\"]}]}}}}',\n]\n[tables.t]\nkey = \"id\"\n[queues.q]\n";
    assert_eq!(
        problems(text),
        [
            "routes.toml:6:3: pipes.p.filter: invalid event pattern: at `dynamodb.NewImage.total.N[0].numeric`: the value of \">\" must be a number, not a string"
        ]
    );
}

#[test]
fn queue_redrive_and_consumer_limits_follow_sqs_and_lambda() {
    let text = r#"
[plugins.c]
world = "consumer"
wasm = "c.wasm"

[queues."jobs.fifo"]
fifo = true
dlq = "plain-dlq"

[queues.plain-dlq]
content_based_deduplication = true

[queues.self]
dlq = "self"

[consumers.c]
queue = "jobs.fifo"
handler = "c"
batch_size = 11
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:8:7: queues.jobs.fifo.dlq: the dead-letter queue of a FIFO queue must also be a FIFO queue",
            "routes.toml:10:9: queues.plain-dlq.content_based_deduplication: is only for FIFO queues (`fifo = true`)",
            "routes.toml:14:7: queues.self.dlq: a queue cannot be its own dead-letter queue",
            "routes.toml:19:14: consumers.c.batch_size: 11 is out of range: it must be from 1 to 10",
        ]
    );
}

#[test]
fn a_rule_needs_one_to_five_targets_each_with_one_destination() {
    let text = r#"
[buses.b.rules.none]
pattern = '{"source": ["a"]}'
targets = []

[buses.b.rules.both]
pattern = '{"source": ["a"]}'
targets = [{ queue = "q", bus = "b" }]

[queues.q]
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:4:11: buses.b.rules.none.targets: a rule has 1 to 5 targets, found 0",
            "routes.toml:8:11: buses.b.rules.both.targets[0]: set exactly one of `bus` or `queue`",
        ]
    );
}

#[test]
fn on_aws_every_resource_name_must_be_one_aws_accepts() {
    let text = r#"[host]
backend = "aws"
[aws]
prefix = "prod-"
[queues."jobs.fifo"]
fifo = true
[queues."v1.jobs"]
[buses.orders.rules.a-rule-name-that-goes-on-and-on-and-on-past-what-eventbridge-allows]
pattern = '{"source": ["a"]}'
targets = [{ queue = "jobs.fifo" }]
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:7:9: queues.v1.jobs: `v1.jobs` cannot name an SQS queue: use at most 75 characters (with `aws.prefix`) of letters, digits, `-`, `_`",
            "routes.toml:8:21: buses.orders.rules.a-rule-name-that-goes-on-and-on-and-on-past-what-eventbridge-allows: `a-rule-name-that-goes-on-and-on-and-on-past-what-eventbridge-allows` cannot name an EventBridge rule: use at most 64 characters of letters, digits, `-`, `_`, `.`",
        ]
    );
    // The same names are fine on the embedded backend.
    assert!(compile_text(&text.replace("\"aws\"", "\"embedded\"")).is_ok());
}

/// A pipe from table `t` to queue `q`, with `extra` added to the pipe's section.
fn pipe_with(extra: &str) -> String {
    format!(
        "[tables.t]\nkey = \"id\"\n[queues.q]\n[pipes.p]\nsource = \"t\"\ntarget = {{ queue = \"q\" }}\n{extra}"
    )
}

#[test]
fn a_pipe_retry_takes_the_ranges_and_infinities_of_aws_pipes() {
    let retry = |extra: &str| {
        let config = compile_text(&pipe_with(extra)).unwrap_or_else(|p| panic!("{}", p.join("\n")));
        config.pipes[0].retry
    };
    assert_eq!(
        retry(""),
        RetryPolicy {
            attempts: Some(3),
            max_age: None
        },
        "Switchyard's default: 3 attempts, no age limit"
    );
    assert_eq!(
        retry("retry = { attempts = -1, max_age = \"infinite\" }"),
        RetryPolicy {
            attempts: None,
            max_age: None
        }
    );
    assert_eq!(
        retry("retry = { attempts = 10000, max_age = -1 }"),
        RetryPolicy {
            attempts: Some(10_000),
            max_age: None
        }
    );
    assert_eq!(
        retry("retry = { attempts = 0, max_age = \"7d\" }"),
        RetryPolicy {
            attempts: Some(0),
            max_age: Some(Duration::from_secs(7 * 86400))
        }
    );
    assert_eq!(
        retry("retry = { max_age = \"60s\" }").max_age,
        Some(Duration::from_secs(60))
    );
}

#[test]
fn a_pipe_setting_out_of_its_aws_range_names_the_range() {
    let text = pipe_with(
        "batching_window = \"301s\"\n[pipes.p2]\nsource = \"t\"\ntarget = { queue = \"q\" }\nretry = { attempts = 10001, max_age = \"8d\" }\n[pipes.p3]\nsource = \"t\"\ntarget = { queue = \"q\" }\nretry = { attempts = -2, max_age = \"59s\" }\n[pipes.p4]\nsource = \"t\"\ntarget = { queue = \"q\" }\nretry = { max_age = 3600 }\n[pipes.p5]\nsource = \"t\"\ntarget = { queue = \"q\" }\nretry = { max_age = -5 }\n",
    );
    assert_eq!(
        problems(&text),
        [
            "routes.toml:7:19: pipes.p.batching_window: `301s` is out of range: it must be from 0s to 5m",
            "routes.toml:11:22: pipes.p2.retry.attempts: 10001 is out of range: it must be from -1 to 10000",
            "routes.toml:11:39: pipes.p2.retry.max_age: `8d` is out of range: it must be from 1m to 7days, or `infinite` (-1)",
            "routes.toml:15:22: pipes.p3.retry.attempts: -2 is out of range: it must be from -1 to 10000",
            "routes.toml:15:36: pipes.p3.retry.max_age: `59s` is out of range: it must be from 1m to 7days, or `infinite` (-1)",
            "routes.toml:19:21: pipes.p4.retry.max_age: 3600 is not a duration: write it with its unit, like `\"3600s\"`",
            "routes.toml:23:21: pipes.p5.retry.max_age: -5 is out of range: it must be from 1m to 7days, or `infinite` (-1)",
        ]
    );
}

#[test]
fn a_rule_target_retry_keeps_the_ranges_of_eventbridge_targets() {
    let text = r#"[queues.q]
[buses.b.rules.r]
pattern = '{"source": ["a"]}'
targets = [
  { queue = "q", retry = { attempts = -1, max_age = "infinite" } },
  { queue = "q", retry = { attempts = 186, max_age = -1 } },
]
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:5:39: buses.b.rules.r.targets[0].retry.attempts: -1 is out of range: it must be from 0 to 185",
            "routes.toml:5:53: buses.b.rules.r.targets[0].retry.max_age: `infinite` is out of range: it must be from 1m to 1day",
            "routes.toml:6:39: buses.b.rules.r.targets[1].retry.attempts: 186 is out of range: it must be from 0 to 185",
            "routes.toml:6:54: buses.b.rules.r.targets[1].retry.max_age: -1 is out of range: it must be from 1m to 1day",
        ]
    );
}

fn filter_texts(extra: &str) -> Vec<String> {
    let config = compile_text(&pipe_with(extra)).unwrap_or_else(|p| panic!("{}", p.join("\n")));
    config.pipes[0]
        .filter
        .iter()
        .map(|p| p.text.clone())
        .collect()
}

#[test]
fn a_filter_criteria_pasted_from_aws_compiles_to_the_same_patterns_as_plain_ones() {
    let plain =
        filter_texts(r#"filter = ['{"eventName": ["INSERT"]}', '{"eventName": ["MODIFY"]}']"#);
    assert_eq!(
        plain,
        [
            r#"{"eventName": ["INSERT"]}"#,
            r#"{"eventName": ["MODIFY"]}"#
        ]
    );
    let as_json = r#"filter = '{"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}, {"Pattern": "{\"eventName\": [\"MODIFY\"]}"}]}'"#;
    assert_eq!(filter_texts(as_json), plain, "one string");
    let in_list = r#"filter = ['{"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]}', '{"eventName": ["MODIFY"]}']"#;
    assert_eq!(filter_texts(in_list), plain, "an element of the list");
    let as_table = r#"filter = { Filters = [{ Pattern = '{"eventName": ["INSERT"]}' }, { Pattern = '{"eventName": ["MODIFY"]}' }] }"#;
    assert_eq!(filter_texts(as_table), plain, "a TOML table");
    let table_in_list = r#"filter = [{ Filters = [{ Pattern = '{"eventName": ["INSERT"]}' }] }, '{"eventName": ["MODIFY"]}']"#;
    assert_eq!(
        filter_texts(table_in_list),
        plain,
        "a TOML table in the list"
    );
    assert_eq!(
        filter_texts(r#"filter = '{"eventName": ["INSERT"]}'"#),
        [r#"{"eventName": ["INSERT"]}"#],
        "one plain pattern"
    );
    assert!(filter_texts(r#"filter = '{"Filters": []}'"#).is_empty());
}

#[test]
fn a_malformed_filter_criteria_is_reported_with_its_place_inside() {
    let text = pipe_with(
        r#"filter = [
  '{"Filters": [{"Patern": "{}"}, 7, {"Pattern": {"eventName": ["INSERT"]}}], "Other": 1}',
  '{"Filters": [{"Pattern": "{\"eventName\": [{\"prefix\": 5}]}"}]}',
  '{"Filters": {"Pattern": "{}"}}',
  { Filters = [{}, { Pattern = '{"eventName": [' }] },
  {},
]
"#,
    );
    assert_eq!(
        problems(&text),
        [
            "routes.toml:8:3: pipes.p.filter: invalid `FilterCriteria`: unknown field `Other`, expected `Filters`",
            "routes.toml:8:3: pipes.p.filter: invalid `FilterCriteria`: unknown field `Patern` in `Filters[0]`, expected `Pattern`",
            "routes.toml:8:3: pipes.p.filter: invalid `FilterCriteria`: `Filters[0]` has no `Pattern`",
            "routes.toml:8:3: pipes.p.filter: invalid `FilterCriteria`: `Filters[1]` must be an object with `Pattern`",
            "routes.toml:8:3: pipes.p.filter: invalid `FilterCriteria`: `Filters[2].Pattern` must be a string holding the pattern's JSON text",
            "routes.toml:9:3: pipes.p.filter: invalid event pattern in `Filters[0].Pattern`: at `eventName[0].prefix`: `prefix` takes a string or `{\"equals-ignore-case\": ...}`, not a number",
            "routes.toml:10:3: pipes.p.filter: invalid `FilterCriteria`: `Filters` must be a list like `[{\"Pattern\": \"...\"}]`",
            "routes.toml:11:16: pipes.p.filter: invalid `FilterCriteria`: `Filters[0]` has no `Pattern`",
            "routes.toml:11:32: pipes.p.filter: invalid event pattern in `Filters[1].Pattern`: invalid JSON at line 1, column 16: unexpected end of text",
            "routes.toml:12:3: pipes.p.filter: invalid `FilterCriteria`: it has no `Filters`",
        ]
    );
}

#[test]
fn a_filter_of_another_shape_is_refused_where_it_is_written() {
    assert_eq!(
        problems(&pipe_with("filter = 5\n")),
        [
            "routes.toml:7:10: pipes.p: invalid type: integer `5`, expected an event pattern, a list of them, or a `FilterCriteria` like `{ Filters = [{ Pattern = '...' }] }`"
        ]
    );
    assert_eq!(
        problems(&pipe_with("filter = { Filters = [{ Patern = '{}' }] }\n")),
        ["routes.toml:7:25: pipes.p: unknown field `Patern`, expected `Pattern`"]
    );
}

#[test]
fn a_section_with_a_problem_still_counts_as_declared() {
    let text = r#"[tables.orders]
key = "orderId"
colour = "blue"

[plugins.f]
world = "filter"
wasm = "f.wasm"
memroy = "1MiB"

[buses.b]
rules = 5

[queues.q]
dlq_ = "x"

[pipes.p]
source = "orders"
filter_plugin = "f"
target = { bus = "b" }
dlq = "q"

[consumers.c]
queue = "q"
handler = "nobody"
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:3:1: tables.orders: unknown field `colour`, expected one of `key`, `sort_key`, `path`, `stream_view_type`, `stream_retention`, `schema`, `integrations`",
            "routes.toml:8:1: plugins.f: unknown field `memroy`, expected one of `world`, `wasm`, `build`, `workdir`, `memory`, `timeout`, `fuel`, `fresh_instance`, `max_invocations`, `config`, `allowed_outbound_hosts`, `outbound_connect_timeout`, `outbound_first_byte_timeout`, `outbound_between_bytes_timeout`, `env`",
            "routes.toml:11:9: buses.b: invalid type: integer `5`, expected a map",
            "routes.toml:14:1: queues.q: unknown field `dlq_`, expected one of `visibility_timeout`, `retention`, `delay`, `max_receive_count`, `dlq`, `fifo`, `content_based_deduplication`",
            "routes.toml:24:11: consumers.c.handler: no plugin named `nobody` (declared: `f`)",
        ]
    );
}

#[test]
fn only_enrichers_and_consumers_may_list_outbound_hosts() {
    let plugin = |name: &str, world: &str| {
        format!(
            "[plugins.{name}]\nworld = \"{world}\"\nwasm = \"{name}.wasm\"\nallowed_outbound_hosts = [\"https://x.example\"]\n"
        )
    };
    let allowed = format!("{}{}", plugin("e", "enricher"), plugin("c", "consumer"));
    let config = compile_text(&allowed).unwrap();
    assert_eq!(
        config.plugins[0].allowed_outbound_hosts,
        ["https://x.example"]
    );
    assert_eq!(
        problems(&format!(
            "{allowed}{}{}",
            plugin("f", "filter"),
            plugin("w", "filtre")
        )),
        [
            "routes.toml:12:27: plugins.f.allowed_outbound_hosts: a filter cannot make outgoing requests: only enrichers and consumers may have `allowed_outbound_hosts`",
            "routes.toml:14:9: plugins.w.world: unknown value `filtre`, expected one of `filter`, `enricher`, `consumer`",
        ]
    );
}

#[test]
fn a_missing_component_is_reported_at_its_wasm_key() {
    let present = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = format!(
        "[plugins.x]\nworld = \"filter\"\nwasm = \"missing.wasm\"\n\n[plugins.y]\nworld = \"filter\"\nwasm = \"later.wasm\"\nbuild = \"make\"\n\n[plugins.z]\nworld = \"filter\"\nwasm = \"{}\"\n",
        present.display()
    );
    let config = compile_text(&text).unwrap_or_else(|p| panic!("{}", p.join("\n")));
    let shown: Vec<String> = config
        .missing_components()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "routes.toml:3:8: plugins.x.wasm: cannot read the component `missing.wasm`: No such file or directory (os error 2)",
            "routes.toml:7:8: plugins.y.wasm: cannot read the component `later.wasm`: No such file or directory (os error 2); build it with `switchyard up --build`",
        ]
    );
}

/// Every key routes.toml takes, section by section, as the parser names them when it meets an
/// unknown one; each appears in the README's routes.toml documentation.
#[test]
fn every_routes_toml_key_is_documented_in_the_readme() {
    const README: &str = include_str!("../../../README.md");
    let rule = "[buses.b.rules.r]\npattern = '{\"source\": [\"x\"]}'\n";
    let sections = [
        "[host]\nzzz = 1".to_string(),
        "[host.admin]\nzzz = 1".to_string(),
        "[aws]\nzzz = 1".to_string(),
        "[tables.t]\nkey = \"k\"\nzzz = 1".to_string(),
        "[tables.t]\nkey = \"k\"\n[[tables.t.integrations]]\nzzz = 1".to_string(),
        "[plugins.p]\nworld = \"filter\"\nwasm = \"x.wasm\"\nzzz = 1".to_string(),
        "[pipes.p]\nsource = \"t\"\ntarget = { queue = \"q\" }\nzzz = 1".to_string(),
        "[pipes.p]\nsource = \"t\"\ntarget = { queue = \"q\", zzz = 1 }".to_string(),
        "[pipes.p]\nsource = \"t\"\ntarget = { queue = \"q\" }\nretry = { zzz = 1 }".to_string(),
        "[buses.b]\nzzz = 1".to_string(),
        "[buses.b]\narchive = { zzz = 1 }".to_string(),
        format!("{rule}targets = [{{ queue = \"q\" }}]\nzzz = 1"),
        format!("{rule}targets = [{{ queue = \"q\", zzz = 1 }}]"),
        format!(
            "{rule}targets = [{{ queue = \"q\", input_transformer = {{ input_template = \"x\", zzz = 1 }} }}]"
        ),
        "[queues.q]\nzzz = 1".to_string(),
        "[consumers.c]\nqueue = \"q\"\nhandler = \"h\"\nzzz = 1".to_string(),
    ];
    let mut keys = std::collections::BTreeSet::new();
    for section in &sections {
        let problems = problems(section).join("\n");
        let expected = problems
            .split("unknown field `zzz`, expected ")
            .nth(1)
            .unwrap_or_else(|| panic!("no unknown-field error for:\n{section}\n{problems}"));
        let line = expected.lines().next().unwrap_or_default();
        let named: Vec<String> = line
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect();
        assert!(!named.is_empty(), "{line}");
        keys.extend(named);
    }
    let undocumented: Vec<&String> = keys
        .iter()
        .filter(|key| {
            // A key as TOML sets it, names it in the prose, or heads a table (`.rules.`).
            let forms = [format!("{key} ="), format!("`{key}`"), format!(".{key}.")];
            forms.iter().all(|form| !README.contains(form.as_str()))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "keys the README does not document: {undocumented:?}"
    );
    assert!(
        keys.len() >= 50,
        "the parser named only {} keys",
        keys.len()
    );
}

mod host;
mod outbound;
mod tables;
