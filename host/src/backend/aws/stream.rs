//! The change stream on AWS: DynamoDB Streams, read shard by shard with GetRecords. Streams
//! has no push, so a read with a wait polls until a record comes or the wait is over. A read
//! goes on from the previous read's `NextShardIterator` when it starts where that one ended;
//! an iterator that expired (after 15 minutes) is replaced by a fresh one from the sequence
//! number. A closed shard whose iterator runs out has ended.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as StreamValue, OperationType, ShardIteratorType,
};
use base64::Engine;

use super::{AwsStore, unavailable};
use crate::backend::{ChangeStream, Shard, ShardId, StoreError};
use crate::config::TableId;
use crate::record::{
    AttributeValue, EventName, Image, ImageText, SequenceNumber, StreamRecord, StreamRecordData,
};

/// How long an empty read waits before asking again, at first and at most: the wait doubles
/// while the shard stays empty (DynamoDB Streams allows about 5 reads a second per shard).
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(1);

impl AwsStore {
    async fn stream_arn(&self, table: TableId) -> Result<String, StoreError> {
        let name = &self.table(table).name;
        let described = self
            .client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(unavailable)?;
        described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "table `{name}` has no stream; deploy it with its stream enabled"
                ))
            })
    }

    async fn records(
        &self,
        arn: &str,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, StoreError> {
        let key = (arn.to_string(), shard.clone());
        let cached = self
            .iterators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
            .filter(|(from, _)| from.as_ref() == after)
            .map(|(_, iterator)| iterator);
        let iterator = match cached {
            Some(iterator) => iterator,
            None => match self.iterator(arn, shard, after).await? {
                Some(iterator) => iterator,
                None => return Err(StoreError::ShardEnded(shard.0.clone())),
            },
        };
        let got = match self.get_records(&iterator, limit).await {
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_expired_iterator_exception()) =>
            {
                let Some(fresh) = self.iterator(arn, shard, after).await? else {
                    return Err(StoreError::ShardEnded(shard.0.clone()));
                };
                self.get_records(&fresh, limit).await.map_err(unavailable)?
            }
            other => other.map_err(unavailable)?,
        };
        let records: Vec<StreamRecord> = got
            .records
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| record(r, arn))
            .collect();
        let end = records
            .last()
            .map(|r| r.dynamodb.sequence_number.clone())
            .or_else(|| after.cloned());
        match got.next_shard_iterator {
            Some(next) => {
                self.iterators
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, (end, next));
            }
            // A closed shard, read to its end.
            None if records.is_empty() => return Err(StoreError::ShardEnded(shard.0.clone())),
            None => {}
        }
        Ok(records)
    }

    async fn get_records(
        &self,
        iterator: &str,
        limit: usize,
    ) -> Result<
        aws_sdk_dynamodbstreams::operation::get_records::GetRecordsOutput,
        aws_sdk_dynamodbstreams::error::SdkError<
            aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError,
        >,
    > {
        self.streams
            .get_records()
            .shard_iterator(iterator)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
    }

    /// An iterator at the shard's oldest record, or after `after`; none when the shard has
    /// aged out.
    async fn iterator(
        &self,
        arn: &str,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
    ) -> Result<Option<String>, StoreError> {
        let iterator = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(&shard.0)
            .shard_iterator_type(if after.is_some() {
                ShardIteratorType::AfterSequenceNumber
            } else {
                ShardIteratorType::TrimHorizon
            })
            .set_sequence_number(after.map(|s| s.0.clone()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(iterator.shard_iterator)
    }
}

#[async_trait]
impl ChangeStream for AwsStore {
    async fn shards(&self, table: TableId) -> Result<Vec<Shard>, StoreError> {
        let arn = self.stream_arn(table).await?;
        let mut shards = Vec::new();
        let mut after = None;
        loop {
            let described = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(after)
                .send()
                .await
                .map_err(unavailable)?;
            let Some(description) = described.stream_description else {
                break;
            };
            shards.extend(
                description
                    .shards
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| {
                        Some(Shard {
                            id: ShardId(s.shard_id?),
                            parent: s.parent_shard_id.map(ShardId),
                        })
                    }),
            );
            after = description.last_evaluated_shard_id;
            if after.is_none() {
                break;
            }
        }
        Ok(shards)
    }

    async fn latest(
        &self,
        table: TableId,
        shard: &ShardId,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let arn = self.stream_arn(table).await?;
        let mut last = None;
        loop {
            let batch = match self.records(&arn, shard, last.as_ref(), 1000).await {
                Err(StoreError::ShardEnded(_)) => return Ok(last),
                other => other?,
            };
            match batch.last() {
                Some(record) => last = Some(record.dynamodb.sequence_number.clone()),
                None => return Ok(last),
            }
        }
    }

    async fn read(
        &self,
        table: TableId,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<StreamRecord>, StoreError> {
        let arn = self.stream_arn(table).await?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut poll = FIRST_POLL;
        loop {
            let records = self.records(&arn, shard, after, limit).await?;
            let now = tokio::time::Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(records);
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
            poll = (poll * 2).min(MAX_POLL);
        }
    }
}

fn record(r: aws_sdk_dynamodbstreams::types::Record, arn: &str) -> Option<StreamRecord> {
    let data = r.dynamodb?;
    let event_name = match r.event_name? {
        OperationType::Insert => EventName::Insert,
        OperationType::Modify => EventName::Modify,
        OperationType::Remove => EventName::Remove,
        _ => return None,
    };
    Some(StreamRecord {
        // DynamoDB Streams carries no trace context: the pipe's spans start a trace of their own.
        trace: None,
        event_id: r.event_id.unwrap_or_default(),
        event_name,
        event_version: r.event_version.unwrap_or_else(|| "1.1".into()),
        event_source: r.event_source.unwrap_or_else(|| "aws:dynamodb".into()),
        aws_region: r.aws_region.unwrap_or_default(),
        dynamodb: StreamRecordData {
            approximate_creation_date_time: data
                .approximate_creation_date_time
                .map_or(0, |t| t.secs()),
            keys: image(data.keys.unwrap_or_default()),
            new_image: data.new_image.map(|i| ImageText::of(&image(i))),
            old_image: data.old_image.map(|i| ImageText::of(&image(i))),
            sequence_number: SequenceNumber(data.sequence_number.unwrap_or_default()),
            size_bytes: data.size_bytes.unwrap_or_default().max(0) as u64,
            stream_view_type: data
                .stream_view_type
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
        },
        event_source_arn: arn.to_string(),
    })
}

fn image(values: HashMap<String, StreamValue>) -> Image {
    values.into_iter().map(|(k, v)| (k, value(v))).collect()
}

fn value(v: StreamValue) -> AttributeValue {
    let bytes = |b: aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        StreamValue::S(s) => AttributeValue::S(s),
        StreamValue::N(n) => AttributeValue::N(n),
        StreamValue::Bool(b) => AttributeValue::Bool(b),
        StreamValue::Null(n) => AttributeValue::Null(n),
        StreamValue::L(items) => AttributeValue::L(items.into_iter().map(value).collect()),
        StreamValue::M(map) => {
            AttributeValue::M(map.into_iter().map(|(k, v)| (k, value(v))).collect())
        }
        StreamValue::Ss(items) => AttributeValue::SS(items),
        StreamValue::Ns(items) => AttributeValue::NS(items),
        StreamValue::B(b) => AttributeValue::B(bytes(b)),
        StreamValue::Bs(items) => AttributeValue::BS(items.into_iter().map(bytes).collect()),
        _ => AttributeValue::Null(true),
    }
}
