//! The events API through boto3 and the AWS CLI: EventBridge's own clients, pointed at the host
//! by their endpoint URL and nothing else.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{self, Host, pipeline::wait_for_messages};

const ROUTES: &str = r#"
[buses.default.rules.audit]
pattern = '{"detail-type": ["Audited"]}'
targets = [{ queue = "audit" }]

[buses.orders]
archive = {}

[buses.orders.rules.big-orders]
pattern = '{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}'
targets = [
  { queue = "big", input_transformer = { input_paths = { id = "$.detail.orderId" }, input_template = '{"big": "<id>"}' }, dlq = "failed" },
  { queue = "all" },
]

[buses.orders.rules.cancelled]
pattern = '{"detail-type": ["OrderCancelled"]}'
targets = [{ queue = "all", input_path = "$.detail" }]

[queues.audit]
[queues.big]
[queues.all]
[queues.failed]
"#;

/// Runs a Python script with boto3's `events` client on the host as `events`; what the script
/// prints as JSON. A `ClientError` is printed as `{"Error": {"Code", "Message"}}`.
fn boto3(host: &Host, script: &str) -> Value {
    let program = format!(
        "import json, os, boto3, botocore.exceptions\n\
         events = boto3.client('events', endpoint_url=os.environ['HOST_URL'])\n\
         def call(name, **kwargs):\n\
         \x20   try:\n\
         \x20       answer = getattr(events, name)(**kwargs)\n\
         \x20       answer.pop('ResponseMetadata', None)\n\
         \x20       return answer\n\
         \x20   except botocore.exceptions.ClientError as err:\n\
         \x20       return {{'Error': {{'Code': err.response['Error']['Code'], 'Message': err.response['Error']['Message']}}}}\n\
         {script}\n"
    );
    let output = Command::new(common::moto::python())
        .args(["-c", &program])
        .env("HOST_URL", &host.url)
        .envs(credentials())
        .output()
        .expect("python runs");
    parse(&output, host)
}

fn credentials() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]
}

fn parse(output: &std::process::Output, host: &Host) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed: {}\n{stdout}\nthe host's log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        host.logs()
    );
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

#[tokio::test]
async fn an_event_boto3_puts_reaches_the_queues_of_the_rules_that_match_it() {
    let host = Host::start(ROUTES);
    let put = boto3(
        &host,
        r#"print(json.dumps(call('put_events', Entries=[
    {'EventBusName': 'orders', 'Source': 'shop', 'DetailType': 'OrderCreated',
     'Detail': json.dumps({'orderId': 'o-1', 'total': 142.5}), 'Resources': ['arn:aws:shop:o-1']},
    {'EventBusName': 'arn:aws:events:us-east-1:000000000000:event-bus/orders', 'Source': 'shop',
     'DetailType': 'OrderCancelled', 'Detail': json.dumps({'orderId': 'o-2'})},
])))"#,
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let big = wait_for_messages(&host, "big", 1).await;
    assert_eq!(big[0]["body"], r#"{"big": "o-1"}"#, "{big:?}");
    let all = wait_for_messages(&host, "all", 2).await;
    let event: Value = serde_json::from_str(all[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["id"], put["Entries"][0]["EventId"]);
    assert_eq!(
        (
            &event["source"],
            &event["detail-type"],
            &event["account"],
            &event["region"],
            &event["resources"],
            &event["detail"]
        ),
        (
            &json!("shop"),
            &json!("OrderCreated"),
            &json!("000000000000"),
            &json!("us-east-1"),
            &json!(["arn:aws:shop:o-1"]),
            &json!({"orderId": "o-1", "total": 142.5})
        )
    );
    assert_eq!(
        all[1]["body"], r#"{"orderId":"o-2"}"#,
        "input_path: the detail"
    );
    let buses = host.get_json("/admin/buses").await;
    assert!(buses.to_string().contains("big-orders"), "{buses}");
}

#[tokio::test]
async fn put_events_answers_for_each_entry_and_delivers_the_ones_it_takes() {
    let host = Host::start(ROUTES);
    let put = boto3(
        &host,
        r#"print(json.dumps(call('put_events', Entries=[
    {'Source': 'shop', 'Detail': '{}'},
    {'Source': 'shop', 'DetailType': 'Audited', 'Detail': '{"unclosed": '},
    {'EventBusName': 'payments', 'Source': 'shop', 'DetailType': 'Audited', 'Detail': '{}'},
    {'Source': 'shop', 'DetailType': 'Audited', 'Detail': '{"n": 1}'},
])))"#,
    );
    assert_eq!(put["FailedEntryCount"], 3, "{put}");
    let entries = put["Entries"].as_array().unwrap();
    assert_eq!(
        entries[0],
        json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."})
    );
    assert_eq!(
        entries[1],
        json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
    );
    assert_eq!(entries[2]["ErrorCode"], "ResourceNotFoundException");
    assert!(
        entries[2]["ErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Event bus payments does not exist."),
        "{put}"
    );
    assert!(entries[3]["EventId"].is_string(), "{put}");
    let audit = wait_for_messages(&host, "audit", 1).await;
    assert_eq!(audit.len(), 1, "only the entry it took: {audit:?}");
    let event: Value = serde_json::from_str(audit[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["detail"], json!({"n": 1}));
}

#[tokio::test]
async fn test_event_pattern_gives_switchyard_s_verdict_in_eventbridge_s_words() {
    let host = Host::start(ROUTES);
    let verdicts = boto3(
        &host,
        r#"event = json.dumps({'id': '1', 'account': '000000000000', 'source': 'shop', 'time': '2026-01-01T00:00:00Z',
    'region': 'us-east-1', 'detail-type': 'OrderCreated', 'resources': [], 'detail': {'total': 142.5, 'ip': '10.0.0.7'}})
print(json.dumps([
    call('test_event_pattern', EventPattern='{"detail": {"total": [{"numeric": [">", 100]}]}}', Event=event),
    call('test_event_pattern', EventPattern='{"detail": {"ip": [{"cidr": "10.1.0.0/16"}]}}', Event=event),
    call('test_event_pattern', EventPattern='{"detail": {"total": [{"numeric": [">", "a"]}]}}', Event=event),
    call('test_event_pattern', EventPattern='{"source": ["shop"]}', Event='{"source": "shop"}'),
]))"#,
    );
    assert_eq!(verdicts[0], json!({"Result": true}));
    assert_eq!(verdicts[1], json!({"Result": false}));
    assert_eq!(
        verdicts[2],
        json!({"Error": {"Code": "InvalidEventPatternException", "Message": "Event pattern is not valid. Reason: at `detail.total[0].numeric`: the value of \">\" must be a number, not a string"}})
    );
    assert_eq!(verdicts[3]["Error"]["Code"], "ValidationException");
}

#[tokio::test]
async fn buses_rules_and_targets_read_as_routes_toml_declares_them() {
    let host = Host::start(ROUTES);
    let read = boto3(
        &host,
        r#"print(json.dumps({
    'buses': call('list_event_buses'),
    'first': call('list_event_buses', Limit=1),
    'prefixed': call('list_event_buses', NamePrefix='ord'),
    'default': call('describe_event_bus'),
    'missing': call('describe_event_bus', Name='payments'),
    'rules': call('list_rules', EventBusName='orders', NamePrefix='big'),
    'rule': call('describe_rule', Name='cancelled', EventBusName='orders'),
    'default_rule': call('describe_rule', Name='audit'),
    'no_rule': call('describe_rule', Name='gone', EventBusName='orders'),
    'targets': call('list_targets_by_rule', Rule='big-orders', EventBusName='orders'),
}))"#,
    );
    let names = |v: &Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&read["buses"], "EventBuses"), ["default", "orders"]);
    assert_eq!(names(&read["first"], "EventBuses"), ["default"]);
    assert_eq!(read["first"]["NextToken"], "1");
    assert_eq!(names(&read["prefixed"], "EventBuses"), ["orders"]);
    assert_eq!(
        read["default"],
        json!({"Name": "default", "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default"})
    );
    assert_eq!(
        read["missing"]["Error"]["Code"],
        "ResourceNotFoundException"
    );
    assert_eq!(names(&read["rules"], "Rules"), ["big-orders"]);
    assert_eq!(
        read["rule"],
        json!({
            "Name": "cancelled",
            "Arn": "arn:aws:events:us-east-1:000000000000:rule/orders/cancelled",
            "EventPattern": r#"{"detail-type": ["OrderCancelled"]}"#,
            "State": "ENABLED",
            "EventBusName": "orders",
        })
    );
    assert_eq!(
        read["default_rule"]["Arn"],
        "arn:aws:events:us-east-1:000000000000:rule/audit"
    );
    assert_eq!(
        read["no_rule"]["Error"]["Code"],
        "ResourceNotFoundException"
    );
    assert_eq!(
        read["targets"]["Targets"],
        json!([
            {
                "Id": "target-1",
                "Arn": "arn:aws:sqs:us-east-1:000000000000:big",
                "InputTransformer": {"InputPathsMap": {"id": "$.detail.orderId"}, "InputTemplate": r#"{"big": "<id>"}"#},
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:failed"},
            },
            {
                "Id": "target-2",
                "Arn": "arn:aws:sqs:us-east-1:000000000000:all",
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
            },
        ])
    );
}

#[tokio::test]
async fn creating_what_routes_toml_declares_succeeds_and_anything_else_says_to_declare_it() {
    let host = Host::start(ROUTES);
    let made = boto3(
        &host,
        r#"print(json.dumps({
    'bus': call('create_event_bus', Name='orders'),
    'new_bus': call('create_event_bus', Name='payments'),
    'rule': call('put_rule', Name='cancelled', EventBusName='orders',
                 EventPattern='{"detail-type":["OrderCancelled"]}', State='ENABLED'),
    'changed_rule': call('put_rule', Name='cancelled', EventBusName='orders',
                         EventPattern='{"detail-type":["OrderShipped"]}'),
    'new_rule': call('put_rule', Name='shipped', EventBusName='orders',
                     EventPattern='{"detail-type":["OrderShipped"]}'),
    'bad_pattern': call('put_rule', Name='shipped', EventBusName='orders', EventPattern='{"a": 1}'),
    'targets': call('put_targets', Rule='cancelled', EventBusName='orders', Targets=[
        {'Id': 'target-1', 'Arn': 'arn:aws:sqs:us-east-1:000000000000:all', 'InputPath': '$.detail'},
        {'Id': 'extra', 'Arn': 'arn:aws:sqs:us-east-1:000000000000:big'},
    ]),
}))"#,
    );
    assert_eq!(
        made["bus"],
        json!({"EventBusArn": "arn:aws:events:us-east-1:000000000000:event-bus/orders"})
    );
    assert_eq!(
        made["new_bus"]["Error"]["Code"],
        "OperationDisabledException"
    );
    let message = made["new_bus"]["Error"]["Message"].as_str().unwrap();
    assert!(
        message.contains("declare `[buses.payments]` there and restart the host"),
        "{message}"
    );
    assert_eq!(
        made["rule"],
        json!({"RuleArn": "arn:aws:events:us-east-1:000000000000:rule/orders/cancelled"})
    );
    assert_eq!(
        made["changed_rule"]["Error"]["Code"],
        "ManagedRuleException"
    );
    assert_eq!(
        made["new_rule"]["Error"],
        json!({"Code": "ManagedRuleException", "Message": "rule `shipped` is not declared in routes.toml: Switchyard's rules are managed by routes.toml; declare `[buses.orders.rules.shipped]` there and restart the host"})
    );
    assert_eq!(
        made["bad_pattern"]["Error"]["Code"],
        "InvalidEventPatternException"
    );
    assert_eq!(made["targets"]["FailedEntryCount"], 1, "{made}");
    assert_eq!(made["targets"]["FailedEntries"][0]["TargetId"], "extra");
}

#[tokio::test]
async fn the_aws_cli_puts_events_on_the_host() {
    let host = Host::start(ROUTES);
    let entries = json!([{
        "EventBusName": "orders",
        "Source": "shop",
        "DetailType": "OrderCreated",
        "Detail": json!({"orderId": "o-9", "total": 500}).to_string(),
    }]);
    let output = Command::new(common::moto::aws_cli())
        .args(["events", "put-events", "--endpoint-url", &host.url])
        .args(["--entries", &entries.to_string(), "--output", "json"])
        .envs(credentials())
        .output()
        .expect("the AWS CLI runs");
    let put = parse(&output, &host);
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let big = wait_for_messages(&host, "big", 1).await;
    assert_eq!(big[0]["body"], r#"{"big": "o-9"}"#);
}

/// On the AWS backend EventBridge routes the events: the host hands PutEvents' entries to the
/// bus `switchyard deploy` made, and EventBridge's rules deliver them.
#[tokio::test]
async fn on_the_aws_backend_put_events_goes_to_eventbridge_which_routes_it() {
    let moto = common::moto::Moto::start();
    let routes = format!(
        "[host]\nbackend = \"aws\"\n\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nprefix = \"ev-\"\n\n\
         [buses.orders.rules.created]\npattern = '{{\"detail-type\": [\"OrderCreated\"]}}'\ntargets = [{{ queue = \"created\" }}]\n\n\
         [queues.created]\n",
        moto.url
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    std::fs::write(&path, &routes).unwrap();
    let deployed = Command::new(common::BINARY)
        .args(["deploy", "--routes"])
        .arg(&path)
        .envs(credentials())
        .output()
        .unwrap();
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    let host = Host::start_env(&routes, &[], &credentials());
    let put = boto3(
        &host,
        r#"print(json.dumps(call('put_events', Entries=[
    {'EventBusName': 'orders', 'Source': 'shop', 'DetailType': 'OrderCreated', 'Detail': '{"orderId": "o-1"}'},
    {'EventBusName': 'orders', 'Source': 'shop', 'DetailType': 'OrderCreated', 'Detail': 'nope'},
])))"#,
    );
    assert_eq!(put["FailedEntryCount"], 1, "{put}");
    assert_eq!(put["Entries"][1]["ErrorCode"], "MalformedDetail");
    let script = format!(
        "import json, boto3\n\
         sqs = boto3.client('sqs', endpoint_url='{}')\n\
         url = sqs.get_queue_url(QueueName='ev-created')['QueueUrl']\n\
         got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get('Messages', [])\n\
         print(json.dumps([json.loads(m['Body']) for m in got]))\n",
        moto.url
    );
    let received = Command::new(common::moto::python())
        .args(["-c", &script])
        .envs(credentials())
        .output()
        .unwrap();
    let received = parse(&received, &host);
    assert_eq!(received.as_array().map(Vec::len), Some(1), "{received}");
    assert_eq!(received[0]["detail"], json!({"orderId": "o-1"}));
    assert_eq!(received[0]["source"], "shop");
}
