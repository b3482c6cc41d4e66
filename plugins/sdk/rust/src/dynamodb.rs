//! DynamoDB's shapes: a stream record, an item image of typed attribute values, and the
//! conversions to and from plain JSON (`unmarshall`, `marshall`), as AWS's SDKs make them.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// One typed attribute value, as DynamoDB writes it in JSON: `{"S": "text"}`, `{"N": "42.5"}`.
/// Numbers keep their text, so that no digit is lost; binary values are base64 text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    B(String),
    SS(Vec<String>),
    NS(Vec<String>),
    BS(Vec<String>),
    M(Attributes),
    L(Vec<AttributeValue>),
    NULL(bool),
    BOOL(bool),
}

impl AttributeValue {
    /// The text of an `S`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::S(text) => Some(text),
            _ => None,
        }
    }

    /// The value of an `N` as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttributeValue::N(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttributeValue::BOOL(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as plain JSON; see [`unmarshall`].
    pub fn unmarshall(&self) -> Value {
        unmarshall_value(self)
    }
}

/// Attribute names to typed values: an item, a key, or an `M` value.
pub type Attributes = BTreeMap<String, AttributeValue>;

/// An item image or key of a stream record, kept as the JSON text it came as and read on
/// demand: looking up one attribute reads past the others without building them, so a plugin
/// pays only for what it reads.
///
/// `Image<&RawValue>` borrows the text from the JSON being read, as a type of your own may
/// (`#[serde(borrow)] image: Image<&'a RawValue>`), and copies nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Image<R = Box<RawValue>>(R);

impl<R: Borrow<RawValue>> Image<R> {
    /// The attribute `name`, if the image has it.
    pub fn get(&self, name: &str) -> Option<AttributeValue> {
        let mut json = serde_json::Deserializer::from_str(self.0.borrow().get());
        json.deserialize_map(Find::<AttributeValue>::new(name))
            .ok()
            .flatten()
    }

    /// The text of the `S` attribute `name`.
    pub fn string(&self, name: &str) -> Option<String> {
        let mut json = serde_json::Deserializer::from_str(self.0.borrow().get());
        match json
            .deserialize_map(Find::<Typed>::new(name))
            .ok()
            .flatten()?
        {
            Typed::S(text) => Some(text.into_owned()),
            _ => None,
        }
    }

    /// The `N` attribute `name` as an `f64`.
    pub fn number(&self, name: &str) -> Option<f64> {
        let mut json = serde_json::Deserializer::from_str(self.0.borrow().get());
        match json
            .deserialize_map(Find::<Typed>::new(name))
            .ok()
            .flatten()?
        {
            Typed::N(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The attributes `names`, in one reading of the image.
    pub fn pick<const N: usize>(&self, names: [&str; N]) -> [Option<AttributeValue>; N] {
        let mut json = serde_json::Deserializer::from_str(self.0.borrow().get());
        json.deserialize_map(Pick(names))
            .unwrap_or_else(|_| std::array::from_fn(|_| None))
    }

    /// Every attribute.
    pub fn attributes(&self) -> Attributes {
        serde_json::from_str(self.0.borrow().get()).unwrap_or_default()
    }

    /// The image as plain JSON; see [`unmarshall`].
    pub fn unmarshall(&self) -> Map<String, Value> {
        unmarshall(&self.attributes())
    }

    /// The image's JSON text, as the record carries it.
    pub fn json(&self) -> &str {
        self.0.borrow().get()
    }
}

impl From<&Attributes> for Image {
    fn from(attributes: &Attributes) -> Image {
        let text = serde_json::to_string(attributes).unwrap_or_else(|_| "{}".into());
        Image(RawValue::from_string(text).unwrap_or_else(|_| empty()))
    }
}

impl<R: Borrow<RawValue>> PartialEq for Image<R> {
    fn eq(&self, other: &Image<R>) -> bool {
        self.attributes() == other.attributes()
    }
}

impl Default for Image {
    fn default() -> Image {
        Image(empty())
    }
}

fn empty() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("`{}` is JSON")
}

/// A typed value of the kinds read without building them.
#[derive(Deserialize)]
enum Typed<'a> {
    #[serde(borrow)]
    S(Cow<'a, str>),
    #[serde(borrow)]
    N(Cow<'a, str>),
    #[serde(other)]
    Other,
}

/// Reads one member of a JSON object as a `T`, passing over the others.
pub(crate) struct Find<'n, T> {
    name: &'n str,
    found: PhantomData<T>,
}

impl<'n, T> Find<'n, T> {
    pub(crate) fn new(name: &'n str) -> Find<'n, T> {
        Find {
            name,
            found: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Find<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(named) = members.next_key_seed(IsName(self.name))? {
            if named && found.is_none() {
                found = Some(members.next_value()?);
            } else {
                members.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Reads the members named, passing over the others.
struct Pick<'n, const N: usize>([&'n str; N]);

impl<'de, const N: usize> Visitor<'de> for Pick<'_, N> {
    type Value = [Option<AttributeValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        let mut found: Self::Value = std::array::from_fn(|_| None);
        while let Some(at) = members.next_key_seed(Position(&self.0))? {
            match at {
                Some(i) if found[i].is_none() => found[i] = Some(members.next_value()?),
                _ => drop(members.next_value::<IgnoredAny>()?),
            }
        }
        Ok(found)
    }
}

/// Where a member's name is among these, read without copying it.
struct Position<'a, 'n>(&'a [&'n str]);

impl<'de> DeserializeSeed<'de> for Position<'_, '_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, name: D) -> Result<Option<usize>, D::Error> {
        name.deserialize_str(self)
    }
}

impl Visitor<'_> for Position<'_, '_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == name))
    }
}

/// Whether a member's name is this one, read without copying it.
struct IsName<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for IsName<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, name: D) -> Result<bool, D::Error> {
        name.deserialize_str(self)
    }
}

impl Visitor<'_> for IsName<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

/// What the write did to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

/// A DynamoDB Streams record, as Lambda and EventBridge Pipes hand it over: what changed
/// (`eventName`, `Keys`, `NewImage`, `OldImage`) and where it is in the stream. The members
/// that are the same for every record of a stream (`eventSource`, `awsRegion`,
/// `eventSourceARN`, `eventVersion`, `StreamViewType`) are passed over unread, which keeps a
/// filter fast; take the event as a [`serde_json::Value`] to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName")]
    pub event_name: EventName,
    pub dynamodb: StreamData,
}

/// The `dynamodb` member of a stream record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamData {
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_creation_date_time: Option<f64>,
    pub keys: Image,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Image>,
    pub sequence_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

impl StreamRecord {
    pub fn keys(&self) -> &Image {
        &self.dynamodb.keys
    }

    /// The item after the write (none for a `REMOVE`, or a stream without new images).
    pub fn new_image(&self) -> Option<&Image> {
        self.dynamodb.new_image.as_ref()
    }

    /// The item before the write (none for an `INSERT`, or a stream without old images).
    pub fn old_image(&self) -> Option<&Image> {
        self.dynamodb.old_image.as_ref()
    }

    pub fn sequence_number(&self) -> &str {
        &self.dynamodb.sequence_number
    }
}

/// An image as plain JSON, as AWS's `unmarshall` makes it: `S` a string, `N` a number with every
/// digit of its text, `BOOL` and `NULL` themselves, `M` an object, `L` an array, a set an
/// array of its members, and binary its base64 text.
pub fn unmarshall(attributes: &Attributes) -> Map<String, Value> {
    attributes
        .iter()
        .map(|(name, value)| (name.clone(), unmarshall_value(value)))
        .collect()
}

fn unmarshall_value(value: &AttributeValue) -> Value {
    let number = |text: &String| match text.parse::<Number>() {
        Ok(number) => Value::Number(number),
        Err(_) => Value::String(text.clone()),
    };
    match value {
        AttributeValue::S(text) | AttributeValue::B(text) => Value::String(text.clone()),
        AttributeValue::N(text) => number(text),
        AttributeValue::SS(texts) | AttributeValue::BS(texts) => {
            Value::Array(texts.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::NS(texts) => Value::Array(texts.iter().map(number).collect()),
        AttributeValue::M(image) => Value::Object(unmarshall(image)),
        AttributeValue::L(values) => Value::Array(values.iter().map(unmarshall_value).collect()),
        AttributeValue::NULL(_) => Value::Null,
        AttributeValue::BOOL(b) => Value::Bool(*b),
    }
}

/// Plain JSON as an image, as AWS's `marshall` makes it: a string `S`, a number `N` (with its
/// every digit), `true`/`false` `BOOL`, `null` `NULL`, an object `M`, an array `L`. Sets and
/// binary values have no plain JSON form: build those [`AttributeValue`]s directly.
pub fn marshall(object: &Map<String, Value>) -> Attributes {
    object
        .iter()
        .map(|(name, value)| (name.clone(), marshall_value(value)))
        .collect()
}

fn marshall_value(value: &Value) -> AttributeValue {
    match value {
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Number(number) => AttributeValue::N(number.to_string()),
        Value::Bool(b) => AttributeValue::BOOL(*b),
        Value::Null => AttributeValue::NULL(true),
        Value::Object(object) => AttributeValue::M(marshall(object)),
        Value::Array(values) => AttributeValue::L(values.iter().map(marshall_value).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unmarshall_keeps_every_digit_and_marshall_gives_it_back() {
        let image: Attributes = serde_json::from_value(json!({
            "id": {"S": "o-1"},
            "total": {"N": "12345678901234567890.123456789"},
            "tags": {"SS": ["a", "b"]},
            "sizes": {"NS": ["1", "2.5"]},
            "blob": {"B": "AAEC"},
            "lines": {"L": [{"M": {"sku": {"S": "x"}, "qty": {"N": "2"}}}]},
            "gift": {"BOOL": true},
            "note": {"NULL": true}
        }))
        .unwrap();
        let plain = unmarshall(&image);
        assert_eq!(
            serde_json::to_string(&plain["total"]).unwrap(),
            "12345678901234567890.123456789"
        );
        assert_eq!(plain["tags"], json!(["a", "b"]));
        assert_eq!(plain["sizes"], json!([1, 2.5]));
        assert_eq!(plain["blob"], json!("AAEC"));
        assert_eq!(plain["lines"], json!([{"sku": "x", "qty": 2}]));
        assert_eq!(
            (plain["gift"].clone(), plain["note"].clone()),
            (json!(true), Value::Null)
        );

        let back = marshall(&plain);
        assert_eq!(back["total"], image["total"]);
        assert_eq!(back["lines"], image["lines"]);
        assert_eq!(
            back["tags"],
            AttributeValue::L(vec![
                AttributeValue::S("a".into()),
                AttributeValue::S("b".into())
            ])
        );
    }

    #[test]
    fn a_stream_record_reads_as_the_host_writes_it() {
        let record: StreamRecord = serde_json::from_value(json!({
            "eventID": "e-1", "eventName": "MODIFY", "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1700000000,
                "Keys": {"orderId": {"S": "o-1"}},
                "NewImage": {"orderId": {"S": "o-1"}, "total": {"N": "150"}},
                "OldImage": {"orderId": {"S": "o-1"}, "total": {"N": "90"}},
                "SequenceNumber": "000000000000000000001", "SizeBytes": 60,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/x"
        }))
        .unwrap();
        assert_eq!(record.event_name, EventName::Modify);
        assert_eq!(record.keys().string("orderId").as_deref(), Some("o-1"));
        assert_eq!(
            record.keys().get("orderId"),
            Some(AttributeValue::S("o-1".into()))
        );
        assert_eq!(record.keys().number("orderId"), None);
        let image = record.new_image().unwrap();
        assert_eq!(
            image.pick(["total", "missing", "orderId"]),
            [
                Some(AttributeValue::N("150".into())),
                None,
                Some(AttributeValue::S("o-1".into()))
            ]
        );
        assert_eq!(
            record.new_image().and_then(|i| i.number("total")),
            Some(150.0)
        );
        assert_eq!(
            record.old_image().and_then(|i| i.number("total")),
            Some(90.0)
        );
        assert_eq!(record.sequence_number(), "000000000000000000001");
    }
}
