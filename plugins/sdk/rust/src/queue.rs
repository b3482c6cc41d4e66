use serde::de::DeserializeOwned;

use crate::Error;

/// A queue message handed to a consumer, as SQS delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// SQS's `messageId`.
    pub id: String,
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// SQS's attributes, by name: `SentTimestamp`, `SenderId`, `MessageGroupId` (FIFO)...
    pub attributes: Vec<(String, String)>,
}

impl Message {
    /// The body parsed as JSON into a `T` (an [`crate::Envelope`], a [`crate::StreamRecord`],
    /// a type of your own); a body that does not parse is invalid.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.body)
            .map_err(|err| Error::Invalid(format!("message {}: {err}", self.id)))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        let found = self.attributes.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.as_str())
    }

    /// The message group of a FIFO queue's message.
    pub fn group_id(&self) -> Option<&str> {
        self.attribute("MessageGroupId")
    }
}

/// What a consumer decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled: the message is deleted.
    Ok,
    /// Try again: the message shows again after this many seconds (none: after the queue's
    /// visibility timeout). It still moves to the DLQ once its receive count passes the
    /// queue's `max_receive_count`.
    Retry(Option<u32>),
    /// Give up now: the message moves to the queue's DLQ with this reason.
    DeadLetter(String),
}
