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

/// The README's run command in the form a new user types it: `cargo run` from the repository's
/// root, with no `--bin`, then the host's own arguments. (The test build is a debug one, so the
/// README's `--release` would only build everything again.)
#[test]
fn cargo_run_from_the_repository_root_runs_the_host() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(&routes, "[tables.orders]\nkey = \"orderId\"\n").unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut host = Command::new(cargo)
        .args(["run", "--quiet", "--", "up", "--routes"])
        .arg(&routes)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(common::repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = host.stdout.take().unwrap();
    let first = BufReader::new(stdout).lines().next();
    let line = first.and_then(Result::ok).unwrap_or_default();
    let _ = host.kill();
    let output = host.wait_with_output().unwrap();
    assert!(
        line.starts_with("switchyard listening on http://127.0.0.1:"),
        "`cargo run -- up` printed {line:?}; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

/// A container takes its routes from the environment: `SWITCHYARD_ROUTES_TOML` holds the text,
/// and its relative paths resolve against the working directory.
#[tokio::test]
async fn up_takes_its_routes_from_switchyard_routes_toml() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let routes = "[host]\ndata_dir = \"data\"\n\n[tables.invoices]\nkey = \"invoiceId\"\n";
    let mut host = Command::new(common::BINARY)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("SWITCHYARD_ROUTES_TOML", routes)
        .env_remove("SWITCHYARD_ROUTES")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(host.stdout.take().unwrap())
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    let served = match line.strip_prefix("switchyard listening on ") {
        Some(url) => Some(reqwest::get(format!("{url}/invoices")).await),
        None => None,
    };
    let _ = host.kill();
    let stderr = String::from_utf8_lossy(&host.wait_with_output().unwrap().stderr).to_string();
    let response = served.unwrap_or_else(|| panic!("the host did not start: {line:?}\n{stderr}"));
    assert_eq!(
        response.unwrap().status(),
        200,
        "the table of the text is served"
    );
    assert!(
        dir.path().join("data").is_dir(),
        "`data_dir` is relative to the working directory"
    );
}

#[test]
fn switchyard_routes_toml_problems_show_at_its_name_and_it_excludes_routes() {
    let check = |routes: Option<&str>| {
        let mut command = std::process::Command::new(common::BINARY);
        command.arg("check").env("SWITCHYARD_ROUTES_TOML", BAD);
        if let Some(routes) = routes {
            command.args(["--routes", routes]);
        }
        command.output().unwrap()
    };
    let output = check(None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().nth(1),
        Some(
            "$SWITCHYARD_ROUTES_TOML:6:10: pipes.p.source: no table named `orderz` (declared: `orders`)"
        ),
        "{stderr}"
    );

    let both = check(Some("routes.toml"));
    assert_eq!(both.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&both.stderr)
            .contains("'--routes <ROUTES>' cannot be used with '--routes-toml <TOML>'"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
}

fn run_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(common::BINARY)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn pattern_match_answers_each_json_line_in_order() {
    let input = [
        r#"{"pattern": {"source": ["shop"]}, "event": {"source": "shop"}}"#,
        r#"{"pattern": {"n": [3.0]}, "event": {"n": 3}}"#,
        r#"{"pattern": "{\"n\": [1e2]}", "event": "{\"n\": 100}"}"#,
        r#"{"pattern": {"n": [{"numeric": ["=", -0]}]}, "event": {"n": 0.0}}"#,
        r#"{"pattern": {"source": ["shop"]}, "event": {"source": "other"}}"#,
        r#"{"pattern": "{\"a\": [\"x\"], \"a\": [\"y\"]}", "event": {"a": "x"}}"#,
        r#"{"pattern": {"a": [{"prefx": "x"}]}, "event": {"a": "x"}}"#,
        r#"{"pattern": {"a": ["x"]}, "event": "{not json"}"#,
        "garbage",
    ]
    .join("\n");
    let output = run_with_stdin(&["pattern", "match"], &input);
    assert!(output.status.success());
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        [
            r#"{"matches": true}"#,
            r#"{"matches": true}"#,
            r#"{"matches": true}"#,
            r#"{"matches": true}"#,
            r#"{"matches": false}"#,
            r#"{"matches": false}"#,
            r#"{"error": "invalid pattern: at `a[0]`: unrecognized match type \"prefx\""}"#,
            r#"{"error": "invalid event: invalid JSON at line 1, column 2: expected a member name in double quotes"}"#,
            r#"{"error": "invalid line: expected value at line 1 column 1; expected {\"pattern\": ..., \"event\": ...}"}"#,
        ]
    );
}

#[test]
fn pattern_match_on_files_exits_by_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let pattern = write(
        "p.json",
        r#"{"detail": {"total": [{"numeric": [">", 100]}]}}"#,
    );
    let big = write("big.json", r#"{"detail": {"total": 142.5}}"#);
    let small = write("small.json", r#"{"detail": {"total": 42}}"#);
    let bad = write("bad.json", r#"{"detail": {"total": [{"numeric": [">"]}]}}"#);
    let code = |p: &str, e: &str| {
        run(&["pattern", "match", "--pattern", p, "--event", e])
            .status
            .code()
    };
    assert_eq!(code(&pattern, &big), Some(0));
    assert_eq!(code(&pattern, &small), Some(1));
    assert_eq!(code(&bad, &big), Some(2));
    let output = run(&["pattern", "match", "--pattern", &bad, "--event", &big]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("`numeric` takes one comparison"));
}

fn plugin_routes(name: &str, wasm: &str, build: &str) -> String {
    let repo = common::repo();
    format!(
        "[plugins.{name}]\nworld = \"filter\"\nwasm = \"{}/{wasm}\"\nbuild = \"{build}\"\nworkdir = \"{}/tests/plugins\"\n",
        repo.display(),
        repo.display()
    )
}

#[test]
fn up_build_runs_each_plugin_build_then_serves() {
    let routes = plugin_routes(
        "faulty",
        "target/wasm32-wasip2/release/fault_filter.wasm",
        "rustup target add wasm32-wasip2 >/dev/null 2>&1; env -u CARGO_TARGET_DIR cargo build --release --quiet",
    );
    let host = common::Host::start_with(&routes, &["--build"]);
    assert!(host.url.starts_with("http://127.0.0.1:"));
}

#[test]
fn up_build_stops_at_a_failing_build_and_names_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        plugin_routes("broken", "nowhere.wasm", "echo compiling >&2; exit 3"),
    )
    .unwrap();
    let output = run(&[
        "up",
        "--routes",
        routes.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--build",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("compiling"),
        "the build's output is shown: {stderr}"
    );
    assert!(stderr.contains("building plugin `broken` failed: `echo compiling >&2; exit 3` exited with exit status: 3"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing was served");
}

#[test]
fn check_and_up_report_a_missing_component_by_plugin_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        "[plugins.ghost]\nworld = \"consumer\"\nwasm = \"ghost.wasm\"\n",
    )
    .unwrap();
    let expected = format!(
        "plugin `ghost` ({}): cannot read the component: No such file or directory (os error 2)",
        dir.path().join("ghost.wasm").display()
    );
    let checked = run(&["check", "--routes", routes.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(1));
    // `check` points at the line of the `wasm` key.
    assert_eq!(
        String::from_utf8_lossy(&checked.stderr).trim(),
        format!(
            "{}:3:8: plugins.ghost.wasm: cannot read the component `{}`: No such file or directory (os error 2)",
            routes.display(),
            dir.path().join("ghost.wasm").display()
        )
    );
    let up = run(&[
        "up",
        "--routes",
        routes.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(up.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&up.stderr).contains(&expected));
}

/// `switchyard plugin run NAME --input INPUT` on the repository's routes.toml.
fn plugin_run(name: &str, input: &str) -> std::process::Output {
    let routes = common::repo().join("routes.toml").display().to_string();
    run(&["plugin", "run", name, "--routes", &routes, "--input", input])
}

#[test]
fn plugin_run_prints_a_filters_verdict_an_enrichers_events_and_a_consumers_outcomes() {
    common::build_rust_plugins();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.json");
    std::fs::write(
        &input,
        r#"[{"orderId": "o-1", "customerId": "c-1", "total": 150}, {"orderId": "o-2", "total": -1}]"#,
    )
    .unwrap();
    let input = input.to_str().unwrap();
    let out = plugin_run("high-value", input);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts[0]["keep"], true);
    assert_eq!(verdicts[1]["keep"], false);
    // The plugin's own log line, at debug level, on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dropped an order") && stderr.contains("plugin=\"high-value\""),
        "{stderr}"
    );

    let out = plugin_run("customer-tier", input);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(events[0]["payload"]["customerTier"], "gold");
    assert_eq!(events[1]["payload"]["customerTier"], "standard");
    assert_ne!(events[0]["id"], events[1]["id"]);
    // A plain item became the record of its insert, keyed as the pipe's table is.
    assert_eq!(
        events[0]["payload"]["dynamodb"]["Keys"],
        serde_json::json!({"orderId": {"S": "o-1"}})
    );

    let messages = dir.path().join("messages.json");
    std::fs::write(
        &messages,
        r#"[{"dynamodb": {"Keys": {"orderId": {"S": "o-1"}}}}, {"body": "{\"fail\": \"retry\", \"retryAfter\": 7}", "id": "m-2"}, {"fail": "dead-letter"}]"#,
    )
    .unwrap();
    let out = plugin_run("notify", messages.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let outcomes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcomes[0]["outcome"], "ok");
    assert_eq!(
        (
            outcomes[1]["messageId"].as_str(),
            outcomes[1]["outcome"].as_str()
        ),
        (Some("m-2"), Some("retry"))
    );
    assert_eq!(outcomes[1]["afterSeconds"], 7);
    assert_eq!(outcomes[2]["outcome"], "dead-letter");
    assert!(String::from_utf8_lossy(&out.stderr).contains("orderId=\"o-1\""));
}

#[test]
fn plugin_run_exits_1_when_the_plugin_fails_and_2_on_input_it_cannot_use() {
    common::build_rust_plugins();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let batch = file("batch.json", r#"[{"fail": "batch"}]"#);
    let out = plugin_run("notify", &batch);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("plugin `notify` returned an error: message message-1 failed the batch")
    );

    let not_json = file("bad.json", "{nope");
    let out = plugin_run("notify", &not_json);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input is not JSON"));

    let out = plugin_run("nowhere", &batch);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no plugin `nowhere`"));

    let out = plugin_run("high-value", &file("n.json", "5"));
    assert_eq!(out.status.code(), Some(2));
}

/// Writes routes and their tests to a temp dir and runs `switchyard test` on them.
fn switchyard_test(routes: &str, tests: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    std::fs::write(&path, routes).unwrap();
    std::fs::write(dir.path().join("routes.test.toml"), tests).unwrap();
    let output = run(&["test", "--routes", path.to_str().unwrap()]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_repositorys_routes_pass_their_own_tests() {
    common::build_rust_plugins();
    let routes = common::repo().join("routes.toml");
    let output = run(&["test", "--routes", routes.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let tests = std::fs::read_to_string(common::repo().join("routes.test.toml")).unwrap();
    let declared = tests.matches("[[tests]]").count();
    assert!(
        declared >= 6,
        "the repository's routes ship with their tests"
    );
    assert!(
        stdout.ends_with(&format!("\n{declared} passed, 0 failed\n")),
        "{stdout}"
    );
}

/// Routes with no plugins: a pipe's pattern, a bus's rules with their inputs, queues.
const PLAIN: &str = r#"
[tables.things]
key = "id"

[pipes.removed]
source = "things"
filter = ['{"eventName": ["REMOVE"]}']
target = { queue = "gone", input_template = '{"id": <$.dynamodb.Keys.id.S>}' }

[pipes.all]
source = "things"
target = { bus = "things", detail_type = "ThingChanged", source = "test.things" }

[buses.things.rules.written]
pattern = '{"detail": {"eventName": ["INSERT", "MODIFY"]}}'
targets = [{ queue = "written", input_path = "$.detail.dynamodb.Keys" }]

[buses.things.rules.every]
pattern = '{"source": ["test.things"]}'
targets = [{ queue = "every", input_transformer = { input_paths = { kind = "$.detail-type" }, input_template = '"a <kind>"' } }]

[queues.gone]
[queues.written]
[queues.every]
"#;

#[test]
fn switchyard_test_checks_each_point_for_each_kind_of_input() {
    let tests = r#"
[[tests]]
name = "a removed thing"
remove = { table = "things", old = { id = "t-1", size = 20 } }
[[tests.expect]]
pipe = "removed"
keeps = true
[[tests.expect]]
queue = "gone"
equals = { id = "t-1" }
[[tests.expect]]
bus = "things"
matches = ["every"]

[[tests]]
name = "a thing inserted"
insert = { table = "things", item = { id = "t-2", size = 11 } }
[[tests.expect]]
pipe = "removed"
keeps = false
[[tests.expect]]
bus = "things"
matches = ["every", "written"]
[[tests.expect]]
queue = "written"
equals = [{ id = { S = "t-2" } }]
[[tests.expect]]
queue = "every"
equals = "a ThingChanged"

[[tests]]
name = "a stream record as it is"
[tests.record]
table = "things"
record = { eventID = "r-1", eventName = "MODIFY", eventVersion = "1.1", eventSource = "aws:dynamodb", awsRegion = "us-east-1", eventSourceARN = "arn:x", dynamodb = { ApproximateCreationDateTime = 0, Keys = { id = { S = "t-3" } }, NewImage = { id = { S = "t-3" }, size = { N = "99" } }, SequenceNumber = "1", SizeBytes = 1, StreamViewType = "NEW_AND_OLD_IMAGES" } }
[[tests.expect]]
pipe = "all"
contains = { eventID = "r-1", dynamodb = { NewImage = { size = { N = "99" } } } }
[[tests.expect]]
queue = "written"
count = 1

[[tests]]
name = "an event put on the bus"
event = { bus = "things", event = { source = "test.things", detail-type = "Other", detail = {} } }
[[tests.expect]]
bus = "things"
equals = ["every"]
[[tests.expect]]
queue = "every"
equals = ["a Other"]
[[tests.expect]]
queue = "gone"
count = 0
"#;
    let (code, stdout, stderr) = switchyard_test(PLAIN, tests);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("\n4 passed, 0 failed\n"), "{stdout}");
}

#[test]
fn a_failing_expectation_prints_its_line_and_a_diff_and_exits_1() {
    let tests = r#"
[[tests]]
name = "holds"
insert = { table = "things", item = { id = "t-1", size = 1 } }
[[tests.expect]]
queue = "every"
count = 1

[[tests]]
name = "does not hold"
insert = { table = "things", item = { id = "t-2", size = 50 } }
[[tests.expect]]
bus = "things"
matches = ["every"]
[[tests.expect]]
queue = "written"
contains = { id = { S = "t-3" } }
"#;
    let (code, stdout, _) = switchyard_test(PLAIN, tests);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("test holds ... ok\n"), "{stdout}");
    assert!(
        stdout.contains("test does not hold ... FAILED\n"),
        "{stdout}"
    );
    let diff = "routes.test.toml:12: bus `things`, rules matched:\n  --- expected\n  +++ actual\n   [\n  -  \"every\"\n  +  \"every\",\n  +  \"written\"\n   ]\n";
    assert!(stdout.contains(diff), "{stdout}");
    let contains = "routes.test.toml:15: queue `written`, the bodies received (contains):\n  --- expected\n  +++ actual\n   {\n     \"id\": {\n  -    \"S\": \"t-3\"\n  +    \"S\": \"t-2\"\n     }\n   }\n";
    assert!(stdout.contains(contains), "{stdout}");
    assert!(stdout.ends_with("\n1 passed, 1 failed\n"), "{stdout}");
}

#[test]
fn tests_that_cannot_run_are_refused_with_their_lines_and_exit_2() {
    let tests = r#"
[[tests]]
name = "unknown names"
insert = { table = "thing", item = { id = "t-1" } }
[[tests.expect]]
pipe = "nope"
keeps = true
[[tests.expect]]
bus = "things"
count = 1

[[tests]]
name = "two inputs"
insert = { table = "things", item = { id = "t-1" } }
event = { bus = "things", event = {} }
"#;
    let (code, stdout, stderr) = switchyard_test(PLAIN, tests);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(lines[0].ends_with("routes.test.toml:4:20: tests[0].insert.table: no table named `thing` in routes.toml (declared: `things`)"), "{stderr}");
    assert!(lines[1].ends_with("routes.test.toml:6:8: tests[0].expect[0].pipe: no pipe named `nope` in routes.toml (declared: `all`, `removed`)"), "{stderr}");
    assert!(lines[2].ends_with("routes.test.toml:8:1: tests[0].expect[1]: a bus takes `matches`, `equals`, `contains`, not `count`"), "{stderr}");
    assert!(lines[3].ends_with("routes.test.toml:12:1: tests[1]: give exactly one input: `insert`, `modify`, `remove`, `record`, `event` or `messages`"), "{stderr}");
    assert!(stdout.is_empty(), "nothing runs: {stdout}");
}
