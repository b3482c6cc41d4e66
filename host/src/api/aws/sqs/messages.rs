//! Messages: send, receive (with long polling), delete and visibility, one at a time and in
//! batches, checked as SQS checks them and answered with SQS's digests.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::errors::*;
use super::validate::{ALLOWED, allowed_text, message_attributes, system_attributes, valid_id};
use super::{ACCOUNT, AwsError, Sqs, input, md5};
use crate::backend::{MessageAttributes, NewMessage, Received, StoreError};
use crate::config::QueueId;

/// SQS's largest message, body and attributes together, and largest batch.
pub const MAX_MESSAGE_SIZE: usize = 262_144;
const MAX_DELAY: i64 = 900;
const MAX_VISIBILITY: i64 = 43_200;
const MAX_WAIT: i64 = 20;
const MAX_BATCH: usize = 10;

/// A message a send asks for, checked, with the digests of what was sent.
struct Outgoing {
    message: NewMessage,
    md5_body: String,
    md5_attributes: Option<String>,
    md5_system: Option<String>,
}

impl Outgoing {
    /// SendMessage's answer, or a SendMessageBatch entry's with `Id` added.
    fn answer(&self, message_id: String) -> Map<String, Value> {
        let mut answer = Map::new();
        answer.insert("MessageId".into(), json!(message_id));
        answer.insert("MD5OfMessageBody".into(), json!(self.md5_body));
        if let Some(md5) = &self.md5_attributes {
            answer.insert("MD5OfMessageAttributes".into(), json!(md5));
        }
        if let Some(md5) = &self.md5_system {
            answer.insert("MD5OfMessageSystemAttributes".into(), json!(md5));
        }
        answer
    }
}

impl Sqs<'_> {
    pub(super) async fn send_message(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let outgoing = self.outgoing(queue, input, "sqs:SendMessage")?;
        if outgoing.size() > MAX_MESSAGE_SIZE {
            return Err(too_long());
        }
        let ids = self
            .app
            .runtime
            .queues
            .send(queue, vec![outgoing.message.clone()])
            .await
            .map_err(refused_or_internal)?;
        let id = ids.into_iter().next().unwrap_or_default();
        let point = crate::tap::Point::Queue(queue);
        self.app
            .runtime
            .tap
            .show(point, [&outgoing.message], |message| {
                crate::tap::message(message, Some(&id))
            });
        Ok(Value::Object(outgoing.answer(id)))
    }

    pub(super) async fn send_message_batch(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let entries = input::list(input, "Entries")?;
        let ids = batch_ids(entries, "SendMessageBatchRequestEntry")?;
        let total: usize = entries
            .iter()
            .map(|e| {
                e.get("MessageBody")
                    .and_then(Value::as_str)
                    .map_or(0, str::len)
            })
            .sum();
        if total > MAX_MESSAGE_SIZE {
            return Err(batch_too_long(total));
        }
        let mut failed = Vec::new();
        let mut sending: Vec<(&str, Outgoing)> = Vec::new();
        for (id, entry) in ids.into_iter().zip(entries) {
            match self.outgoing(queue, entry, "sqs:SendMessageBatch") {
                Ok(outgoing) if outgoing.size() > MAX_MESSAGE_SIZE => {
                    failed.push(failure(id, &too_long()))
                }
                Ok(outgoing) => sending.push((id, outgoing)),
                Err(err) => failed.push(failure(id, &err)),
            }
        }
        let messages = sending.iter().map(|(_, o)| o.message.clone()).collect();
        let sent = if sending.is_empty() {
            Vec::new()
        } else {
            self.app
                .runtime
                .queues
                .send(queue, messages)
                .await
                .map_err(refused_or_internal)?
        };
        let point = crate::tap::Point::Queue(queue);
        self.app
            .runtime
            .tap
            .show(point, sending.iter().zip(&sent), |((_, o), id)| {
                crate::tap::message(&o.message, Some(id))
            });
        let successful: Vec<Value> = sending
            .iter()
            .zip(sent)
            .map(|((id, outgoing), message_id)| {
                let mut answer = outgoing.answer(message_id);
                answer.insert("Id".into(), json!(id));
                Value::Object(answer)
            })
            .collect();
        Ok(json!({"Successful": successful, "Failed": failed}))
    }

    pub(super) async fn receive_message(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let max = input::integer(input, "MaxNumberOfMessages")?.unwrap_or(1);
        if !(1..=MAX_BATCH as i64).contains(&max) {
            return Err(invalid_value(
                "MaxNumberOfMessages",
                max,
                "Must be between 1 and 10, if provided.",
            ));
        }
        let wait = input::integer(input, "WaitTimeSeconds")?.unwrap_or(0);
        if !(0..=MAX_WAIT).contains(&wait) {
            return Err(invalid_value(
                "WaitTimeSeconds",
                wait,
                "Must be >= 0 and <= 20, if provided.",
            ));
        }
        let visibility = input::integer(input, "VisibilityTimeout")?;
        if let Some(v) = visibility
            && !(0..=MAX_VISIBILITY).contains(&v)
        {
            return Err(invalid_value(
                "VisibilityTimeout",
                v,
                "Must be >= 0 and <= 43200, if provided.",
            ));
        }
        let mut system = input::strings(input, "AttributeNames")?;
        system.extend(input::strings(input, "MessageSystemAttributeNames")?);
        let custom = input::strings(input, "MessageAttributeNames")?;
        let received = self
            .app
            .runtime
            .queues
            .receive(
                queue,
                max as usize,
                visibility.map(|v| Duration::from_secs(v as u64)),
                Duration::from_secs(wait as u64),
            )
            .await
            .map_err(internal)?;
        if received.is_empty() {
            return Ok(json!({}));
        }
        let messages: Vec<Value> = received
            .into_iter()
            .map(|m| self.message(m, &system, &custom))
            .collect();
        Ok(json!({"Messages": messages}))
    }

    pub(super) async fn delete_message(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let receipt = input::required_string(input, "ReceiptHandle")?;
        self.app
            .runtime
            .queues
            .delete(queue, &[receipt.to_string()])
            .await
            .map_err(internal)?;
        Ok(json!({}))
    }

    pub(super) async fn delete_message_batch(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let entries = input::list(input, "Entries")?;
        let ids = batch_ids(entries, "DeleteMessageBatchRequestEntry")?;
        let mut failed = Vec::new();
        let mut deleting = Vec::new();
        for (id, entry) in ids.into_iter().zip(entries) {
            match input::required_string(entry, "ReceiptHandle") {
                Ok(receipt) => deleting.push((id, receipt.to_string())),
                Err(err) => failed.push(failure(id, &err)),
            }
        }
        let receipts: Vec<String> = deleting.iter().map(|(_, r)| r.clone()).collect();
        if !receipts.is_empty() {
            self.app
                .runtime
                .queues
                .delete(queue, &receipts)
                .await
                .map_err(internal)?;
        }
        let successful: Vec<Value> = deleting.iter().map(|(id, _)| json!({"Id": id})).collect();
        Ok(json!({"Successful": successful, "Failed": failed}))
    }

    pub(super) async fn change_message_visibility(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        self.change_visibility(queue, input).await?;
        Ok(json!({}))
    }

    pub(super) async fn change_message_visibility_batch(
        &self,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let entries = input::list(input, "Entries")?;
        let ids = batch_ids(entries, "ChangeMessageVisibilityBatchRequestEntry")?;
        let (mut successful, mut failed) = (Vec::new(), Vec::new());
        for (id, entry) in ids.into_iter().zip(entries) {
            match self.change_visibility(queue, entry).await {
                Ok(()) => successful.push(json!({"Id": id})),
                Err(err) if err.status.is_server_error() => return Err(err),
                Err(err) => failed.push(failure(id, &err)),
            }
        }
        Ok(json!({"Successful": successful, "Failed": failed}))
    }

    async fn change_visibility(&self, queue: QueueId, input: &Value) -> Result<(), AwsError> {
        let receipt = input::required_string(input, "ReceiptHandle")?;
        let Some(timeout) = input::integer(input, "VisibilityTimeout")? else {
            return Err(missing_parameter("VisibilityTimeout"));
        };
        if !(0..=MAX_VISIBILITY).contains(&timeout) {
            return Err(invalid_value(
                "VisibilityTimeout",
                timeout,
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let changed = self
            .app
            .runtime
            .queues
            .change_visibility(queue, receipt, Duration::from_secs(timeout as u64))
            .await;
        match changed {
            Ok(()) => Ok(()),
            Err(StoreError::Refused(_)) => Err(invalid_value(
                "ReceiptHandle",
                receipt,
                "Message does not exist or is not available for visibility timeout change.",
            )),
            Err(err) => Err(internal(err)),
        }
    }

    /// A message as ReceiveMessage answers it, with the system and message attributes asked for.
    fn message(&self, m: Received, system: &[&str], custom: &[&str]) -> Value {
        let mut message = Map::new();
        message.insert("MessageId".into(), json!(m.message_id));
        message.insert("ReceiptHandle".into(), json!(m.receipt_handle));
        message.insert("MD5OfBody".into(), json!(md5::hex(m.body.as_bytes())));
        let attributes = self.system_attributes(&m, system);
        if !attributes.is_empty() {
            message.insert("Attributes".into(), Value::Object(attributes));
        }
        let chosen: MessageAttributes = m
            .attributes
            .into_iter()
            .filter(|(name, _)| chosen_attribute(name, custom))
            .collect();
        if !chosen.is_empty() {
            message.insert(
                "MD5OfMessageAttributes".into(),
                json!(md5::of_attributes(&chosen)),
            );
            message.insert("MessageAttributes".into(), json!(chosen));
        }
        message.insert("Body".into(), json!(m.body));
        Value::Object(message)
    }

    fn system_attributes(&self, m: &Received, names: &[&str]) -> Map<String, Value> {
        let all = names.contains(&"All");
        let wanted = |name: &str| all || names.contains(&name);
        let mut attributes = Map::new();
        let mut put = |name: &str, value: String| {
            if wanted(name) {
                attributes.insert(name.into(), json!(value));
            }
        };
        put("SenderId", ACCOUNT.into());
        put("SentTimestamp", m.sent_timestamp_ms.to_string());
        put("ApproximateReceiveCount", m.receive_count.to_string());
        let first = m
            .first_received_ms
            .unwrap_or_else(crate::backend::embedded::now_ms);
        put("ApproximateFirstReceiveTimestamp", first.to_string());
        if let Some(group) = &m.group_id {
            put("MessageGroupId", group.clone());
        }
        if let Some(trace) = &m.trace {
            put("AWSTraceHeader", trace.clone());
        }
        // A message dead-lettered from a queue names it, as SQS's redrive does.
        if m.error.is_some()
            && let Some(source) = m
                .origin
                .strip_prefix("queue:")
                .and_then(|name| self.queue_named(name))
        {
            put("DeadLetterQueueSourceArn", self.arn(source));
        }
        attributes
    }

    /// Checks one message of a send (a SendMessage request or a batch entry).
    fn outgoing(&self, queue: QueueId, entry: &Value, origin: &str) -> Result<Outgoing, AwsError> {
        let config = &self.app.config[queue];
        let body = input::required_string(entry, "MessageBody")?;
        allowed_text(body).map_err(|c| {
            sqs_error(
                "InvalidMessageContents",
                "InvalidMessageContents",
                format!(
                    "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is {ALLOWED}",
                    c as u32
                ),
            )
        })?;
        let delay = input::integer(entry, "DelaySeconds")?;
        if let Some(delay) = delay
            && !(0..=MAX_DELAY).contains(&delay)
        {
            return Err(invalid_value(
                "DelaySeconds",
                delay,
                "DelaySeconds must be >= 0 and <= 900.",
            ));
        }
        let group = input::string(entry, "MessageGroupId")?;
        let dedup = input::string(entry, "MessageDeduplicationId")?;
        for (parameter, value) in [("MessageGroupId", group), ("MessageDeduplicationId", dedup)] {
            if let Some(value) = value
                && !valid_id(value)
            {
                return Err(invalid_value(
                    parameter,
                    value,
                    &format!(
                        "{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                    ),
                ));
            }
        }
        let not_for_this_queue =
            "The request include parameter that is not valid for this queue type.";
        if config.fifo {
            if group.is_none() {
                return Err(missing_parameter("MessageGroupId"));
            }
            if dedup.is_none() && !config.content_based_deduplication {
                return Err(invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
            if let Some(delay) = delay.filter(|d| *d != 0) {
                return Err(invalid_value("DelaySeconds", delay, not_for_this_queue));
            }
        } else if let Some(dedup) = dedup {
            return Err(invalid_value(
                "MessageDeduplicationId",
                dedup,
                not_for_this_queue,
            ));
        }
        let attributes = message_attributes(entry)?;
        let system = system_attributes(entry)?;
        Ok(Outgoing {
            md5_body: md5::hex(body.as_bytes()),
            md5_attributes: (!attributes.is_empty()).then(|| md5::of_attributes(&attributes)),
            md5_system: (!system.is_empty()).then(|| md5::of_attributes(&system)),
            message: NewMessage {
                group_id: group.map(str::to_string),
                deduplication_id: dedup.map(str::to_string),
                delay: delay.map(|d| Duration::from_secs(d as u64)),
                attributes,
                // Kept and given back on receive, as SQS does; a consumer's span joins it.
                trace: system
                    .get("AWSTraceHeader")
                    .and_then(|a| a.string_value.clone()),
                ..NewMessage::new(body, origin)
            },
        })
    }
}

impl Outgoing {
    /// The size SQS counts against its limit: the body, and each attribute's name, type and
    /// value.
    fn size(&self) -> usize {
        let attributes: usize = self
            .message
            .attributes
            .iter()
            .map(|(name, a)| {
                name.len()
                    + a.data_type.len()
                    + a.string_value.as_ref().map_or(0, String::len)
                    + a.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum();
        self.message.body.len() + attributes
    }
}

fn too_long() -> AwsError {
    invalid_parameter(format!(
        "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_SIZE} bytes."
    ))
}

/// A store's refusal is the sender's to fix; anything else is the store's trouble.
fn refused_or_internal(err: StoreError) -> AwsError {
    match err {
        StoreError::Refused(reason) => invalid_parameter(reason),
        err => internal(err),
    }
}

/// A batch's entry ids, checked as SQS checks a batch before any entry.
fn batch_ids<'a>(entries: &'a [Value], entry: &str) -> Result<Vec<&'a str>, AwsError> {
    if entries.is_empty() {
        return Err(empty_batch(entry));
    }
    if entries.len() > MAX_BATCH {
        return Err(too_many_entries(entries.len()));
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = input::string(entry, "Id")?.unwrap_or_default();
        let valid = (1..=80).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(invalid_batch_entry_id());
        }
        if !seen.insert(id) {
            return Err(ids_not_distinct(id));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// A batch entry that failed, with the code SDKs know the error by.
fn failure(id: &str, err: &AwsError) -> Value {
    let code = err
        .query_error
        .as_deref()
        .and_then(|q| q.split(';').next())
        .unwrap_or_else(|| err.kind.rsplit('#').next().unwrap_or_default());
    json!({"Id": id, "SenderFault": true, "Code": code, "Message": err.message})
}

/// Whether ReceiveMessage's `MessageAttributeNames` ask for an attribute: by name, `All`,
/// `.*`, or a prefix such as `order.*`.
fn chosen_attribute(name: &str, asked: &[&str]) -> bool {
    asked.iter().any(|&a| {
        a == "All"
            || a == ".*"
            || a == name
            || a.strip_suffix("*")
                .is_some_and(|prefix| prefix.ends_with('.') && name.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_chosen_by_name_all_or_prefix() {
        assert!(chosen_attribute("kind", &["kind"]));
        assert!(chosen_attribute("kind", &["All"]));
        assert!(chosen_attribute("kind", &[".*"]));
        assert!(chosen_attribute("order.total", &["order.*"]));
        assert!(!chosen_attribute("orders", &["order.*"]));
        assert!(!chosen_attribute("kind", &[]));
    }
}
