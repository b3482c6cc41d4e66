//! EventBridge's PutEvents, for the events a pipe hands to a bus that routes them itself, and
//! the SQS sends of a pipe's queue messages.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;

use super::{AwsStore, unavailable};
use crate::backend::{NewMessage, StoreError};
use crate::config::{BusId, QueueId};

/// PutEvents takes at most 10 entries and 256 KiB a call.
const PUT_EVENTS_ENTRIES: usize = 10;
const PUT_EVENTS_BYTES: usize = 256 * 1024;
/// How often entries PutEvents refused are sent again before the delivery fails.
const PUT_EVENTS_TRIES: u32 = 5;

impl AwsStore {
    pub(super) async fn send_messages(
        &self,
        messages: Vec<(QueueId, NewMessage)>,
    ) -> Result<(), StoreError> {
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
    pub(super) async fn put_events(&self, events: Vec<(BusId, Value)>) -> Result<(), StoreError> {
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
