//! DynamoDB's data model, exactly: attribute values with their types (sets, binary, numbers of
//! 38 digits), items as images of them, DynamoDB's typed JSON read with DynamoDB's checks, and
//! the plain JSON view the HTTP API speaks. Pure: no I/O.

mod number;
mod plain;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use number::Number;
pub use plain::{PlainError, parse_object, plain_text};

/// A DynamoDB attribute value in its JSON form, e.g. `{"S": "abc"}` or `{"N": "42"}`. Numbers
/// hold their canonical text, binary values their base64 text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    B(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    L(Vec<AttributeValue>),
    M(BTreeMap<String, AttributeValue>),
    SS(Vec<String>),
    NS(Vec<String>),
    BS(Vec<String>),
}

/// An item as DynamoDB JSON: attribute name to attribute value.
pub type Image = BTreeMap<String, AttributeValue>;

/// Most `M` and `L` levels DynamoDB holds above a value, counting from an item's attribute.
pub const MAX_NESTING: usize = 31;

/// A value DynamoDB would not take, as DynamoDB reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The request's JSON is not of the shape DynamoDB's reader expects.
    #[error("{0}")]
    Serialization(String),
    /// The value is well formed but not one DynamoDB holds.
    #[error("{0}")]
    Validation(String),
}

const PREFIX: &str = "One or more parameter values were invalid: ";

fn too_deep() -> ValueError {
    ValueError::Validation(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit".into(),
    )
}

/// A DynamoDB attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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
    /// The short name DynamoDB's messages use (`S`, `N`, ... `BOOL`, `SS`).
    pub fn code(self) -> &'static str {
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
    pub fn human(self) -> &'static str {
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

    pub fn is_set(self) -> bool {
        matches!(self, Kind::Ss | Kind::Ns | Kind::Bs)
    }

    /// The type named by `code` (`attribute_type`'s second argument).
    pub fn from_code(code: &str) -> Option<Kind> {
        [
            Kind::S,
            Kind::N,
            Kind::B,
            Kind::Bool,
            Kind::Null,
            Kind::M,
            Kind::L,
            Kind::Ss,
            Kind::Ns,
            Kind::Bs,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

impl AttributeValue {
    pub fn kind(&self) -> Kind {
        match self {
            AttributeValue::S(_) => Kind::S,
            AttributeValue::N(_) => Kind::N,
            AttributeValue::B(_) => Kind::B,
            AttributeValue::Bool(_) => Kind::Bool,
            AttributeValue::Null(_) => Kind::Null,
            AttributeValue::L(_) => Kind::L,
            AttributeValue::M(_) => Kind::M,
            AttributeValue::SS(_) => Kind::Ss,
            AttributeValue::NS(_) => Kind::Ns,
            AttributeValue::BS(_) => Kind::Bs,
        }
    }

    /// The attribute value DynamoDB's document clients store for a plain JSON value: strings
    /// `S`, numbers `N` (exactly, within DynamoDB's limits), `true`/`false` `BOOL`, `null`
    /// `NULL`, arrays `L`, objects `M`.
    pub fn from_plain(value: &Value) -> Result<AttributeValue, ValueError> {
        AttributeValue::plain_at(value, 0)
    }

    fn plain_at(value: &Value, depth: usize) -> Result<AttributeValue, ValueError> {
        Ok(match value {
            Value::Null => AttributeValue::Null(true),
            Value::Bool(b) => AttributeValue::Bool(*b),
            Value::Number(n) => AttributeValue::N(
                Number::canonical(&n.to_string()).map_err(ValueError::Validation)?,
            ),
            Value::String(s) => AttributeValue::S(s.clone()),
            Value::Array(items) => {
                let depth = nested(depth)?;
                AttributeValue::L(
                    items
                        .iter()
                        .map(|v| AttributeValue::plain_at(v, depth))
                        .collect::<Result<_, _>>()?,
                )
            }
            Value::Object(map) => {
                let depth = nested(depth)?;
                AttributeValue::M(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), AttributeValue::plain_at(v, depth)?)))
                        .collect::<Result<_, ValueError>>()?,
                )
            }
        })
    }

    /// The plain JSON a value stands for: numbers with every digit, sets as arrays, binary as
    /// its base64 text.
    pub fn to_plain(&self) -> Value {
        let number = |n: &str| {
            n.parse::<serde_json::Number>()
                .map_or_else(|_| Value::String(n.to_string()), Value::Number)
        };
        match self {
            AttributeValue::S(s) | AttributeValue::B(s) => Value::String(s.clone()),
            AttributeValue::N(n) => number(n),
            AttributeValue::Bool(b) => Value::Bool(*b),
            AttributeValue::Null(_) => Value::Null,
            AttributeValue::L(items) => Value::Array(items.iter().map(Self::to_plain).collect()),
            AttributeValue::M(map) => Value::Object(plain_of(map)),
            AttributeValue::SS(items) | AttributeValue::BS(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
            AttributeValue::NS(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        }
    }

    /// Reads DynamoDB's typed JSON (`{"S": "x"}`, `{"NS": ["1", "2"]}`, ...) as DynamoDB does:
    /// exactly one type, numbers within DynamoDB's limits, sets neither empty nor with
    /// duplicates, binary as base64, at most [`MAX_NESTING`] levels of `M` and `L`.
    pub fn from_typed(value: &Value) -> Result<AttributeValue, ValueError> {
        AttributeValue::typed_at(value, 0)
    }

    fn typed_at(value: &Value, depth: usize) -> Result<AttributeValue, ValueError> {
        let Value::Object(typed) = value else {
            return Err(unexpected(value, "AttributeValue"));
        };
        // DynamoDB ignores members it does not know, so `{"X": 1}` reads as an empty value.
        const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];
        let mut present = typed
            .iter()
            .filter(|(k, v)| TYPES.contains(&k.as_str()) && !v.is_null());
        let (tag, inner) = match (present.next(), present.next()) {
            (None, _) => {
                return Err(ValueError::Validation(format!(
                    "{PREFIX}Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
                )));
            }
            (Some(_), Some(_)) => {
                return Err(ValueError::Validation(format!(
                    "{PREFIX}Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
                )));
            }
            (Some(one), None) => one,
        };
        fn list(v: &Value) -> Result<&Vec<Value>, ValueError> {
            match v {
                Value::Array(items) => Ok(items),
                other => Err(unexpected(other, "List")),
            }
        }
        let set = |v: &Value, noun: &str, member: fn(&Value) -> Result<String, ValueError>| {
            let items = list(v)?;
            if items.is_empty() {
                return Err(ValueError::Validation(format!(
                    "{PREFIX}An {noun} set  may not be empty"
                )));
            }
            let members = items.iter().map(member).collect::<Result<Vec<_>, _>>()?;
            let mut seen = std::collections::HashSet::new();
            if !members.iter().all(|m| seen.insert(m)) {
                let shown: Vec<&str> = items.iter().map(|i| i.as_str().unwrap_or("")).collect();
                return Err(ValueError::Validation(format!(
                    "{PREFIX}Input collection [{}] contains duplicates.",
                    shown.join(", ")
                )));
            }
            Ok(members)
        };
        Ok(match tag.as_str() {
            "S" => AttributeValue::S(text(inner)?),
            "N" => AttributeValue::N(number(inner)?),
            "B" => AttributeValue::B(binary(inner)?),
            "BOOL" => match inner {
                Value::Bool(b) => AttributeValue::Bool(*b),
                other => return Err(unexpected(other, "Boolean")),
            },
            "NULL" => match inner {
                Value::Bool(true) => AttributeValue::Null(true),
                Value::Bool(false) => {
                    return Err(ValueError::Validation(format!(
                        "{PREFIX}Null attribute value types must have the value of true"
                    )));
                }
                other => return Err(unexpected(other, "Boolean")),
            },
            "M" => match inner {
                Value::Object(map) => {
                    let depth = nested(depth)?;
                    AttributeValue::M(
                        map.iter()
                            .map(|(k, v)| Ok((k.clone(), AttributeValue::typed_at(v, depth)?)))
                            .collect::<Result<_, ValueError>>()?,
                    )
                }
                other => return Err(unexpected(other, "Map")),
            },
            "L" => {
                let items = list(inner)?;
                let depth = nested(depth)?;
                AttributeValue::L(
                    items
                        .iter()
                        .map(|i| AttributeValue::typed_at(i, depth))
                        .collect::<Result<_, _>>()?,
                )
            }
            "SS" => AttributeValue::SS(set(inner, "string", text)?),
            "NS" => AttributeValue::NS(set(inner, "number", number)?),
            _ => AttributeValue::BS(set(inner, "binary", binary)?),
        })
    }

    /// The number an `N` holds.
    pub fn number(&self) -> Option<Number> {
        match self {
            AttributeValue::N(n) => Number::parse(n).ok(),
            _ => None,
        }
    }

    /// DynamoDB's `size()`: a string's length in UTF-8 bytes, a binary's in bytes, a
    /// collection's member count; `None` for other types.
    pub fn size(&self) -> Option<usize> {
        Some(match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::B(b) => bytes(b).len(),
            AttributeValue::L(items) => items.len(),
            AttributeValue::M(map) => map.len(),
            AttributeValue::SS(items) | AttributeValue::NS(items) | AttributeValue::BS(items) => {
                items.len()
            }
            _ => return None,
        })
    }

    /// How `M` and `L` levels this value holds (a scalar none).
    pub fn nesting(&self) -> usize {
        match self {
            AttributeValue::L(items) => 1 + items.iter().map(Self::nesting).max().unwrap_or(0),
            AttributeValue::M(map) => 1 + map.values().map(Self::nesting).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// DynamoDB's comparison: numbers by value, strings and binary by their bytes, other types
/// only for equality (sets as sets); values of different types never compare.
pub fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue as A;
    let equal = |same: bool| same.then_some(Ordering::Equal);
    let is_equal = |a: &A, b: &A| compare(a, b) == Some(Ordering::Equal);
    match (a, b) {
        (A::N(x), A::N(y)) => Some(Number::parse(x).ok()?.cmp(&Number::parse(y).ok()?)),
        (A::S(x), A::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (A::B(x), A::B(y)) => Some(bytes(x).cmp(&bytes(y))),
        (A::L(x), A::L(y)) => {
            equal(x.len() == y.len() && x.iter().zip(y).all(|(a, b)| is_equal(a, b)))
        }
        (A::M(x), A::M(y)) => equal(
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| is_equal(v, w))),
        ),
        (A::SS(x), A::SS(y)) | (A::BS(x), A::BS(y)) => {
            equal(x.len() == y.len() && x.iter().all(|m| y.contains(m)))
        }
        (A::NS(x), A::NS(y)) => equal(
            x.len() == y.len()
                && x.iter().all(|m| {
                    y.iter()
                        .any(|n| Number::parse(m).ok() == Number::parse(n).ok())
                }),
        ),
        (A::Bool(x), A::Bool(y)) => equal(x == y),
        (A::Null(_), A::Null(_)) => Some(Ordering::Equal),
        _ => None,
    }
}

/// A binary value's bytes (its base64 text was checked when it was read).
pub fn bytes(base64: &str) -> Vec<u8> {
    STANDARD.decode(base64).unwrap_or_default()
}

/// The image of a plain JSON object (see [`AttributeValue::from_plain`]).
pub fn image_of(object: &Map<String, Value>) -> Result<Image, ValueError> {
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), AttributeValue::from_plain(v)?)))
        .collect()
}

/// The plain JSON object an image stands for (see [`AttributeValue::to_plain`]).
pub fn plain_of(image: &Image) -> Map<String, Value> {
    image
        .iter()
        .map(|(k, v)| (k.clone(), v.to_plain()))
        .collect()
}

/// Reads an item or key in DynamoDB's typed JSON (see [`AttributeValue::from_typed`]).
pub fn image_from_typed(object: &Map<String, Value>) -> Result<Image, ValueError> {
    object
        .iter()
        .map(|(k, v)| Ok((k.clone(), AttributeValue::from_typed(v)?)))
        .collect()
}

/// Merges an RFC 7396 JSON merge patch into an image: `null` removes an attribute, an object
/// merges into a map, anything else replaces; attributes the patch does not name keep their
/// types exactly.
pub fn merge_patch(image: &mut Image, patch: &Map<String, Value>) -> Result<(), ValueError> {
    fn merge(
        target: &mut Image,
        patch: &Map<String, Value>,
        depth: usize,
    ) -> Result<(), ValueError> {
        for (name, value) in patch {
            match (value, target.get_mut(name)) {
                (Value::Null, _) => {
                    target.remove(name);
                }
                (Value::Object(inner), Some(AttributeValue::M(map))) => {
                    merge(map, inner, nested(depth)?)?;
                }
                (Value::Object(inner), _) => {
                    let mut map = Image::new();
                    merge(&mut map, inner, nested(depth)?)?;
                    target.insert(name.clone(), AttributeValue::M(map));
                }
                (value, _) => {
                    target.insert(name.clone(), AttributeValue::plain_at(value, depth)?);
                }
            }
        }
        Ok(())
    }
    merge(image, patch, 0)
}

/// One more level of `M` or `L`, if DynamoDB allows it.
fn nested(depth: usize) -> Result<usize, ValueError> {
    if depth >= MAX_NESTING {
        return Err(too_deep());
    }
    Ok(depth + 1)
}

fn text(value: &Value) -> Result<String, ValueError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(unexpected(other, "String")),
    }
}

fn number(value: &Value) -> Result<String, ValueError> {
    Number::canonical(&text(value)?).map_err(ValueError::Validation)
}

fn binary(value: &Value) -> Result<String, ValueError> {
    let text = text(value)?;
    STANDARD
        .decode(&text)
        .map(|bytes| STANDARD.encode(bytes))
        .map_err(|_| {
            ValueError::Serialization(format!("a B value must be base64 text; got {text:?}"))
        })
}

/// How DynamoDB's JSON reader words a value of the wrong JSON type where `expected` was due.
pub fn unexpected(value: &Value, expected: &str) -> ValueError {
    ValueError::Serialization(match value {
        Value::Object(_) => "Start of structure or map found where not expected".into(),
        Value::Array(_) => "Start of list found where not expected".into(),
        Value::Number(_) => format!("NUMBER_VALUE cannot be converted to {expected}"),
        Value::String(_) => format!("STRING_VALUE cannot be converted to {expected}"),
        Value::Bool(true) => format!("TRUE_VALUE cannot be converted to {expected}"),
        Value::Bool(false) => format!("FALSE_VALUE cannot be converted to {expected}"),
        Value::Null => format!("null cannot be converted to {expected}"),
    })
}

#[cfg(test)]
mod tests;
