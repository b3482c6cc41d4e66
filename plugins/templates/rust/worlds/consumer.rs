//! {{name}}: a consumer. A message is the change record of an item (from a pipe that targets
//! the queue) or an EventBridge event that carries one as its `detail` (from a bus rule). It
//! logs the item's key and handles the message; any other message goes to the queue's DLQ,
//! with the reason.

use std::fmt::Display;

use switchyard_plugin::{AttributeValue, Envelope, Message, Outcome, StreamRecord, consumer, log};

/// Called once per message: `Outcome::Ok` deletes it, `Outcome::Retry(seconds)` shows it
/// again later, `Outcome::DeadLetter(reason)` moves it to the queue's DLQ now.
#[consumer]
fn handle(message: Message) -> Outcome {
    let record = message
        .json::<StreamRecord>()
        .or_else(|_| message.json::<Envelope<StreamRecord>>().map(|event| event.detail));
    let Ok(record) = record else {
        // The same message would fail again: no use retrying it.
        return Outcome::DeadLetter(format!(
            "message {} is not a change record of a table, nor an EventBridge event carrying one",
            message.id
        ));
    };

    // The item's key, under its table's own attribute names (`id="x-1"` for a table keyed
    // `id`). Info lines show in the host's log as it runs by default.
    let key = key(&record);
    let fields: Vec<(&str, &dyn Display)> = key
        .iter()
        .map(|(name, value)| (name.as_str(), value as &dyn Display))
        .collect();
    log::info("handled", &fields);
    Outcome::Ok
}

/// The record's `Keys` as (name, text) pairs. A key attribute is a string, a number or binary
/// (base64), each held as text.
fn key(record: &StreamRecord) -> Vec<(String, String)> {
    let attributes = record.keys().attributes().into_iter();
    attributes
        .map(|(name, value)| match value {
            AttributeValue::S(text) | AttributeValue::N(text) | AttributeValue::B(text) => {
                (name, text)
            }
            other => (name, other.unmarshall().to_string()),
        })
        .collect()
}
