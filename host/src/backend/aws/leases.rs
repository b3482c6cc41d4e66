//! Pipe checkpoints and shard leases in a DynamoDB table, as the Kinesis Client Library keeps
//! them: one item per pipe and shard, with the replica that holds it (`owner`), when its lease
//! runs out (`expires`, ms), the checkpoint (`sequence`) and whether the shard has ended.
//! Every change is a conditional write, so two replicas never both believe they hold a shard.
//!
//! A delivery puts its messages on SQS and its events on EventBridge first, then writes the
//! checkpoint while this replica still holds the lease: at least once, never lost.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;

use super::{AwsStore, unavailable};
use crate::backend::{Checkpoints, Delivery, NewMessage, Position, ShardId, StoreError};
use crate::config::{BusId, QueueId};

/// The table's key attribute.
pub(super) const KEY: &str = "lease";
/// PutEvents takes at most 10 entries and 256 KiB a call.
const PUT_EVENTS_ENTRIES: usize = 10;
const PUT_EVENTS_BYTES: usize = 256 * 1024;
/// How often entries PutEvents refused are sent again before the delivery fails.
const PUT_EVENTS_TRIES: u32 = 5;

fn lease_key(pipe: &str, shard: &ShardId) -> AttributeValue {
    AttributeValue::S(format!("{pipe}/{}", shard.0))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn conditional<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    err: &aws_sdk_dynamodb::error::SdkError<E>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl AwsStore {
    async fn lease_item(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(got.item.unwrap_or_default())
    }

    async fn send_messages(&self, messages: Vec<(QueueId, NewMessage)>) -> Result<(), StoreError> {
        use crate::backend::Queues;
        let mut by_queue: Vec<(QueueId, Vec<NewMessage>)> = Vec::new();
        for (queue, message) in messages {
            match by_queue.iter_mut().find(|(q, _)| *q == queue) {
                Some((_, list)) => list.push(message),
                None => by_queue.push((queue, vec![message])),
            }
        }
        for (queue, list) in by_queue {
            self.send(queue, list).await?;
        }
        Ok(())
    }

    /// PutEvents in calls of at most 10 entries and 256 KiB; entries EventBridge refuses (its
    /// `FailedEntryCount`) are sent again, alone, with backoff.
    async fn put_events(&self, events: Vec<(BusId, Value)>) -> Result<(), StoreError> {
        let mut pending: Vec<PutEventsRequestEntry> = events
            .iter()
            .map(|(bus, event)| self.event_entry(*bus, event))
            .collect();
        let mut tries = 0;
        while !pending.is_empty() {
            let mut refused = Vec::new();
            let mut last_error = String::new();
            for call in calls(pending) {
                let put = self
                    .events
                    .put_events()
                    .set_entries(Some(call.clone()))
                    .send()
                    .await
                    .map_err(unavailable)?;
                if put.failed_entry_count == 0 {
                    continue;
                }
                for (entry, result) in call.into_iter().zip(put.entries.unwrap_or_default()) {
                    if let Some(code) = result.error_code {
                        last_error =
                            format!("{code}: {}", result.error_message.unwrap_or_default());
                        refused.push(entry);
                    }
                }
            }
            pending = refused;
            if pending.is_empty() {
                break;
            }
            tries += 1;
            if tries >= PUT_EVENTS_TRIES {
                return Err(StoreError::Unavailable(format!(
                    "EventBridge refused {} events {tries} times; last: {last_error}",
                    pending.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(tries)).await;
        }
        Ok(())
    }

    /// An EventBridge envelope as a PutEvents entry on `bus`. EventBridge gives the event its
    /// own id and time.
    fn event_entry(&self, bus: BusId, event: &Value) -> PutEventsRequestEntry {
        let text = |field: &str| event.get(field).and_then(Value::as_str).map(String::from);
        let resources = event
            .get("resources")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.as_str().map(String::from))
                    .collect()
            });
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.buses[bus.index()])
            .set_source(text("source"))
            .set_detail_type(text("detail-type"))
            .detail(event.get("detail").unwrap_or(&Value::Null).to_string())
            .set_resources(resources)
            .build()
    }
}

/// Entries split into PutEvents calls within the entry and size limits (sizes counted as AWS
/// does: source, detail type, detail and resources in bytes).
fn calls(entries: Vec<PutEventsRequestEntry>) -> Vec<Vec<PutEventsRequestEntry>> {
    let size = |e: &PutEventsRequestEntry| {
        e.source().map_or(0, str::len)
            + e.detail_type().map_or(0, str::len)
            + e.detail().map_or(0, str::len)
            + e.resources().iter().map(String::len).sum::<usize>()
    };
    let mut calls: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let n = size(&entry);
        match calls.last_mut() {
            Some(call) if call.len() < PUT_EVENTS_ENTRIES && bytes + n <= PUT_EVENTS_BYTES => {
                bytes += n;
                call.push(entry);
            }
            _ => {
                bytes = n;
                calls.push(vec![entry]);
            }
        }
    }
    calls
}

#[async_trait]
impl Checkpoints for AwsStore {
    async fn lease(
        &self,
        pipe: &str,
        shard: &ShardId,
        duration: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let taken = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #o = :me, #e = :until")
            .condition_expression("attribute_not_exists(#o) OR #o = :me OR #e < :now")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#e", "expires")
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(
                ":until",
                AttributeValue::N((now + duration.as_millis() as i64).to_string()),
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(err) if conditional(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn release(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #e = :zero")
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#e", "expires")
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Someone else holds it already: nothing to give up.
            Err(err) if conditional(&err) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn finish(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET finished = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn finished(&self, pipe: &str, shard: &ShardId) -> Result<bool, StoreError> {
        let item = self.lease_item(pipe, shard).await?;
        Ok(matches!(
            item.get("finished"),
            Some(AttributeValue::Bool(true))
        ))
    }

    async fn checkpoint(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<Option<Position>, StoreError> {
        let item = self.lease_item(pipe, shard).await?;
        Ok(item
            .get("sequence")
            .and_then(|v| v.as_s().ok())
            .map(|s| Position::stored(s.clone())))
    }

    /// Written only where no checkpoint is, whoever holds the lease: the first start wins.
    async fn start(
        &self,
        pipe: &str,
        shard: &ShardId,
        at: Position,
    ) -> Result<Position, StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(pipe, shard))
            .update_expression("SET #s = :s")
            .condition_expression("attribute_not_exists(#s)")
            .expression_attribute_names("#s", "sequence")
            .expression_attribute_values(":s", AttributeValue::S(at.as_stored().to_string()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(at),
            Err(err) if conditional(&err) => self.checkpoint(pipe, shard).await?.ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "pipe `{pipe}`: shard `{}` has a checkpoint that cannot be read back",
                    shard.0
                ))
            }),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Messages, then events, then the checkpoint, conditioned on this replica's lease (or on
    /// no lease at all, for a pipe that runs alone). EventBridge keeps its own archives, so
    /// `archived` is left to it.
    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError> {
        self.send_messages(delivery.messages).await?;
        self.put_events(delivery.events).await?;
        let Some(checkpoint) = delivery.checkpoint else {
            return Ok(());
        };
        let written = self
            .client
            .update_item()
            .table_name(&self.leases)
            .key(KEY, lease_key(&checkpoint.pipe, &checkpoint.shard))
            .update_expression("SET #s = :s")
            .condition_expression("attribute_not_exists(#o) OR #o = :me")
            .expression_attribute_names("#s", "sequence")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":s", AttributeValue::S(checkpoint.sequence.0.clone()))
            .expression_attribute_values(":me", AttributeValue::S(self.owner.clone()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(err) if conditional(&err) => Err(StoreError::LeaseLost(format!(
                "pipe `{}`: another replica holds shard `{}`; its checkpoint is theirs now",
                checkpoint.pipe, checkpoint.shard.0
            ))),
            Err(err) => Err(unavailable(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_bytes: usize) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source("shop")
            .detail("x".repeat(detail_bytes))
            .build()
    }

    #[test]
    fn put_events_calls_keep_to_ten_entries_and_256_kib() {
        let sizes = |entries: Vec<PutEventsRequestEntry>| -> Vec<usize> {
            calls(entries).iter().map(Vec::len).collect()
        };
        assert_eq!(sizes((0..25).map(|_| entry(10)).collect()), [10, 10, 5]);
        // 100 KiB each: two fit in a call, a third would pass 256 KiB.
        assert_eq!(
            sizes((0..5).map(|_| entry(100 * 1024)).collect()),
            [2, 2, 1]
        );
        assert!(calls(Vec::new()).is_empty());
    }
}
