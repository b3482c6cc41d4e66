//! Records in AWS's shapes, so that AWS patterns and code carry over: DynamoDB attribute values
//! and the DynamoDB Streams change record as Lambda and EventBridge Pipes see it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::{Key, KeySchema};

pub use crate::value::{AttributeValue, Image};

/// A change record's `Keys`: an item's key attributes as DynamoDB attribute values.
pub fn key_image(schema: &KeySchema, key: &Key) -> Image {
    schema.image(key)
}

/// An image as its DynamoDB JSON text, e.g. `{"total":{"N":"42"}}`. A pipe sends records on as
/// text, and the embedded store keeps items as this text, so a record's image goes from the
/// store to a plugin with no tree of attribute values between them; only what looks inside (an
/// unmarshalling filter, a test) parses it, with [`ImageText::image`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct ImageText(Box<RawValue>);

impl ImageText {
    /// The text of an image.
    pub fn of(image: &Image) -> ImageText {
        ImageText(serde_json::value::to_raw_value(image).expect("an image serializes"))
    }

    /// The text of an image as the store keeps it (an item's stored text is its image's).
    pub fn stored(text: String) -> serde_json::Result<ImageText> {
        RawValue::from_string(text).map(ImageText)
    }

    /// The image this text holds.
    pub fn image(&self) -> Image {
        serde_json::from_str(self.0.get()).expect("an ImageText holds an image")
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for ImageText {
    fn eq(&self, other: &ImageText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<'de> Deserialize<'de> for ImageText {
    /// Through [`Image`], so that an `ImageText` always holds an image.
    fn deserialize<D: serde::Deserializer<'de>>(image: D) -> Result<ImageText, D::Error> {
        Image::deserialize(image).map(|image| ImageText::of(&image))
    }
}

/// `INSERT`, `MODIFY` or `REMOVE`, as in DynamoDB Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }

    pub fn parse(text: &str) -> Option<EventName> {
        [EventName::Insert, EventName::Modify, EventName::Remove]
            .into_iter()
            .find(|e| e.as_str() == text)
    }
}

/// One change record of a table's stream, in the DynamoDB Streams record shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName")]
    pub event_name: EventName,
    #[serde(rename = "eventVersion")]
    pub event_version: String,
    #[serde(rename = "eventSource")]
    pub event_source: String,
    #[serde(rename = "awsRegion")]
    pub aws_region: String,
    pub dynamodb: StreamRecordData,
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
    /// The trace header (X-Ray's format) of the write that made the record, which the pipe's
    /// spans join; not part of the record's shape.
    #[serde(skip)]
    pub trace: Option<String>,
}

/// The `dynamodb` part of a stream record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRecordData {
    /// Seconds since the epoch, as Lambda and Pipes show it.
    pub approximate_creation_date_time: i64,
    pub keys: Image,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<ImageText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<ImageText>,
    pub sequence_number: SequenceNumber,
    pub size_bytes: u64,
    pub stream_view_type: String,
}

/// A position in a stream shard. Embedded sequence numbers are 21 decimal digits, like
/// DynamoDB's, so that they also sort as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SequenceNumber(pub String);

impl SequenceNumber {
    pub fn from_u64(n: u64) -> SequenceNumber {
        SequenceNumber(format!("{n:021}"))
    }

    pub fn to_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StreamRecord {
    /// The record as JSON with `Keys`, `NewImage` and `OldImage` unwrapped to plain JSON
    /// (`{"total": {"N": "42"}}` becomes `{"total": 42}`): what a pipe filter with
    /// `unmarshal = true` matches against.
    pub fn unmarshalled(&self) -> Value {
        let plain = |image: &Image| {
            Value::Object(
                image
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_plain()))
                    .collect(),
            )
        };
        let mut json = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(data) = json.get_mut("dynamodb").and_then(Value::as_object_mut) {
            data.insert("Keys".into(), plain(&self.dynamodb.keys));
            for (name, image) in [
                ("NewImage", &self.dynamodb.new_image),
                ("OldImage", &self.dynamodb.old_image),
            ] {
                if let Some(image) = image {
                    data.insert(name.into(), plain(&image.image()));
                }
            }
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image_of(item: &serde_json::Map<String, Value>) -> Image {
        crate::value::image_of(item).unwrap()
    }

    #[test]
    fn sequence_numbers_sort_as_text_and_as_numbers_alike() {
        let (a, b) = (SequenceNumber::from_u64(9), SequenceNumber::from_u64(10));
        assert!(a < b);
        assert_eq!(a.as_str().len(), 21);
        assert_eq!(b.to_u64(), Some(10));
    }

    #[test]
    fn a_stream_record_serializes_in_the_dynamodb_streams_shape() {
        let record = StreamRecord {
            event_id: "e".into(),
            event_name: EventName::Insert,
            event_version: "1.1".into(),
            event_source: "aws:dynamodb".into(),
            aws_region: "us-east-1".into(),
            dynamodb: StreamRecordData {
                approximate_creation_date_time: 1,
                keys: image_of(json!({"orderId": "o"}).as_object().unwrap()),
                new_image: None,
                old_image: None,
                sequence_number: SequenceNumber::from_u64(1),
                size_bytes: 10,
                stream_view_type: "KEYS_ONLY".into(),
            },
            event_source_arn: "arn".into(),
            trace: None,
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["eventName"], "INSERT");
        assert_eq!(json["dynamodb"]["Keys"]["orderId"]["S"], "o");
        assert_eq!(json["dynamodb"]["SequenceNumber"], "000000000000000000001");
        assert!(json["dynamodb"].get("NewImage").is_none());
    }

    #[test]
    fn unmarshal_mode_lets_a_filter_compare_image_numbers_as_numbers() {
        let item = json!({"orderId": "o-1", "total": 142.5, "lines": [{"sku": "a"}]});
        let record = StreamRecord {
            event_id: "e".into(),
            event_name: EventName::Insert,
            event_version: "1.1".into(),
            event_source: "aws:dynamodb".into(),
            aws_region: "us-east-1".into(),
            dynamodb: StreamRecordData {
                approximate_creation_date_time: 1,
                keys: image_of(json!({"orderId": "o-1"}).as_object().unwrap()),
                new_image: Some(ImageText::of(&image_of(item.as_object().unwrap()))),
                old_image: None,
                sequence_number: SequenceNumber::from_u64(1),
                size_bytes: 10,
                stream_view_type: "NEW_AND_OLD_IMAGES".into(),
            },
            event_source_arn: "arn".into(),
            trace: None,
        };
        let typed = serde_json::to_string(&record).unwrap();
        let plain = record.unmarshalled().to_string();
        let numeric = crate::pattern::Pattern::compile(
            r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"total": [{"numeric": [">", 100]}], "lines": {"sku": ["a"]}}}}"#,
        )
        .unwrap();
        assert!(numeric.matches_json(&plain).unwrap());
        assert!(
            !numeric.matches_json(&typed).unwrap(),
            "typed images hold numbers as strings under `N`"
        );
        let aws_style = crate::pattern::Pattern::compile(
            r#"{"dynamodb": {"NewImage": {"total": {"N": ["142.5"]}}}}"#,
        )
        .unwrap();
        assert!(aws_style.matches_json(&typed).unwrap());
        assert!(!aws_style.matches_json(&plain).unwrap());
        assert_eq!(
            record.unmarshalled()["dynamodb"]["Keys"],
            json!({"orderId": "o-1"})
        );
    }
}
