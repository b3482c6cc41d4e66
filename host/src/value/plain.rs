//! Plain JSON as the HTTP API reads it: one object, and no member named twice at any depth
//! (serde_json would silently keep the last); and an image written back as plain JSON.

use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{AttributeValue, Image};

/// Why a body is not one plain JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainError {
    /// Not JSON at all; serde_json's words.
    Malformed(String),
    NotAnObject,
    /// A member named twice in one object.
    Duplicate(String),
}

/// Reads `bytes` as one JSON object whose objects name each member once.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, PlainError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| PlainError::Malformed(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(PlainError::NotAnObject);
    };
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    if let Err(err) = Unique.deserialize(&mut reader) {
        return Err(PlainError::Duplicate(err.to_string()));
    }
    Ok(object)
}

/// Visits a JSON value and fails on the first object that names a member twice.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<(), D::Error> {
        value.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = members.next_key::<String>()? {
            // serde_json hands an exact number over as a one-member map of its own.
            if name == "$serde_json::private::Number" {
                members.next_value::<IgnoredAny>()?;
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(A::Error::custom(format!(
                    "the member `{name}` appears twice in one object"
                )));
            }
            members.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// An image's plain JSON text (see [`AttributeValue::to_plain`]), written straight from the
/// typed attributes.
pub fn plain_text(image: &Image) -> String {
    // Maps with string keys, strings, numbers that parse: all serialize.
    serde_json::to_string(&PlainImage(image)).unwrap_or_default()
}

struct PlainImage<'a>(&'a Image);

struct Plain<'a>(&'a AttributeValue);

impl Serialize for PlainImage<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.collect_map(self.0.iter().map(|(k, v)| (k, Plain(v))))
    }
}

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        let number = |n: &str| n.parse::<serde_json::Number>().map_err(S::Error::custom);
        match self.0 {
            AttributeValue::S(s) | AttributeValue::B(s) => out.serialize_str(s),
            AttributeValue::N(n) => number(n)?.serialize(out),
            AttributeValue::Bool(b) => out.serialize_bool(*b),
            AttributeValue::Null(_) => out.serialize_unit(),
            AttributeValue::L(items) => out.collect_seq(items.iter().map(Plain)),
            AttributeValue::M(map) => PlainImage(map).serialize(out),
            AttributeValue::SS(items) | AttributeValue::BS(items) => out.collect_seq(items),
            AttributeValue::NS(items) => {
                let numbers: Result<Vec<_>, _> = items.iter().map(|n| number(n)).collect();
                out.collect_seq(numbers?)
            }
        }
    }
}
