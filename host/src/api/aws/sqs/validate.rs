//! What SQS checks in a message before it takes it: the characters of the body, group and
//! deduplication ids, and message attributes (names, data types, values), with SQS's messages.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::errors::invalid_parameter;
use super::{AwsError, input};
use crate::backend::{MessageAttribute, MessageAttributes};

/// The characters SQS allows in a body and in attribute text.
pub const ALLOWED: &str =
    "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";
const MAX_ATTRIBUTES: usize = 10;

/// The first character SQS does not allow, if any.
pub fn allowed_text(text: &str) -> Result<(), char> {
    match text.chars().find(|&c| {
        let c = c as u32;
        !(matches!(c, 0x9 | 0xA | 0xD)
            || (0x20..=0xD7FF).contains(&c)
            || (0xE000..=0xFFFD).contains(&c)
            || c >= 0x10000)
    }) {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

/// A group or deduplication id: 1 to 128 ASCII letters, digits and punctuation.
pub fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A send's `MessageAttributes`, checked as SQS checks them.
pub fn message_attributes(entry: &Value) -> Result<MessageAttributes, AwsError> {
    let Some(map) = input::object(entry, "MessageAttributes")? else {
        return Ok(MessageAttributes::new());
    };
    if map.len() > MAX_ATTRIBUTES {
        return Err(invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            map.len()
        )));
    }
    map.iter()
        .map(|(name, value)| {
            if !valid_attribute_name(name) {
                return Err(invalid_parameter(format!(
                    "Message (user) attribute name '{name}' is invalid. Attribute names can contain only A-Z, a-z, 0-9, underscore (_), hyphen (-) and period (.), can be at most 256 characters long, cannot start or end with a period or contain two in a row, and cannot start with AWS. or Amazon."
                )));
            }
            Ok((name.clone(), attribute(name, value, "user")?))
        })
        .collect()
}

/// A send's `MessageSystemAttributes`: SQS takes only `AWSTraceHeader`, a string.
pub fn system_attributes(entry: &Value) -> Result<MessageAttributes, AwsError> {
    let Some(map) = input::object(entry, "MessageSystemAttributes")? else {
        return Ok(MessageAttributes::new());
    };
    map.iter()
        .map(|(name, value)| {
            if name != "AWSTraceHeader" {
                return Err(invalid_parameter(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
            let attribute = attribute(name, value, "system")?;
            if attribute.data_type != "String" {
                return Err(invalid_parameter(format!(
                    "Message system attribute '{name}' must have the data type String."
                )));
            }
            Ok((name.clone(), attribute))
        })
        .collect()
}

fn valid_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
}

/// One attribute's value, checked against its data type; `kind` is `user` or `system`, as
/// SQS's messages say.
fn attribute(name: &str, value: &Value, kind: &str) -> Result<MessageAttribute, AwsError> {
    let data_type = input::string(value, "DataType")?.unwrap_or_default();
    if data_type.is_empty() {
        return Err(invalid_parameter(format!(
            "The message ({kind}) attribute '{name}' must contain a non-empty message attribute type."
        )));
    }
    if value.get("StringListValues").is_some() || value.get("BinaryListValues").is_some() {
        return Err(invalid_parameter(
            "Message attribute list values in SendMessage operation are not supported.",
        ));
    }
    let base = data_type.split('.').next().unwrap_or_default();
    let text = input::string(value, "StringValue")?;
    let binary = input::string(value, "BinaryValue")?;
    let empty_value = || {
        invalid_parameter(format!(
            "The message ({kind}) attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
        ))
    };
    match base {
        "String" | "Number" => {
            let text = text.filter(|t| !t.is_empty()).ok_or_else(empty_value)?;
            if base == "Number" && !is_number(text) {
                return Err(invalid_parameter(format!(
                    "Can't cast the value of message ({kind}) attribute '{name}' to a number."
                )));
            }
            allowed_text(text).map_err(|c| {
                invalid_parameter(format!(
                    "Invalid binary character '#x{:X}' was found in the value of message ({kind}) attribute '{name}', the set of allowed characters is {ALLOWED}",
                    c as u32
                ))
            })?;
            Ok(MessageAttribute {
                data_type: data_type.to_string(),
                string_value: Some(text.to_string()),
                binary_value: None,
            })
        }
        "Binary" => {
            let bytes = binary
                .map(|b| STANDARD.decode(b))
                .transpose()
                .map_err(|_| {
                    AwsError::serialization(format!(
                        "the BinaryValue of message attribute '{name}' is not base64"
                    ))
                })?
                .filter(|b| !b.is_empty())
                .ok_or_else(empty_value)?;
            Ok(MessageAttribute {
                data_type: data_type.to_string(),
                string_value: None,
                binary_value: Some(bytes),
            })
        }
        _ => Err(invalid_parameter(format!(
            "The type of message ({kind}) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        ))),
    }
}

/// A number as SQS's `Number` type takes it: decimal, with an optional sign, fraction and
/// exponent, at most 38 significant digits.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let significant = format!("{whole}{fraction}");
    let significant = significant.trim_start_matches('0').trim_end_matches('0');
    !(whole.is_empty() && fraction.is_empty())
        && digits(whole)
        && digits(fraction)
        && significant.len() <= 38
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        })
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_sqss_numbers() {
        for good in [
            "1",
            "-1.5",
            "+0.25",
            "1e10",
            "12345678901234567890123456789012345678",
        ] {
            assert!(is_number(good), "{good}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1e",
            "123456789012345678901234567890123456789",
            "--1",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_names_follow_sqss_rules() {
        assert!(valid_attribute_name("order.total_cents-1"));
        for bad in [".a", "a.", "a..b", "AWS.x", "amazon.x", "a b", ""] {
            assert!(!valid_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_body_with_a_control_character_is_refused_at_it() {
        assert_eq!(allowed_text("ok\ttab\nline"), Ok(()));
        assert_eq!(allowed_text("bad\u{1}"), Err('\u{1}'));
        assert_eq!(allowed_text("bad\u{FFFE}"), Err('\u{FFFE}'));
    }
}
