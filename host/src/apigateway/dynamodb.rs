//! The DynamoDB side: a rendered template read as DynamoDB's JSON request (`PutItem`,
//! `UpdateItem`, `DeleteItem`) with its typed attribute values, and DynamoDB's errors in
//! DynamoDB's words.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::expression::{Condition, Placeholders, Projection};
use super::update::Update;
use crate::value::{self, AttributeValue, Image, ValueError};

/// An error as DynamoDB reports it: its type (the `__type` suffix) and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynamoError {
    #[error("ValidationException: {0}")]
    Validation(String),
    #[error("SerializationException: {0}")]
    Serialization(String),
    /// A `ConditionExpression` that does not hold for the item as it is.
    #[error("ConditionalCheckFailedException: The conditional request failed")]
    ConditionalCheckFailed,
}

impl DynamoError {
    /// The exception's name, as in DynamoDB's `__type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            DynamoError::Validation(_) => "ValidationException",
            DynamoError::Serialization(_) => "SerializationException",
            DynamoError::ConditionalCheckFailed => "ConditionalCheckFailedException",
        }
    }

    /// The message, as in DynamoDB's `message`.
    pub fn message(&self) -> &str {
        match self {
            DynamoError::Validation(m) | DynamoError::Serialization(m) => m,
            DynamoError::ConditionalCheckFailed => "The conditional request failed",
        }
    }
}

impl From<ValueError> for DynamoError {
    fn from(err: ValueError) -> DynamoError {
        match err {
            ValueError::Serialization(m) => DynamoError::Serialization(m),
            ValueError::Validation(m) => DynamoError::Validation(m),
        }
    }
}

pub(super) fn invalid(message: impl Into<String>) -> DynamoError {
    DynamoError::Validation(message.into())
}

/// Which DynamoDB action an integration calls (the `Action` of its integration URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    PutItem,
    UpdateItem,
    DeleteItem,
}

/// `ReturnValues` of `UpdateItem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

/// One write, with its item or key as typed attributes.
#[derive(Debug, Clone)]
pub enum Action {
    Put {
        item: Image,
        condition: Option<Condition>,
        return_old: bool,
    },
    Update {
        key: Image,
        update: Update,
        condition: Option<Condition>,
        return_values: ReturnValues,
    },
    Delete {
        key: Image,
        condition: Option<Condition>,
        return_old: bool,
    },
}

/// A parsed request: the table it names and the write.
#[derive(Debug, Clone)]
pub struct Operation {
    pub table_name: String,
    pub action: Action,
}

/// Reads a rendered template as DynamoDB would read the request for `kind`.
pub fn parse_action(kind: ActionKind, rendered: &str) -> Result<Operation, DynamoError> {
    let request: Value = serde_json::from_str(rendered)
        .map_err(|e| DynamoError::Serialization(format!("the request is not JSON: {e}")))?;
    let Value::Object(request) = request else {
        return Err(DynamoError::Serialization(unexpected(
            &request,
            "structure",
        )));
    };
    for legacy in ["Expected", "AttributeUpdates", "ConditionalOperator"] {
        if request.contains_key(legacy) {
            return Err(invalid(format!(
                "`{legacy}` (a legacy parameter) is not supported here; use expressions"
            )));
        }
    }
    let table_name = string_member(&request, "TableName", "tableName")?;
    let names = names(request.get("ExpressionAttributeNames"))?;
    let values = values(request.get("ExpressionAttributeValues"))?;
    let placeholders = Placeholders::new(&names, &values);
    let condition = match optional_string(&request, "ConditionExpression")? {
        Some(text) => Some(Condition::parse(&text, &placeholders)?),
        None => None,
    };
    let return_values = optional_string(&request, "ReturnValues")?;
    let return_old = |allowed_update: bool| -> Result<ReturnValues, DynamoError> {
        Ok(match return_values.as_deref() {
            None | Some("NONE") => ReturnValues::None,
            Some("ALL_OLD") => ReturnValues::AllOld,
            Some("UPDATED_OLD") if allowed_update => ReturnValues::UpdatedOld,
            Some("ALL_NEW") if allowed_update => ReturnValues::AllNew,
            Some("UPDATED_NEW") if allowed_update => ReturnValues::UpdatedNew,
            Some(_) => return Err(invalid("Return values set to invalid value")),
        })
    };
    let action = match kind {
        ActionKind::PutItem => Action::Put {
            item: item_member(&request, "Item", "item")?,
            condition,
            return_old: return_old(false)? == ReturnValues::AllOld,
        },
        ActionKind::DeleteItem => Action::Delete {
            key: item_member(&request, "Key", "key")?,
            condition,
            return_old: return_old(false)? == ReturnValues::AllOld,
        },
        ActionKind::UpdateItem => {
            let update = match optional_string(&request, "UpdateExpression")? {
                Some(text) => Update::parse(&text, &placeholders)?,
                None => Update::default(),
            };
            Action::Update {
                key: item_member(&request, "Key", "key")?,
                update,
                condition,
                return_values: return_old(true)?,
            }
        }
    };
    placeholders.check_all_used()?;
    Ok(Operation { table_name, action })
}

/// The expressions of a read: Query's key condition, a filter, a projection.
#[derive(Debug, Clone, Default)]
pub struct ReadExpressions {
    pub key_condition: Option<Condition>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
}

/// Reads the `KeyConditionExpression`, `FilterExpression` and `ProjectionExpression` of a
/// request, with its placeholders; every placeholder must be used, as DynamoDB requires.
pub fn read_expressions(request: &Map<String, Value>) -> Result<ReadExpressions, DynamoError> {
    let names = names(request.get("ExpressionAttributeNames"))?;
    let values = values(request.get("ExpressionAttributeValues"))?;
    let placeholders = Placeholders::new(&names, &values);
    let condition = |member: &str| -> Result<Option<Condition>, DynamoError> {
        optional_string(request, member)?
            .map(|text| Condition::parse(&text, &placeholders))
            .transpose()
    };
    let expressions = ReadExpressions {
        key_condition: condition("KeyConditionExpression")?,
        filter: condition("FilterExpression")?,
        projection: optional_string(request, "ProjectionExpression")?
            .map(|text| Projection::parse(&text, &placeholders))
            .transpose()?,
    };
    placeholders.check_all_used()?;
    Ok(expressions)
}

fn missing(member: &str) -> DynamoError {
    invalid(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn optional_string(
    request: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, DynamoError> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(DynamoError::Serialization(unexpected(other, "String"))),
    }
}

fn string_member(
    request: &Map<String, Value>,
    name: &str,
    member: &str,
) -> Result<String, DynamoError> {
    optional_string(request, name)?.ok_or_else(|| missing(member))
}

fn item_member(
    request: &Map<String, Value>,
    name: &str,
    member: &str,
) -> Result<Image, DynamoError> {
    match request.get(name) {
        None | Some(Value::Null) => Err(missing(member)),
        Some(Value::Object(attributes)) => Ok(value::image_from_typed(attributes)?),
        Some(other) => Err(DynamoError::Serialization(unexpected(other, "Map"))),
    }
}

/// How DynamoDB's JSON reader words a value of the wrong JSON type where `expected` was due.
fn unexpected(value: &Value, expected: &str) -> String {
    value::unexpected(value, expected).to_string()
}

fn names(names: Option<&Value>) -> Result<HashMap<String, String>, DynamoError> {
    let Some(names) = names.filter(|v| !v.is_null()) else {
        return Ok(HashMap::new());
    };
    let Value::Object(names) = names else {
        return Err(DynamoError::Serialization(unexpected(names, "Map")));
    };
    if names.is_empty() {
        return Err(invalid("ExpressionAttributeNames must not be empty"));
    }
    let mut out = HashMap::new();
    for (key, name) in names {
        if !key.starts_with('#') || key.len() == 1 {
            return Err(invalid(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
        let Value::String(name) = name else {
            return Err(DynamoError::Serialization(unexpected(name, "String")));
        };
        out.insert(key.clone(), name.clone());
    }
    Ok(out)
}

fn values(values: Option<&Value>) -> Result<HashMap<String, AttributeValue>, DynamoError> {
    let Some(values) = values.filter(|v| !v.is_null()) else {
        return Ok(HashMap::new());
    };
    let Value::Object(values) = values else {
        return Err(DynamoError::Serialization(unexpected(values, "Map")));
    };
    if values.is_empty() {
        return Err(invalid("ExpressionAttributeValues must not be empty"));
    }
    let mut out = HashMap::new();
    for (key, value) in values {
        if !key.starts_with(':') || key.len() == 1 {
            return Err(invalid(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
        out.insert(key.clone(), AttributeValue::from_typed(value)?);
    }
    Ok(out)
}
