//! Records in AWS's shapes, so that AWS patterns and code carry over: DynamoDB attribute values
//! and the DynamoDB Streams change record as Lambda and EventBridge Pipes see it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::{Key, KeySchema, KeyValue};

/// A DynamoDB attribute value in its JSON form, e.g. `{"S": "abc"}` or `{"N": "42"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    B(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    L(Vec<AttributeValue>),
    M(BTreeMap<String, AttributeValue>),
    SS(Vec<String>),
    NS(Vec<String>),
    BS(Vec<String>),
}

impl AttributeValue {
    /// The attribute value DynamoDB stores for a plain JSON value.
    pub fn from_json(value: &Value) -> AttributeValue {
        match value {
            Value::Null => AttributeValue::Null(true),
            Value::Bool(b) => AttributeValue::Bool(*b),
            Value::Number(n) => AttributeValue::N(n.to_string()),
            Value::String(s) => AttributeValue::S(s.clone()),
            Value::Array(items) => AttributeValue::L(items.iter().map(Self::from_json).collect()),
            Value::Object(map) => AttributeValue::M(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The plain JSON a DynamoDB attribute value stands for (sets become arrays).
    pub fn to_json(&self) -> Value {
        let number = |n: &str| {
            serde_json::from_str::<Value>(n).unwrap_or_else(|_| Value::String(n.to_string()))
        };
        match self {
            AttributeValue::S(s) | AttributeValue::B(s) => Value::String(s.clone()),
            AttributeValue::N(n) => number(n),
            AttributeValue::Bool(b) => Value::Bool(*b),
            AttributeValue::Null(_) => Value::Null,
            AttributeValue::L(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            AttributeValue::M(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            AttributeValue::SS(items) | AttributeValue::BS(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
            AttributeValue::NS(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        }
    }
}

/// An item as DynamoDB JSON: attribute name to attribute value.
pub type Image = BTreeMap<String, AttributeValue>;

/// A change record's `Keys`: an item's key attributes as DynamoDB attribute values.
pub fn key_image(schema: &KeySchema, key: &Key) -> Image {
    let value = |value: &KeyValue| match value {
        KeyValue::S(text) => AttributeValue::S(text.clone()),
        KeyValue::N(text) => AttributeValue::N(text.clone()),
    };
    let mut keys = Image::new();
    keys.insert(schema.partition.name.clone(), value(&key.partition));
    if let (Some(attribute), Some(sort)) = (&schema.sort, &key.sort) {
        keys.insert(attribute.name.clone(), value(sort));
    }
    keys
}

/// Converts a plain JSON object to a DynamoDB image.
pub fn image_of(item: &Map<String, Value>) -> Image {
    item.iter()
        .map(|(k, v)| (k.clone(), AttributeValue::from_json(v)))
        .collect()
}

/// An image as its DynamoDB JSON text, e.g. `{"total":{"N":"42"}}`. A pipe sends records on as
/// text, so an image read from the embedded store goes from the stored item's text to this text
/// in one pass, with no tree of attribute values between them; only what looks inside (an
/// unmarshalling filter, a test) parses it, with [`ImageText::image`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct ImageText(Box<RawValue>);

impl ImageText {
    /// The text of an image.
    pub fn of(image: &Image) -> ImageText {
        ImageText(serde_json::value::to_raw_value(image).expect("an image serializes"))
    }

    /// Reads a plain JSON object's text (a stored item) as the image [`image_of`] makes of the
    /// parsed object: `{"total": 42}` becomes `{"total":{"N":"42"}}`.
    pub fn from_plain(text: &str) -> serde_json::Result<ImageText> {
        let mut out = Vec::with_capacity(text.len() * 2);
        let mut plain = serde_json::Deserializer::from_str(text);
        serde::Deserializer::deserialize_map(&mut plain, Members(&mut out))?;
        plain.end()?;
        let out = String::from_utf8(out).expect("JSON text written from UTF-8 is UTF-8");
        // RawValue checks the text once more (serde_json has no unchecked constructor): a
        // fast skim, far cheaper than the tree of attribute values this replaces.
        Ok(ImageText(RawValue::from_string(out)?))
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

/// Writes a plain JSON object's members as an image's: each value as the attribute value
/// [`AttributeValue::from_json`] makes of it.
struct Members<'a>(&'a mut Vec<u8>);

/// Writes one plain JSON value as its attribute value.
struct Attribute<'a>(&'a mut Vec<u8>);

/// Writes a member's name as a JSON string.
struct Name<'a>(&'a mut Vec<u8>);

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// Writes `open`, then what `next` writes each time, comma-separated, until it writes nothing
/// (it returns false), then `close`.
fn write_joined<E>(
    out: &mut Vec<u8>,
    (open, close): (&str, &str),
    mut next: impl FnMut(&mut Vec<u8>) -> Result<bool, E>,
) -> Result<(), E> {
    out.extend_from_slice(open.as_bytes());
    for n in 0.. {
        let mark = out.len();
        if n > 0 {
            out.push(b',');
        }
        if !next(out)? {
            out.truncate(mark);
            break;
        }
    }
    out.extend_from_slice(close.as_bytes());
    Ok(())
}

/// Writes a map's members as `"NAME":ATTRIBUTE,...` between `open` and `close`.
fn write_members<'de, A: serde::de::MapAccess<'de>>(
    out: &mut Vec<u8>,
    brackets: (&str, &str),
    mut members: A,
) -> Result<(), A::Error> {
    write_joined(out, brackets, |out| {
        if members.next_key_seed(Name(out))?.is_none() {
            return Ok(false);
        }
        out.push(b':');
        members.next_value_seed(Attribute(out))?;
        Ok(true)
    })
}

impl<'de> serde::de::Visitor<'de> for Members<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, members: A) -> Result<(), A::Error> {
        write_members(self.0, ("{", "}"), members)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Name<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, name: D) -> Result<(), D::Error> {
        name.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Name<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, name: &str) -> Result<(), E> {
        write_str(self.0, name);
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Attribute<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, value: D) -> Result<(), D::Error> {
        value.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Attribute<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(br#"{"NULL":true}"#);
        Ok(())
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        let text: &[u8] = if b {
            br#"{"BOOL":true}"#
        } else {
            br#"{"BOOL":false}"#
        };
        self.0.extend_from_slice(text);
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.number(n)
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.number(n)
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<(), E> {
        // serde_json's own spelling of the number, as `from_json` has it.
        let n = serde_json::Number::from_f64(n)
            .ok_or_else(|| E::custom("a number that is not finite"))?;
        self.number(n)
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.extend_from_slice(br#"{"S":"#);
        write_str(self.0, s);
        self.0.push(b'}');
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        write_joined(self.0, (r#"{"L":["#, "]}"), |out| {
            Ok(items.next_element_seed(Attribute(out))?.is_some())
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, members: A) -> Result<(), A::Error> {
        write_members(self.0, (r#"{"M":{"#, "}}"), members)
    }
}

impl Attribute<'_> {
    fn number<E>(self, n: impl std::fmt::Display) -> Result<(), E> {
        use std::io::Write;
        write!(self.0, r#"{{"N":"{n}"}}"#).expect("writing to a Vec cannot fail");
        Ok(())
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
                    .map(|(k, v)| (k.clone(), v.to_json()))
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

    #[test]
    fn json_converts_to_dynamodb_attribute_values_and_back() {
        let item = json!({"orderId": "o-1", "total": 42.5, "paid": true, "note": null,
                          "lines": [{"sku": "a", "qty": 2}], "tags": ["x"]});
        let image = image_of(item.as_object().unwrap());
        assert_eq!(
            serde_json::to_value(&image).unwrap(),
            json!({"orderId": {"S": "o-1"}, "total": {"N": "42.5"}, "paid": {"BOOL": true},
                   "note": {"NULL": true}, "tags": {"L": [{"S": "x"}]},
                   "lines": {"L": [{"M": {"sku": {"S": "a"}, "qty": {"N": "2"}}}]}})
        );
        let back: Map<String, Value> = image
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        assert_eq!(Value::Object(back), item);
    }

    #[test]
    fn an_image_read_from_plain_text_is_the_image_of_the_parsed_text() {
        let text = r#"{"orderId": "o-\u00e9\n1", "total": 42.5, "big": 18446744073709551615,
            "neg": -7, "tiny": 1e-7, "huge": 1e20, "paid": true, "note": null, "empty": {},
            "lines": [{"sku": "a", "qty": 2, "tags": [[], [1.0, "x"]]}], "orderId2": ""}"#;
        let parsed: Map<String, Value> = serde_json::from_str(text).unwrap();
        let image = ImageText::from_plain(text).unwrap();
        assert_eq!(image.image(), image_of(&parsed));
        // A stored item's text has its members in order: its image text is the same, byte for byte.
        let stored = serde_json::to_string(&parsed).unwrap();
        assert_eq!(
            ImageText::from_plain(&stored).unwrap().as_str(),
            ImageText::of(&image_of(&parsed)).as_str()
        );
        assert!(ImageText::from_plain("[1]").is_err());
        assert!(ImageText::from_plain("{\"a\": 1").is_err());
        assert!(ImageText::from_plain("{\"a\": 1} x").is_err());
        assert_eq!(ImageText::from_plain("{}").unwrap().as_str(), "{}");
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
