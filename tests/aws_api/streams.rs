//! The streams API through boto3 and the AWS CLI.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Host, moto};

/// Two tables: `orders` keyed by `orderId`, and `events` keyed by `id` and sorted by
/// `createdAt`, which keeps only new images.
const ROUTES: &str = r#"
[tables.orders]
key = "orderId"

[tables.events]
key = "id"
sort_key = "createdAt"
stream_view_type = "NEW_IMAGE"
"#;

/// Runs a Python script with boto3's `dynamodbstreams` client as `streams` (pointed at the
/// host), `ClientError`, and `out`, which it prints as JSON at the end: timestamps as seconds
/// since the epoch, and boto3's own types named where a test asks (`type_of`).
fn boto3(host: &Host, script: &str) -> Value {
    let prelude = r#"
import json, os, sys, datetime, decimal
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from boto3.dynamodb.types import TypeDeserializer
streams = boto3.client("dynamodbstreams", endpoint_url=os.environ["HOST_URL"])
unchecked = boto3.client("dynamodbstreams", endpoint_url=os.environ["HOST_URL"],
                         config=Config(parameter_validation=False))
def encode(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(repr(value))
def error_of(call):
    try:
        call()
    except ClientError as err:
        return {"code": err.response["Error"]["Code"], "message": err.response["Error"]["Message"],
                "status": err.response["ResponseMetadata"]["HTTPStatusCode"]}
    return None
out = {}
"#;
    let epilogue = "\nprint(json.dumps(out, default=encode))\n";
    let output = Command::new(moto::python())
        .arg("-c")
        .arg(format!("{prelude}{script}{epilogue}"))
        .env("HOST_URL", &host.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the boto3 script failed: {}\nhost log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        host.logs()
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

async fn post(host: &Host, table: &str, body: Value) -> Value {
    let response = Host::client()
        .post(format!("{}/{table}", host.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// The change records of a table as the admin endpoint (and so the pipes) see them.
async fn pipe_records(host: &Host, table: &str) -> Vec<Value> {
    host.records(table).await
}

fn sequence_numbers(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn list_streams_names_each_table_stream_by_the_arn_its_records_carry_and_pages() {
    let host = Host::start(ROUTES);
    post(&host, "orders", json!({"total": 1})).await;
    post(&host, "events", json!({"id": "e-1"})).await;
    let orders_arn = pipe_records(&host, "orders").await[0]["eventSourceARN"].clone();
    let events_arn = pipe_records(&host, "events").await[0]["eventSourceARN"].clone();

    let out = boto3(
        &host,
        r#"
out["all"] = streams.list_streams()["Streams"]
first = streams.list_streams(Limit=1)
out["first"] = first["Streams"]
out["first_last"] = first.get("LastEvaluatedStreamArn")
rest = streams.list_streams(Limit=1, ExclusiveStartStreamArn=first["LastEvaluatedStreamArn"])
out["rest"] = rest["Streams"]
out["rest_last"] = rest.get("LastEvaluatedStreamArn")
out["orders"] = streams.list_streams(TableName="orders")["Streams"]
"#,
    );

    let stream = |table: &str, arn: &Value| json!({"StreamArn": arn, "TableName": table, "StreamLabel": "embedded"});
    let (events, orders) = (stream("events", &events_arn), stream("orders", &orders_arn));
    assert_eq!(out["all"], json!([events, orders]));
    assert_eq!(out["first"], json!([events]));
    assert_eq!(out["first_last"], events_arn);
    assert_eq!(out["rest"], json!([orders]));
    assert_eq!(out["rest_last"], Value::Null, "the last page says no more");
    assert_eq!(out["orders"], json!([orders]));
}

#[tokio::test]
async fn describe_stream_gives_a_composite_tables_key_schema_and_its_one_open_shard() {
    let host = Host::start(ROUTES);
    post(&host, "events", json!({"id": "e-1"})).await;
    post(&host, "events", json!({"id": "e-2"})).await;
    let records = pipe_records(&host, "events").await;
    let arn = records[0]["eventSourceARN"].as_str().unwrap();

    let out = boto3(
        &host,
        &format!(
            r#"
described = streams.describe_stream(StreamArn="{arn}")["StreamDescription"]
out["created_is_datetime"] = isinstance(described.pop("CreationRequestDateTime"), datetime.datetime)
out["described"] = described
shard = described["Shards"][0]["ShardId"]
out["after_last_shard"] = streams.describe_stream(StreamArn="{arn}", ExclusiveStartShardId=shard)["StreamDescription"]["Shards"]
out["children"] = streams.describe_stream(StreamArn="{arn}", ShardFilter={{"Type": "CHILD_SHARDS", "ShardId": shard}})["StreamDescription"]["Shards"]
"#
        ),
    );

    assert_eq!(out["created_is_datetime"], true);
    assert_eq!(
        out["described"],
        json!({
            "StreamArn": arn,
            "StreamLabel": "embedded",
            "StreamStatus": "ENABLED",
            "StreamViewType": "NEW_IMAGE",
            "TableName": "events",
            "KeySchema": [
                {"AttributeName": "id", "KeyType": "HASH"},
                {"AttributeName": "createdAt", "KeyType": "RANGE"},
            ],
            "Shards": [{
                "ShardId": "shardId-00000000000000000000-embedded",
                "SequenceNumberRange": {
                    "StartingSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                },
            }],
        })
    );
    assert_eq!(out["after_last_shard"], json!([]));
    assert_eq!(
        out["children"],
        json!([]),
        "the embedded shard never splits"
    );
}

#[tokio::test]
async fn get_records_reads_the_records_the_pipes_read_in_dynamodb_streams_shape() {
    let host = Host::start(ROUTES);
    let client = Host::client();
    let created = post(
        &host,
        "orders",
        json!({"orderId": "o-1", "total": 42.5, "lines": [{"sku": "a", "qty": 2}], "gift": true, "note": null}),
    )
    .await;
    assert_eq!(created["orderId"], "o-1");
    let patched = client
        .patch(format!("{}/orders/o-1", host.url))
        .header("if-match", "\"1\"")
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"total": 50}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let deleted = client
        .delete(format!("{}/orders/o-1", host.url))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let expected = pipe_records(&host, "orders").await;
    let arn = expected[0]["eventSourceARN"].as_str().unwrap();

    let out = boto3(
        &host,
        &format!(
            r#"
shard = streams.describe_stream(StreamArn="{arn}")["StreamDescription"]["Shards"][0]["ShardId"]
iterator = streams.get_shard_iterator(StreamArn="{arn}", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = streams.get_records(ShardIterator=iterator)
records = got["Records"]
out["records"] = records
out["has_next"] = "NextShardIterator" in got
out["times_are_datetimes"] = all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], datetime.datetime) for r in records)
deserialize = TypeDeserializer().deserialize
out["new_image"] = {{name: deserialize(value) for name, value in records[0]["dynamodb"]["NewImage"].items()}}
out["new_image_types"] = {{name: type(value).__name__ for name, value in out["new_image"].items()}}
"#
        ),
    );

    let mut without_arn = expected.clone();
    for record in &mut without_arn {
        record.as_object_mut().unwrap().remove("eventSourceARN");
        let seconds = record["dynamodb"]["ApproximateCreationDateTime"]
            .as_f64()
            .unwrap();
        record["dynamodb"]["ApproximateCreationDateTime"] = json!(seconds);
    }
    assert_eq!(out["records"], json!(without_arn));
    let names: Vec<&str> = expected
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    assert_eq!(
        out["has_next"], true,
        "an open shard always has a next iterator"
    );
    assert_eq!(out["times_are_datetimes"], true);
    let image = &out["new_image"];
    assert_eq!(image["orderId"], "o-1");
    assert_eq!(image["total"], 42.5);
    assert_eq!(image["lines"], json!([{"sku": "a", "qty": 2.0}]));
    assert_eq!(image["gift"], true);
    assert_eq!(image["note"], Value::Null);
    assert_eq!(image["version"], 1.0);
    assert_eq!(
        out["new_image_types"],
        json!({"orderId": "str", "total": "Decimal", "lines": "list", "gift": "bool",
               "note": "NoneType", "version": "Decimal", "createdAt": "str", "updatedAt": "str"})
    );
}

#[tokio::test]
async fn each_iterator_type_starts_where_dynamodb_starts_it_and_next_iterators_page_on() {
    let host = Host::start(ROUTES);
    for n in 1..=3 {
        post(&host, "orders", json!({"orderId": format!("o-{n}")})).await;
    }
    let records = pipe_records(&host, "orders").await;
    let arn = records[0]["eventSourceARN"].as_str().unwrap().to_string();
    let seqs: Vec<String> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let first = boto3(
        &host,
        &format!(
            r#"
arn, second = "{arn}", "{second}"
shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
def iterator(kind, **extra):
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]
def read(kind, **extra):
    return streams.get_records(ShardIterator=iterator(kind, **extra))["Records"]
out["trim_horizon"] = read("TRIM_HORIZON")
out["at"] = read("AT_SEQUENCE_NUMBER", SequenceNumber=second)
out["after"] = read("AFTER_SEQUENCE_NUMBER", SequenceNumber=second)
out["at_past_time"] = read("AT_TIMESTAMP", Timestamp=datetime.datetime(2020, 1, 1))
out["at_future_time"] = read("AT_TIMESTAMP", Timestamp=datetime.datetime(2100, 1, 1))
latest = streams.get_records(ShardIterator=iterator("LATEST"))
out["latest"] = latest["Records"]
out["latest_next"] = latest["NextShardIterator"]
pages, at = [], iterator("TRIM_HORIZON")
while True:
    got = streams.get_records(ShardIterator=at, Limit=1)
    if not got["Records"]:
        break
    pages.append(got["Records"])
    at = got["NextShardIterator"]
out["pages"] = pages
"#,
            second = seqs[1]
        ),
    );
    assert_eq!(sequence_numbers(&first["trim_horizon"]), seqs);
    assert_eq!(sequence_numbers(&first["at"]), seqs[1..]);
    assert_eq!(sequence_numbers(&first["after"]), seqs[2..]);
    assert_eq!(sequence_numbers(&first["at_past_time"]), seqs);
    assert_eq!(first["at_future_time"], json!([]));
    assert_eq!(
        first["latest"],
        json!([]),
        "LATEST starts after the newest record"
    );
    let pages = first["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3, "Limit=1 reads one record a call");
    let paged: Vec<String> = pages.iter().flat_map(sequence_numbers).collect();
    assert_eq!(paged, seqs);

    // An empty read's next iterator waits where it was: the next write is what it reads.
    post(&host, "orders", json!({"orderId": "o-4"})).await;
    let next = boto3(
        &host,
        &format!(
            r#"out["records"] = streams.get_records(ShardIterator="{}")["Records"]"#,
            first["latest_next"].as_str().unwrap()
        ),
    );
    let keys: Vec<&str> = next["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dynamodb"]["Keys"]["orderId"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["o-4"]);
}

#[tokio::test]
async fn bad_requests_get_dynamodb_streams_own_errors() {
    let host = Host::start(ROUTES);
    post(&host, "orders", json!({"orderId": "o-1"})).await;
    let arn = pipe_records(&host, "orders").await[0]["eventSourceARN"]
        .as_str()
        .unwrap()
        .to_string();

    let out = boto3(
        &host,
        &format!(
            r#"
arn = "{arn}"
shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
unknown_arn = arn.replace("table/orders/", "table/nothing/")
out["malformed_arn"] = error_of(lambda: streams.describe_stream(StreamArn="x" * 40))
out["unknown_stream"] = error_of(lambda: streams.describe_stream(StreamArn=unknown_arn))
out["unknown_table"] = error_of(lambda: streams.list_streams(TableName="nothing"))
out["unknown_shard"] = error_of(lambda: streams.get_shard_iterator(
    StreamArn=arn, ShardId="shardId-00000000000000000000-elsewhere", ShardIteratorType="LATEST"))
out["no_sequence_number"] = error_of(lambda: streams.get_shard_iterator(
    StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER"))
out["sequence_number_with_latest"] = error_of(lambda: streams.get_shard_iterator(
    StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST", SequenceNumber="1" * 21))
out["bad_type"] = error_of(lambda: unchecked.get_shard_iterator(
    StreamArn=arn, ShardId=shard, ShardIteratorType="SOMEWHERE"))
out["bad_iterator"] = error_of(lambda: streams.get_records(ShardIterator="not-an-iterator"))
out["limits"] = error_of(lambda: unchecked.get_records(ShardIterator="x", Limit=1001))
out["list_limits"] = error_of(lambda: unchecked.list_streams(Limit=0))
"#
        ),
    );

    let error =
        |code: &str, message: &str| json!({"code": code, "message": message, "status": 400});
    assert_eq!(
        out["malformed_arn"],
        error(
            "ValidationException",
            &format!("Invalid StreamArn: {}", "x".repeat(40))
        )
    );
    let unknown = arn.replace("table/orders/", "table/nothing/");
    assert_eq!(
        out["unknown_stream"],
        error(
            "ResourceNotFoundException",
            &format!("Requested resource not found: Stream: {unknown} not found")
        )
    );
    assert_eq!(
        out["unknown_table"],
        error(
            "ResourceNotFoundException",
            "Requested resource not found: Table: nothing not found"
        )
    );
    assert_eq!(
        out["unknown_shard"],
        error(
            "ResourceNotFoundException",
            "Requested resource not found: Shard does not exist: shardId-00000000000000000000-elsewhere"
        )
    );
    assert_eq!(
        out["no_sequence_number"],
        error(
            "ValidationException",
            "SequenceNumber is required for ShardIteratorType AT_SEQUENCE_NUMBER"
        )
    );
    assert_eq!(
        out["sequence_number_with_latest"],
        error(
            "ValidationException",
            "SequenceNumber is not allowed with ShardIteratorType LATEST"
        )
    );
    assert_eq!(
        out["bad_type"],
        error(
            "ValidationException",
            "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to \
             satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, \
             AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP]"
        )
    );
    assert_eq!(
        out["bad_iterator"],
        error("ValidationException", "Invalid ShardIterator")
    );
    assert_eq!(
        out["limits"],
        error(
            "ValidationException",
            "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: \
             Member must have value less than or equal to 1000"
        )
    );
    assert_eq!(
        out["list_limits"],
        error(
            "ValidationException",
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        )
    );
}

#[tokio::test]
async fn the_aws_cli_describes_a_stream_at_the_hosts_endpoint() {
    let host = Host::start(ROUTES);
    post(&host, "orders", json!({"orderId": "o-1"})).await;
    let arn = pipe_records(&host, "orders").await[0]["eventSourceARN"]
        .as_str()
        .unwrap()
        .to_string();

    let output = Command::new(moto::aws_cli())
        .args([
            "dynamodbstreams",
            "describe-stream",
            "--stream-arn",
            &arn,
            "--endpoint-url",
            &host.url,
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("the AWS CLI runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let described: Value = serde_json::from_slice(&output.stdout).unwrap();
    let description = &described["StreamDescription"];
    assert_eq!(description["StreamArn"], arn);
    assert_eq!(description["TableName"], "orders");
    assert_eq!(
        description["KeySchema"],
        json!([{"AttributeName": "orderId", "KeyType": "HASH"}])
    );
    assert_eq!(
        description["Shards"][0]["ShardId"],
        "shardId-00000000000000000000-embedded"
    );
}
