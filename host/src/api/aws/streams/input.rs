//! A request's members, read with DynamoDB Streams' constraints and its errors: a member of the
//! wrong JSON type is a `SerializationException` at once; every broken constraint is collected
//! into one `ValidationException` worded as AWS words it ("1 validation error detected: Value
//! '0' at 'limit' failed to satisfy constraint: ...").

use serde_json::{Map, Value};

use super::errors;
use crate::api::aws::AwsError;

/// The members of one request, and the constraints they broke so far.
pub(super) struct Input<'a> {
    members: &'a Map<String, Value>,
    broken: Vec<String>,
}

impl<'a> Input<'a> {
    pub(super) fn new(input: &'a Value) -> Result<Input<'a>, AwsError> {
        let members = input
            .as_object()
            .ok_or_else(|| AwsError::serialization("the request body must be a JSON object"))?;
        Ok(Input {
            members,
            broken: Vec::new(),
        })
    }

    /// A string member (`null` is absent), checked against its length bounds.
    pub(super) fn string(
        &mut self,
        name: &str,
        (min, max): (usize, usize),
    ) -> Result<Option<&'a str>, AwsError> {
        let Some(value) = self.member(name) else {
            return Ok(None);
        };
        let text = value.as_str().ok_or_else(|| wrong_type(name, "a string"))?;
        let length = text.chars().count();
        if length < min {
            self.break_constraint(
                name,
                &quoted(text),
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if length > max {
            self.break_constraint(
                name,
                &quoted(text),
                &format!("Member must have length less than or equal to {max}"),
            );
        }
        Ok(Some(text))
    }

    /// A string member that must be there.
    pub(super) fn required(
        &mut self,
        name: &str,
        bounds: (usize, usize),
    ) -> Result<&'a str, AwsError> {
        let text = self.string(name, bounds)?;
        if text.is_none() {
            self.missing(name);
        }
        Ok(text.unwrap_or_default())
    }

    /// Notes a required member that is absent.
    pub(super) fn missing(&mut self, name: &str) {
        self.break_constraint(name, "null", "Member must not be null");
    }

    /// Notes a string member that breaks the pattern its values must match.
    pub(super) fn mismatched(&mut self, name: &str, text: &str, pattern: &str) {
        self.break_constraint(
            name,
            &quoted(text),
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        );
    }

    /// A string member that must be one of `values` when present.
    pub(super) fn one_of(
        &mut self,
        name: &str,
        values: &[&str],
    ) -> Result<Option<&'a str>, AwsError> {
        let text = self.string(name, (0, usize::MAX))?;
        if let Some(text) = text.filter(|t| !values.contains(t)) {
            self.break_constraint(
                name,
                &quoted(text),
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            );
        }
        Ok(text)
    }

    /// An integer member within `min..=max`, or `default` when absent.
    pub(super) fn limit(
        &mut self,
        name: &str,
        (min, max): (i64, i64),
        default: i64,
    ) -> Result<usize, AwsError> {
        let Some(value) = self.member(name) else {
            return Ok(usize::try_from(default).unwrap_or(1));
        };
        let n = value
            .as_i64()
            .ok_or_else(|| wrong_type(name, "an integer"))?;
        if n < min {
            self.break_constraint(
                name,
                &quoted(&n.to_string()),
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.break_constraint(
                name,
                &quoted(&n.to_string()),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
        Ok(usize::try_from(n.clamp(min, max)).unwrap_or(1))
    }

    /// A timestamp member in seconds since the epoch (the JSON protocol sends a number).
    pub(super) fn timestamp(&mut self, name: &str) -> Result<Option<f64>, AwsError> {
        self.member(name)
            .map(|value| {
                value
                    .as_f64()
                    .ok_or_else(|| wrong_type(name, "a timestamp in seconds since the epoch"))
            })
            .transpose()
    }

    /// A structure member, as its own input.
    pub(super) fn structure(&mut self, name: &str) -> Result<Option<&'a Value>, AwsError> {
        match self.member(name) {
            Some(value @ Value::Object(_)) => Ok(Some(value)),
            Some(_) => Err(wrong_type(name, "a structure")),
            None => Ok(None),
        }
    }

    /// Adds the broken constraints of a nested structure's input, under its member's name.
    pub(super) fn absorb(&mut self, parent: &str, nested: Input<'_>) {
        let parent = member_path(parent);
        self.broken.extend(
            nested
                .broken
                .into_iter()
                .map(|b| b.replacen(" at '", &format!(" at '{parent}."), 1)),
        );
    }

    /// The request's broken constraints as one `ValidationException`, if any.
    pub(super) fn finish(self) -> Result<(), AwsError> {
        match self.broken.len() {
            0 => Ok(()),
            1 => Err(errors::validation(format!(
                "1 validation error detected: {}",
                self.broken[0]
            ))),
            n => Err(errors::validation(format!(
                "{n} validation errors detected: {}",
                self.broken.join("; ")
            ))),
        }
    }

    fn member(&self, name: &str) -> Option<&'a Value> {
        self.members.get(name).filter(|v| !v.is_null())
    }

    fn break_constraint(&mut self, name: &str, value: &str, constraint: &str) {
        self.broken.push(format!(
            "Value {value} at '{}' failed to satisfy constraint: {constraint}",
            member_path(name)
        ));
    }
}

/// A member as AWS's validation messages name it: `StreamArn` is `streamArn`.
fn member_path(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn quoted(text: &str) -> String {
    format!("'{text}'")
}

fn wrong_type(name: &str, expected: &str) -> AwsError {
    AwsError::serialization(format!("`{name}` must be {expected}"))
}
