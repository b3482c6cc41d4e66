//! How an expectation holds: JSON equal by value, or containing what it names; and the diff
//! shown when it does not.

use serde_json::Value;

/// An expectation that is not a list is about the one value at the point, when there is one.
pub(super) fn sole(expected: &Value, actual: Value) -> Value {
    match actual {
        Value::Array(mut values) if !expected.is_array() && values.len() == 1 => values.remove(0),
        actual => actual,
    }
}

/// Equal as JSON, with numbers equal by value (TOML's `1` is JSON's `1.0`).
pub(super) fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && b.iter().all(|(k, b)| a.get(k).is_some_and(|a| same(a, b)))
        }
        (a, b) => a == b,
    }
}

/// `expected` is found in `actual`: every member of an object (others may be there too), every
/// element of a list in order (the lists as long), every other value equal.
pub(super) fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| contains(a, b))
        }
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .all(|(k, b)| a.get(k).is_some_and(|a| contains(a, b))),
        (a, b) => same(a, b),
    }
}

/// `actual` cut down to the members `expected` names, wherever both are objects.
pub(super) fn pruned(actual: &Value, expected: &Value) -> Value {
    match (actual, expected) {
        (Value::Object(a), Value::Object(b)) => Value::Object(
            b.iter()
                .filter_map(|(k, b)| Some((k.clone(), pruned(a.get(k)?, b))))
                .collect(),
        ),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            Value::Array(a.iter().zip(b).map(|(a, b)| pruned(a, b)).collect())
        }
        (a, _) => a.clone(),
    }
}

/// Expected and actual, line by line: `-` what was expected, `+` what was there.
pub(super) fn diff(expected: &Value, actual: &Value) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let (expected, actual) = (pretty(expected), pretty(actual));
    let mut out = String::from("--- expected\n+++ actual\n");
    for change in similar::TextDiff::from_lines(&expected, &actual).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value());
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

pub(super) fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|line| format!("{by}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
