//! JSON text, changed without being parsed into a tree: what an enricher needs to add a member
//! to a record and hand the rest on as it came.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StringDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::dynamodb::Find;

/// JSON text an enricher hands on as it is: an `Event<JsonText>` is not written again. The
/// host checks that it is JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(pub String);

/// The JSON object `object` with the member `name` set to `value`: a member it had is replaced,
/// a new one is written after the others, and the rest of the text is kept as it is.
pub fn with_member(object: &str, name: &str, value: impl Serialize) -> Result<JsonText, Error> {
    let mut json = serde_json::Deserializer::from_str(object);
    let had = json
        .deserialize_map(Find::<IgnoredAny>::new(name))
        .map_err(invalid)?
        .is_some();
    if had {
        let mut members: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(object).map_err(invalid)?;
        let value = serde_json::to_value(value).map_err(invalid)?;
        members.insert(name.to_string(), value);
        return serde_json::to_string(&members)
            .map(JsonText)
            .map_err(invalid);
    }
    append_member(object, name, value)
}

/// The JSON object `object`, which has no member `name`, with `name` set to `value` after its
/// other members; the object's text is kept as it is and not read again. Use it when the
/// object's members are known (a record read as a type of your own); else [`with_member`].
pub fn append_member(object: &str, name: &str, value: impl Serialize) -> Result<JsonText, Error> {
    let body = object.trim_end();
    let Some(body) = body.strip_suffix('}') else {
        return Err(Error::Invalid("not a JSON object".into()));
    };
    let comma = if body.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    let name = serde_json::to_string(name).map_err(invalid)?;
    let value = serde_json::to_string(&value).map_err(invalid)?;
    Ok(JsonText(format!("{body}{comma}{name}:{value}}}")))
}

fn invalid(err: serde_json::Error) -> Error {
    Error::Invalid(format!("not a JSON object: {err}"))
}

/// For an `Option<T>` member read with `#[serde(default, deserialize_with =
/// "switchyard_plugin::json::if_object")]`: the member as a `T` when it is a JSON object, and
/// `None` when it is anything else (text, a list, null), where a plain `Option<T>` would fail
/// the whole parse. Read in the same pass as the rest.
pub fn if_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_any(IfObject(PhantomData))
}

struct IfObject<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for IfObject<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        // serde_json hands a number over as a map of one member whose name is its token
        // (`arbitrary_precision`, which this crate uses): look at the first name first.
        let Some(first) = map.next_key_seed(Name)? else {
            return T::deserialize(MapAccessDeserializer::new(map)).map(Some);
        };
        if first == NUMBER_TOKEN {
            map.next_value::<IgnoredAny>()?;
            return Ok(None);
        }
        let rest = Resumed {
            first: Some(first),
            map,
        };
        T::deserialize(MapAccessDeserializer::new(rest)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
}

/// A member's name, borrowed from the text when it has no escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member's name")
    }

    fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E>(self, name: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(name.to_string()))
    }
}

/// The name serde_json gives the one member of a number read as a map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A map whose first member's name was already read.
struct Resumed<'de, A> {
    first: Option<Cow<'de, str>>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Resumed<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(Cow::Borrowed(name)) => seed
                .deserialize(BorrowedStrDeserializer::new(name))
                .map(Some),
            Some(Cow::Owned(name)) => seed.deserialize(StringDeserializer::new(name)).map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_member_is_appended_and_an_old_one_replaced() {
        let added = with_member(r#"{"a": 1.50, "b": {"c": 2}} "#, "tier", "gold").unwrap();
        assert_eq!(added.0, r#"{"a": 1.50, "b": {"c": 2},"tier":"gold"}"#);
        assert_eq!(with_member("{ }", "tier", 1).unwrap().0, r#"{ "tier":1}"#);
        let replaced = with_member(r#"{"tier": "x", "a": 1}"#, "tier", "gold").unwrap();
        let replaced: serde_json::Value = serde_json::from_str(&replaced.0).unwrap();
        assert_eq!(replaced, serde_json::json!({"tier": "gold", "a": 1}));
        assert!(with_member("[1]", "tier", 1).is_err());
        assert!(append_member("[1]", "tier", 1).is_err());
    }

    #[test]
    fn a_member_is_read_if_it_is_an_object_and_passed_over_if_not() {
        #[derive(Deserialize)]
        struct Outer<'a> {
            #[serde(borrow, default, deserialize_with = "if_object")]
            detail: Option<Inner<'a>>,
            after: Option<u32>,
        }
        #[derive(Deserialize)]
        struct Inner<'a> {
            #[serde(borrow)]
            raw: Option<&'a serde_json::value::RawValue>,
        }
        fn read(text: &str) -> Outer<'_> {
            serde_json::from_str(text).unwrap()
        }
        let inner = read(r#"{"detail": {"raw": [1, 2]}, "after": 1}"#);
        assert_eq!(inner.detail.unwrap().raw.unwrap().get(), "[1, 2]");
        assert_eq!(inner.after, Some(1));
        for other in [r#""text""#, "[1, {}]", "null", "true", "12.5", "-3"] {
            let text = format!(r#"{{"detail": {other}, "after": 2}}"#);
            let outer = read(&text);
            assert!(outer.detail.is_none(), "{other}");
            assert_eq!(outer.after, Some(2), "{other}: the rest is still read");
        }
        assert!(read(r#"{"after": 3}"#).detail.is_none());
    }
}
