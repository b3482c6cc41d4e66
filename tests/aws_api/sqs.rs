//! The sqs API through boto3 and the AWS CLI.
//!
//! Each test starts the host on its own routes.toml and runs a boto3 script against it; the
//! script asserts what it can see and prints JSON for the rest. The MD5 digests SQS returns
//! are checked against Python's own implementation of SQS's algorithm, and against moto's.

use std::process::Command;

use serde_json::Value;

use crate::common::{self, Host};

pub(crate) const ROUTES: &str = r#"
[queues.jobs]
visibility_timeout = "30s"
retention = "2d"
dlq = "jobs-dlq"
max_receive_count = 2

[queues.jobs-dlq]

[queues.plain]
delay = "0s"

[queues.delayed]
delay = "1s"

[queues."orders.fifo"]
fifo = true

[queues."events.fifo"]
fifo = true
content_based_deduplication = true
"#;

/// What every script starts with: an SQS client on the host, helpers to read an error's code
/// and SQS's attribute digest, written independently of the host's.
const PRELUDE: &str = r#"
import hashlib, json, struct, sys, threading, time
import boto3, botocore
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
ACCOUNT = "000000000000"
def url(name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]
def arn(name):
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
def error(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call} succeeded")
def md5(data):
    return hashlib.md5(data).hexdigest()
def attributes_md5(attributes):
    encoded = b""
    def prefixed(b):
        return struct.pack(">I", len(b)) + b
    for name in sorted(attributes):
        a = attributes[name]
        encoded += prefixed(name.encode()) + prefixed(a["DataType"].encode())
        if "BinaryValue" in a:
            encoded += b"\x02" + prefixed(a["BinaryValue"])
        else:
            encoded += b"\x01" + prefixed(a["StringValue"].encode())
    return md5(encoded)
def receive(name, **kwargs):
    return sqs.receive_message(QueueUrl=url(name), **kwargs).get("Messages", [])
"#;

/// Runs a boto3 script against the host; returns what it printed last, as JSON (`null` when it
/// printed nothing). A failed assertion in the script fails the test with its output.
pub(crate) fn boto3(host: &Host, script: &str) -> Value {
    let out = Command::new(common::moto::python())
        .arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .arg(&host.url)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the script failed:\n{}\n{stdout}\nthe host's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        host.logs()
    );
    stdout
        .lines()
        .last()
        .map_or(Value::Null, |line| serde_json::from_str(line).unwrap())
}

#[test]
fn queue_urls_and_attributes_are_those_routes_toml_declares() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
u = url("jobs")
assert u.endswith(f"/{ACCOUNT}/jobs"), u
assert u.startswith("http://"), u
# Any host part names the queue, and so does the name alone.
other = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
for q in (u, other, "jobs"):
    assert sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == arn("jobs")

names = [q.rsplit("/", 1)[1] for q in sqs.list_queues()["QueueUrls"]]
assert names == ["delayed", "events.fifo", "jobs", "jobs-dlq", "orders.fifo", "plain"], names
assert [q.rsplit("/", 1)[1] for q in sqs.list_queues(QueueNamePrefix="jobs")["QueueUrls"]] == ["jobs", "jobs-dlq"]
assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="nothing")
pages, token = [], None
while True:
    page = sqs.list_queues(MaxResults=4, **({"NextToken": token} if token else {}))
    pages.append([q.rsplit("/", 1)[1] for q in page["QueueUrls"]])
    token = page.get("NextToken")
    if not token:
        break
assert pages == [["delayed", "events.fifo", "jobs", "jobs-dlq"], ["orders.fifo", "plain"]], pages

jobs = sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
fifo = sqs.get_queue_attributes(QueueUrl=url("events.fifo"), AttributeNames=["All"])["Attributes"]
some = sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["VisibilityTimeout", "ApproximateNumberOfMessages"])["Attributes"]
assert sqs.get_queue_attributes(QueueUrl=u).get("Attributes") is None
bad_name = error(sqs.get_queue_attributes, QueueUrl=u, AttributeNames=["Colour"])
print(json.dumps({"jobs": jobs, "fifo": fifo, "some": some, "bad_name": bad_name}))
"#,
    );
    let jobs = &out["jobs"];
    let created = jobs["CreatedTimestamp"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(created > 1_700_000_000, "routes.toml's time: {created}");
    let mut expected = serde_json::json!({
        "VisibilityTimeout": "30",
        "MessageRetentionPeriod": "172800",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0",
        "MaximumMessageSize": "262144",
        "QueueArn": "arn:aws:sqs:us-east-1:000000000000:jobs",
        "RedrivePolicy": r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:jobs-dlq","maxReceiveCount":2}"#,
        "SqsManagedSseEnabled": "false",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
    });
    expected["CreatedTimestamp"] = jobs["CreatedTimestamp"].clone();
    expected["LastModifiedTimestamp"] = jobs["CreatedTimestamp"].clone();
    assert_eq!(*jobs, expected);
    assert_eq!(out["fifo"]["FifoQueue"], "true");
    assert_eq!(out["fifo"]["ContentBasedDeduplication"], "true");
    assert_eq!(out["fifo"]["DeduplicationScope"], "queue");
    assert_eq!(
        out["some"],
        serde_json::json!({"VisibilityTimeout": "30", "ApproximateNumberOfMessages": "0"})
    );
    assert_eq!(
        out["bad_name"],
        serde_json::json!(["InvalidAttributeName", "Unknown Attribute Colour."])
    );
}

#[test]
fn create_and_set_succeed_only_as_routes_toml_declares() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
# As declared: the queue's URL, as SQS answers for a queue that exists alike.
made = sqs.create_queue(QueueName="jobs", Attributes={
    "VisibilityTimeout": "30", "MessageRetentionPeriod": "172800",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn("jobs-dlq"), "maxReceiveCount": "2"}),
    "Policy": "{}"})
assert made["QueueUrl"] == url("jobs")
assert sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"] == url("events.fifo")
sqs.set_queue_attributes(QueueUrl=url("jobs"), Attributes={"VisibilityTimeout": "30", "DelaySeconds": "0"})

try:
    sqs.get_queue_url(QueueName="missing")
    raise AssertionError("missing has a URL")
except sqs.exceptions.QueueDoesNotExist as e:
    missing = (e.response["Error"]["Code"], e.response["Error"]["Message"])
try:
    sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})
    raise AssertionError("jobs was made again")
except sqs.exceptions.QueueNameExists as e:
    differs = (e.response["Error"]["Code"], e.response["Error"]["Message"])
print(json.dumps({
    "missing": missing,
    "differs": differs,
    "undeclared": error(sqs.create_queue, QueueName="brand-new"),
    "set": error(sqs.set_queue_attributes, QueueUrl=url("plain"), Attributes={"VisibilityTimeout": "5"}),
    "read_only": error(sqs.set_queue_attributes, QueueUrl=url("plain"), Attributes={"QueueArn": "x"}),
    "send_to_missing": error(sqs.send_message, QueueUrl="http://localhost/000000000000/missing", MessageBody="x"),
    "delete": error(sqs.delete_queue, QueueUrl=url("plain")),
}))
"#,
    );
    let hint = "Switchyard serves the queues routes.toml declares, as declared there; declare the queue as";
    assert_eq!(
        out["missing"],
        serde_json::json!([
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist. No queue `missing` is declared in routes.toml (declared: `delayed`, `events.fifo`, `jobs`, `jobs-dlq`, `orders.fifo`, `plain`)."
        ])
    );
    assert_eq!(out["differs"][0], "QueueAlreadyExists");
    assert_eq!(
        out["differs"][1],
        format!(
            "A queue already exists with the same name and a different value for attribute VisibilityTimeout (routes.toml declares 30): {hint} [queues.jobs] in routes.toml (or change it there) and restart the host"
        )
    );
    assert_eq!(
        out["undeclared"],
        serde_json::json!([
            "AWS.SimpleQueueService.UnsupportedOperation",
            format!(
                "queue `brand-new` is not declared in routes.toml: {hint} [queues.brand-new] in routes.toml (or change it there) and restart the host"
            )
        ])
    );
    assert_eq!(out["set"][0], "InvalidAttributeValue");
    assert_eq!(
        out["set"][1],
        format!(
            "Invalid value for the parameter VisibilityTimeout (routes.toml declares 30): {hint} [queues.plain] in routes.toml (or change it there) and restart the host"
        )
    );
    assert_eq!(
        out["read_only"],
        serde_json::json!(["InvalidAttributeName", "Unknown Attribute QueueArn."])
    );
    assert_eq!(
        out["send_to_missing"][0],
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    assert_eq!(
        out["delete"][0],
        "AWS.SimpleQueueService.UnsupportedOperation"
    );
}

#[test]
fn messages_keep_their_attributes_and_carry_sqss_md5_digests() {
    let host = Host::start(ROUTES);
    boto3(
        &host,
        r#"
from moto.sqs.models import Message as MotoMessage
attributes = {
    "kind": {"DataType": "String", "StringValue": "order ✓"},
    "order.total": {"DataType": "Number", "StringValue": "12.50"},
    "order.id": {"DataType": "String.uuid", "StringValue": "0193"},
    "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x9f\xff"},
}
body = "héllo, wörld 🌍"
sent = sqs.send_message(QueueUrl=url("plain"), MessageBody=body, MessageAttributes=attributes,
                        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
assert sent["MD5OfMessageBody"] == md5(body.encode()), sent
assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes), sent
# moto's implementation of the same digest agrees.
moto = MotoMessage("id", body)
moto.message_attributes = attributes  # moto hashes binary values as bytes
assert moto.attribute_md5 == sent["MD5OfMessageAttributes"]
assert len(sent["MD5OfMessageSystemAttributes"]) == 32

got = receive("plain", MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
assert len(got) == 1, got
m = got[0]
assert m["MessageId"] == sent["MessageId"]
assert m["Body"] == body and m["MD5OfBody"] == md5(body.encode())
assert m["MessageAttributes"] == attributes, m["MessageAttributes"]
assert m["MD5OfMessageAttributes"] == attributes_md5(attributes)
system = m["Attributes"]
assert system["ApproximateReceiveCount"] == "1", system
assert system["SenderId"] == ACCOUNT
# The sender's trace header comes back, as SQS gives it back.
assert system["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793", system
now = time.time() * 1000
assert now - 60000 < int(system["SentTimestamp"]) <= int(system["ApproximateFirstReceiveTimestamp"]) <= now + 1000, system

# Only the attributes asked for, by name or by prefix, and their digest alone.
sqs.change_message_visibility(QueueUrl=url("plain"), ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
again = receive("plain", MessageAttributeNames=["order.*"], AttributeNames=["SentTimestamp"])[0]
chosen = {k: v for k, v in attributes.items() if k.startswith("order.")}
assert again["MessageAttributes"] == chosen, again
assert again["MD5OfMessageAttributes"] == attributes_md5(chosen)
assert list(again["Attributes"]) == ["SentTimestamp"], again["Attributes"]
sqs.change_message_visibility(QueueUrl=url("plain"), ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
bare = receive("plain")[0]
assert "MessageAttributes" not in bare and "Attributes" not in bare, bare
second = receive("plain")  # hidden for the queue's visibility timeout
assert second == [], second

sqs.delete_message(QueueUrl=url("plain"), ReceiptHandle=bare["ReceiptHandle"])
sqs.delete_message(QueueUrl=url("plain"), ReceiptHandle=bare["ReceiptHandle"])  # twice is fine, as on SQS
counts = sqs.get_queue_attributes(QueueUrl=url("plain"), AttributeNames=["All"])["Attributes"]
assert counts["ApproximateNumberOfMessages"] == "0" and counts["ApproximateNumberOfMessagesNotVisible"] == "0", counts
"#,
    );
}

#[test]
fn sends_are_checked_as_sqs_checks_them() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
q = url("plain")
eleven = {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)}
print(json.dumps({
    "control": error(sqs.send_message, QueueUrl=q, MessageBody="bad\x01"),
    "too_long": error(sqs.send_message, QueueUrl=q, MessageBody="x" * 262145),
    "too_long_with_attributes": error(sqs.send_message, QueueUrl=q, MessageBody="x" * 262100,
        MessageAttributes={"a": {"DataType": "String", "StringValue": "y" * 100}}),
    "eleven": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes=eleven),
    "name": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "y"}}),
    "type": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes={"a": {"DataType": "Text", "StringValue": "y"}}),
    "number": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes={"a": {"DataType": "Number", "StringValue": "ten"}}),
    "empty": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes={"a": {"DataType": "String", "StringValue": ""}}),
    "delay": error(sqs.send_message, QueueUrl=q, MessageBody="x", DelaySeconds=901),
    "dedup_on_standard": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageDeduplicationId="d"),
    "max": error(sqs.receive_message, QueueUrl=q, MaxNumberOfMessages=11),
    "wait": error(sqs.receive_message, QueueUrl=q, WaitTimeSeconds=21),
}))
assert sqs.send_message(QueueUrl=q, MessageBody="x" * 262144)["MessageId"]
"#,
    );
    let expect = |key: &str, code: &str, message: &str| {
        assert_eq!(
            out[key],
            serde_json::json!([code, message]),
            "the answer to `{key}`"
        );
    };
    expect(
        "control",
        "InvalidMessageContents",
        "Invalid binary character '#x1' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    );
    let too_long =
        "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.";
    expect("too_long", "InvalidParameterValue", too_long);
    expect(
        "too_long_with_attributes",
        "InvalidParameterValue",
        too_long,
    );
    expect(
        "eleven",
        "InvalidParameterValue",
        "Number of message attributes [11] exceeds the allowed maximum [10].",
    );
    assert_eq!(out["name"][0], "InvalidParameterValue");
    expect(
        "type",
        "InvalidParameterValue",
        "The type of message (user) attribute 'a' is invalid. You must use only the following supported type prefixes: Binary, Number, String.",
    );
    expect(
        "number",
        "InvalidParameterValue",
        "Can't cast the value of message (user) attribute 'a' to a number.",
    );
    expect(
        "empty",
        "InvalidParameterValue",
        "The message (user) attribute 'a' must contain a non-empty message attribute value for message attribute type 'String'.",
    );
    expect(
        "delay",
        "InvalidParameterValue",
        "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.",
    );
    expect(
        "dedup_on_standard",
        "InvalidParameterValue",
        "Value d for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.",
    );
    expect(
        "max",
        "InvalidParameterValue",
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
    );
    expect(
        "wait",
        "InvalidParameterValue",
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
    );
}

#[test]
fn a_long_poll_waits_for_a_message_and_a_delay_holds_one_back() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
def send_later():
    time.sleep(1)
    sqs.send_message(QueueUrl=url("plain"), MessageBody="late")
threading.Thread(target=send_later).start()
start = time.time()
got = receive("plain", WaitTimeSeconds=10)
waited_for_message = time.time() - start
assert [m["Body"] for m in got] == ["late"], got

start = time.time()
assert receive("plain", WaitTimeSeconds=1) == []
waited_empty = time.time() - start

sqs.send_message(QueueUrl=url("delayed"), MessageBody="queue delay")
sqs.send_message(QueueUrl=url("plain"), MessageBody="own delay", DelaySeconds=2)
delayed = sqs.get_queue_attributes(QueueUrl=url("plain"), AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]
assert delayed == {"ApproximateNumberOfMessagesDelayed": "1"}, delayed
assert receive("delayed") == [] and receive("plain") == []
start = time.time()
assert [m["Body"] for m in receive("delayed", WaitTimeSeconds=5)] == ["queue delay"]
assert [m["Body"] for m in receive("plain", WaitTimeSeconds=5)] == ["own delay"]
print(json.dumps({"message": waited_for_message, "empty": waited_empty}))
"#,
    );
    let message = out["message"].as_f64().unwrap();
    assert!(
        (0.8..5.0).contains(&message),
        "waited {message}s for the send"
    );
    let empty = out["empty"].as_f64().unwrap();
    assert!(
        (0.9..5.0).contains(&empty),
        "waited {empty}s on an empty queue"
    );
}

#[test]
fn a_fifo_queue_keeps_group_order_drops_duplicates_and_wants_a_group() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
q = url("orders.fifo")
ids = [sqs.send_message(QueueUrl=q, MessageBody=f"a{i}", MessageGroupId="a", MessageDeduplicationId=f"a{i}")["MessageId"] for i in range(3)]
dup = sqs.send_message(QueueUrl=q, MessageBody="a0 again", MessageGroupId="a", MessageDeduplicationId="a0")
assert dup["MessageId"] == ids[0], (dup, ids)
sqs.send_message(QueueUrl=q, MessageBody="b0", MessageGroupId="b", MessageDeduplicationId="b0")
got = receive("orders.fifo", MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])
assert [m["Body"] for m in got] == ["a0", "a1", "a2", "b0"], got
assert [m["Attributes"]["MessageGroupId"] for m in got] == ["a", "a", "a", "b"]
# Content-based deduplication needs no id.
e = url("events.fifo")
first = sqs.send_message(QueueUrl=e, MessageBody="same", MessageGroupId="g")["MessageId"]
assert sqs.send_message(QueueUrl=e, MessageBody="same", MessageGroupId="g")["MessageId"] == first
print(json.dumps({
    "no_group": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageDeduplicationId="x"),
    "no_dedup": error(sqs.send_message, QueueUrl=q, MessageBody="x", MessageGroupId="g"),
    "delay": error(sqs.send_message, QueueUrl=e, MessageBody="x", MessageGroupId="g", DelaySeconds=5),
}))
"#,
    );
    assert_eq!(
        out["no_group"],
        serde_json::json!([
            "MissingParameter",
            "The request must contain the parameter MessageGroupId."
        ])
    );
    assert_eq!(
        out["no_dedup"],
        serde_json::json!([
            "InvalidParameterValue",
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        ])
    );
    assert_eq!(
        out["delay"],
        serde_json::json!([
            "InvalidParameterValue",
            "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
        ])
    );
}

#[test]
fn batches_answer_for_each_entry() {
    let host = Host::start(ROUTES);
    let out = boto3(
        &host,
        r#"
q = url("plain")
sent = sqs.send_message_batch(QueueUrl=q, Entries=[
    {"Id": "one", "MessageBody": "1", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}}},
    {"Id": "bad", "MessageBody": "2", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "two"}}},
    {"Id": "three", "MessageBody": "3", "DelaySeconds": 0},
])
assert [s["Id"] for s in sent["Successful"]] == ["one", "three"], sent
ok = sent["Successful"][0]
assert ok["MD5OfMessageBody"] == md5(b"1")
assert ok["MD5OfMessageAttributes"] == attributes_md5({"n": {"DataType": "Number", "StringValue": "1"}})
assert "MD5OfMessageAttributes" not in sent["Successful"][1]

got = receive("plain", MaxNumberOfMessages=10)
assert sorted(m["Body"] for m in got) == ["1", "3"], got
changed = sqs.change_message_visibility_batch(QueueUrl=q, Entries=[
    {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
    {"Id": "b", "ReceiptHandle": "0:stale", "VisibilityTimeout": 0},
])
assert [s["Id"] for s in changed["Successful"]] == ["a"], changed
back = receive("plain", MaxNumberOfMessages=10)
assert [m["Body"] for m in back] == [got[0]["Body"]], back
deleted = sqs.delete_message_batch(QueueUrl=q, Entries=[
    {"Id": "x", "ReceiptHandle": back[0]["ReceiptHandle"]},
    {"Id": "y", "ReceiptHandle": got[1]["ReceiptHandle"]},
])
assert [s["Id"] for s in deleted["Successful"]] == ["x", "y"] and deleted["Failed"] == [], deleted
assert sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}

entries = lambda n: [{"Id": f"e{i}", "MessageBody": "x"} for i in range(n)]
print(json.dumps({
    "failed": sent["Failed"],
    "stale": changed["Failed"],
    "empty": error(sqs.send_message_batch, QueueUrl=q, Entries=[]),
    "eleven": error(sqs.send_message_batch, QueueUrl=q, Entries=entries(11)),
    "repeated": error(sqs.delete_message_batch, QueueUrl=q, Entries=[{"Id": "r", "ReceiptHandle": "h"}] * 2),
    "bad_id": error(sqs.send_message_batch, QueueUrl=q, Entries=[{"Id": "not ok", "MessageBody": "x"}]),
    "too_long": error(sqs.send_message_batch, QueueUrl=q, Entries=[{"Id": f"e{i}", "MessageBody": "x" * 100000} for i in range(3)]),
}))
"#,
    );
    assert_eq!(
        out["failed"],
        serde_json::json!([{
            "Id": "bad",
            "SenderFault": true,
            "Code": "InvalidParameterValue",
            "Message": "Can't cast the value of message (user) attribute 'n' to a number."
        }])
    );
    assert_eq!(
        out["stale"],
        serde_json::json!([{
            "Id": "b",
            "SenderFault": true,
            "Code": "InvalidParameterValue",
            "Message": "Value 0:stale for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
        }])
    );
    let expect = |key: &str, code: &str, message: &str| {
        assert_eq!(out[key], serde_json::json!([code, message]), "`{key}`");
    };
    expect(
        "empty",
        "AWS.SimpleQueueService.EmptyBatchRequest",
        "There should be at least one SendMessageBatchRequestEntry in the request.",
    );
    expect(
        "eleven",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10. You have sent 11.",
    );
    expect(
        "repeated",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "Id r repeated.",
    );
    expect(
        "bad_id",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
    );
    expect(
        "too_long",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 262144 bytes. You have sent 300000 bytes.",
    );
}
