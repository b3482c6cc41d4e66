//! The DynamoDB side: a rendered template read as DynamoDB's JSON request (`PutItem`,
//! `UpdateItem`, `DeleteItem`), typed attribute values converted to plain JSON and back, and
//! DynamoDB's errors in DynamoDB's words.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::expression::{Condition, Placeholders, Projection};
use super::number;
use super::update::Update;

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

/// One write, with items and keys as plain JSON (see [`to_plain`]).
#[derive(Debug, Clone)]
pub enum Action {
    Put {
        item: Map<String, Value>,
        condition: Option<Condition>,
        return_old: bool,
    },
    Update {
        key: Map<String, Value>,
        update: Update,
        condition: Option<Condition>,
        return_values: ReturnValues,
    },
    Delete {
        key: Map<String, Value>,
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

/// A DynamoDB attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl Kind {
    /// The short name DynamoDB's expression errors use (`S`, `N`, ...).
    pub(super) fn code(self) -> &'static str {
        match self {
            Kind::S => "S",
            Kind::N => "N",
            Kind::B => "B",
            Kind::Bool => "BOOL",
            Kind::Null => "NULL",
            Kind::M => "M",
            Kind::L => "L",
            Kind::Ss => "SS",
            Kind::Ns => "NS",
            Kind::Bs => "BS",
        }
    }

    /// The long name DynamoDB's `ADD`/`DELETE` errors use (`STRING`, `NUMBER`, ...).
    pub(super) fn human(self) -> &'static str {
        match self {
            Kind::S => "STRING",
            Kind::N => "NUMBER",
            Kind::B => "BINARY",
            Kind::Bool => "BOOLEAN",
            Kind::Null => "NULL",
            Kind::M => "MAP",
            Kind::L => "LIST",
            Kind::Ss => "STRING_SET",
            Kind::Ns => "NUMBER_SET",
            Kind::Bs => "BINARY_SET",
        }
    }

    pub(super) fn is_set(self) -> bool {
        matches!(self, Kind::Ss | Kind::Ns | Kind::Bs)
    }

    /// The type of a plain JSON value, as [`to_typed`] would write it.
    pub(super) fn of_plain(value: &Value) -> Kind {
        match value {
            Value::String(_) => Kind::S,
            Value::Number(_) => Kind::N,
            Value::Bool(_) => Kind::Bool,
            Value::Null => Kind::Null,
            Value::Array(_) => Kind::L,
            Value::Object(_) => Kind::M,
        }
    }
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
) -> Result<Map<String, Value>, DynamoError> {
    match request.get(name) {
        None | Some(Value::Null) => Err(missing(member)),
        Some(Value::Object(attributes)) => to_plain(attributes),
        Some(other) => Err(DynamoError::Serialization(unexpected(other, "Map"))),
    }
}

/// How DynamoDB's JSON reader words a value of the wrong JSON type where `expected` was due.
fn unexpected(value: &Value, expected: &str) -> String {
    match value {
        Value::Object(_) => "Start of structure or map found where not expected".into(),
        Value::Array(_) => "Start of list found where not expected".into(),
        Value::Number(_) => format!("NUMBER_VALUE cannot be converted to {expected}"),
        Value::String(_) => format!("STRING_VALUE cannot be converted to {expected}"),
        Value::Bool(true) => format!("TRUE_VALUE cannot be converted to {expected}"),
        Value::Bool(false) => format!("FALSE_VALUE cannot be converted to {expected}"),
        Value::Null => format!("null cannot be converted to {expected}"),
    }
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

fn values(values: Option<&Value>) -> Result<HashMap<String, (Kind, Value)>, DynamoError> {
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
        out.insert(key.clone(), attribute(value)?);
    }
    Ok(out)
}

/// Typed attribute values (`{"S": "x"}`, `{"N": "1"}`, ...) to plain JSON: numbers keep every
/// digit, sets become arrays, binary stays base64 text.
pub fn to_plain(attributes: &Map<String, Value>) -> Result<Map<String, Value>, DynamoError> {
    attributes
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?.1)))
        .collect()
}

fn attribute(value: &Value) -> Result<(Kind, Value), DynamoError> {
    const PREFIX: &str = "One or more parameter values were invalid: ";
    let Value::Object(typed) = value else {
        return Err(DynamoError::Serialization(unexpected(
            value,
            "AttributeValue",
        )));
    };
    // DynamoDB ignores members it does not know, so `{"X": 1}` reads as an empty value.
    const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];
    let mut present = typed
        .iter()
        .filter(|(k, v)| TYPES.contains(&k.as_str()) && !v.is_null());
    let (tag, inner) = match (present.next(), present.next()) {
        (None, _) => {
            return Err(invalid(format!(
                "{PREFIX}Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{PREFIX}Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
            )));
        }
        (Some(one), None) => one,
    };
    let text = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(DynamoError::Serialization(unexpected(other, "String"))),
    };
    let list = |v: &Value| match v {
        Value::Array(items) => Ok(items.clone()),
        other => Err(DynamoError::Serialization(unexpected(other, "List"))),
    };
    let set = |v: &Value, noun: &str, member: &dyn Fn(&Value) -> Result<Value, DynamoError>| {
        let items = list(v)?;
        if items.is_empty() {
            return Err(invalid(format!("{PREFIX}An {noun} set  may not be empty")));
        }
        let members = items.iter().map(member).collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::new();
        if !members.iter().all(|m| seen.insert(m.to_string())) {
            let shown: Vec<String> = items
                .iter()
                .map(|i| i.as_str().unwrap_or("").to_owned())
                .collect();
            return Err(invalid(format!(
                "{PREFIX}Input collection [{}] contains duplicates.",
                shown.join(", ")
            )));
        }
        Ok(Value::Array(members))
    };
    let number =
        |v: &Value| -> Result<Value, DynamoError> { Ok(Value::Number(plain_number(&text(v)?)?)) };
    let string = |v: &Value| -> Result<Value, DynamoError> { Ok(Value::String(text(v)?)) };
    Ok(match tag.as_str() {
        "S" => (Kind::S, string(inner)?),
        "N" => (Kind::N, number(inner)?),
        "B" => (Kind::B, string(inner)?),
        "BOOL" => match inner {
            Value::Bool(b) => (Kind::Bool, Value::Bool(*b)),
            other => return Err(DynamoError::Serialization(unexpected(other, "Boolean"))),
        },
        "NULL" => match inner {
            Value::Bool(true) => (Kind::Null, Value::Null),
            Value::Bool(false) => {
                return Err(invalid(format!(
                    "{PREFIX}Null attribute value types must have the value of true"
                )));
            }
            other => return Err(DynamoError::Serialization(unexpected(other, "Boolean"))),
        },
        "M" => match inner {
            Value::Object(map) => (Kind::M, Value::Object(to_plain(map)?)),
            other => return Err(DynamoError::Serialization(unexpected(other, "Map"))),
        },
        "L" => {
            let items = list(inner)?
                .iter()
                .map(|i| Ok(attribute(i)?.1))
                .collect::<Result<_, _>>()?;
            (Kind::L, Value::Array(items))
        }
        "SS" => (Kind::Ss, set(inner, "string", &string)?),
        "NS" => (Kind::Ns, set(inner, "number", &number)?),
        _ => (Kind::Bs, set(inner, "binary", &string)?),
    })
}

/// A DynamoDB number as a JSON number with its digits as written (normalised only where JSON
/// cannot spell DynamoDB's form, e.g. `+1` or `.5`).
fn plain_number(text: &str) -> Result<serde_json::Number, DynamoError> {
    let decimal = number::check(text).map_err(invalid)?;
    let parsed = text.parse::<serde_json::Number>();
    let as_json = || decimal.to_text().parse::<serde_json::Number>();
    parsed
        .or_else(|_| as_json())
        .map_err(|e| invalid(e.to_string()))
}

/// Plain JSON attributes back to typed ones (for a response's `Attributes`): strings to `S`,
/// numbers to `N`, arrays to `L`, objects to `M`.
pub fn to_typed(attributes: &Map<String, Value>) -> Map<String, Value> {
    attributes
        .iter()
        .map(|(name, value)| (name.clone(), typed(value)))
        .collect()
}

fn typed(value: &Value) -> Value {
    let (tag, inner) = match value {
        Value::String(s) => ("S", Value::String(s.clone())),
        Value::Number(n) => ("N", Value::String(n.to_string())),
        Value::Bool(b) => ("BOOL", Value::Bool(*b)),
        Value::Null => ("NULL", Value::Bool(true)),
        Value::Array(items) => ("L", Value::Array(items.iter().map(typed).collect())),
        Value::Object(map) => ("M", Value::Object(to_typed(map))),
    };
    let mut out = Map::new();
    out.insert(tag.to_owned(), inner);
    Value::Object(out)
}
