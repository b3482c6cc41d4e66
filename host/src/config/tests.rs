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
    assert_eq!(config.tables[0].key, "orderId");
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
fn table_paths_are_unique_and_leave_the_host_paths_alone() {
    assert_eq!(
        problems(
            "[tables.a]\nkey = \"id\"\npath = \"/admin/x\"\n[tables.b]\nkey = \"id\"\npath = \"/admin/x\"\n[tables.c]\nkey = \"version\"\n"
        ),
        [
            "routes.toml:3:8: tables.a.path: path `/admin/x` is reserved by the host (`/admin`, `/healthz`, `/readyz`, `/metrics`)",
            "routes.toml:6:8: tables.b.path: path `/admin/x` is reserved by the host (`/admin`, `/healthz`, `/readyz`, `/metrics`)",
            "routes.toml:6:8: tables.b.path: path `/admin/x` is already served by table `a`",
            "routes.toml:8:7: tables.c.key: `version` cannot be the key attribute: it must be non-empty and not one of `version`, `createdAt`, `updatedAt`",
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
