//! A table's primary key, as DynamoDB's: a partition key and an optional sort key, each a
//! string (`S`) or a number (`N`). Numbers are kept as their canonical decimal text, so `1.50`
//! and `1.5` are the same key, and sort by value, not by text.

use std::fmt;

use serde_json::{Map, Value};

use crate::value::{AttributeValue, Image, Number};

/// DynamoDB's largest partition key value, in bytes; a sort key may have [`MAX_SORT_LEN`].
pub const MAX_PARTITION_LEN: usize = 2048;
pub const MAX_SORT_LEN: usize = 1024;

/// The type of a key attribute. DynamoDB's binary (`B`) keys are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    S,
    N,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
        }
    }
}

/// What fills a key attribute a create request leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// A UUID (version 7, so later ones sort later), like an API Gateway request id.
    Uuid,
    /// The request's time, as the item's `createdAt` is written (RFC 3339, milliseconds, UTC).
    Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: KeyType,
    pub generated: Option<Generated>,
}

/// A table's key attributes: DynamoDB's HASH and optional RANGE key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
}

/// One key attribute's value: a string, or a number as its canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    S(String),
    N(String),
}

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub partition: KeyValue,
    pub sort: Option<KeyValue>,
}

impl KeyValue {
    pub fn text(&self) -> &str {
        match self {
            KeyValue::S(text) | KeyValue::N(text) => text,
        }
    }

    /// The value as a JSON attribute of an item.
    pub fn to_json(&self) -> Value {
        match self {
            KeyValue::S(text) => Value::String(text.clone()),
            KeyValue::N(text) => serde_json::from_str::<serde_json::Number>(text)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(text.clone())),
        }
    }

    /// Text that sorts, byte for byte, as DynamoDB sorts the values: strings by their UTF-8
    /// bytes, numbers by value.
    fn sortable(&self) -> String {
        match self {
            KeyValue::S(text) => text.clone(),
            KeyValue::N(text) => {
                Number::parse(text).map_or_else(|_| String::new(), |n| n.sortable())
            }
        }
    }
}

impl Key {
    /// A key of a table with a string partition key and no sort key.
    pub fn simple(partition: impl Into<String>) -> Key {
        Key {
            partition: KeyValue::S(partition.into()),
            sort: None,
        }
    }

    /// The key as one text for the embedded store: the partition key's text, then (on a table
    /// with a sort key) a NUL and the sort key's sortable text, so that one partition's items
    /// are adjacent and in sort-key order. A table keyed by a string alone stores the string.
    pub fn storage(&self) -> String {
        match &self.sort {
            None => self.partition.text().to_string(),
            Some(sort) => format!("{}\0{}", self.partition.text(), sort.sortable()),
        }
    }

    /// The key back if its strings are within DynamoDB's lengths for key values.
    fn within_limits(self, schema: &KeySchema) -> Result<Key, String> {
        let long = |value: &KeyValue, limit: usize, name: &str| match value {
            KeyValue::S(text) if text.len() > limit => Err(format!(
                "key `{name}` is {} bytes long; DynamoDB keeps at most {limit}",
                text.len()
            )),
            _ => Ok(()),
        };
        long(&self.partition, MAX_PARTITION_LEN, &schema.partition.name)?;
        if let (Some(sort), Some(attribute)) = (&self.sort, &schema.sort) {
            long(sort, MAX_SORT_LEN, &attribute.name)?;
        }
        Ok(self)
    }

    /// The first text past every storage text of `partition`'s items.
    pub fn partition_end(partition: &KeyValue) -> String {
        format!("{}\u{1}", partition.text())
    }

    /// The first storage text of `partition`'s items.
    pub fn partition_start(partition: &KeyValue) -> String {
        format!("{}\0", partition.text())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sort {
            None => f.write_str(self.partition.text()),
            Some(sort) => write!(f, "{}/{}", self.partition.text(), sort.text()),
        }
    }
}

/// A key of a table keyed by one string attribute.
impl From<&str> for Key {
    fn from(partition: &str) -> Key {
        Key::simple(partition)
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.sort.is_none() && self.partition.text() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl KeySchema {
    /// A table keyed by one string attribute, as routes.toml's `key = "id"` declares it.
    pub fn simple(name: impl Into<String>) -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: name.into(),
                kind: KeyType::S,
                generated: Some(Generated::Uuid),
            },
            sort: None,
        }
    }

    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(&self.sort)
    }

    /// Whether `name` is one of the key attributes.
    pub fn is_key(&self, name: &str) -> bool {
        self.attributes().any(|a| a.name == name)
    }

    /// The key an item's body holds, or what is wrong with it (DynamoDB's wording where it
    /// has one).
    pub fn key_of(&self, body: &Map<String, Value>) -> Result<Key, String> {
        self.key_from(|name| body.get(name), KeyAttribute::value_of)
    }

    /// The key an item's image holds, or what is wrong with it, in DynamoDB's words.
    pub fn key_of_image(&self, image: &Image) -> Result<Key, String> {
        self.key_from(|name| image.get(name), KeyAttribute::value_of_attribute)
    }

    /// The key of the attributes `get` finds, each read by `read`.
    fn key_from<'v, V: 'v>(
        &self,
        get: impl Fn(&str) -> Option<&'v V>,
        read: impl Fn(&KeyAttribute, &'v V) -> Result<KeyValue, String>,
    ) -> Result<Key, String> {
        let value = |attribute: &KeyAttribute| match get(&attribute.name) {
            Some(value) => read(attribute, value),
            None => Err(format!(
                "One of the required keys was not given a value: {}",
                attribute.name
            )),
        };
        Key {
            partition: value(&self.partition)?,
            sort: self.sort.as_ref().map(value).transpose()?,
        }
        .within_limits(self)
    }

    /// The key's attributes as an image.
    pub fn image(&self, key: &Key) -> Image {
        let value = |value: &KeyValue| match value {
            KeyValue::S(text) => AttributeValue::S(text.clone()),
            KeyValue::N(text) => AttributeValue::N(text.clone()),
        };
        let mut image = Image::new();
        image.insert(self.partition.name.clone(), value(&key.partition));
        if let (Some(attribute), Some(sort)) = (&self.sort, &key.sort) {
            image.insert(attribute.name.clone(), value(sort));
        }
        image
    }

    /// A key from its text, as a URL path carries it: the partition key's, then the sort key's.
    pub fn parse(&self, partition: &str, sort: Option<&str>) -> Result<Key, String> {
        let sort = match (&self.sort, sort) {
            (None, None) => None,
            (Some(attribute), Some(text)) => Some(attribute.parse(text)?),
            (Some(attribute), None) => {
                return Err(format!("the sort key `{}` is missing", attribute.name));
            }
            (None, Some(_)) => return Err("this table has no sort key".to_string()),
        };
        Key {
            partition: self.partition.parse(partition)?,
            sort,
        }
        .within_limits(self)
    }

    /// The key that [`Key::storage`] wrote.
    pub fn from_storage(&self, text: &str) -> Key {
        let (partition, sort) = match &self.sort {
            None => (text, None),
            Some(attribute) => {
                let (partition, sort) = text.split_once('\0').unwrap_or((text, ""));
                let sort = match attribute.kind {
                    KeyType::S => KeyValue::S(sort.to_string()),
                    KeyType::N => KeyValue::N(
                        Number::from_sortable(sort).map_or_else(String::new, |n| n.to_text()),
                    ),
                };
                (partition, Some(sort))
            }
        };
        let partition = match self.partition.kind {
            KeyType::S => KeyValue::S(partition.to_string()),
            KeyType::N => KeyValue::N(partition.to_string()),
        };
        Key { partition, sort }
    }

    /// The key's attributes, by name, as JSON.
    pub fn json(&self, key: &Key) -> Vec<(String, Value)> {
        let mut attributes = vec![(self.partition.name.clone(), key.partition.to_json())];
        if let (Some(attribute), Some(sort)) = (&self.sort, &key.sort) {
            attributes.push((attribute.name.clone(), sort.to_json()));
        }
        attributes
    }
}

impl KeyAttribute {
    /// The key value an item attribute holds, if it is of this attribute's type.
    pub fn value_of(&self, value: &Value) -> Result<KeyValue, String> {
        match (self.kind, value) {
            (KeyType::S, Value::String(text)) => self.string(text),
            (KeyType::N, Value::Number(number)) => self.number(&number.to_string()),
            (kind, _) => Err(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                self.name,
                kind.as_str(),
                json_type(value)
            )),
        }
    }

    /// The key value a typed attribute holds, if it is of this attribute's type.
    pub fn value_of_attribute(&self, value: &AttributeValue) -> Result<KeyValue, String> {
        match (self.kind, value) {
            (KeyType::S, AttributeValue::S(text)) => self.string(text),
            (KeyType::N, AttributeValue::N(text)) => self.number(text),
            (kind, _) => Err(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                self.name,
                kind.as_str(),
                value.kind().code()
            )),
        }
    }

    /// A key value from text: a string as it is, a number parsed.
    pub fn parse(&self, text: &str) -> Result<KeyValue, String> {
        match self.kind {
            KeyType::S => self.string(text),
            KeyType::N => self.number(text),
        }
    }

    fn string(&self, text: &str) -> Result<KeyValue, String> {
        if text.is_empty() {
            return Err(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                self.name
            ));
        }
        if text.contains('\0') {
            return Err(format!("key `{}` contains a NUL character", self.name));
        }
        Ok(KeyValue::S(text.to_string()))
    }

    fn number(&self, text: &str) -> Result<KeyValue, String> {
        let number = Number::parse(text).map_err(|_| {
            format!(
                "key `{}` must be a number (DynamoDB's N: up to 38 digits, magnitude 1E-130 to 9.9E+125); got {text:?}",
                self.name
            )
        })?;
        Ok(KeyValue::N(number.to_text()))
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "N",
        Value::String(_) => "S",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn composite(sort: KeyType) -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "id".into(),
                kind: KeyType::S,
                generated: None,
            },
            sort: Some(KeyAttribute {
                name: "at".into(),
                kind: sort,
                generated: None,
            }),
        }
    }

    #[test]
    fn a_composite_key_survives_its_storage_text() {
        for (kind, value) in [
            (KeyType::S, json!("2024-01-02T03:04:05Z")),
            (KeyType::N, json!(-12.5)),
        ] {
            let schema = composite(kind);
            let body = json!({"id": "o-1", "at": value});
            let key = schema.key_of(body.as_object().unwrap()).unwrap();
            assert_eq!(schema.from_storage(&key.storage()), key);
            assert!(key.storage() > Key::partition_start(&key.partition));
            assert!(key.storage() < Key::partition_end(&key.partition));
        }
    }

    #[test]
    fn a_key_of_the_wrong_type_or_missing_is_named() {
        let schema = composite(KeyType::N);
        let err = schema.key_of(json!({"id": "o-1", "at": "x"}).as_object().unwrap());
        assert_eq!(
            err.unwrap_err(),
            "One or more parameter values were invalid: Type mismatch for key at expected: N actual: S"
        );
        let err = schema.key_of(json!({"id": "o-1"}).as_object().unwrap());
        assert!(err.unwrap_err().ends_with(": at"));
        assert!(schema.parse("o-1", None).is_err());
        assert_eq!(
            schema.parse("o-1", Some("2.50")).unwrap().sort,
            Some(KeyValue::N("2.5".into()))
        );
    }
}
