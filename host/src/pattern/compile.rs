//! Pattern text to branches. `$or` is expanded into alternatives, each a list of field tests
//! that must all pass (as event-ruler does). Every rule of the language is checked here, and a
//! problem names its place inside the pattern, e.g. `detail.state[0].prefix`.

use super::PatternError;
use super::json::{self, Json};
use super::leaf::{Cidr, Folded, Matcher, Range, Wildcard, ip_address};
use super::number::comparable;

/// Longest pattern text accepted: AWS's largest event pattern size quota.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// Most alternatives the `$or`s of one pattern may combine into.
pub const MAX_BRANCHES: usize = 1024;

/// Words that cannot name a field inside `$or`: event-ruler's
/// RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP (Constants.java), operators to come included, and
/// `$or` itself.
const RESERVED: [&str; 25] = [
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
    "$or",
];

/// The tests of one field: it passes when a leaf matches one of `matchers`, or, with `absent`,
/// when the field has no leaf at all.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Test {
    /// The field's name as event-ruler spells it: its steps joined with "." (see
    /// [`field_name`]), so `{"a.b": ...}` and `{"a": {"b": ...}}` name one field.
    pub name: String,
    pub matchers: Vec<Matcher>,
    pub absent: bool,
}

/// One alternative of a pattern: all its tests must pass.
pub(super) type Branch = Vec<Test>;

/// Which of event-ruler's compilers reads the pattern. GenericMachine.addRule compiles with
/// JsonRuleCompiler and, when that throws a JsonParseException, again with the legacy
/// RuleCompiler, which knows no `$or` (it is a field name there, e.g. `{"$or": {"a": ["x"]}}`),
/// no reserved words, no `anything-but` wildcard and no lists inside `anything-but` prefix or
/// suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Current,
    Legacy,
}

pub(super) fn compile(text: &str) -> Result<Vec<Branch>, PatternError> {
    if text.len() > MAX_PATTERN_BYTES {
        return Err(error(
            "",
            format!(
                "the pattern is {} bytes long; at most {MAX_PATTERN_BYTES} are allowed",
                text.len()
            ),
        ));
    }
    let json = json::parse(text).map_err(|message| error("", message))?;
    let Json::Object(members) = json else {
        return Err(error(
            "",
            format!(
                "an event pattern must be a JSON object, not {}",
                json.kind()
            ),
        ));
    };
    // Where both readings refuse, the current one's complaint is the one that fits the intent.
    branches(&members, Reading::Current)
        .or_else(|err| branches(&members, Reading::Legacy).map_err(|_| err))
}

fn branches(members: &[(String, Json)], reading: Reading) -> Result<Vec<Branch>, PatternError> {
    let mut branches = vec![Vec::new()];
    object(members, &mut Vec::new(), "", &mut branches, false, reading)?;
    Ok(branches)
}

/// The name event-ruler gives the field of `key` under the objects `path` (Path.extendedName):
/// all joined with ".", except that nothing goes before `key` when the path joins to "".
fn field_name(path: &[String], key: &str) -> String {
    let base = path.join(".");
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn error(at: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        at: at.to_string(),
        message: message.into(),
    }
}

fn member(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn object(
    members: &[(String, Json)],
    path: &mut Vec<String>,
    at: &str,
    branches: &mut Vec<Branch>,
    in_or: bool,
    reading: Reading,
) -> Result<(), PatternError> {
    if members.is_empty() {
        return Err(error(at, "empty objects are not allowed"));
    }
    for (key, value) in members {
        let here = member(at, key);
        if key == "$or" && reading == Reading::Current {
            alternatives(value, path, &here, branches)?;
            continue;
        }
        if in_or && RESERVED.contains(&key.as_str()) {
            return Err(error(
                &here,
                format!("\"{key}\" is a reserved word and cannot be a field name inside `$or`"),
            ));
        }
        match value {
            Json::Object(inner) => {
                path.push(key.clone());
                object(inner, path, &here, branches, in_or, reading)?;
                path.pop();
            }
            Json::Array(values) => {
                let test = values_of(values, field_name(path, key), &here, reading)?;
                for branch in branches.iter_mut() {
                    // A field given twice, however spelled, keeps its last value list, as
                    // event-ruler does (JsonRuleCompiler.writeRules, `rule.put(name, values)`).
                    branch.retain(|t| t.name != test.name);
                    branch.push(test.clone());
                }
            }
            other => {
                return Err(error(
                    &here,
                    format!(
                        "\"{key}\" must be an object or an array, not {}",
                        other.kind()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn alternatives(
    value: &Json,
    path: &mut Vec<String>,
    at: &str,
    branches: &mut Vec<Branch>,
) -> Result<(), PatternError> {
    let Json::Array(alternatives) = value else {
        return Err(error(at, "`$or` must be an array of objects"));
    };
    if alternatives.len() < 2 {
        return Err(error(at, "`$or` needs at least 2 objects"));
    }
    let before = std::mem::take(branches);
    for (i, alternative) in alternatives.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Json::Object(members) = alternative else {
            return Err(error(
                &here,
                format!(
                    "only objects are allowed in `$or`, not {}",
                    alternative.kind()
                ),
            ));
        };
        let mut forked = before.clone();
        object(members, path, &here, &mut forked, true, Reading::Current)?;
        branches.extend(forked);
        if branches.len() > MAX_BRANCHES {
            return Err(error(
                at,
                format!(
                    "the pattern is too complex: its `$or` alternatives combine into more than {MAX_BRANCHES} cases"
                ),
            ));
        }
    }
    Ok(())
}

fn values_of(
    values: &[Json],
    name: String,
    at: &str,
    reading: Reading,
) -> Result<Test, PatternError> {
    if values.is_empty() {
        return Err(error(at, "empty arrays are not allowed"));
    }
    let mut test = Test {
        name,
        matchers: Vec::new(),
        absent: false,
    };
    for (i, value) in values.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let matcher = match value {
            Json::String(s) => match ip_address(s) {
                Some(ip) => Matcher::StrOrIp(s.as_str().into(), ip),
                None => Matcher::Str(s.as_str().into()),
            },
            // Matched by its text, and by its value when event-ruler can compare it.
            Json::Number(n) => Matcher::Number {
                text: n.as_str().into(),
                key: comparable(n),
            },
            Json::Bool(b) => Matcher::Bool(*b),
            Json::Null => Matcher::Null,
            Json::Object(members) => match operator(members, &here, reading)? {
                Some(matcher) => matcher,
                None => {
                    test.absent = true;
                    continue;
                }
            },
            Json::Array(_) => {
                return Err(error(
                    &here,
                    "a value must be a string, number, boolean, null or an operator object, not an array",
                ));
            }
        };
        test.matchers.push(matcher);
    }
    Ok(test)
}

/// An operator object such as `{"prefix": "us-"}`; `None` stands for `{"exists": false}`.
fn operator(
    members: &[(String, Json)],
    at: &str,
    reading: Reading,
) -> Result<Option<Matcher>, PatternError> {
    let [(name, operand)] = members else {
        return Err(error(
            at,
            format!(
                "an operator object holds exactly one operator, found {}",
                members.len()
            ),
        ));
    };
    let here = member(at, name);
    let text = |what: &str| match operand {
        Json::String(s) => Ok(s.clone()),
        other => Err(error(
            &here,
            format!("`{name}` takes {what}, not {}", other.kind()),
        )),
    };
    let matcher = match name.as_str() {
        "prefix" => match operand {
            Json::Object(inner) => {
                Matcher::PrefixIgnoreCase(Folded::new(&ignore_case(inner, &here, name)?))
            }
            _ => Matcher::Prefix(text("a string or `{\"equals-ignore-case\": ...}`")?.into()),
        },
        "suffix" => match operand {
            Json::Object(inner) => {
                Matcher::SuffixIgnoreCase(Folded::new(&ignore_case(inner, &here, name)?))
            }
            _ => Matcher::Suffix(text("a string or `{\"equals-ignore-case\": ...}`")?.into()),
        },
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(Folded::new(&text("a string")?)),
        // The text as written: no reading as an IP address or a number.
        "exactly" => Matcher::Str(text("a string")?.into()),
        "wildcard" => {
            Matcher::Wildcard(Wildcard::parse(&text("a string")?).map_err(|m| error(&here, m))?)
        }
        "cidr" => Matcher::Cidr(Cidr::parse(&text("a string")?).map_err(|m| error(&here, m))?),
        "anything-but" => anything_but(operand, &here, reading)?,
        "numeric" => Matcher::Range(numeric(operand, &here)?),
        "exists" => match operand {
            Json::Bool(true) => Matcher::Exists,
            Json::Bool(false) => return Ok(None),
            other => {
                return Err(error(
                    &here,
                    format!("`exists` takes true or false, not {}", other.kind()),
                ));
            }
        },
        other => return Err(error(at, format!("unrecognized match type \"{other}\""))),
    };
    Ok(Some(matcher))
}

/// `{"equals-ignore-case": "text"}` inside `prefix` or `suffix`; the text.
fn ignore_case(members: &[(String, Json)], at: &str, op: &str) -> Result<String, PatternError> {
    match members {
        [(name, Json::String(s))] if name == "equals-ignore-case" => Ok(s.clone()),
        [(name, other)] if name == "equals-ignore-case" => Err(error(
            &member(at, name),
            format!("`equals-ignore-case` takes a string, not {}", other.kind()),
        )),
        _ => Err(error(
            at,
            format!("inside `{op}`, the only operator allowed is `equals-ignore-case`"),
        )),
    }
}

fn anything_but(operand: &Json, at: &str, reading: Reading) -> Result<Matcher, PatternError> {
    let excluded = match operand {
        Json::String(s) => vec![Matcher::Str(s.as_str().into())],
        Json::Number(n) => vec![Matcher::NumberValue(number(n, at)?)],
        Json::Array(items) if items.is_empty() => {
            return Err(error(at, "empty arrays are not allowed"));
        }
        Json::Array(items) if items.iter().all(|i| matches!(i, Json::String(_))) => items
            .iter()
            .filter_map(|i| {
                if let Json::String(s) = i {
                    Some(Matcher::Str(s.as_str().into()))
                } else {
                    None
                }
            })
            .collect(),
        Json::Array(items) if items.iter().all(|i| matches!(i, Json::Number(_))) => items
            .iter()
            .filter_map(|i| {
                if let Json::Number(n) = i {
                    Some(number(n, at).map(Matcher::NumberValue))
                } else {
                    None
                }
            })
            .collect::<Result<_, _>>()?,
        Json::Array(items)
            if items
                .iter()
                .all(|i| matches!(i, Json::String(_) | Json::Number(_))) =>
        {
            return Err(error(
                at,
                "inside an `anything-but` list, values must be all strings or all numbers",
            ));
        }
        Json::Array(_) => {
            return Err(error(
                at,
                "inside an `anything-but` list, only strings and numbers are allowed",
            ));
        }
        Json::Object(members) => return anything_but_operator(members, at, reading),
        other => {
            return Err(error(
                at,
                format!(
                    "`anything-but` takes a string, a number, a list of either, or an operator object, not {}",
                    other.kind()
                ),
            ));
        }
    };
    Ok(Matcher::Not(excluded))
}

/// `anything-but` with `prefix`, `suffix`, `equals-ignore-case` or `wildcard`, on one string
/// or a list of strings.
fn anything_but_operator(
    members: &[(String, Json)],
    at: &str,
    reading: Reading,
) -> Result<Matcher, PatternError> {
    let [(op, operand)] = members else {
        return Err(error(
            at,
            format!(
                "an operator object holds exactly one operator, found {}",
                members.len()
            ),
        ));
    };
    let here = member(at, op);
    if reading == Reading::Legacy && op == "wildcard" {
        return Err(error(
            at,
            format!("unsupported operator \"{op}\" inside `anything-but`"),
        ));
    }
    let lists = reading == Reading::Current || op == "equals-ignore-case";
    let texts: Vec<&str> = match operand {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items)
            if lists && !items.is_empty() && items.iter().all(|i| matches!(i, Json::String(_))) =>
        {
            items
                .iter()
                .filter_map(|i| {
                    if let Json::String(s) = i {
                        Some(s.as_str())
                    } else {
                        None
                    }
                })
                .collect()
        }
        _ => {
            return Err(error(
                &here,
                format!("`{op}` inside `anything-but` takes a string or a list of strings"),
            ));
        }
    };
    let mut excluded = Vec::with_capacity(texts.len());
    for text in texts {
        excluded.push(match op.as_str() {
            "prefix" | "suffix" if text.is_empty() => {
                return Err(error(
                    &here,
                    format!("an empty `{op}` is not allowed inside `anything-but`"),
                ));
            }
            "prefix" => Matcher::Prefix(text.into()),
            "suffix" => Matcher::Suffix(text.into()),
            "equals-ignore-case" => Matcher::EqualsIgnoreCase(Folded::new(text)),
            "wildcard" => Matcher::Wildcard(Wildcard::parse(text).map_err(|m| error(&here, m))?),
            other => {
                return Err(error(
                    at,
                    format!("unsupported operator \"{other}\" inside `anything-but`"),
                ));
            }
        });
    }
    Ok(Matcher::Not(excluded))
}

fn numeric(operand: &Json, at: &str) -> Result<Range, PatternError> {
    let shape =
        "`numeric` takes one comparison like [\">\", 0] or a range like [\">\", 0, \"<=\", 5]";
    let Json::Array(items) = operand else {
        return Err(error(at, shape));
    };
    let bound = |op: &Json, value: &Json| -> Result<(String, u64), PatternError> {
        let Json::String(op) = op else {
            return Err(error(at, shape));
        };
        match value {
            Json::Number(n) => Ok((op.clone(), number(n, at)?)),
            other => Err(error(
                at,
                format!(
                    "the value of \"{op}\" must be a number, not {}",
                    other.kind()
                ),
            )),
        }
    };
    match items.as_slice() {
        [op, value] => {
            let (op, v) = bound(op, value)?;
            Ok(match op.as_str() {
                "=" => Range {
                    low: Some((v, true)),
                    high: Some((v, true)),
                },
                ">" => Range {
                    low: Some((v, false)),
                    high: None,
                },
                ">=" => Range {
                    low: Some((v, true)),
                    high: None,
                },
                "<" => Range {
                    low: None,
                    high: Some((v, false)),
                },
                "<=" => Range {
                    low: None,
                    high: Some((v, true)),
                },
                other => {
                    return Err(error(
                        at,
                        format!("unrecognized numeric operator \"{other}\""),
                    ));
                }
            })
        }
        [op1, value1, op2, value2] => {
            let (low_op, low) = bound(op1, value1)?;
            let (high_op, high) = bound(op2, value2)?;
            let low_inclusive = match low_op.as_str() {
                ">" => false,
                ">=" => true,
                _ => {
                    return Err(error(
                        at,
                        "a numeric range starts with its lower bound, \">\" or \">=\"",
                    ));
                }
            };
            let high_inclusive = match high_op.as_str() {
                "<" => false,
                "<=" => true,
                _ => {
                    return Err(error(
                        at,
                        "a numeric range ends with its upper bound, \"<\" or \"<=\"",
                    ));
                }
            };
            if low >= high {
                return Err(error(
                    at,
                    "the lower bound of a numeric range must be below its upper bound",
                ));
            }
            Ok(Range {
                low: Some((low, low_inclusive)),
                high: Some((high, high_inclusive)),
            })
        }
        _ => Err(error(at, shape)),
    }
}

/// A pattern number that must be compared by value; event-ruler refuses one it cannot compare
/// (ComparableNumber.generate: "Cannot compare number").
fn number(text: &str, at: &str) -> Result<u64, PatternError> {
    comparable(text).ok_or_else(|| {
        error(
            at,
            format!(
                "{text} cannot be compared as a number: it is beyond the range or the precision of a 64-bit float"
            ),
        )
    })
}
