//! Messages: send, receive (with long polling), delete and visibility, one at a time and in
//! batches, checked as SQS checks them and answered with SQS's digests.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::errors::*;
use super::{ACCOUNT, AwsError, Sqs, input, md5};
use crate::backend::{MessageAttribute, MessageAttributes, NewMessage, Received, StoreError};
use crate::config::QueueId;

/// SQS's largest message, body and attributes together, and largest batch.
pub const MAX_MESSAGE_SIZE: usize = 262_144;
const MAX_DELAY: i64 = 900;
const MAX_VISIBILITY: i64 = 43_200;
const MAX_WAIT: i64 = 20;
const MAX_ATTRIBUTES: usize = 10;
const MAX_BATCH: usize = 10;

/// The characters SQS allows in a body and in attribute text.
const ALLOWED: &str = "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

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

/// The first character SQS does not allow, if any.
fn allowed_text(text: &str) -> Result<(), char> {
    match text.chars().find(|&c| {
        let c = c as u32;
        !(matches!(c, 0x9 | 0xA | 0xD)
            || (0x20..=0xD7FF).contains(&c)
            || (0xE000..=0xFFFD).contains(&c)
            || c >= 0x10000)
    }) {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

/// A group or deduplication id: 1 to 128 ASCII letters, digits and punctuation.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
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

/// A send's `MessageAttributes`, checked as SQS checks them.
fn message_attributes(entry: &Value) -> Result<MessageAttributes, AwsError> {
    let Some(map) = input::object(entry, "MessageAttributes")? else {
        return Ok(MessageAttributes::new());
    };
    if map.len() > MAX_ATTRIBUTES {
        return Err(invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            map.len()
        )));
    }
    map.iter()
        .map(|(name, value)| {
            if !valid_attribute_name(name) {
                return Err(invalid_parameter(format!(
                    "Message (user) attribute name '{name}' is invalid. Attribute names can contain only A-Z, a-z, 0-9, underscore (_), hyphen (-) and period (.), can be at most 256 characters long, cannot start or end with a period or contain two in a row, and cannot start with AWS. or Amazon."
                )));
            }
            Ok((name.clone(), attribute(name, value, "user")?))
        })
        .collect()
}

/// A send's `MessageSystemAttributes`: SQS takes only `AWSTraceHeader`, a string.
fn system_attributes(entry: &Value) -> Result<MessageAttributes, AwsError> {
    let Some(map) = input::object(entry, "MessageSystemAttributes")? else {
        return Ok(MessageAttributes::new());
    };
    map.iter()
        .map(|(name, value)| {
            if name != "AWSTraceHeader" {
                return Err(invalid_parameter(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
            let attribute = attribute(name, value, "system")?;
            if attribute.data_type != "String" {
                return Err(invalid_parameter(format!(
                    "Message system attribute '{name}' must have the data type String."
                )));
            }
            Ok((name.clone(), attribute))
        })
        .collect()
}

fn valid_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
}

/// One attribute's value, checked against its data type; `kind` is `user` or `system`, as
/// SQS's messages say.
fn attribute(name: &str, value: &Value, kind: &str) -> Result<MessageAttribute, AwsError> {
    let data_type = input::string(value, "DataType")?.unwrap_or_default();
    if data_type.is_empty() {
        return Err(invalid_parameter(format!(
            "The message ({kind}) attribute '{name}' must contain a non-empty message attribute type."
        )));
    }
    if value.get("StringListValues").is_some() || value.get("BinaryListValues").is_some() {
        return Err(invalid_parameter(
            "Message attribute list values in SendMessage operation are not supported.",
        ));
    }
    let base = data_type.split('.').next().unwrap_or_default();
    let text = input::string(value, "StringValue")?;
    let binary = input::string(value, "BinaryValue")?;
    let empty_value = || {
        invalid_parameter(format!(
            "The message ({kind}) attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
        ))
    };
    match base {
        "String" | "Number" => {
            let text = text.filter(|t| !t.is_empty()).ok_or_else(empty_value)?;
            if base == "Number" && !is_number(text) {
                return Err(invalid_parameter(format!(
                    "Can't cast the value of message ({kind}) attribute '{name}' to a number."
                )));
            }
            allowed_text(text).map_err(|c| {
                invalid_parameter(format!(
                    "Invalid binary character '#x{:X}' was found in the value of message ({kind}) attribute '{name}', the set of allowed characters is {ALLOWED}",
                    c as u32
                ))
            })?;
            Ok(MessageAttribute {
                data_type: data_type.to_string(),
                string_value: Some(text.to_string()),
                binary_value: None,
            })
        }
        "Binary" => {
            let bytes = binary
                .map(|b| STANDARD.decode(b))
                .transpose()
                .map_err(|_| {
                    AwsError::serialization(format!(
                        "the BinaryValue of message attribute '{name}' is not base64"
                    ))
                })?
                .filter(|b| !b.is_empty())
                .ok_or_else(empty_value)?;
            Ok(MessageAttribute {
                data_type: data_type.to_string(),
                string_value: None,
                binary_value: Some(bytes),
            })
        }
        _ => Err(invalid_parameter(format!(
            "The type of message ({kind}) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        ))),
    }
}

/// A number as SQS's `Number` type takes it: decimal, with an optional sign, fraction and
/// exponent, at most 38 significant digits.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let significant = format!("{whole}{fraction}");
    let significant = significant.trim_start_matches('0').trim_end_matches('0');
    !(whole.is_empty() && fraction.is_empty())
        && digits(whole)
        && digits(fraction)
        && significant.len() <= 38
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        })
        && text.parse::<f64>().is_ok_and(f64::is_finite)
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

    #[test]
    fn numbers_are_sqss_numbers() {
        for good in [
            "1",
            "-1.5",
            "+0.25",
            "1e10",
            "12345678901234567890123456789012345678",
        ] {
            assert!(is_number(good), "{good}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1e",
            "123456789012345678901234567890123456789",
            "--1",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_names_follow_sqss_rules() {
        assert!(valid_attribute_name("order.total_cents-1"));
        for bad in [".a", "a.", "a..b", "AWS.x", "amazon.x", "a b", ""] {
            assert!(!valid_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_body_with_a_control_character_is_refused_at_it() {
        assert_eq!(allowed_text("ok\ttab\nline"), Ok(()));
        assert_eq!(allowed_text("bad\u{1}"), Err('\u{1}'));
        assert_eq!(allowed_text("bad\u{FFFE}"), Err('\u{FFFE}'));
    }
}
