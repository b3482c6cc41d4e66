//! JSON text, changed without being parsed into a tree: what an enricher needs to add a member
//! to a record and hand the rest on as it came.

use serde::Serialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::value::RawValue;

use crate::Error;
use crate::dynamodb::Find;

/// The JSON object `object` with the member `name` set to `value`. A new member is written
/// after the others and the object's own text is kept as it is; a member it had is replaced.
pub fn with_member(
    object: &str,
    name: &str,
    value: impl Serialize,
) -> Result<Box<RawValue>, Error> {
    let invalid = |err: serde_json::Error| Error::Invalid(format!("not a JSON object: {err}"));
    let value = serde_json::to_string(&value).map_err(invalid)?;
    let mut json = serde_json::Deserializer::from_str(object);
    let had = json
        .deserialize_map(Find::<IgnoredAny>::new(name))
        .map_err(invalid)?
        .is_some();
    let text = if had {
        let mut members: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(object).map_err(invalid)?;
        members.insert(
            name.to_string(),
            serde_json::from_str(&value).map_err(invalid)?,
        );
        serde_json::to_string(&members).map_err(invalid)?
    } else {
        let body = object.trim_end();
        let body = &body[..body.len() - 1]; // the object's closing brace
        let comma = if body.trim_end().ends_with('{') {
            ""
        } else {
            ","
        };
        let name = serde_json::to_string(name).map_err(invalid)?;
        format!("{body}{comma}{name}:{value}}}")
    };
    RawValue::from_string(text).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_member_is_appended_and_an_old_one_replaced() {
        let added = with_member(r#"{"a": 1.50, "b": {"c": 2}} "#, "tier", "gold").unwrap();
        assert_eq!(added.get(), r#"{"a": 1.50, "b": {"c": 2},"tier":"gold"}"#);
        assert_eq!(
            with_member("{ }", "tier", 1).unwrap().get(),
            r#"{ "tier":1}"#
        );
        let replaced = with_member(r#"{"tier": "x", "a": 1}"#, "tier", "gold").unwrap();
        let replaced: serde_json::Value = serde_json::from_str(replaced.get()).unwrap();
        assert_eq!(replaced, serde_json::json!({"tier": "gold", "a": 1}));
        assert!(with_member("[1]", "tier", 1).is_err());
    }
}
