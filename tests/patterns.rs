//! `switchyard pattern match` agrees with aws/event-ruler (commit 337e8d9) where AWS's
//! documentation is silent or says otherwise, through the real binary: one JSON line in, one
//! verdict line out.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `switchyard pattern match` on these lines and returns its verdict lines.
fn verdicts(lines: &[&str]) -> Vec<String> {
    let mut child = Command::new(common::BINARY)
        .args(["pattern", "match"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Each row: an input line and the verdict expected for it.
fn table(rows: &[(&str, &str)]) {
    let lines: Vec<&str> = rows.iter().map(|(line, _)| *line).collect();
    let expected: Vec<&str> = rows.iter().map(|(_, verdict)| *verdict).collect();
    assert_eq!(verdicts(&lines), expected);
}

const YES: &str = r#"{"matches": true}"#;
const NO: &str = r#"{"matches": false}"#;

/// Rule field names join nested keys with "." (Path.extendedName), and so do event field names
/// (Path.name in Event.addField); GenericMachine.isFieldStepUsed reads dotted event keys.
#[test]
fn dotted_keys_name_the_same_field_as_nested_objects() {
    table(&[
        (
            r#"{"pattern": {"detail.status": ["x"]}, "event": {"detail": {"status": "x"}}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"detail": {"status": ["x"]}}, "event": {"detail.status": "x"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": {"b": ["x"]}, "a.b": ["y"]}, "event": {"a": {"b": "x"}}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"a.b": ["y"]}, "event": {"a": {"b": "x"}, "a.b": "y"}}"#,
            YES,
        ),
    ]);
}

/// ComparableNumber.generate: numbers compare as 64-bit floats, and one a double cannot hold
/// exactly is refused where the pattern must compare it, and matched only as written elsewhere.
#[test]
fn numbers_compare_as_doubles_of_any_size() {
    table(&[
        (
            r#"{"pattern": {"n": [{"numeric": [">", 5e9]}]}, "event": {"n": 1.5e300}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"n": [{"numeric": ["=", 0.1234567]}]}, "event": {"n": 1234567e-7}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"account": [123456789012]}, "event": {"account": 123456789012.0}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"n": [12345678901234567890]}, "event": {"n": 12345678901234567890}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"n": [12345678901234567890]}, "event": {"n": 1.2345678901234567890e19}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"n": [{"numeric": [">", 0]}]}, "event": {"n": 1e400}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"n": [{"numeric": ["<", 1e400]}]}, "event": {"n": 1}}"#,
            r#"{"error": "invalid pattern: at `n[0].numeric`: 1e400 cannot be compared as a number: it is beyond the range or the precision of a 64-bit float"}"#,
        ),
    ]);
}

/// GenericMachine.addRule compiles again with the legacy RuleCompiler when JsonRuleCompiler
/// throws, and there `$or` is a field name (JsonRuleCompilerTest.
/// testOrFieldCanKeepWorkingInLegacyRuleCompiler).
#[test]
fn or_that_cannot_be_an_or_is_a_field_name() {
    table(&[
        (
            r#"{"pattern": {"$or": [{"cidr": "10.0.0.0/24"}]}, "event": {"$or": "10.0.0.7"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"$or": {"a": ["x"]}}, "event": {"$or": {"a": "x"}}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"$or": {"a": ["x"]}}, "event": {"a": "x"}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"$or": [{"a": [1]}]}, "event": {"a": 1}}"#,
            r#"{"error": "invalid pattern: at `$or`: `$or` needs at least 2 objects"}"#,
        ),
    ]);
}

/// JsonRuleCompiler.doCompile and the Event constructor read one JSON object each and close
/// the parser.
#[test]
fn text_after_the_pattern_or_the_event_is_not_read() {
    table(&[
        (
            r#"{"pattern": "{\"a\": [\"x\"]} trailing", "event": {"a": "x"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": ["x"]}, "event": "{\"a\": \"x\"} trailing"}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": ["x"]}, "event": "{\"a\": \"y\"} {\"a\": \"x\"}"}"#,
            NO,
        ),
    ]);
}

/// EqualsIgnoreCaseParser: each character of the pattern as its Locale.ROOT lower or upper
/// case; the event's text as it is.
#[test]
fn ignoring_case_folds_the_pattern_not_the_event() {
    table(&[
        (
            r#"{"pattern": {"a": [{"equals-ignore-case": "straße"}]}, "event": {"a": "STRASSE"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": [{"equals-ignore-case": "STRASSE"}]}, "event": {"a": "straße"}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"a": [{"equals-ignore-case": "\u212a"}]}, "event": {"a": "k"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": [{"equals-ignore-case": "k"}]}, "event": {"a": "\u212a"}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"a": [{"prefix": {"equals-ignore-case": "ı"}}]}, "event": {"a": "Istanbul"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"a": [{"prefix": {"equals-ignore-case": "I"}}]}, "event": {"a": "ıstanbul"}}"#,
            NO,
        ),
    ]);
}

/// CIDR.ipToBytes: only strings that IPv4_REGEX or IPv6_REGEX match are addresses, and an
/// IPv4-mapped IPv6 address is the IPv4 address (CIDRTest.testInvalidIPMatchedByIPv6Regex).
#[test]
fn ip_addresses_are_what_event_rulers_regexes_accept() {
    table(&[
        (
            r#"{"pattern": {"ip": [{"cidr": "10.0.0.0/24"}]}, "event": {"ip": "::ffff:a00:7"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"ip": [{"cidr": "10.0.0.0/24"}]}, "event": {"ip": "::ffff:10.0.0.7"}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"ip": ["10.0.0.7"]}, "event": {"ip": "::ffff:a00:7"}}"#,
            YES,
        ),
        (
            r#"{"pattern": {"ip": [{"cidr": "10.0.0.0/24"}]}, "event": {"ip": "10.0.0.07"}}"#,
            NO,
        ),
        (
            r#"{"pattern": {"a": ["08:23"]}, "event": {"a": "08:23"}}"#,
            YES,
        ),
    ]);
}
