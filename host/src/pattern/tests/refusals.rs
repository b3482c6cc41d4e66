//! Patterns AWS refuses, the limits, duplicate keys, invalid events, and rule sets.

use super::super::*;
use super::{refused, table};

#[test]
fn invalid_patterns_name_the_problem_and_where() {
    let cases = [
        (
            "not json",
            "invalid JSON at line 1, column 1: expected a value",
        ),
        (
            "[1]",
            "an event pattern must be a JSON object, not an array",
        ),
        ("{}", "empty objects are not allowed"),
        (
            r#"{"a": "x"}"#,
            "at `a`: \"a\" must be an object or an array, not a string",
        ),
        (
            r#"{"a": {"b": 5}}"#,
            "at `a.b`: \"b\" must be an object or an array, not a number",
        ),
        (r#"{"a": []}"#, "at `a`: empty arrays are not allowed"),
        (r#"{"a": {}}"#, "at `a`: empty objects are not allowed"),
        (
            r#"{"a": [["x"]]}"#,
            "at `a[0]`: a value must be a string, number, boolean, null or an operator object, not an array",
        ),
        (
            r#"{"a": [{"prefx": "x"}]}"#,
            "at `a[0]`: unrecognized match type \"prefx\"",
        ),
        (
            r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
            "at `a[0]`: an operator object holds exactly one operator, found 2",
        ),
        (
            r#"{"a": [{"prefix": 5}]}"#,
            "at `a[0].prefix`: `prefix` takes a string or `{\"equals-ignore-case\": ...}`, not a number",
        ),
        (
            r#"{"a": [{"prefix": {"wildcard": "x"}}]}"#,
            "at `a[0].prefix`: inside `prefix`, the only operator allowed is `equals-ignore-case`",
        ),
        (
            r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
            "at `a[0].equals-ignore-case`: `equals-ignore-case` takes a string, not an array",
        ),
        (
            r#"{"a": [{"exists": "yes"}]}"#,
            "at `a[0].exists`: `exists` takes true or false, not a string",
        ),
        (
            r#"{"a": [{"anything-but": ["x", 1]}]}"#,
            "at `a[0].anything-but`: inside an `anything-but` list, values must be all strings or all numbers",
        ),
        (
            r#"{"a": [{"anything-but": [null]}]}"#,
            "at `a[0].anything-but`: inside an `anything-but` list, only strings and numbers are allowed",
        ),
        (
            r#"{"a": [{"anything-but": []}]}"#,
            "at `a[0].anything-but`: empty arrays are not allowed",
        ),
        (
            r#"{"a": [{"anything-but": true}]}"#,
            "at `a[0].anything-but`: `anything-but` takes a string, a number, a list of either, or an operator object, not a boolean",
        ),
        (
            r#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#,
            "at `a[0].anything-but.numeric`: `numeric` inside `anything-but` takes a string or a list of strings",
        ),
        (
            r#"{"a": [{"anything-but": {"exists": "x"}}]}"#,
            "at `a[0].anything-but`: unsupported operator \"exists\" inside `anything-but`",
        ),
        (
            r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
            "at `a[0].anything-but.prefix`: an empty `prefix` is not allowed inside `anything-but`",
        ),
        (
            r#"{"a": [{"anything-but": 1e400}]}"#,
            "at `a[0].anything-but`: 1e400 cannot be compared as a number: it is beyond the range or the precision of a 64-bit float",
        ),
        (
            r#"{"a": [{"cidr": "10.0.0.1"}]}"#,
            "at `a[0].cidr`: \"10.0.0.1\" is not a CIDR block like \"10.0.0.0/24\"",
        ),
    ];
    for (pattern, expected) in cases {
        assert_eq!(refused(pattern), expected, "{pattern}");
    }
}

#[test]
fn patterns_beyond_the_size_and_complexity_limits_are_refused() {
    let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(MAX_PATTERN_BYTES));
    assert_eq!(
        refused(&long),
        format!(
            "the pattern is {} bytes long; at most 4096 are allowed",
            long.len()
        )
    );
    // Eleven parallel `$or`s of two alternatives each combine into 2048 cases.
    let ors: Vec<String> = (0..11)
        .map(|i| format!(r#""f{i}": {{"$or": [{{"a": [1]}}, {{"b": [2]}}]}}"#))
        .collect();
    let complex = format!("{{{}}}", ors.join(", "));
    assert_eq!(
        refused(&complex),
        "at `f10.$or`: the pattern is too complex: its `$or` alternatives combine into more than 1024 cases"
    );
}

#[test]
fn duplicate_keys_keep_the_last_value_list() {
    table(&[
        (r#"{"a": ["x"], "a": ["y"]}"#, r#"{"a": "y"}"#, true),
        (r#"{"a": ["x"], "a": ["y"]}"#, r#"{"a": "x"}"#, false),
        // In an event, each occurrence of a member is a value of its path.
        (r#"{"a": ["x"]}"#, r#"{"a": "y", "a": "x"}"#, true),
    ]);
}

#[test]
fn invalid_events_are_reported_not_matched() {
    let pattern = Pattern::compile(r#"{"a": ["x"]}"#).unwrap();
    assert_eq!(
        pattern.matches_json("[]").unwrap_err().0,
        "an event must be a JSON object"
    );
    assert_eq!(
        pattern.matches_json(r#"{"a": "x",}"#).unwrap_err().0,
        "invalid JSON at line 1, column 11: expected a member name in double quotes"
    );
}

#[test]
fn a_rule_set_reports_each_matching_rule_once_whatever_the_index() {
    // Enough rules to use the index, with exact anchors, without, and with `$or`.
    let mut patterns: Vec<String> = (0..20)
        .map(|i| {
            format!(r#"{{"source": ["s{i}"], "detail": {{"n": [{{"numeric": [">", {i}]}}]}}}}"#)
        })
        .collect();
    patterns.push(r#"{"detail": {"n": [{"numeric": [">", 0]}]}}"#.into());
    patterns.push(r#"{"$or": [{"source": ["s3"]}, {"source": ["s4"]}]}"#.into());
    patterns.push(r#"{"source": [{"prefix": "s"}], "tags": ["a", "b"]}"#.into());
    let rules = RuleSet::new(&patterns).unwrap();
    assert_eq!(rules.len(), 23);
    assert_eq!(
        rules
            .matching_json(r#"{"source": "s3", "detail": {"n": 5}}"#)
            .unwrap(),
        [3, 20, 21]
    );
    assert_eq!(
        rules
            .matching_json(r#"{"source": "s3", "detail": {"n": 2}}"#)
            .unwrap(),
        [20, 21]
    );
    assert_eq!(
        rules
            .matching_json(r#"{"source": "s9", "detail": {"n": 10}, "tags": ["b", "a"]}"#)
            .unwrap(),
        [9, 20, 22]
    );
    assert_eq!(
        rules
            .matching_json(r#"{"source": ["s1", "s2"], "detail": {"n": 3}}"#)
            .unwrap(),
        [1, 2, 20]
    );
    assert!(
        rules
            .matching_json(r#"{"source": "x"}"#)
            .unwrap()
            .is_empty()
    );
    let err = RuleSet::new([r#"{"a": ["x"]}"#, "{}"]).unwrap_err();
    assert_eq!(
        err,
        (
            1,
            PatternError {
                at: String::new(),
                message: "empty objects are not allowed".into()
            }
        )
    );
}
