//! Reading a request's members: SDKs check types before sending, so a member of the wrong type
//! is a `SerializationException`, as AWS answers a request it cannot read.

use serde_json::{Map, Value};

use super::AwsError;
use super::errors::missing_parameter;

fn wrong_type(field: &str, expected: &str) -> AwsError {
    AwsError::serialization(format!("`{field}` must be {expected}"))
}

pub fn string<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

/// A string member that must be there and not empty.
pub fn required_string<'a>(input: &'a Value, field: &str) -> Result<&'a str, AwsError> {
    match string(input, field)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(missing_parameter(field)),
    }
}

/// An integer member; the AWS CLI sends some as strings, which SQS takes too.
pub fn integer(input: &Value, field: &str) -> Result<Option<i64>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(field, "an integer")),
        Some(Value::String(text)) => text
            .parse()
            .map(Some)
            .map_err(|_| wrong_type(field, "an integer")),
        Some(_) => Err(wrong_type(field, "an integer")),
    }
}

pub fn object<'a>(
    input: &'a Value,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(wrong_type(field, "an object")),
    }
}

pub fn list<'a>(input: &'a Value, field: &str) -> Result<&'a [Value], AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(wrong_type(field, "a list")),
    }
}

/// A list of strings, e.g. `AttributeNames`.
pub fn strings<'a>(input: &'a Value, field: &str) -> Result<Vec<&'a str>, AwsError> {
    list(input, field)?
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| wrong_type(field, "a list of strings"))
        })
        .collect()
}

/// A map of strings to strings, e.g. queue `Attributes`.
pub fn string_map<'a>(input: &'a Value, field: &str) -> Result<Vec<(&'a str, &'a str)>, AwsError> {
    let Some(map) = object(input, field)? else {
        return Ok(Vec::new());
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(text) => Ok((k.as_str(), text.as_str())),
            _ => Err(wrong_type(field, "a map of strings")),
        })
        .collect()
}
