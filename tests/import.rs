//! `switchyard import` through the real binary: the AWS sample's template becomes a routes.toml
//! and plugin projects that run its Lambda handlers unchanged; what is not mapped is listed; an
//! existing file is kept; a broken template is refused with its line.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{repo, run};

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/import").join(name)
}

/// Runs `switchyard import TEMPLATE --out DIR/routes.toml` plus `extra`.
fn import(template: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let out = dir.join("routes.toml");
    let mut args = vec![
        "import",
        template.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_aws_sample_becomes_routes_and_plugin_projects_that_run_its_handlers_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let output = import(
        &fixture("sample/template.yaml"),
        dir.path(),
        &["--stack-name", "outbox"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(dir.path().join("routes.toml")).unwrap();
    let routes: toml::Table = toml::from_str(&text).unwrap();

    assert_eq!(routes["host"]["backend"].as_str(), Some("embedded"));
    let table = &routes["tables"]["orders-table"];
    assert_eq!(table["key"].as_str(), Some("id"));
    assert_eq!(table["sort_key"].as_str(), Some("createdAt"));
    assert_eq!(table["stream_view_type"].as_str(), Some("NEW_IMAGE"));
    let integration = &table["integrations"][0];
    assert_eq!(integration["method"].as_str(), Some("POST"));
    assert_eq!(integration["path"].as_str(), Some("/createId"));
    assert_eq!(integration["action"].as_str(), Some("PutItem"));
    assert_eq!(integration["status"].as_integer(), Some(200));
    let request = integration["request_template"].as_str().unwrap();
    assert!(
        request.contains("\"TableName\": \"OrdersTable\""),
        "{request}"
    );
    assert!(
        request.contains("\"Status\": {\"S\": \"$input.path('$.Status')\"}"),
        "{request}"
    );
    assert_eq!(
        integration["response_template"].as_str(),
        Some("{\"id\": \"$context.requestId\"}\n")
    );

    let pipe = &routes["pipes"]["outbox-orders-pipe"];
    assert_eq!(pipe["source"].as_str(), Some("orders-table"));
    assert_eq!(pipe["starting_position"].as_str(), Some("latest"));
    assert_eq!(pipe["dlq"].as_str(), Some("pipe-dlq"));
    assert_eq!(
        pipe["filter"]["Filters"][0]["Pattern"].as_str(),
        Some("{\"dynamodb\": {\"NewImage\": {\"Status\": {\"S\": [\"CREATED\"]}}}}")
    );
    assert_eq!(pipe["target"]["bus"].as_str(), Some("outbox-orders-bus"));
    assert_eq!(pipe["target"]["detail_type"].as_str(), Some("OrderCreated"));
    assert_eq!(
        pipe["target"]["source"].as_str(),
        Some("com.orders.service")
    );

    let rule = &routes["buses"]["outbox-orders-bus"]["rules"]["order-created-rule"];
    let targets = rule["targets"].as_array().unwrap();
    let queues: Vec<&str> = targets
        .iter()
        .map(|t| t["queue"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["order-created-queue", "order-notification-queue"]);
    for target in targets {
        assert_eq!(target["dlq"].as_str(), Some("rule-dlq"));
        assert_eq!(target["retry"]["attempts"].as_integer(), Some(4));
        assert_eq!(target["retry"]["max_age"].as_str(), Some("400s"));
    }
    let queue = &routes["queues"]["order-created-queue"];
    assert_eq!(queue["dlq"].as_str(), Some("order-created-dlq"));
    assert_eq!(queue["max_receive_count"].as_integer(), Some(5));

    for (consumer, queue, module) in [
        (
            "order-created-publisher-function",
            "order-created-queue",
            "order_created_publisher",
        ),
        (
            "order-notification-function",
            "order-notification-queue",
            "order_notification",
        ),
    ] {
        assert_eq!(routes["consumers"][consumer]["queue"].as_str(), Some(queue));
        assert_eq!(
            routes["consumers"][consumer]["handler"].as_str(),
            Some(consumer)
        );
        let plugin = &routes["plugins"][consumer];
        assert_eq!(plugin["world"].as_str(), Some("consumer"));
        assert_eq!(plugin["build"].as_str(), Some("sh build.sh"));
        assert_eq!(plugin["timeout"].as_str(), Some("3s"));
        assert_eq!(plugin["config"]["memory_mb"].as_integer(), Some(128));
        let project = dir.path().join("plugins").join(consumer);
        assert_eq!(
            plugin["wasm"].as_str(),
            Some(format!("plugins/{consumer}/plugin.wasm").as_str())
        );
        // The handler is copied as it is, and run through the adapter.
        let copied = std::fs::read(project.join(format!("function/{module}.py"))).unwrap();
        let original = std::fs::read(fixture(&format!("sample/src/{module}.py"))).unwrap();
        assert_eq!(copied, original);
        let wrapper = std::fs::read_to_string(project.join("plugin.py")).unwrap();
        assert!(
            wrapper.ends_with(&format!(
                "from {module} import lambda_handler\nfrom switchyard_plugin import lambda_sqs\n\nlambda_sqs(lambda_handler)\n"
            )),
            "{wrapper}"
        );
        for file in [
            "build.sh",
            "wit/plugin.wit",
            "sdk/switchyard_plugin/__init__.py",
        ] {
            assert!(project.join(file).is_file(), "{consumer}: no {file}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(project.join("build.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "build.sh is executable");
    }

    let report = stderr(&output);
    for line in [
        "ApiGatewayDynamoDBRole (AWS::IAM::Role): not mapped: IAM has no counterpart",
        "ApiStage (AWS::ApiGateway::Stage): not mapped: Switchyard serves its API at once",
        "OrdersTable (AWS::DynamoDB::Table): -> [tables.orders-table]; dropped BillingMode",
        "Outputs.ApiUrl (Output): not mapped",
        "RuleQueuesPolicy (AWS::SQS::QueuePolicy): not mapped",
    ] {
        assert!(
            report.lines().any(|l| l.starts_with(line)),
            "no `{line}` in:\n{report}"
        );
    }
    assert!(report.contains("dropped Tracing"), "{report}");
}

#[test]
fn an_existing_output_is_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routes.toml"), "# mine\n").unwrap();
    let output = import(&fixture("queues.json"), dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("exists; use --force to replace it"),
        "{}",
        stderr(&output)
    );
    let kept = std::fs::read_to_string(dir.path().join("routes.toml")).unwrap();
    assert_eq!(kept, "# mine\n");

    let output = import(&fixture("queues.json"), dir.path(), &["--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(dir.path().join("routes.toml")).unwrap();
    assert!(written.contains("[queues.jobs-fifo]"), "{written}");
}

#[test]
fn without_out_the_routes_go_to_stdout() {
    let output = run(&["import", fixture("buses.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let routes = String::from_utf8_lossy(&output.stdout);
    assert!(
        routes.contains("[buses.orders.rules.new-orders]"),
        "{routes}"
    );
    assert!(stderr(&output).contains("Nightly (AWS::Events::Rule): not mapped"));
}

#[test]
fn a_template_that_cannot_be_read_exits_2_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n  Bad: [\n",
    )
    .unwrap();
    let output = import(&template, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!("switchyard: {}:5:", template.display())),
        "{message}"
    );
    assert!(!dir.path().join("routes.toml").exists());

    let output = import(&dir.path().join("missing.yaml"), dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn imported_routes_pass_switchyard_check() {
    // Templates whose routes use only keys routes.toml has today (not the table's `sort_key`
    // nor its `integrations`) and no plugins (which `check` would want built).
    for fixture_name in ["buses.yaml", "queues.json"] {
        let dir = tempfile::tempdir().unwrap();
        let output = import(&fixture(fixture_name), dir.path(), &[]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let routes = dir.path().join("routes.toml");
        let check = run(&["check", "--routes", routes.to_str().unwrap()]);
        assert!(
            check.status.success(),
            "{fixture_name}: {}\n{}",
            stderr(&check),
            std::fs::read_to_string(&routes).unwrap()
        );
    }
}

/// Imports the AWS sample into a temp dir, each Python project given the componentize-py of
/// the repository's Python examples (the same pinned version; installed once, by the line of
/// their build script that installs it), so that the projects do not each download it.
fn imported_sample() -> tempfile::TempDir {
    use std::process::Command;
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let examples = repo().join("plugins/python");
    INSTALLED.get_or_init(|| {
        let script = std::fs::read_to_string(examples.join("build.sh")).unwrap();
        let install = script.lines().find(|l| l.contains(" || ")).unwrap();
        let status = Command::new("sh")
            .args(["-c", install])
            .current_dir(&examples)
            .status()
            .unwrap();
        assert!(status.success(), "`{install}` installs componentize-py");
    });
    let dir = tempfile::tempdir().unwrap();
    let output = import(
        &fixture("sample/template.yaml"),
        dir.path(),
        &["--stack-name", "outbox"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for project in [
        "order-created-publisher-function",
        "order-notification-function",
    ] {
        let project = dir.path().join("plugins").join(project);
        std::os::unix::fs::symlink(examples.join(".venv"), project.join(".venv")).unwrap();
    }
    dir
}

#[test]
fn an_imported_python_project_builds_and_runs_the_lambda_handler_unchanged() {
    let dir = imported_sample();
    let project = dir.path().join("plugins/order-created-publisher-function");
    let build = std::process::Command::new("sh")
        .arg(project.join("build.sh"))
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
    // The plugin's entry as the import wrote it, alone in a routes.toml.
    let text = std::fs::read_to_string(dir.path().join("routes.toml")).unwrap();
    let routes: toml::Table = toml::from_str(&text).unwrap();
    let plugin = &routes["plugins"]["order-created-publisher-function"];
    let mut solo = toml::Table::new();
    let mut plugins = toml::Table::new();
    plugins.insert("publisher".into(), plugin.clone());
    solo.insert("plugins".into(), toml::Value::Table(plugins));
    let solo_path = dir.path().join("solo.toml");
    std::fs::write(&solo_path, toml::to_string(&solo).unwrap()).unwrap();
    let input = dir.path().join("message.json");
    std::fs::write(
        &input,
        r#"{"body": "{\"detail\": {\"Status\": \"CREATED\"}}", "id": "m-1"}"#,
    )
    .unwrap();

    let output = run(&[
        "plugin",
        "run",
        "publisher",
        "--routes",
        solo_path.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        answer,
        serde_json::json!([{"messageId": "m-1", "outcome": "ok"}])
    );
    // The handler's own print() and logging lines, in the host's log.
    let log = stderr(&output);
    assert!(
        log.contains(r#"OrderCreatedPublisher received m-1 {"detail": {"Status": "CREATED"}}"#),
        "{log}"
    );
    assert!(
        log.contains(r#"order created: {"detail": {"Status": "CREATED"}}"#),
        "{log}"
    );
}

/// The whole sample, end to end: POST an order to the API Gateway path, and the pipe's filter,
/// the bus's rule and both queues bring a CREATED order to both Lambda handlers, and a PENDING
/// one to neither.
#[test]
fn the_imported_sample_runs_end_to_end_created_orders_reach_both_handlers_pending_ones_neither() {
    use std::time::{Duration, Instant};

    let dir = imported_sample();
    let text = std::fs::read_to_string(dir.path().join("routes.toml")).unwrap();
    // Host::start writes the routes to a folder of its own: the projects' paths made absolute.
    let plugins = dir.path().join("plugins");
    let routes = text.replace("\"plugins/", &format!("\"{}/", plugins.display()));
    let host = common::Host::start_with(&routes, &["--build"]);
    let client = common::Host::client();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let post = |status: &str| {
        let url = format!("{}/createId", host.url);
        let body = serde_json::json!({ "Status": status });
        runtime.block_on(async {
            let response = client.post(&url).json(&body).send().await.unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        })
    };
    // The integration response the template declares: 200 and the request id, which is the
    // item's `id`.
    let (status, created) = post("CREATED");
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, _) = post("PENDING");
    assert_eq!(status, 200);
    let count = |marker: &str| host.logs().matches(marker).count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (count("OrderCreatedPublisher received") < 1 || count("OrderNotification received") < 1)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Time for the PENDING order to arrive, were it to.
    std::thread::sleep(Duration::from_secs(3));
    // One line each: the CREATED order; the PENDING one was filtered out by the pipe.
    let logs = host.logs();
    assert_eq!(count("OrderCreatedPublisher received"), 1, "{logs}");
    assert_eq!(count("OrderNotification received"), 1, "{logs}");
    assert!(logs.contains(&format!(r#""id":{{"S":"{id}"}}"#)), "{logs}");
    // The function's Environment, and Lambda's own variables, as the handler reads them.
    assert!(
        logs.contains("from table OrdersTable in us-east-1"),
        "{logs}"
    );
}
