//! The streams API's answers, through `call` on a real embedded store in a temp dir: what the
//! end-to-end tests with boto3 cannot reach (an expired iterator, messages that botocore checks
//! before sending, members boto3 drops).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::iterator::{LIFETIME_MS, ShardIterator, now_ms};
use super::*;
use crate::backend::embedded::SHARD;
use crate::backend::{Item, Write};

const ROUTES: &str = r#"
[tables.orders]
key = "orderId"
"#;

struct Fixture {
    app: App,
    _dir: tempfile::TempDir,
}

fn fixture(routes: &str) -> Fixture {
    let (app, _, dir) = crate::api::tests::embedded_app(routes);
    Fixture { app, _dir: dir }
}

fn arn() -> String {
    stream_arn("us-east-1", "orders")
}

async fn error_of(app: &App, operation: &str, input: Value) -> (String, String) {
    let err = call(app, operation, input).await.unwrap_err();
    (err.kind, err.message)
}

#[test]
fn an_iterator_reads_back_as_it_was_written_and_nothing_else_reads_as_one() {
    let iterator = ShardIterator::new(
        &arn(),
        &ShardId(SHARD.into()),
        Some(SequenceNumber::from_u64(7)),
    );
    let text = iterator.encode();
    assert!(text.starts_with(&format!("{}|1|", arn())));
    assert_eq!(ShardIterator::decode(&text), Some(iterator));
    for bad in ["", "x", "arn|1|", "arn|1|!!!", &format!("{}|1|YQ", arn())] {
        assert_eq!(ShardIterator::decode(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn an_iterator_older_than_15_minutes_is_expired() {
    let f = fixture(ROUTES);
    let mut iterator = ShardIterator::new(&arn(), &ShardId(SHARD.into()), None);
    iterator.issued_ms = now_ms() - LIFETIME_MS - 1000;

    let (kind, message) = error_of(
        &f.app,
        "GetRecords",
        json!({"ShardIterator": iterator.encode()}),
    )
    .await;

    assert_eq!(
        kind,
        "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException"
    );
    assert!(message.starts_with("Iterator expired."), "{message}");
}

#[tokio::test]
async fn get_records_leaves_out_the_event_source_arn_that_only_lambda_and_pipes_add() {
    let f = fixture(ROUTES);
    let table = f.app.config.table_ids().next().unwrap();
    let body = json!({"orderId": "o-1", "total": 3});
    let image = crate::value::image_of(body.as_object().unwrap()).unwrap();
    let item = Item::from_image(&f.app.config[table].key, image);
    let create = Write::Create {
        item,
        idempotency: None,
    };
    f.app.store.write(table, create).await.unwrap();
    let iterator = ShardIterator::new(&arn(), &ShardId(SHARD.into()), None).encode();

    let got = call(&f.app, "GetRecords", json!({"ShardIterator": iterator}))
        .await
        .unwrap();

    let record = &got["Records"][0];
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["dynamodb"]["Keys"], json!({"orderId": {"S": "o-1"}}));
    assert_eq!(record.get("eventSourceARN"), None);
}

#[tokio::test]
async fn every_broken_constraint_is_named_in_one_validation_error() {
    let f = fixture(ROUTES);

    let (kind, message) = error_of(
        &f.app,
        "DescribeStream",
        json!({"Limit": 0, "ShardFilter": {"Type": "PARENT_SHARDS"}}),
    )
    .await;

    assert_eq!(kind, "com.amazonaws.dynamodb.v20120810#ValidationException");
    assert_eq!(
        message,
        "4 validation errors detected: \
         Value null at 'streamArn' failed to satisfy constraint: Member must not be null; \
         Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; \
         Value 'PARENT_SHARDS' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]; \
         Value null at 'shardFilter.shardId' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_a_serialization_error() {
    let f = fixture(ROUTES);

    let (kind, message) = error_of(&f.app, "ListStreams", json!({"Limit": "ten"})).await;

    assert_eq!(kind, "SerializationException");
    assert_eq!(message, "`Limit` must be an integer");
}

#[tokio::test]
async fn a_table_name_outside_dynamodbs_pattern_is_refused() {
    let f = fixture(ROUTES);

    let (_, message) = error_of(&f.app, "ListStreams", json!({"TableName": "or ders"})).await;

    assert_eq!(
        message,
        "1 validation error detected: Value 'or ders' at 'tableName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
}

#[tokio::test]
async fn an_unknown_operation_is_named() {
    let f = fixture(ROUTES);

    let (kind, message) = error_of(&f.app, "ListTables", json!({})).await;

    assert_eq!(kind, "UnknownOperationException");
    assert!(
        message.contains("`DynamoDBStreams_20120810.ListTables`"),
        "{message}"
    );
}

#[tokio::test]
async fn on_the_aws_backend_the_host_sends_readers_to_dynamodb_streams() {
    let f = fixture(&format!("[host]\nbackend = \"aws\"\n{ROUTES}"));

    let (kind, message) = error_of(&f.app, "ListStreams", json!({})).await;

    assert_eq!(kind, "com.amazonaws.dynamodb.v20120810#ValidationException");
    assert!(message.starts_with("on the `aws` backend"), "{message}");
}

#[test]
fn only_dynamodb_stream_arns_are_stream_arns() {
    assert!(is_stream_arn(&arn()));
    assert!(is_stream_arn(
        "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
    ));
    for bad in [
        "arn:aws:dynamodb:us-east-1:000000000000:table/orders",
        "arn:aws:sqs:us-east-1:000000000000:table/orders/stream/embedded",
        "arn:aws:dynamodb:us-east-1:000000000000:table//stream/embedded",
        "orders",
    ] {
        assert!(!is_stream_arn(bad), "{bad}");
    }
}

fn record_of_size(size_bytes: u64) -> StreamRecord {
    StreamRecord {
        event_id: "e".into(),
        event_name: crate::record::EventName::Insert,
        event_version: "1.1".into(),
        event_source: "aws:dynamodb".into(),
        aws_region: "us-east-1".into(),
        dynamodb: crate::record::StreamRecordData {
            approximate_creation_date_time: 1,
            keys: Default::default(),
            new_image: None,
            old_image: None,
            sequence_number: SequenceNumber::from_u64(1),
            size_bytes,
            stream_view_type: "KEYS_ONLY".into(),
        },
        event_source_arn: arn(),
        trace: None,
    }
}

#[test]
fn one_answer_holds_at_most_a_megabyte_of_records_but_always_one() {
    let sized =
        |sizes: &[u64]| -> Vec<StreamRecord> { sizes.iter().map(|&s| record_of_size(s)).collect() };
    let kib = 1024;

    assert_eq!(within_response_size(&sized(&[400 * kib; 2])), 2);
    assert_eq!(within_response_size(&sized(&[400 * kib; 3])), 2);
    assert_eq!(within_response_size(&sized(&[1024 * kib, 1])), 1);
    assert_eq!(within_response_size(&sized(&[2048 * kib, 1])), 1);
    assert_eq!(within_response_size(&[]), 0);
}
