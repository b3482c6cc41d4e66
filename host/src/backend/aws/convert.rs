//! JSON items to DynamoDB attribute values and back, through the SDK's types.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Map, Value};

use crate::config::{Key, KeySchema, KeyValue};

pub(super) fn to_item(body: &Map<String, Value>) -> HashMap<String, AttributeValue> {
    body.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()
}

fn to_value(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_value).collect()),
        Value::Object(map) => AttributeValue::M(to_item(map)),
    }
}

pub(super) fn from_item(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter()
        .map(|(k, v)| (k.clone(), from_value(v)))
        .collect()
}

fn from_value(value: &AttributeValue) -> Value {
    let number = |n: &str| serde_json::from_str(n).unwrap_or_else(|_| Value::String(n.to_string()));
    let bytes = |b: &aws_sdk_dynamodb::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.iter().map(from_value).collect()),
        AttributeValue::M(map) => Value::Object(from_item(map)),
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        AttributeValue::B(b) => bytes(b),
        AttributeValue::Bs(items) => Value::Array(items.iter().map(bytes).collect()),
        _ => Value::Null,
    }
}

pub(super) fn attribute(value: &KeyValue) -> AttributeValue {
    match value {
        KeyValue::S(text) => AttributeValue::S(text.clone()),
        KeyValue::N(text) => AttributeValue::N(text.clone()),
    }
}

/// A key as DynamoDB's `Key` map.
pub(super) fn key_map(schema: &KeySchema, key: &Key) -> HashMap<String, AttributeValue> {
    let mut map = HashMap::from([(schema.partition.name.clone(), attribute(&key.partition))]);
    if let (Some(sort), Some(value)) = (&schema.sort, &key.sort) {
        map.insert(sort.name.clone(), attribute(value));
    }
    map
}

/// The key a `LastEvaluatedKey` names.
pub(super) fn key_of_map(schema: &KeySchema, map: &HashMap<String, AttributeValue>) -> Option<Key> {
    let value = |attribute: &crate::config::KeyAttribute| match map.get(&attribute.name)? {
        AttributeValue::S(text) => Some(KeyValue::S(text.clone())),
        AttributeValue::N(text) => Some(KeyValue::N(text.clone())),
        _ => None,
    };
    Some(Key {
        partition: value(&schema.partition)?,
        sort: match &schema.sort {
            None => None,
            Some(attribute) => Some(value(attribute)?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let body = json!({"orderId": "o-1", "total": 42.5, "paid": true, "note": null, "lines": [{"sku": "a", "qty": 2}]});
        let item = to_item(body.as_object().unwrap());
        assert_eq!(item["total"], AttributeValue::N("42.5".into()));
        assert_eq!(Value::Object(from_item(&item)), body);
    }
}
