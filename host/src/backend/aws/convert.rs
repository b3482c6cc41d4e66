//! Items' typed attributes to the SDK's DynamoDB attribute values and back, exactly: sets stay
//! sets, binary stays bytes, numbers keep their digits.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::{Key, KeySchema, KeyValue};
use crate::value::{AttributeValue, Image, bytes};

pub(super) fn to_item(image: &Image) -> HashMap<String, Sdk> {
    image
        .iter()
        .map(|(k, v)| (k.clone(), to_value(v)))
        .collect()
}

fn to_value(value: &AttributeValue) -> Sdk {
    let blob = |b: &String| Blob::new(bytes(b));
    match value {
        AttributeValue::S(s) => Sdk::S(s.clone()),
        AttributeValue::N(n) => Sdk::N(n.clone()),
        AttributeValue::B(b) => Sdk::B(blob(b)),
        AttributeValue::Bool(b) => Sdk::Bool(*b),
        AttributeValue::Null(_) => Sdk::Null(true),
        AttributeValue::L(items) => Sdk::L(items.iter().map(to_value).collect()),
        AttributeValue::M(map) => Sdk::M(to_item(map)),
        AttributeValue::SS(items) => Sdk::Ss(items.clone()),
        AttributeValue::NS(items) => Sdk::Ns(items.clone()),
        AttributeValue::BS(items) => Sdk::Bs(items.iter().map(blob).collect()),
    }
}

pub(super) fn from_item(item: &HashMap<String, Sdk>) -> Image {
    item.iter()
        .map(|(k, v)| (k.clone(), from_value(v)))
        .collect()
}

fn from_value(value: &Sdk) -> AttributeValue {
    let base64 = |b: &Blob| STANDARD.encode(b.as_ref());
    match value {
        Sdk::S(s) => AttributeValue::S(s.clone()),
        Sdk::N(n) => AttributeValue::N(n.clone()),
        Sdk::B(b) => AttributeValue::B(base64(b)),
        Sdk::Bool(b) => AttributeValue::Bool(*b),
        Sdk::L(items) => AttributeValue::L(items.iter().map(from_value).collect()),
        Sdk::M(map) => AttributeValue::M(from_item(map)),
        Sdk::Ss(items) => AttributeValue::SS(items.clone()),
        Sdk::Ns(items) => AttributeValue::NS(items.clone()),
        Sdk::Bs(items) => AttributeValue::BS(items.iter().map(base64).collect()),
        // `Null`, and any type a later SDK adds.
        _ => AttributeValue::Null(true),
    }
}

pub(super) fn attribute(value: &KeyValue) -> Sdk {
    match value {
        KeyValue::S(text) => Sdk::S(text.clone()),
        KeyValue::N(text) => Sdk::N(text.clone()),
    }
}

/// A key as DynamoDB's `Key` map.
pub(super) fn key_map(schema: &KeySchema, key: &Key) -> HashMap<String, Sdk> {
    let mut map = HashMap::from([(schema.partition.name.clone(), attribute(&key.partition))]);
    if let (Some(sort), Some(value)) = (&schema.sort, &key.sort) {
        map.insert(sort.name.clone(), attribute(value));
    }
    map
}

/// The key a `LastEvaluatedKey` names.
pub(super) fn key_of_map(schema: &KeySchema, map: &HashMap<String, Sdk>) -> Option<Key> {
    let value = |attribute: &crate::config::KeyAttribute| match map.get(&attribute.name)? {
        Sdk::S(text) => Some(KeyValue::S(text.clone())),
        Sdk::N(text) => Some(KeyValue::N(text.clone())),
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
    fn typed_items_round_trip_through_the_sdks_attribute_values() {
        let typed = json!({"id": {"S": "o-1"}, "total": {"N": "123456789012345678901234567890.5"},
                           "tags": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
                           "blob": {"B": "aGk="}, "blobs": {"BS": ["aGk=", "AA=="]},
                           "note": {"NULL": true}, "paid": {"BOOL": true},
                           "lines": {"L": [{"M": {"sku": {"S": "a"}}}]}});
        let image = crate::value::image_from_typed(typed.as_object().unwrap()).unwrap();
        let item = to_item(&image);
        assert_eq!(item["blob"], Sdk::B(Blob::new(b"hi".to_vec())));
        assert_eq!(item["tags"], Sdk::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(from_item(&item), image);
    }
}
