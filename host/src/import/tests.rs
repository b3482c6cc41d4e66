//! The importer on the small templates in tests/import/: each intrinsic function, each kind of
//! resource, and the report line of what is not mapped.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::intrinsics::{Resolver, Stack, Unresolved};
use super::project::Content;
use super::template::Template;
use super::{Import, Options, import, kebab};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/import")
        .join(name)
}

/// The import of a fixture as stack `shop` in eu-west-1, and its routes.toml parsed.
fn imported(name: &str) -> (Import, toml::Table) {
    let options = Options {
        region: "eu-west-1".into(),
        stack_name: Some("shop".into()),
        out_dir: std::env::temp_dir(),
    };
    let import = import(&fixture(name), options).unwrap();
    let routes =
        toml::from_str(&import.routes).unwrap_or_else(|err| panic!("{err}\n{}", import.routes));
    (import, routes)
}

/// The report line of a resource.
fn line<'a>(import: &'a Import, id: &str) -> &'a str {
    let prefix = format!("{id} (");
    let found = import.report.iter().find(|line| line.starts_with(&prefix));
    found.unwrap_or_else(|| panic!("no line for {id} in {:#?}", import.report))
}

fn at<'a>(routes: &'a toml::Table, path: &str) -> &'a toml::Value {
    let mut parts = path.split('/');
    let first = parts.next().unwrap();
    let mut value = routes.get(first).unwrap_or_else(|| panic!("no {first}"));
    for part in parts {
        value = match value {
            toml::Value::Array(items) => &items[part.parse::<usize>().unwrap()],
            other => other
                .get(part)
                .unwrap_or_else(|| panic!("no {part} in {path}")),
        };
    }
    value
}

fn text<'a>(routes: &'a toml::Table, path: &str) -> &'a str {
    at(routes, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not text"))
}

/// The value of each of `intrinsics.yaml`'s outputs.
fn output(name: &str) -> Result<Value, Unresolved> {
    let template = Template::read(&fixture("intrinsics.yaml")).unwrap();
    let stack = Stack {
        region: "eu-west-1".into(),
        name: "shop".into(),
    };
    let resolver = Resolver::new(&template, stack);
    resolver.resolve(&template.outputs[name]["Value"])
}

#[test]
fn ref_gives_a_parameters_default_and_a_resources_name_or_url() {
    assert_eq!(output("Ref"), Ok(json!("dev")));
    assert_eq!(
        output("RefQueue"),
        Ok(json!(
            "https://sqs.eu-west-1.amazonaws.com/000000000000/dev-orders"
        ))
    );
}

#[test]
fn get_att_gives_arns_in_both_forms() {
    assert_eq!(
        output("GetAttString"),
        Ok(json!("arn:aws:sqs:eu-west-1:000000000000:dev-orders"))
    );
    assert_eq!(
        output("GetAttList"),
        Ok(json!(
            "arn:aws:dynamodb:eu-west-1:000000000000:table/Table/stream/1970-01-01T00:00:00.000"
        ))
    );
}

#[test]
fn sub_fills_in_pseudo_parameters_attributes_variables_and_keeps_literals() {
    assert_eq!(
        output("SubString"),
        Ok(json!("shop-eu-west-1-000000000000-aws"))
    );
    assert_eq!(output("SubAttribute"), Ok(json!("dev-orders ${Literal}")));
    assert_eq!(output("SubList"), Ok(json!("5-dev")));
}

#[test]
fn join_select_and_split_work_on_lists_and_list_parameters() {
    assert_eq!(output("Join"), Ok(json!("a/dev/b")));
    assert_eq!(output("SelectSplit"), Ok(json!("z")));
    assert_eq!(output("LongForms"), Ok(json!("dev-dev")));
}

#[test]
fn if_equals_not_and_and_conditions_choose() {
    assert_eq!(output("If"), Ok(json!("small")));
    assert_eq!(output("And"), Ok(json!("yes")));
}

#[test]
fn find_in_map_and_no_value() {
    assert_eq!(output("FindInMap"), Ok(json!(10)));
    assert_eq!(output("NoValue"), Ok(json!(["a", "b"])));
}

#[test]
fn import_value_cannot_be_known() {
    assert_eq!(
        output("ImportValue"),
        Err(Unresolved(
            "`Fn::ImportValue` of `shared-bus` is another stack's output".into()
        ))
    );
}

#[test]
fn a_resource_whose_condition_is_false_is_not_mapped() {
    let (import, routes) = imported("intrinsics.yaml");
    assert_eq!(
        line(&import, "ProdOnly"),
        "ProdOnly (AWS::SQS::Queue): not mapped: its condition `IsProd` is false"
    );
    assert!(at(&routes, "queues").get("prod-only").is_none());
    assert!(at(&routes, "queues").get("dev-orders").is_some());
}

#[test]
fn names_become_lower_kebab_case() {
    assert_eq!(kebab("OrdersTable"), "orders-table");
    assert_eq!(kebab("OrderCreatedDLQ"), "order-created-dlq");
    assert_eq!(kebab("DLQQueue"), "dlq-queue");
    assert_eq!(kebab("jobs-dlq.fifo"), "jobs-dlq-fifo");
    assert_eq!(kebab("Counters_V2"), "counters-v2");
    assert_eq!(kebab("${x}"), "x");
}

#[test]
fn tables_take_their_keys_types_and_stream_view() {
    let (import, routes) = imported("tables.yaml");
    let counters = at(&routes, "tables/counters-v2");
    assert_eq!(
        counters.get("key").unwrap().to_string(),
        "{ name = \"n\", type = \"N\" }"
    );
    assert_eq!(counters.get("sort_key").unwrap().as_str(), Some("blob"));
    assert_eq!(
        line(&import, "Counters"),
        "Counters (AWS::DynamoDB::Table): -> [tables.counters-v2]; dropped ProvisionedThroughput, SSESpecification; \
         key `blob` is of type B, which Switchyard has not: imported as S; \
         no `StreamSpecification`: Switchyard always keeps a stream (NEW_AND_OLD_IMAGES by default)"
    );
    assert_eq!(text(&routes, "tables/events/key"), "id");
    assert_eq!(text(&routes, "tables/events/stream_view_type"), "KEYS_ONLY");
    assert_eq!(
        at(&routes, "tables/simple/key").to_string(),
        "{ name = \"sku\", type = \"N\" }"
    );
    assert!(
        import
            .routes
            .contains("# from AWS::Serverless::SimpleTable Simple\n[tables.simple]\n")
    );
}

#[test]
fn api_gateway_methods_writing_to_dynamodb_become_integrations_on_their_path() {
    let (import, routes) = imported("api.json");
    let integration = at(&routes, "tables/items/integrations/0");
    assert_eq!(integration.get("method").unwrap().as_str(), Some("DELETE"));
    assert_eq!(
        integration.get("path").unwrap().as_str(),
        Some("/items/{id}")
    );
    assert_eq!(
        integration.get("action").unwrap().as_str(),
        Some("DeleteItem")
    );
    assert_eq!(
        integration.get("request_template").unwrap().as_str(),
        Some("{\"TableName\": \"items\", \"Key\": {\"id\": {\"S\": \"$input.params('id')\"}}}")
    );
    assert_eq!(integration.get("status").unwrap().as_integer(), Some(204));
    assert_eq!(
        line(&import, "Mock"),
        "Mock (AWS::ApiGateway::Method): not mapped: GET /: MOCK integrations are not mapped"
    );
    assert_eq!(
        line(&import, "Query"),
        "Query (AWS::ApiGateway::Method): not mapped: GET /items: DynamoDB `Query` is not mapped: only PutItem, UpdateItem and DeleteItem are"
    );
}

#[test]
fn an_openapi_body_gives_its_dynamodb_integrations_and_lists_the_rest() {
    let (import, routes) = imported("openapi.yaml");
    let integration = at(&routes, "tables/orders/integrations/0");
    assert_eq!(integration.get("method").unwrap().as_str(), Some("POST"));
    assert_eq!(integration.get("path").unwrap().as_str(), Some("/orders"));
    assert_eq!(
        integration.get("action").unwrap().as_str(),
        Some("UpdateItem")
    );
    assert_eq!(integration.get("status").unwrap().as_integer(), Some(201));
    assert_eq!(
        integration.get("response_template").unwrap().as_str(),
        Some("{\"ok\": true}")
    );
    assert_eq!(
        line(&import, "OrdersApi"),
        "OrdersApi (AWS::Serverless::Api): -> [[tables.orders.integrations]] POST /orders; dropped StageName; \
         GET /orders not mapped: Lambda proxy integrations are not mapped"
    );
}

#[test]
fn a_pipe_from_a_stream_takes_its_parameters_filter_enrichment_and_target() {
    let (import, routes) = imported("pipes.yaml");
    let pipe = at(&routes, "pipes/to-queue");
    assert_eq!(pipe.get("source").unwrap().as_str(), Some("orders"));
    assert_eq!(
        pipe.get("starting_position").unwrap().as_str(),
        Some("trim_horizon")
    );
    assert_eq!(pipe.get("batch_size").unwrap().as_integer(), Some(50));
    assert_eq!(pipe.get("batching_window").unwrap().as_str(), Some("5s"));
    assert_eq!(
        pipe.get("retry").unwrap().to_string(),
        "{ attempts = -1, max_age = -1 }"
    );
    assert_eq!(
        text(&routes, "pipes/to-queue/filter/Filters/1/Pattern"),
        "{\"eventName\": [\"MODIFY\"]}"
    );
    assert_eq!(text(&routes, "pipes/to-queue/target/queue"), "out");
    assert_eq!(
        text(&routes, "pipes/to-queue/target/input_template"),
        "{\"id\": \"<$.dynamodb.Keys.orderId.S>\"}"
    );
    assert_eq!(text(&routes, "pipes/to-queue/enrichment"), "tagger");
    assert_eq!(text(&routes, "plugins/tagger/world"), "enricher");
    assert_eq!(text(&routes, "plugins/tagger/timeout"), "10s");
    let project = import
        .projects
        .iter()
        .find(|p| p.dir == "plugins/tagger")
        .unwrap();
    let wrapper = project
        .files
        .iter()
        .find(|(path, _)| path == "plugin.js")
        .unwrap();
    assert_eq!(
        wrapper.1,
        Content::Text(
            "// tagger: the Lambda function Tagger (handler `index.handler`), unchanged, as a Switchyard enricher.\n\
             import { lambda } from './sdk/switchyard.js';\n\
             import { handler } from './function/index.js';\n\n\
             export const enrich = lambda.enrichment(handler);\n"
                .into()
        )
    );
    assert!(line(&import, "ToQueue").contains("dropped ParallelizationFactor"));
    assert_eq!(
        line(&import, "FromSqs"),
        "FromSqs (AWS::Pipes::Pipe): not mapped: its source `arn:aws:sqs:eu-west-1:000000000000:out` is not a DynamoDB stream (the only source Switchyard has)"
    );
    assert_eq!(text(&routes, "pipes/to-default-bus/target/bus"), "default");
    assert!(
        import
            .routes
            .contains("# the default event bus\n[buses.default]\n")
    );
}

#[test]
fn rules_archives_and_buses_take_their_targets_and_transforms() {
    let (import, routes) = imported("buses.yaml");
    assert_eq!(
        text(&routes, "buses/default/rules/on-default/pattern"),
        "{\"source\": [\"shop\"]}"
    );
    assert_eq!(
        text(
            &routes,
            "buses/default/rules/on-default/targets/0/input_path"
        ),
        "$.detail"
    );
    let rule = "buses/orders/rules/new-orders";
    assert_eq!(
        text(&routes, &format!("{rule}/pattern")),
        "{\"detail-type\":[\"OrderCreated\"]}"
    );
    assert_eq!(
        at(&routes, &format!("{rule}/targets/0/input_transformer")).to_string(),
        "{ input_paths = { id = \"$.detail.id\" }, input_template = '{\"order\": \"<id>\"}' }"
    );
    assert_eq!(text(&routes, &format!("{rule}/targets/1/bus")), "audit");
    assert_eq!(
        text(
            &routes,
            &format!("{rule}/targets/2/input_transformer/input_template")
        ),
        "{\"fixed\": true}"
    );
    assert_eq!(
        at(&routes, &format!("{rule}/targets"))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let report = line(&import, "OnOrders");
    assert!(
        report.contains("target `fn` left out: a Lambda target is not mapped"),
        "{report}"
    );
    assert!(
        report.contains("target `transformed`: dropped SqsParameters"),
        "{report}"
    );
    assert_eq!(text(&routes, "buses/orders/archive/retention"), "7d");
    assert_eq!(
        text(&routes, "buses/orders/archive/pattern"),
        "{\"source\":[\"shop\"]}"
    );
    assert!(at(&routes, "buses").get("audit").is_some());
    assert_eq!(
        line(&import, "Nightly"),
        "Nightly (AWS::Events::Rule): not mapped: scheduled rules are not mapped"
    );
    assert_eq!(
        line(&import, "Off"),
        "Off (AWS::Events::Rule): not mapped: its State is DISABLED"
    );
}

#[test]
fn queues_take_their_attributes_and_a_redrive_policy_written_as_json_text() {
    let (import, routes) = imported("queues.json");
    let jobs = at(&routes, "queues/jobs-fifo");
    assert_eq!(jobs.get("visibility_timeout").unwrap().as_str(), Some("2m"));
    assert_eq!(jobs.get("retention").unwrap().as_str(), Some("1h"));
    assert_eq!(jobs.get("delay").unwrap().as_str(), Some("0s"));
    assert_eq!(jobs.get("dlq").unwrap().as_str(), Some("jobs-dlq-fifo"));
    assert_eq!(jobs.get("max_receive_count").unwrap().as_integer(), Some(3));
    assert_eq!(jobs.get("fifo").unwrap().as_bool(), Some(true));
    assert_eq!(
        jobs.get("content_based_deduplication").unwrap().as_bool(),
        Some(true)
    );
    assert_eq!(
        line(&import, "Jobs"),
        "Jobs (AWS::SQS::Queue): -> [queues.jobs-fifo]; dropped KmsMasterKeyId, ReceiveMessageWaitTimeSeconds"
    );
    assert_eq!(
        line(&import, "Role"),
        "Role (AWS::IAM::Role): not mapped: IAM has no counterpart: Switchyard's routes and plugins need no permissions"
    );
    assert_eq!(
        line(&import, "Logs"),
        "Logs (AWS::Logs::LogGroup): not mapped: the host logs to stderr"
    );
    assert_eq!(
        line(&import, "Thing"),
        "Thing (Custom::Thing): not mapped: no counterpart in Switchyard"
    );
    assert_eq!(
        line(&import, "Outputs.JobsUrl"),
        "Outputs.JobsUrl (Output): not mapped: a stack has no outputs in Switchyard"
    );
}

#[test]
fn sqs_triggered_functions_become_consumers_with_plugin_projects() {
    let (import, routes) = imported("functions.yaml");
    let py = at(&routes, "consumers/py-worker");
    assert_eq!(py.get("queue").unwrap().as_str(), Some("work"));
    assert_eq!(py.get("handler").unwrap().as_str(), Some("py-worker"));
    assert_eq!(py.get("batch_size").unwrap().as_integer(), Some(5));
    assert_eq!(py.get("batching_window").unwrap().as_str(), Some("2s"));
    assert_eq!(py.get("concurrency").unwrap().as_integer(), Some(4));
    assert!(
        import.routes.contains(
            "config = { function_name = \"py-worker\", region = \"eu-west-1\", queue = \"Work\", timeout_ms = 3000, memory_mb = 128 }"
        ),
        "{}",
        import.routes
    );
    // Globals apply to SAM functions only.
    assert_eq!(text(&routes, "plugins/js/timeout"), "20s");
    assert_eq!(
        at(&routes, "plugins/js/config/memory_mb").as_integer(),
        Some(256)
    );
    assert_eq!(text(&routes, "consumers/js/queue"), "work");

    let py_project = import
        .projects
        .iter()
        .find(|p| p.dir == "plugins/py-worker")
        .unwrap();
    let file = |name: &str| {
        let found = py_project.files.iter().find(|(path, _)| path == name);
        found.map(|(_, content)| content.clone())
    };
    assert_eq!(
        file("function/handler.py"),
        Some(Content::Copy(fixture("functions/py/handler.py")))
    );
    let Some(Content::Text(wrapper)) = file("plugin.py") else {
        panic!("no plugin.py")
    };
    assert!(
        wrapper.ends_with("from handler import main\nfrom switchyard_plugin import lambda_sqs\n\nlambda_sqs(main)\n"),
        "{wrapper}"
    );
    let Some(Content::Text(build)) = file("build.sh") else {
        panic!("no build.sh")
    };
    assert!(
        build.contains("-w consumer componentize plugin -p . -p sdk -p function"),
        "{build}"
    );
    assert!(file("sdk/switchyard_plugin/aws_lambda.py").is_some());
    assert!(file("wit/plugin.wit").is_some());

    let js_project = import
        .projects
        .iter()
        .find(|p| p.dir == "plugins/js")
        .unwrap();
    let js_wrapper = js_project
        .files
        .iter()
        .find(|(path, _)| path == "plugin.js")
        .unwrap();
    let Content::Text(js_wrapper) = &js_wrapper.1 else {
        panic!("plugin.js is text")
    };
    assert!(
        js_wrapper.contains("import { handler } from './function/index.mjs';"),
        "{js_wrapper}"
    );
    assert!(
        js_wrapper.contains("export const handle = lambda.sqs(handler);"),
        "{js_wrapper}"
    );

    // The function's environment: Lambda's own variables, then its `Environment`.
    assert!(
        import.routes.contains(
            "env = { AWS_REGION = \"eu-west-1\", AWS_DEFAULT_REGION = \"eu-west-1\", AWS_LAMBDA_FUNCTION_NAME = \"py-worker\", AWS_LAMBDA_FUNCTION_MEMORY_SIZE = \"128\", AWS_LAMBDA_FUNCTION_VERSION = \"$LATEST\", X = \"1\" }"
        ),
        "{}",
        import.routes
    );
    let report = line(&import, "Py");
    assert!(!report.contains("Environment"), "{report}");
    assert!(
        line(&import, "Js")
            .contains("event `Http` (Api) not mapped: Lambda proxy integrations are not mapped")
    );
    assert!(line(&import, "Js").contains("no ReportBatchItemFailures"));
    // Without it, the adapter ignores a returned batchItemFailures, as Lambda does.
    assert_eq!(
        at(&routes, "plugins/js/config/report_batch_item_failures").as_bool(),
        Some(false)
    );
    assert!(!line(&import, "PyMapping").contains("no ReportBatchItemFailures"));
    assert_eq!(
        line(&import, "Java"),
        "Java (AWS::Serverless::Function): not mapped: its runtime `java21` cannot run as a plugin: only Python 3 and Node.js handlers are imported"
    );
    assert!(
        line(&import, "Idle")
            .contains("not mapped: no SQS event source or pipe enrichment calls it")
    );
}

#[test]
fn the_mapped_routes_of_the_fixtures_pass_the_config_check() {
    // The fixtures whose routes use only the keys routes.toml has today.
    for name in ["buses.yaml", "queues.json", "pipes.yaml"] {
        let (import, _) = imported(name);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.toml");
        std::fs::write(&path, &import.routes).unwrap();
        if let Err(err) = crate::config::load(&path) {
            panic!("{name}: {err}\n{}", import.routes);
        }
    }
}
