//! SQS through boto3 and the AWS CLI, continued: purges, message move tasks, the CLI, and
//! messages to and from the rest of the chain (a pipe's, a consumer plugin's).

use std::process::Command;

use serde_json::Value;

use crate::common::{self, Host};
use crate::sqs::{ROUTES, boto3};

#[test]
fn a_purge_empties_a_queue_in_flight_messages_too() {
    let host = Host::start(ROUTES);
    boto3(
        &host,
        r#"
q = url("plain")
for i in range(5):
    sqs.send_message(QueueUrl=q, MessageBody=str(i))
assert len(receive("plain", MaxNumberOfMessages=2)) == 2
counts = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
assert counts == {"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "2"}, counts
sqs.purge_queue(QueueUrl=q)
counts = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
assert counts["ApproximateNumberOfMessages"] == "0" and counts["ApproximateNumberOfMessagesNotVisible"] == "0", counts
"#,
    );
}

#[test]
fn a_move_task_returns_dead_letters_to_the_queue_they_came_from() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
q = url("jobs")
sqs.send_message(QueueUrl=q, MessageBody="poison", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
for _ in range(2):
    assert [m["Body"] for m in receive("jobs", VisibilityTimeout=0)] == ["poison"]
assert receive("jobs") == []  # past max_receive_count: moved to the DLQ
dead = receive("jobs-dlq", VisibilityTimeout=0, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
assert [m["Body"] for m in dead] == ["poison"], dead
assert dead[0]["Attributes"]["DeadLetterQueueSourceArn"] == arn("jobs"), dead[0]["Attributes"]
assert dead[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
assert sqs.list_dead_letter_source_queues(QueueUrl=url("jobs-dlq"))["queueUrls"] == [q]

handle = sqs.start_message_move_task(SourceArn=arn("jobs-dlq"), MaxNumberOfMessagesPerSecond=50)["TaskHandle"]
for _ in range(100):
    tasks = sqs.list_message_move_tasks(SourceArn=arn("jobs-dlq"))["Results"]
    if tasks[0]["Status"] != "RUNNING":
        break
    time.sleep(0.1)
task = tasks[0]
assert task["TaskHandle"] == handle and task["Status"] == "COMPLETED", task
assert task["ApproximateNumberOfMessagesMoved"] == 1 and task["ApproximateNumberOfMessagesToMove"] == 1, task
assert task["SourceArn"] == arn("jobs-dlq") and task["MaxNumberOfMessagesPerSecond"] == 50, task
back = receive("jobs", AttributeNames=["ApproximateReceiveCount"], MessageAttributeNames=["All"])
assert [m["Body"] for m in back] == ["poison"], back
assert back[0]["Attributes"]["ApproximateReceiveCount"] == "1", back
assert back[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}

print(json.dumps({
    "not_a_dlq": error(sqs.start_message_move_task, SourceArn=arn("plain")),
    "no_queue": error(sqs.start_message_move_task, SourceArn=arn("missing")),
    "no_task": error(sqs.cancel_message_move_task, TaskHandle="nope"),
    "done": error(sqs.cancel_message_move_task, TaskHandle=handle),
}))
"#,
    );
    assert_eq!(
        out["not_a_dlq"],
        serde_json::json!([
            "InvalidParameterValue",
            "Source queue must be configured as a Dead Letter Queue."
        ])
    );
    assert_eq!(out["no_queue"][0], "ResourceNotFoundException");
    assert_eq!(
        out["no_task"],
        serde_json::json!(["ResourceNotFoundException", "Task does not exist."])
    );
    assert_eq!(out["done"][0], "ResourceNotFoundException");
}

#[test]
fn a_move_task_can_be_cancelled() {
    let host = Host::start(ROUTES);
    boto3(
        &host,
        r#"
q = url("jobs")
for i in range(5):
    sqs.send_message(QueueUrl=q, MessageBody=str(i))
for _ in range(3):
    receive("jobs", VisibilityTimeout=0, MaxNumberOfMessages=10)
deadline = time.time() + 10
while sqs.get_queue_attributes(QueueUrl=url("jobs-dlq"), AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] != "5":
    assert time.time() < deadline
    receive("jobs", VisibilityTimeout=0, MaxNumberOfMessages=10)
handle = sqs.start_message_move_task(SourceArn=arn("jobs-dlq"), DestinationArn=arn("plain"), MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
again = error(sqs.start_message_move_task, SourceArn=arn("jobs-dlq"))
assert again[0] == "AWS.SimpleQueueService.UnsupportedOperation", again
moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
assert moved < 5, moved
for _ in range(50):
    task = sqs.list_message_move_tasks(SourceArn=arn("jobs-dlq"), MaxResults=10)["Results"][0]
    if task["Status"] == "CANCELLED":
        break
    time.sleep(0.1)
assert task["Status"] == "CANCELLED" and task["DestinationArn"] == arn("plain"), task
left = int(sqs.get_queue_attributes(QueueUrl=url("jobs-dlq"), AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
assert left + task["ApproximateNumberOfMessagesMoved"] == 5 and left > 0, (left, task)
"#,
    );
}

#[test]
fn the_aws_cli_sends_and_receives_with_attributes() {
    let host = Host::start(ROUTES);
    let aws = |args: &[&str]| -> Value {
        let out = Command::new(common::moto::aws_cli())
            .args(["--endpoint-url", &host.url, "--output", "json", "sqs"])
            .args(args)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .expect("the AWS CLI runs");
        assert!(
            out.status.success(),
            "aws sqs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let url = aws(&["get-queue-url", "--queue-name", "plain"])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = aws(&[
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "from the CLI",
        "--message-attributes",
        r#"{"kind": {"DataType": "String", "StringValue": "cli"}}"#,
    ]);
    assert_eq!(
        sent["MD5OfMessageBody"],
        format!("{:032x}", md5_of(b"from the CLI"))
    );
    let got = aws(&[
        "receive-message",
        "--queue-url",
        &url,
        "--message-attribute-names",
        "All",
        "--wait-time-seconds",
        "1",
    ]);
    let message = &got["Messages"][0];
    assert_eq!(message["Body"], "from the CLI");
    assert_eq!(message["MessageId"], sent["MessageId"]);
    assert_eq!(
        message["MessageAttributes"],
        serde_json::json!({"kind": {"DataType": "String", "StringValue": "cli"}})
    );
    assert_eq!(
        message["MD5OfMessageAttributes"],
        sent["MD5OfMessageAttributes"]
    );
}

/// MD5 by Python's hashlib, to check the host's digest against an implementation not its own.
fn md5_of(data: &[u8]) -> u128 {
    let out = Command::new(common::moto::python())
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.md5(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(data)?;
            child.wait_with_output()
        })
        .unwrap();
    u128::from_str_radix(String::from_utf8_lossy(&out.stdout).trim(), 16).unwrap()
}

#[test]
fn a_message_a_pipe_puts_on_a_queue_is_received_by_boto3() {
    let routes = r#"
[tables.orders]
key = "orderId"

[pipes.orders]
source = "orders"
filter = ['{"eventName": ["INSERT"]}']
target = { queue = "new-orders", input_template = '{"order": "<$.dynamodb.Keys.orderId.S>"}' }

[queues.new-orders]
"#;
    let host = Host::start(routes);
    let out = boto3(
        &host,
        r#"
import urllib.request
request = urllib.request.Request(sys.argv[1] + "/orders", data=json.dumps({"orderId": "o-1", "total": 5}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
assert urllib.request.urlopen(request).status == 201
got = receive("new-orders", WaitTimeSeconds=10, MessageSystemAttributeNames=["All"])
assert len(got) == 1, got
assert got[0]["MD5OfBody"] == md5(got[0]["Body"].encode())
sqs.delete_message(QueueUrl=url("new-orders"), ReceiptHandle=got[0]["ReceiptHandle"])
left = sqs.get_queue_attributes(QueueUrl=url("new-orders"), AttributeNames=["All"])["Attributes"]
assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0", left
print(json.dumps(json.loads(got[0]["Body"])))
"#,
    );
    assert_eq!(out, serde_json::json!({"order": "o-1"}));
}

/// A host whose queue `notifications` the `notify` consumer plugin reads, with `routes` besides.
fn notified(routes: &str) -> Host {
    common::build_rust_plugins();
    Host::start(&format!(
        r#"{routes}
[plugins.notify]
world = "consumer"
wasm = "{}"

[queues.notifications]

[consumers.notify]
queue = "notifications"
handler = "notify"
"#,
        common::pipeline::wasm("notify.wasm")
    ))
}

#[test]
fn an_item_put_through_the_dynamodb_api_reaches_the_consumer_plugin_through_the_pipe() {
    let host = notified(
        r#"
[tables.orders]
key = "orderId"

[pipes.orders]
source = "orders"
filter = ['{"eventName": ["INSERT"]}']
target = { queue = "notifications" }
"#,
    );
    boto3(
        &host,
        r#"
ddb = boto3.client("dynamodb", endpoint_url=sys.argv[1])
ddb.put_item(TableName="orders", Item={"orderId": {"S": "o-ddb"}, "total": {"N": "12"}})
"#,
    );
    let seen = common::pipeline::wait_for(&host, "the consumer to handle o-ddb", |seen| {
        seen.iter().any(|h| h.order == "o-ddb")
    });
    assert!(
        seen.iter()
            .any(|h| h.order == "o-ddb" && h.plugin == "notify")
    );
}

#[test]
fn a_message_boto3_sends_reaches_the_queues_consumer_plugin() {
    let host = notified("");
    boto3(
        &host,
        r#"
body = {"dynamodb": {"Keys": {"orderId": {"S": "o-sdk"}}}, "customerTier": "gold"}
sqs.send_message(QueueUrl=url("notifications"), MessageBody=json.dumps(body))
"#,
    );
    let seen = common::pipeline::wait_for(&host, "the consumer to handle o-sdk", |seen| {
        seen.iter().any(|h| h.order == "o-sdk")
    });
    let handled = seen.iter().find(|h| h.order == "o-sdk").unwrap();
    assert_eq!(
        (handled.plugin.as_str(), handled.tier.as_str()),
        ("notify", "gold")
    );
    boto3(
        &host,
        r#"
deadline = time.time() + 10
while True:
    left = sqs.get_queue_attributes(QueueUrl=url("notifications"), AttributeNames=["All"])["Attributes"]
    if left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0":
        break
    assert time.time() < deadline, left
    time.sleep(0.1)
"#,
    );
}

#[test]
fn a_queue_a_consumer_plugin_reads_is_shared_with_a_boto3_poller_as_two_sqs_pollers_share_it() {
    let host = notified("");
    let out = boto3(
        &host,
        r#"
q = url("notifications")
taken, done = [], threading.Event()
def poll():
    while not done.is_set():
        for m in receive("notifications", WaitTimeSeconds=1, MaxNumberOfMessages=10):
            taken.append(json.loads(m["Body"])["dynamodb"]["Keys"]["orderId"]["S"])
            sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
poller = threading.Thread(target=poll)
poller.start()
for i in range(60):
    body = {"dynamodb": {"Keys": {"orderId": {"S": f"o-{i}"}}}, "customerTier": "gold"}
    sqs.send_message(QueueUrl=q, MessageBody=json.dumps(body))
    time.sleep(0.02)
deadline = time.time() + 30
while True:
    left = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
    if left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0":
        break
    assert time.time() < deadline, left
    time.sleep(0.1)
done.set()
poller.join()
print(json.dumps(taken))
"#,
    );
    let taken: Vec<String> = serde_json::from_value(out).unwrap();
    let handled = common::pipeline::wait_for(&host, "the consumer's share", |seen| {
        seen.len() + taken.len() >= 60
    });
    let by_plugin: std::collections::BTreeSet<&str> =
        handled.iter().map(|h| h.order.as_str()).collect();
    let by_boto3: std::collections::BTreeSet<&str> = taken.iter().map(String::as_str).collect();
    assert_eq!(
        (by_plugin.len(), by_boto3.len()),
        (handled.len(), taken.len()),
        "no message is handled twice"
    );
    assert!(by_plugin.is_disjoint(&by_boto3), "no message reaches both");
    assert_eq!(
        by_plugin.len() + by_boto3.len(),
        60,
        "every message reaches one"
    );
    assert!(
        !by_plugin.is_empty() && !by_boto3.is_empty(),
        "both pollers get a share: the plugin {}, boto3 {}",
        by_plugin.len(),
        by_boto3.len()
    );
}
