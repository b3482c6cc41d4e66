//! Queues on SQS. SQS keeps the semantics itself (visibility, receive counts, redrive, delay,
//! FIFO groups and deduplication); this maps the trait onto its calls. Where a message came from
//! and why it was dead-lettered travel as message attributes.
//!
//! SQS counts time in whole seconds: durations are rounded up, and a receive waits at most 20 s.
//! SQS cannot look at a message without receiving it, so `peek`, `find` and `move_message`
//! receive messages and release those they leave (each counts as a receive), as the console's
//! "poll for messages" does.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};

use super::{AwsStore, unavailable};
use crate::backend::{
    Depth, MessageAttribute, MessageAttributes, NewMessage, Queues, Received, StoreError, Stored,
};
use crate::config::QueueId;

/// The attribute that names a message's origin (`pipe:NAME`, `rule:BUS/RULE`, `queue:NAME`).
const ORIGIN: &str = "switchyard-origin";
/// The attribute that says why a message was dead-lettered.
const ERROR: &str = "switchyard-error";
/// SQS's most messages per batch call and longest long poll.
const BATCH: usize = 10;
const LONGEST_POLL: Duration = Duration::from_secs(20);
/// How long `peek` and friends hold the messages they look at.
const HOLD: Duration = Duration::from_secs(30);
/// Most messages `peek`, `find` and `move_message` look through.
const LOOK_AT_MOST: usize = 1000;

/// Whole seconds, rounded up, as SQS takes them.
pub(super) fn seconds(duration: Duration) -> i32 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    whole.min(i32::MAX as u64) as i32
}

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

/// A sender's attribute as SQS takes it.
fn to_sqs(attribute: &MessageAttribute) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(&attribute.data_type)
        .set_string_value(attribute.string_value.clone())
        .set_binary_value(
            attribute
                .binary_value
                .clone()
                .map(aws_sdk_sqs::primitives::Blob::new),
        )
        .build()
        .expect("data type is set")
}

/// The sender's attributes of a received message: all but the two Switchyard keeps its own.
fn from_sqs(attributes: HashMap<String, MessageAttributeValue>) -> MessageAttributes {
    attributes
        .into_iter()
        .filter(|(name, _)| name != ORIGIN && name != ERROR)
        .map(|(name, value)| {
            let attribute = MessageAttribute {
                data_type: value.data_type,
                string_value: value.string_value,
                binary_value: value
                    .binary_value
                    .map(aws_sdk_sqs::primitives::Blob::into_inner),
            };
            (name, attribute)
        })
        .collect()
}

impl AwsStore {
    /// The queue's URL, asked of SQS once.
    async fn queue_url(&self, queue: QueueId) -> Result<&str, StoreError> {
        let q = &self.queues[queue.index()];
        q.url
            .get_or_try_init(|| async {
                let found = self
                    .sqs
                    .get_queue_url()
                    .queue_name(&q.name)
                    .send()
                    .await
                    .map_err(|err| {
                        StoreError::Unavailable(format!(
                            "queue `{}`: {}; has `switchyard deploy` run?",
                            q.name,
                            aws_sdk_sqs::error::DisplayErrorContext(err)
                        ))
                    })?;
                found.queue_url.ok_or_else(|| {
                    StoreError::Unavailable(format!("SQS gave no URL for queue `{}`", q.name))
                })
            })
            .await
            .map(String::as_str)
    }

    fn message_entry(
        &self,
        queue: QueueId,
        index: usize,
        message: &NewMessage,
    ) -> SendMessageBatchRequestEntry {
        let q = &self.queues[queue.index()];
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(index.to_string())
            .message_body(&message.body)
            .message_attributes(ORIGIN, text(&message.origin));
        if let Some(error) = &message.error {
            entry = entry.message_attributes(ERROR, text(error));
        }
        if let Some(trace) = &message.trace {
            entry = entry.message_system_attributes(
                MessageSystemAttributeNameForSends::AwsTraceHeader,
                MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value(trace)
                    .build()
                    .expect("a data type is set"),
            );
        }
        for (name, attribute) in &message.attributes {
            entry = entry.message_attributes(name, to_sqs(attribute));
        }
        if q.fifo {
            // SQS requires a group on a FIFO queue; messages without one share a group.
            let group = message.group_id.as_deref().unwrap_or("default");
            entry = entry
                .message_group_id(group)
                .set_message_deduplication_id(message.deduplication_id.clone());
        } else if let Some(delay) = message.delay {
            entry = entry.delay_seconds(seconds(delay));
        }
        entry.build().expect("id and body are set")
    }

    /// Receives with the attributes a [`Received`] carries.
    async fn receive_raw(
        &self,
        queue: QueueId,
        max: usize,
        visibility: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<Received>, StoreError> {
        let url = self.queue_url(queue).await?;
        let got = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, BATCH) as i32)
            .wait_time_seconds(seconds(wait.min(LONGEST_POLL)))
            .set_visibility_timeout(visibility.map(seconds))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(got
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| self.received(queue, m))
            .collect())
    }

    fn received(&self, queue: QueueId, m: aws_sdk_sqs::types::Message) -> Received {
        let system = m.attributes.unwrap_or_default();
        let number = |name: MessageSystemAttributeName| {
            system
                .get(&name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or_default()
        };
        let custom = m.message_attributes.unwrap_or_default();
        let attribute = |name: &str| custom.get(name).and_then(|v| v.string_value.clone());
        let mut origin = attribute(ORIGIN).unwrap_or_default();
        let mut error = attribute(ERROR);
        let first_received_ms = system
            .get(&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp)
            .and_then(|v| v.parse::<i64>().ok());
        // SQS's own redrive moves a message as it is; say where it came from, as the embedded
        // backend does. AWS names the source queue; other endpoints leave us the DLQ's sources.
        if error.is_none()
            && let Some(source) = self.redrive_source(
                queue,
                system.get(&MessageSystemAttributeName::DeadLetterQueueSourceArn),
            )
        {
            let max = self.queues[source]
                .redrive
                .map(|(_, max)| max)
                .unwrap_or_default();
            origin = crate::origin::queue_text(&self.queues[source].config_name);
            error = Some(format!(
                "received {max} times without being deleted (max_receive_count = {max})"
            ));
        }
        Received {
            message_id: m.message_id.unwrap_or_default(),
            receipt_handle: m.receipt_handle.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
            receive_count: number(MessageSystemAttributeName::ApproximateReceiveCount) as u32,
            sent_timestamp_ms: number(MessageSystemAttributeName::SentTimestamp),
            group_id: system
                .get(&MessageSystemAttributeName::MessageGroupId)
                .cloned(),
            origin,
            error,
            attributes: from_sqs(custom),
            first_received_ms,
            trace: system
                .get(&MessageSystemAttributeName::AwsTraceHeader)
                .cloned(),
        }
    }

    /// The queue a message on `dlq` was redriven from: the one SQS names, or the only queue
    /// whose DLQ this is.
    fn redrive_source(&self, dlq: QueueId, arn: Option<&String>) -> Option<usize> {
        let mut sources = self
            .queues
            .iter()
            .enumerate()
            .filter(|(_, q)| q.redrive.is_some_and(|(to, _)| to == dlq.index()));
        match arn {
            Some(arn) => sources
                .find(|(_, q)| arn.rsplit(':').next() == Some(q.name.as_str()))
                .map(|(i, _)| i),
            None => {
                let first = sources.next();
                if sources.next().is_some() {
                    None
                } else {
                    first.map(|(i, _)| i)
                }
            }
        }
    }

    /// Receives up to `limit` messages of a queue, holding them, until `stop` says enough.
    /// Returns what it holds; the caller releases them.
    async fn look(
        &self,
        queue: QueueId,
        limit: usize,
        mut stop: impl FnMut(&Received) -> bool,
    ) -> Result<Vec<Received>, StoreError> {
        let mut seen: Vec<Received> = Vec::new();
        while seen.len() < limit.min(LOOK_AT_MOST) {
            let batch = self
                .receive_raw(queue, limit - seen.len(), Some(HOLD), Duration::ZERO)
                .await?;
            if batch.is_empty() {
                break;
            }
            let done = batch.iter().any(&mut stop);
            seen.extend(batch);
            if done {
                break;
            }
        }
        Ok(seen)
    }

    /// Makes held messages visible again at once.
    async fn release(&self, queue: QueueId, held: &[Received]) -> Result<(), StoreError> {
        let url = self.queue_url(queue).await?;
        for chunk in held.chunks(BATCH) {
            let entries = chunk.iter().enumerate().map(|(i, m)| {
                aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and receipt are set")
            });
            self.sqs
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

fn stored(m: Received) -> Stored {
    Stored {
        message_id: m.message_id,
        body: m.body,
        receive_count: m.receive_count,
        sent_timestamp_ms: m.sent_timestamp_ms,
        group_id: m.group_id,
        origin: m.origin,
        error: m.error,
        attributes: m.attributes,
        trace: m.trace,
    }
}

fn new_message(m: &Received) -> NewMessage {
    NewMessage {
        body: m.body.clone(),
        group_id: m.group_id.clone(),
        deduplication_id: None,
        delay: None,
        origin: m.origin.clone(),
        error: m.error.clone(),
        attributes: m.attributes.clone(),
        trace: m.trace.clone(),
    }
}

#[async_trait]
impl Queues for AwsStore {
    async fn send(
        &self,
        queue: QueueId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<String>, StoreError> {
        let url = self.queue_url(queue).await?;
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| self.message_entry(queue, i, m))
                .collect();
            let sent = self
                .sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(unavailable)?;
            if let Some(failed) = sent.failed.first() {
                return Err(StoreError::Unavailable(format!(
                    "SQS refused a message for `{}`: {} ({})",
                    self.queues[queue.index()].name,
                    failed.message.as_deref().unwrap_or_default(),
                    failed.code
                )));
            }
            let mut by_entry: HashMap<String, String> = sent
                .successful
                .into_iter()
                .map(|s| (s.id, s.message_id))
                .collect();
            ids.extend(
                (0..chunk.len()).map(|i| by_entry.remove(&i.to_string()).unwrap_or_default()),
            );
        }
        Ok(ids)
    }

    async fn receive(
        &self,
        queue: QueueId,
        max: usize,
        visibility: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<Received>, StoreError> {
        self.receive_raw(queue, max, visibility, wait).await
    }

    async fn delete(&self, queue: QueueId, receipts: &[String]) -> Result<(), StoreError> {
        let url = self.queue_url(queue).await?;
        for chunk in receipts.chunks(BATCH) {
            let entries = chunk.iter().enumerate().map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .expect("id and receipt are set")
            });
            // A receipt that is no longer current fails its entry alone; that is ignored, as
            // the trait says.
            self.sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue: QueueId,
        receipt: &str,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let url = self.queue_url(queue).await?;
        let changed = self
            .sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout))
            .send()
            .await;
        match changed {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some() => Err(StoreError::Refused(format!(
                "cannot change the visibility: {}",
                aws_sdk_sqs::error::DisplayErrorContext(err)
            ))),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Sends the message to the DLQ, then deletes it: at least once, like the rest of SQS.
    async fn dead_letter(
        &self,
        queue: QueueId,
        message: &Received,
        reason: &str,
    ) -> Result<(), StoreError> {
        let q = &self.queues[queue.index()];
        let Some((dlq, _)) = q.redrive else {
            return Err(StoreError::Refused(format!(
                "queue `{}` has no dlq",
                q.config_name
            )));
        };
        let dead = NewMessage {
            origin: crate::origin::queue_text(&q.config_name),
            error: Some(reason.to_string()),
            ..new_message(message)
        };
        self.send(QueueId(dlq), vec![dead]).await?;
        self.delete(queue, std::slice::from_ref(&message.receipt_handle))
            .await
    }

    async fn depth(&self, queue: QueueId) -> Result<Depth, StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let url = self.queue_url(queue).await?;
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(Name::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(unavailable)?;
        let attributes = got.attributes.unwrap_or_default();
        let count = |name: Name| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        };
        Ok(Depth {
            visible: count(Name::ApproximateNumberOfMessages),
            in_flight: count(Name::ApproximateNumberOfMessagesNotVisible),
            delayed: count(Name::ApproximateNumberOfMessagesDelayed),
        })
    }

    async fn peek(&self, queue: QueueId, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let seen = self.look(queue, limit, |_| false).await?;
        self.release(queue, &seen).await?;
        let mut seen: Vec<Stored> = seen.into_iter().map(stored).collect();
        seen.sort_by_key(|m| m.sent_timestamp_ms);
        Ok(seen)
    }

    async fn find(&self, queue: QueueId, message_id: &str) -> Result<Option<Stored>, StoreError> {
        let seen = self
            .look(queue, LOOK_AT_MOST, |m| m.message_id == message_id)
            .await?;
        self.release(queue, &seen).await?;
        Ok(seen
            .into_iter()
            .find(|m| m.message_id == message_id)
            .map(stored))
    }

    /// StartMessageMoveTask, where the endpoint has it; `None` sends the caller to its
    /// receive/send/delete loop (moto, for one, does not implement the task).
    async fn start_move_task(
        &self,
        dlq: QueueId,
        to: Option<QueueId>,
        rate: Option<u32>,
    ) -> Result<Option<String>, StoreError> {
        let source = self.queue_arn(&self.queues[dlq.index()].name).await?;
        let destination = match to {
            Some(to) => Some(self.queue_arn(&self.queues[to.index()].name).await?),
            None => None,
        };
        let started = self
            .sqs
            .start_message_move_task()
            .source_arn(source)
            .set_destination_arn(destination)
            .set_max_number_of_messages_per_second(rate.map(|r| r.clamp(1, 500) as i32))
            .send()
            .await;
        match started {
            Ok(task) => Ok(task.task_handle),
            // The endpoint answered, but not with a task: the loop does the same, more slowly.
            Err(err) => {
                let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&err);
                let refused = matches!(
                    code,
                    Some("ResourceNotFoundException" | "AccessDenied" | "AccessDeniedException")
                );
                if err.raw_response().is_some() && !refused {
                    tracing::info!(
                        queue = self.queues[dlq.index()].config_name,
                        "StartMessageMoveTask is not available here; moving messages one by one"
                    );
                    Ok(None)
                } else {
                    Err(unavailable(err))
                }
            }
        }
    }

    /// SQS's PurgeQueue, which deletes in the background and counts nothing: returns 0.
    async fn purge(&self, queue: QueueId) -> Result<u64, StoreError> {
        let url = self.queue_url(queue).await?;
        self.sqs
            .purge_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(0)
    }

    /// Receives until it holds the message, then deletes it.
    async fn move_task_progress(
        &self,
        dlq: QueueId,
        handle: &str,
    ) -> Result<Option<crate::backend::MoveProgress>, StoreError> {
        let source = self.queue_arn(&self.queues[dlq.index()].name).await?;
        let listed = self
            .sqs
            .list_message_move_tasks()
            .source_arn(source)
            .max_results(10)
            .send()
            .await
            .map_err(unavailable)?;
        // SQS names a task's handle only while it runs, and lists the most recent first: once
        // ours has ended, the most recent one is ours (a queue has one move task at a time).
        let results = listed.results();
        let ours = results
            .iter()
            .find(|task| task.task_handle.as_deref() == Some(handle))
            .or_else(|| results.first().filter(|task| task.task_handle.is_none()));
        Ok(ours.map(|task| crate::backend::MoveProgress {
            moved: task.approximate_number_of_messages_moved.max(0) as u64,
            to_move: (task.approximate_number_of_messages_to_move).map(|n| n.max(0) as u64),
            ended: match task.status.as_deref() {
                Some("RUNNING" | "CANCELLING") => None,
                Some("COMPLETED") => Some(Ok(())),
                status => Some(Err(task.failure_reason.clone().unwrap_or_else(|| {
                    format!("SQS's move task ended {}", status.unwrap_or("UNKNOWN"))
                }))),
            },
        }))
    }

    async fn remove(&self, queue: QueueId, message_id: &str) -> Result<bool, StoreError> {
        let mut seen = self
            .look(queue, LOOK_AT_MOST, |m| m.message_id == message_id)
            .await?;
        let found = seen.iter().position(|m| m.message_id == message_id);
        let removing = found.map(|i| seen.swap_remove(i));
        self.release(queue, &seen).await?;
        let Some(removing) = removing else {
            return Ok(false);
        };
        self.delete(queue, std::slice::from_ref(&removing.receipt_handle))
            .await?;
        Ok(true)
    }

    /// Receives until it holds the message, sends it to `to`, then deletes it from `from`.
    async fn move_message(
        &self,
        from: QueueId,
        message_id: &str,
        to: QueueId,
    ) -> Result<bool, StoreError> {
        let mut seen = self
            .look(from, LOOK_AT_MOST, |m| m.message_id == message_id)
            .await?;
        let found = seen.iter().position(|m| m.message_id == message_id);
        let moving = found.map(|i| seen.swap_remove(i));
        self.release(from, &seen).await?;
        let Some(moving) = moving else {
            return Ok(false);
        };
        // Sent anew: a later redrive by SQS gives its own reason.
        let moved = NewMessage {
            error: None,
            ..new_message(&moving)
        };
        self.send(to, vec![moved]).await?;
        self.delete(from, std::slice::from_ref(&moving.receipt_handle))
            .await?;
        Ok(true)
    }
}
