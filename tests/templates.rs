//! `switchyard plugin new`: in each language, the template of each world is a project that
//! builds with the command its printed routes.toml entry names, loads in the real host, and does
//! what it says to the events or messages sent through it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pipeline::{field, pipe_report, wait_for_messages};
use common::{Host, repo, run};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A project that `plugin new` wrote in a temp dir, and the routes.toml entry it printed.
struct Project {
    name: String,
    entry: String,
    dir: tempfile::TempDir,
}

impl Project {
    /// The project's folder.
    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join(&self.name)
    }
}

/// Runs `switchyard plugin new my-LANGUAGE-WORLD --lang LANGUAGE --world WORLD`.
fn new_project(language: &str, world: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("my-{language}-{world}");
    let output = run(&[
        "plugin",
        "new",
        &name,
        "--lang",
        language,
        "--world",
        world,
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entry = String::from_utf8(output.stdout).unwrap();
    assert!(entry.contains(&format!("[plugins.{name}]")), "{entry}");
    share_build_tools(language, &dir.path().join(&name));
    Project { name, entry, dir }
}

/// Links the build tools of the repository's JavaScript or Python examples (componentize-js in
/// plugins/js/node_modules, componentize-py in plugins/python/.venv; the templates pin the same
/// versions, a unit test checks) into the project, where its `build.sh` would install them, so
/// that six projects do not each download them. They are installed once per run, by the line of
/// the examples' own build script that installs them on first use.
fn share_build_tools(language: &str, project: &Path) {
    static JS: OnceLock<()> = OnceLock::new();
    static PYTHON: OnceLock<()> = OnceLock::new();
    let (once, examples, tools) = match language {
        "js" => (&JS, "plugins/js", "node_modules"),
        "python" => (&PYTHON, "plugins/python", ".venv"),
        _ => return,
    };
    let examples = repo().join(examples);
    once.get_or_init(|| {
        let script = std::fs::read_to_string(examples.join("build.sh")).unwrap();
        let install: Vec<&str> = script.lines().filter(|l| l.contains(" || ")).collect();
        assert_eq!(install.len(), 1, "one install line in {script}");
        let status = Command::new("sh")
            .args(["-c", install[0]])
            .current_dir(&examples)
            .status()
            .unwrap();
        assert!(status.success(), "`{}` installs the tools", install[0]);
    });
    std::os::unix::fs::symlink(examples.join(tools), project.join(tools)).unwrap();
}

/// Starts the host with `--build` on the project's printed entry (with `config`, a line of its
/// table) followed by `routes`. The Rust projects share one target folder, so that only the
/// first one to build compiles the SDK's dependencies.
fn start(project: &Project, config: &str, routes: &str) -> Host {
    let routes = format!("{}{config}\n{routes}", project.entry);
    let target = repo().join("target/templates");
    Host::start_env(
        &routes,
        &["--build"],
        &[
            ("CARGO_TARGET_DIR", target.to_str().unwrap()),
            ("RUST_LOG", "info,switchyard::plugin=debug"),
        ],
    )
}

/// Creates an item of the table `things`, keyed `id`.
async fn put(host: &Host, item: Value) {
    let response = Host::client()
        .post(format!("{}/things", host.url))
        .json(&item)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{item}");
}

/// Waits (at most 60 s) for the line `message` that `plugin` logged about item `id`.
fn wait_for_line(host: &Host, plugin: &str, message: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let key = format!(r#" id="{id}""#);
    loop {
        let logs = host.logs();
        let found = logs.lines().find(|line| {
            field(line, "plugin") == plugin
                && line.contains(&format!(" {message} "))
                && line.contains(&key)
        });
        if let Some(line) = found {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for `{message}` about {id} from `{plugin}`; the log:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The change record a queue message carries as its body.
fn record(message: &Value) -> Value {
    serde_json::from_str(message["body"].as_str().unwrap()).unwrap()
}

async fn the_filter_template_keeps_items_above_the_threshold_and_logs_their_key(language: &str) {
    let project = new_project(language, "filter");
    let name = &project.name;
    let host = start(
        &project,
        "",
        &format!(
            r#"
[tables.things]
key = "id"

[pipes.things]
source = "things"
filter_plugin = "{name}"
target = {{ queue = "kept" }}

[queues.kept]
"#
        ),
    );
    // The default threshold is 100.
    put(&host, json!({"id": "x-1", "total": 150})).await;
    put(&host, json!({"id": "x-2", "total": 50})).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let report = pipe_report(&host, "things").await;
        let decided = report["filtered"].as_u64().unwrap() + report["delivered"].as_u64().unwrap();
        if decided == 2 {
            break report;
        }
        assert!(Instant::now() < deadline, "{report}\n{}", host.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (report["filtered"].as_u64(), report["delivered"].as_u64()),
        (Some(1), Some(1))
    );
    let kept = wait_for_messages(&host, "kept", 1).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(common::record_key(&record(&kept[0]), "id"), "x-1");

    // Each item is named by its table's own key, `id`, as the record's `Keys` has it.
    for (message, id) in [("kept", "x-1"), ("dropped", "x-2")] {
        let line = wait_for_line(&host, name, message, id);
        assert!(!line.contains("orderId"), "{line}");
    }
}

async fn the_enricher_template_sets_the_configured_field_and_keeps_the_rest(language: &str) {
    let project = new_project(language, "enricher");
    let host = start(
        &project,
        r#"config = { field = "team", value = "payments" }"#,
        &format!(
            r#"
[tables.things]
key = "id"

[pipes.things]
source = "things"
enrichment = "{}"
target = {{ queue = "enriched" }}

[queues.enriched]
"#,
            project.name
        ),
    );
    put(&host, json!({"id": "x-1", "total": 12.50})).await;

    let delivered = wait_for_messages(&host, "enriched", 1).await;
    let record = record(&delivered[0]);
    assert_eq!(record["team"], "payments", "{record}");
    assert_eq!(record.get("enrichedBy"), None, "{record}");
    // The rest of the record is as the stream had it, its number's text too.
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["dynamodb"]["Keys"], json!({"id": {"S": "x-1"}}));
    assert_eq!(
        record["dynamodb"]["NewImage"]["total"],
        json!({"N": "12.5"})
    );
}

async fn the_consumer_template_handles_records_and_events_and_dead_letters_other_messages(
    language: &str,
) {
    let project = new_project(language, "consumer");
    let name = &project.name;
    if language == "rust" {
        // A copy of the contract in the crate's own `wit/`, as a user may keep one: the SDK's
        // attributes read only the one the SDK carries (a second copy was a clash).
        let wit = project.root().join("wit");
        std::fs::create_dir_all(&wit).unwrap();
        std::fs::copy(
            common::repo().join("wit/plugin.wit"),
            wit.join("plugin.wit"),
        )
        .unwrap();
    }
    let host = start(
        &project,
        "",
        &format!(
            r#"
[tables.things]
key = "id"

# x-1 reaches the consumer's queue as its change record,
[pipes.records]
source = "things"
filter = '{{"dynamodb": {{"Keys": {{"id": {{"S": ["x-1"]}}}}}}}}'
target = {{ queue = "work" }}

# x-2 as a body the consumer does not expect,
[pipes.notes]
source = "things"
filter = '{{"dynamodb": {{"Keys": {{"id": {{"S": ["x-2"]}}}}}}}}'
target = {{ queue = "work", input_template = '{{"note": "<$.dynamodb.Keys.id.S>"}}' }}

# and x-3 as an EventBridge event that carries its record.
[pipes.events]
source = "things"
filter = '{{"dynamodb": {{"Keys": {{"id": {{"S": ["x-3"]}}}}}}}}'
target = {{ bus = "things", detail_type = "ThingCreated", source = "switchyard.things" }}

[buses.things.rules.all]
pattern = '{{"source": ["switchyard.things"]}}'
targets = [{{ queue = "work" }}]

[queues.work]
dlq = "work-dlq"

[queues.work-dlq]

[consumers.work]
queue = "work"
handler = "{name}"
"#
        ),
    );
    for id in ["x-1", "x-2", "x-3"] {
        put(&host, json!({"id": id, "total": 5})).await;
    }

    let dead = wait_for_messages(&host, "work-dlq", 1).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["body"], r#"{"note": "x-2"}"#);
    let reason = dead[0]["error"].as_str().unwrap();
    let id = reason
        .strip_prefix("message ")
        .and_then(|r| {
            r.strip_suffix(
                " is not a change record of a table, nor an EventBridge event carrying one",
            )
        })
        .unwrap_or_else(|| panic!("the template's reason: {reason}"));
    assert!(!id.is_empty(), "{reason}");

    for id in ["x-1", "x-3"] {
        let line = wait_for_line(&host, name, "handled", id);
        assert!(!line.contains("orderId"), "{line}");
    }
    // Handled messages are deleted: the queue empties.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queues = host.get_json("/admin/queues").await;
        let work = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "work")
            .cloned()
            .unwrap();
        if work["visible"] == 0 && work["in_flight"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "messages left: {work}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handled_x2 = host.logs().lines().any(|line| {
        field(line, "plugin") == *name && line.contains(" handled ") && line.contains("x-2")
    });
    assert!(!handled_x2, "x-2 is dead-lettered, not handled");
}

#[tokio::test]
async fn the_rust_filter_template_keeps_items_above_the_threshold_and_logs_their_key() {
    the_filter_template_keeps_items_above_the_threshold_and_logs_their_key("rust").await;
}

#[tokio::test]
async fn the_javascript_filter_template_keeps_items_above_the_threshold_and_logs_their_key() {
    the_filter_template_keeps_items_above_the_threshold_and_logs_their_key("js").await;
}

#[tokio::test]
async fn the_python_filter_template_keeps_items_above_the_threshold_and_logs_their_key() {
    the_filter_template_keeps_items_above_the_threshold_and_logs_their_key("python").await;
}

#[tokio::test]
async fn the_rust_enricher_template_sets_the_configured_field_and_keeps_the_rest() {
    the_enricher_template_sets_the_configured_field_and_keeps_the_rest("rust").await;
}

#[tokio::test]
async fn the_javascript_enricher_template_sets_the_configured_field_and_keeps_the_rest() {
    the_enricher_template_sets_the_configured_field_and_keeps_the_rest("js").await;
}

#[tokio::test]
async fn the_python_enricher_template_sets_the_configured_field_and_keeps_the_rest() {
    the_enricher_template_sets_the_configured_field_and_keeps_the_rest("python").await;
}

#[tokio::test]
async fn the_rust_consumer_template_handles_records_and_events_and_dead_letters_other_messages() {
    the_consumer_template_handles_records_and_events_and_dead_letters_other_messages("rust").await;
}

#[tokio::test]
async fn the_javascript_consumer_template_handles_records_and_events_and_dead_letters_other_messages()
 {
    the_consumer_template_handles_records_and_events_and_dead_letters_other_messages("js").await;
}

#[tokio::test]
async fn the_python_consumer_template_handles_records_and_events_and_dead_letters_other_messages() {
    the_consumer_template_handles_records_and_events_and_dead_letters_other_messages("python")
        .await;
}

#[test]
fn plugin_names_are_checked() {
    let output = run(&[
        "plugin", "new", "Bad Name", "--lang", "rust", "--dir", "/tmp",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "switchyard: `Bad Name` is not a plugin name: use lowercase letters, digits and `-`, \
         starting with a letter, at most 64 characters\n"
    );
}

#[test]
fn an_existing_project_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("mine");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("plugin.py"), "# my own work\n").unwrap();
    let output = run(&[
        "plugin",
        "new",
        "mine",
        "--lang",
        "python",
        "--world",
        "consumer",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "switchyard: `{}` already exists; choose another name or `--dir`\n",
            project.display()
        )
    );
    let kept = std::fs::read_to_string(project.join("plugin.py")).unwrap();
    assert_eq!(kept, "# my own work\n");
}
