//! DynamoDB Streams (`DynamoDBStreams_20120810`): the tables' change streams, the very records
//! the pipes read, for AWS's own clients (`boto3.client("dynamodbstreams")`, `aws
//! dynamodbstreams`). A stream is named by the ARN its records carry as `eventSourceARN`.
//! The host serves the embedded backend's streams; on the `aws` backend the streams are
//! DynamoDB Streams' own, and a client reads them there.

mod input;
mod iterator;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value, json};

use self::input::Input;
use self::iterator::ShardIterator;
use super::AwsError;
use crate::api::App;
use crate::backend::embedded::stream_arn;
use crate::backend::{Shard, ShardId, StoreError};
use crate::config::{Backend, TableConfig, TableId};
use crate::record::{SequenceNumber, StreamRecord};

/// DynamoDB Streams' errors, in DynamoDB's namespace as the service sends them.
mod errors {
    use crate::api::aws::AwsError;

    const NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";

    pub(super) fn validation(message: impl Into<String>) -> AwsError {
        AwsError::client(format!("{NAMESPACE}ValidationException"), message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> AwsError {
        AwsError::client(format!("{NAMESPACE}ResourceNotFoundException"), message)
    }

    pub(super) fn expired(message: impl Into<String>) -> AwsError {
        AwsError::client(format!("{NAMESPACE}ExpiredIteratorException"), message)
    }
}

/// ListStreams' and DescribeStream's page size, at most and by default.
const MAX_PAGE: i64 = 100;
/// GetRecords' largest `Limit`, and its default.
const MAX_RECORDS: i64 = 1000;
/// The most record data (by `SizeBytes`) one GetRecords answer holds.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;
const ITERATOR_TYPES: [&str; 5] = [
    "TRIM_HORIZON",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "AT_TIMESTAMP",
];
/// The length bounds of AWS's `StreamArn`, `ShardId`, `SequenceNumber` and `ShardIterator`.
const ARN_LENGTH: (usize, usize) = (37, 1024);
const SHARD_ID_LENGTH: (usize, usize) = (28, 65);
const SEQUENCE_NUMBER_LENGTH: (usize, usize) = (21, 40);
const ITERATOR_LENGTH: (usize, usize) = (1, 2048);

pub(super) async fn call(app: &App, operation: &str, input: Value) -> Result<Value, AwsError> {
    const OPERATIONS: [&str; 4] = [
        "ListStreams",
        "DescribeStream",
        "GetShardIterator",
        "GetRecords",
    ];
    if !OPERATIONS.contains(&operation) {
        return Err(AwsError::unknown_operation(&format!(
            "DynamoDBStreams_20120810.{operation}"
        )));
    }
    if app.config.host.backend == Backend::Aws {
        return Err(errors::validation(
            "on the `aws` backend the change streams are DynamoDB Streams' own: read them from \
             DynamoDB Streams (at `aws.endpoint_url`, or AWS's endpoint), not from the host",
        ));
    }
    started();
    match operation {
        "ListStreams" => list_streams(app, &input),
        "DescribeStream" => describe_stream(app, &input).await,
        "GetShardIterator" => get_shard_iterator(app, &input).await,
        _ => get_records(app, &input).await,
    }
}

/// A table's stream, as the API names it.
struct Stream<'a> {
    table: TableId,
    config: &'a TableConfig,
    arn: String,
}

impl Stream<'_> {
    /// The ARN's last part, e.g. `embedded`.
    fn label(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }
}

/// Every table's stream, in ARN order (ListStreams pages by ARN).
fn streams(app: &App) -> Vec<Stream<'_>> {
    let region = &app.config.aws.region;
    let mut streams: Vec<Stream> = app
        .config
        .table_ids()
        .map(|table| {
            let config = &app.config[table];
            Stream {
                table,
                config,
                arn: stream_arn(region, &config.name),
            }
        })
        .collect();
    streams.sort_by(|a, b| a.arn.cmp(&b.arn));
    streams
}

/// The stream an ARN names: a `ValidationException` when it is not a DynamoDB stream ARN, a
/// `ResourceNotFoundException` when no table has that stream.
fn stream<'a>(app: &'a App, arn: &str) -> Result<Stream<'a>, AwsError> {
    if !is_stream_arn(arn) {
        return Err(errors::validation(format!("Invalid StreamArn: {arn}")));
    }
    streams(app)
        .into_iter()
        .find(|s| s.arn == arn)
        .ok_or_else(|| stream_not_found(arn))
}

fn stream_not_found(arn: &str) -> AwsError {
    errors::not_found(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}

/// `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`.
fn is_stream_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, _region, _account, resource] = parts[..] else {
        return false;
    };
    let resource: Vec<&str> = resource.split('/').collect();
    prefix == "arn"
        && !partition.is_empty()
        && service == "dynamodb"
        && matches!(resource[..], ["table", name, "stream", label] if !name.is_empty() && !label.is_empty())
}

/// When the host first answered a streams request: the streams' `CreationRequestDateTime`, as
/// the embedded store keeps no time of its own for when a table's stream began.
fn started() -> f64 {
    static STARTED: OnceLock<f64> = OnceLock::new();
    *STARTED.get_or_init(|| iterator::now_ms() as f64 / 1000.0)
}

fn list_streams(app: &App, input: &Value) -> Result<Value, AwsError> {
    let mut input = Input::new(input)?;
    let table_name = input.string("TableName", (1, 255))?;
    let limit = input.limit("Limit", (1, MAX_PAGE), MAX_PAGE)?;
    let start = input.string("ExclusiveStartStreamArn", ARN_LENGTH)?;
    if let Some(name) = table_name.filter(|n| {
        !n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    }) {
        input.mismatched("TableName", name, "[a-zA-Z0-9_.-]+");
    }
    input.finish()?;
    if let Some(start) = start.filter(|s| !is_stream_arn(s)) {
        return Err(errors::validation(format!(
            "Invalid ExclusiveStartStreamArn: {start}"
        )));
    }
    let streams = streams(app);
    if let Some(name) = table_name
        && !streams.iter().any(|s| s.config.name == name)
    {
        return Err(errors::not_found(format!(
            "Requested resource not found: Table: {name} not found"
        )));
    }
    let listed: Vec<&Stream> = streams
        .iter()
        .filter(|s| table_name.is_none_or(|name| s.config.name == name))
        .filter(|s| start.is_none_or(|start| s.arn.as_str() > start))
        .collect();
    let page = &listed[..limit.min(listed.len())];
    let mut output = json!({
        "Streams": page
            .iter()
            .map(|s| json!({"StreamArn": s.arn, "TableName": s.config.name, "StreamLabel": s.label()}))
            .collect::<Vec<_>>(),
    });
    if listed.len() > page.len()
        && let Some(last) = page.last()
    {
        output["LastEvaluatedStreamArn"] = json!(last.arn);
    }
    Ok(output)
}

async fn describe_stream(app: &App, input: &Value) -> Result<Value, AwsError> {
    let mut input = Input::new(input)?;
    let arn = input.required("StreamArn", ARN_LENGTH)?;
    let limit = input.limit("Limit", (1, MAX_PAGE), MAX_PAGE)?;
    let start = input.string("ExclusiveStartShardId", SHARD_ID_LENGTH)?;
    let mut children_of = None;
    if let Some(filter) = input.structure("ShardFilter")? {
        let mut nested = Input::new(filter)?;
        nested.one_of("Type", &["CHILD_SHARDS"])?;
        children_of = Some(nested.required("ShardId", SHARD_ID_LENGTH)?);
        input.absorb("ShardFilter", nested);
    }
    input.finish()?;
    let stream = stream(app, arn)?;
    let shards = app
        .stream
        .shards(stream.table)
        .await
        .map_err(AwsError::internal)?;
    let after_start = |shard: &&Shard| match start {
        None => true,
        // Shards after the named one, in the stream's order; DynamoDB answers no shards, not
        // an error, for a start it does not know.
        Some(start) => match shards.iter().position(|s| s.id.0 == start) {
            Some(at) => shards[at + 1..].iter().any(|s| s.id == shard.id),
            None => shard.id.0.as_str() > start,
        },
    };
    let selected: Vec<&Shard> = shards
        .iter()
        .filter(|s| {
            children_of.is_none_or(|parent| s.parent.as_ref().is_some_and(|p| p.0 == parent))
        })
        .filter(after_start)
        .collect();
    let page = &selected[..limit.min(selected.len())];
    let mut described = Vec::with_capacity(page.len());
    for shard in page {
        let closed = shards.iter().any(|s| s.parent.as_ref() == Some(&shard.id));
        described.push(describe_shard(app, stream.table, shard, closed).await?);
    }
    let key = &stream.config.key;
    let mut key_schema = vec![json!({"AttributeName": key.partition.name, "KeyType": "HASH"})];
    if let Some(sort) = &key.sort {
        key_schema.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
    }
    let mut description = json!({
        "StreamArn": stream.arn,
        "StreamLabel": stream.label(),
        "StreamStatus": "ENABLED",
        "StreamViewType": stream.config.stream_view_type.as_str(),
        "CreationRequestDateTime": started(),
        "TableName": stream.config.name,
        "KeySchema": key_schema,
        "Shards": described,
    });
    if selected.len() > page.len()
        && let Some(last) = page.last()
    {
        description["LastEvaluatedShardId"] = json!(last.id.0);
    }
    Ok(json!({"StreamDescription": description}))
}

/// A shard's id, parent and sequence number range: from its oldest retained record (or, with
/// none, the next number after its newest) to its newest when the shard is closed.
async fn describe_shard(
    app: &App,
    table: TableId,
    shard: &Shard,
    closed: bool,
) -> Result<Value, AwsError> {
    let oldest = match app
        .stream
        .read(table, &shard.id, None, 1, Duration::ZERO)
        .await
    {
        Ok(records) => records.into_iter().next(),
        Err(StoreError::ShardEnded(_)) => None,
        Err(err) => return Err(AwsError::internal(err)),
    };
    let latest = app
        .stream
        .latest(table, &shard.id)
        .await
        .map_err(AwsError::internal)?;
    let starting = match oldest {
        Some(record) => record.dynamodb.sequence_number,
        None => SequenceNumber::from_u64(
            latest
                .as_ref()
                .and_then(SequenceNumber::to_u64)
                .map_or(1, |n| n + 1),
        ),
    };
    let mut range = Map::new();
    range.insert("StartingSequenceNumber".into(), json!(starting));
    if closed && let Some(ending) = latest {
        range.insert("EndingSequenceNumber".into(), json!(ending));
    }
    let mut described = json!({"ShardId": shard.id.0, "SequenceNumberRange": range});
    if let Some(parent) = &shard.parent {
        described["ParentShardId"] = json!(parent.0);
    }
    Ok(described)
}

async fn get_shard_iterator(app: &App, input: &Value) -> Result<Value, AwsError> {
    let mut input = Input::new(input)?;
    let arn = input.required("StreamArn", ARN_LENGTH)?;
    let shard_id = input.required("ShardId", SHARD_ID_LENGTH)?;
    let kind = input.one_of("ShardIteratorType", &ITERATOR_TYPES)?;
    if kind.is_none() {
        input.missing("ShardIteratorType");
    }
    let sequence_number = input.string("SequenceNumber", SEQUENCE_NUMBER_LENGTH)?;
    let timestamp = input.timestamp("Timestamp")?;
    input.finish()?;
    let kind = kind.unwrap_or_default();
    let by_number = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
    let sequence_number = match (sequence_number, by_number) {
        (None, true) => {
            return Err(errors::validation(format!(
                "SequenceNumber is required for ShardIteratorType {kind}"
            )));
        }
        (Some(_), false) => {
            return Err(errors::validation(format!(
                "SequenceNumber is not allowed with ShardIteratorType {kind}"
            )));
        }
        (Some(text), true) => Some(
            // Embedded sequence numbers are decimal and dense, so the record at `n` is the
            // one after `n - 1`.
            text.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| text.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| errors::validation(format!("Invalid SequenceNumber: {text}")))?,
        ),
        (None, false) => None,
    };
    let at_time = kind == "AT_TIMESTAMP";
    if at_time != timestamp.is_some() {
        return Err(errors::validation(if at_time {
            "Timestamp is required for ShardIteratorType AT_TIMESTAMP".to_string()
        } else {
            format!("Timestamp is not allowed with ShardIteratorType {kind}")
        }));
    }
    let stream = stream(app, arn)?;
    let shard = ShardId(shard_id.to_string());
    if !has_shard(app, stream.table, &shard).await? {
        return Err(errors::not_found(format!(
            "Requested resource not found: Shard does not exist: {shard_id}"
        )));
    }
    let after = match (kind, sequence_number, timestamp) {
        ("LATEST", ..) => app
            .stream
            .latest(stream.table, &shard)
            .await
            .map_err(AwsError::internal)?,
        ("AT_SEQUENCE_NUMBER", Some(n), _) => n.checked_sub(1).map(SequenceNumber::from_u64),
        ("AFTER_SEQUENCE_NUMBER", Some(n), _) => Some(SequenceNumber::from_u64(n)),
        ("AT_TIMESTAMP", _, Some(seconds)) => {
            before_time(app, stream.table, &shard, seconds).await?
        }
        _ => None,
    };
    let iterator = ShardIterator::new(&stream.arn, &shard, after);
    Ok(json!({"ShardIterator": iterator.encode()}))
}

async fn has_shard(app: &App, table: TableId, shard: &ShardId) -> Result<bool, AwsError> {
    let shards = app.stream.shards(table).await.map_err(AwsError::internal)?;
    Ok(shards.iter().any(|s| &s.id == shard))
}

/// The last record of a shard made before `seconds` (since the epoch), so that an iterator
/// after it starts at the first record made at or after that time. Records carry their time to
/// the second, so a record of the same second counts as at the time.
async fn before_time(
    app: &App,
    table: TableId,
    shard: &ShardId,
    seconds: f64,
) -> Result<Option<SequenceNumber>, AwsError> {
    let at = seconds.floor() as i64;
    let mut before = None;
    loop {
        let records = match app
            .stream
            .read(
                table,
                shard,
                before.as_ref(),
                MAX_RECORDS as usize,
                Duration::ZERO,
            )
            .await
        {
            Ok(records) => records,
            Err(StoreError::ShardEnded(_)) => return Ok(before),
            Err(err) => return Err(AwsError::internal(err)),
        };
        if records.is_empty() {
            return Ok(before);
        }
        for record in records {
            if record.dynamodb.approximate_creation_date_time >= at {
                return Ok(before);
            }
            before = Some(record.dynamodb.sequence_number);
        }
    }
}

async fn get_records(app: &App, input: &Value) -> Result<Value, AwsError> {
    let mut input = Input::new(input)?;
    let text = input.required("ShardIterator", ITERATOR_LENGTH)?;
    let limit = input.limit("Limit", (1, MAX_RECORDS), MAX_RECORDS)?;
    input.finish()?;
    let iterator =
        ShardIterator::decode(text).ok_or_else(|| errors::validation("Invalid ShardIterator"))?;
    let stream = streams(app)
        .into_iter()
        .find(|s| s.arn == iterator.stream_arn)
        .ok_or_else(|| stream_not_found(&iterator.stream_arn))?;
    let now = iterator::now_ms();
    if iterator.expired(now) {
        return Err(errors::expired(format!(
            "Iterator expired. The iterator was created at {} ms since the epoch, and is now \
             {} ms old; iterators last {} ms",
            iterator.issued_ms,
            now - iterator.issued_ms,
            iterator::LIFETIME_MS
        )));
    }
    if !has_shard(app, stream.table, &iterator.shard).await? {
        return Err(errors::not_found("Invalid ShardId in ShardIterator"));
    }
    let mut records = match app
        .stream
        .read(
            stream.table,
            &iterator.shard,
            iterator.after.as_ref(),
            limit,
            Duration::ZERO,
        )
        .await
    {
        Ok(records) => records,
        // A closed shard read to its end: no next iterator.
        Err(StoreError::ShardEnded(_)) => return Ok(json!({"Records": []})),
        Err(err) => return Err(AwsError::internal(err)),
    };
    records.truncate(within_response_size(&records));
    let after = records
        .last()
        .map(|r| r.dynamodb.sequence_number.clone())
        .or(iterator.after);
    let next = ShardIterator::new(&stream.arn, &iterator.shard, after);
    Ok(json!({
        "Records": records.iter().map(as_streams_record).collect::<Result<Vec<_>, _>>()?,
        "NextShardIterator": next.encode(),
    }))
}

/// How many of `records` one GetRecords answer holds: up to 1 MB of them, as DynamoDB Streams
/// answers, and always the first.
fn within_response_size(records: &[StreamRecord]) -> usize {
    let mut size = 0;
    records
        .iter()
        .position(|record| {
            size += record.dynamodb.size_bytes;
            size > MAX_RESPONSE_BYTES
        })
        .map_or(records.len(), |over| over.max(1))
}

/// A change record as GetRecords answers it: without `eventSourceARN`, which Lambda and Pipes
/// add to the records they pass on and DynamoDB Streams' own records do not carry.
fn as_streams_record(record: &StreamRecord) -> Result<Value, AwsError> {
    let mut value = serde_json::to_value(record).map_err(AwsError::internal)?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("eventSourceARN");
    }
    Ok(value)
}
