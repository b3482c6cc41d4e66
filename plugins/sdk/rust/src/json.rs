//! JSON text, changed without being parsed into a tree: what an enricher needs to add a member
//! to a record and hand the rest on as it came.

use serde::Serialize;
use serde::de::{Deserializer, IgnoredAny};

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
        return serde_json::to_string(&members).map(JsonText).map_err(invalid);
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
    let comma = if body.trim_end().ends_with('{') { "" } else { "," };
    let name = serde_json::to_string(name).map_err(invalid)?;
    let value = serde_json::to_string(&value).map_err(invalid)?;
    Ok(JsonText(format!("{body}{comma}{name}:{value}}}")))
}

fn invalid(err: serde_json::Error) -> Error {
    Error::Invalid(format!("not a JSON object: {err}"))
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
}
