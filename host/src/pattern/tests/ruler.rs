//! Verdicts read off aws/event-ruler's source and tests (commit 337e8d9) where AWS's
//! documentation says nothing or says otherwise: dotted keys, numbers as 64-bit floats, `$or`
//! as a plain field name, text after the JSON value, case folding beyond ASCII, and what counts
//! as an IP address.

use super::super::*;
use super::{matches, refused, table};

/// A dotted key is the path it spells, in patterns and in events alike: rule field names are
/// built by `Path.extendedName` and event field names by `Path.name` (both join steps with
/// "."), and `GenericMachine.isFieldStepUsed` says so: "rule: {"a.b" : [123]} and
/// {"a" : { "b" : [123] }} will both result "a" and "b" being added".
#[test]
fn dotted_keys_are_the_paths_they_spell_in_patterns_and_events() {
    table(&[
        (
            r#"{"detail.status": ["x"]}"#,
            r#"{"detail": {"status": "x"}}"#,
            true,
        ),
        (
            r#"{"detail": {"status": ["x"]}}"#,
            r#"{"detail.status": "x"}"#,
            true,
        ),
        (
            r#"{"detail.status": ["x"]}"#,
            r#"{"detail.status": "x"}"#,
            true,
        ),
        (r#"{"a": {"b.c": ["x"]}}"#, r#"{"a.b": {"c": "x"}}"#, true),
        (
            r#"{"detail.status": ["x"]}"#,
            r#"{"detail": {"status": "y"}}"#,
            false,
        ),
        (r#"{"a.b": ["x"]}"#, r#"{"a": "x"}"#, false),
        // Both spellings in one event are two values of one field.
        (
            r#"{"a.b": ["y"]}"#,
            r#"{"a": {"b": "x"}, "a.b": "y"}"#,
            true,
        ),
        (
            r#"{"a": {"b": ["x"]}}"#,
            r#"{"a": {"b": "x"}, "a.b": "y"}"#,
            true,
        ),
        // Both in one pattern name one field, and the later value list replaces the earlier
        // (JsonRuleCompiler.writeRules, `rule.put(name, values)`; JsonRuleCompilerTest.
        // testWithRuleOverride).
        (
            r#"{"a": {"b": ["x"]}, "a.b": ["y"]}"#,
            r#"{"a": {"b": "x"}}"#,
            false,
        ),
        (
            r#"{"a": {"b": ["x"]}, "a.b": ["y"]}"#,
            r#"{"a": {"b": "y"}}"#,
            true,
        ),
        (
            r#"{"a.b": ["y"], "a": {"b": ["x"]}}"#,
            r#"{"a.b": "x"}"#,
            true,
        ),
        // Array consistency holds across spellings: both sit in the same element.
        (
            r#"{"x": {"a.b": ["1"], "c": ["2"]}}"#,
            r#"{"x": [{"a": {"b": "1"}, "c": "2"}]}"#,
            true,
        ),
        (
            r#"{"x": {"a.b": ["1"], "c": ["2"]}}"#,
            r#"{"x": [{"a": {"b": "1"}}, {"c": "2"}]}"#,
            false,
        ),
    ]);
}

/// An empty key is a step like any other, except where `Path.extendedName` drops the dot after
/// an empty name and where `String.split("\\.")` drops trailing empty steps, so the event key
/// `""` under `"a"` is never read for the pattern key `""` under `"a"` (field name `a.`, step
/// `a` only; `GenericMachine.recordFieldStep`, `isFieldStepUsed`).
#[test]
fn empty_keys_follow_event_rulers_joins_and_splits() {
    table(&[
        (r#"{"": ["x"]}"#, r#"{"": "x"}"#, true),
        (r#"{"": {"a": ["x"]}}"#, r#"{"a": "x"}"#, true),
        (r#"{"": {"a": ["x"]}}"#, r#"{"": {"a": "x"}}"#, false),
        (r#"{"a": {"": ["x"]}}"#, r#"{"a": {"": "x"}}"#, false),
        (r#"{"a": {"": ["x"]}}"#, r#"{"a.": "x"}"#, true),
        (r#"{"a..b": ["x"]}"#, r#"{"a": {"": {"b": "x"}}}"#, true),
    ]);
}

/// Numbers compare as 64-bit floats (ComparableNumber.generate): any finite double, as long as
/// the text is exactly the double's shortest decimal form (`BigDecimal.valueOf(doubleValue)
/// .compareTo(bigDecimal) != 0` refuses it otherwise).
#[test]
fn numbers_compare_as_64_bit_floats_of_any_size() {
    table(&[
        // The ±5e9 limit and the 6 decimal places are gone.
        (
            r#"{"n": [{"numeric": [">", 5e9]}]}"#,
            r#"{"n": 1e10}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": [">", 1e300, "<", 1e301]}]}"#,
            r#"{"n": 5.5e300}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": ["<", -1.7976931348623157e308]}]}"#,
            r#"{"n": -1.7976931348623157e308}"#,
            false,
        ),
        (
            r#"{"n": [{"numeric": ["=", 0.1234567]}]}"#,
            r#"{"n": 1.234567e-1}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": [">", 0.1234567]}]}"#,
            r#"{"n": 0.12345671}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            r#"{"n": 5e-324}"#,
            false,
        ),
        (
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            r#"{"n": 4.9e-324}"#,
            true,
        ),
        // An account number is a double like any other, so 123456789012.0 is it too.
        (
            r#"{"account": [123456789012]}"#,
            r#"{"account": 1.23456789012e11}"#,
            true,
        ),
        (r#"{"n": [-0]}"#, r#"{"n": 0.0e7}"#, true),
        (
            r#"{"n": [{"anything-but": [1e10, 2e10]}]}"#,
            r#"{"n": 10000000000.0}"#,
            false,
        ),
        // ComparableNumberTest.WHEN_EventHasVaryingPrecision_THEN_MatchWithSixDecimals.
        (r#"{"x": [37.80780]}"#, r#"{"x": 37.8078}"#, true),
        (r#"{"x": [37.80780]}"#, r#"{"x": 37.807807}"#, false),
        // ComparableNumberTest.WHEN_EventHasVaryingPrecision_THEN_MatchRuleWithDecimalAsString.
        (
            r#"{"x": [27.807807921694092]}"#,
            r#"{"x": 27.807807921694092}"#,
            true,
        ),
        (
            r#"{"x": [27.807807921694092]}"#,
            r#"{"x": 27.80780792169409}"#,
            false,
        ),
        // ComparableNumberTest.tinyNumberTest.
        (
            r#"{"a": [{"numeric": [">", 2.0e-6, "<", 4.0e-6]}]}"#,
            r#"{"a": 3.0E-6}"#,
            true,
        ),
        (
            r#"{"a": [{"numeric": [">", 2.0e-6, "<", 4.0e-6]}]}"#,
            r#"{"a": 4.0E-6}"#,
            false,
        ),
    ]);
}

/// A number a double cannot hold exactly is no number to event-ruler: an event value like that
/// matches no `numeric` and no number by value, only a pattern number written the same way
/// (JsonRuleCompiler.writeRules: "make that condition survivable"; ByteMachine.transitionOn falls
/// back to the text).
#[test]
fn numbers_a_double_cannot_hold_match_only_as_written() {
    table(&[
        (
            r#"{"n": [12345678901234567890]}"#,
            r#"{"n": 12345678901234567890}"#,
            true,
        ),
        (
            r#"{"n": [12345678901234567890]}"#,
            r#"{"n": 12345678901234567890.0}"#,
            false,
        ),
        (
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            r#"{"n": 0.10000000000000001}"#,
            false,
        ),
        (
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            r#"{"n": 1e400}"#,
            false,
        ),
        (
            r#"{"n": [{"numeric": ["<", 1]}]}"#,
            r#"{"n": 1e-400}"#,
            false,
        ),
        (
            r#"{"n": [{"anything-but": 1}]}"#,
            r#"{"n": 1.00000000000000001}"#,
            true,
        ),
    ]);
    // In a pattern, only where a number must be compared: `numeric` and `anything-but`.
    for (pattern, number) in [
        (r#"{"n": [{"numeric": [">", 1e400]}]}"#, "1e400"),
        (
            r#"{"n": [{"numeric": ["=", 0.10000000000000001]}]}"#,
            "0.10000000000000001",
        ),
        (r#"{"n": [{"numeric": [">", 0, "<", 1e-400]}]}"#, "1e-400"),
        (
            r#"{"n": [{"anything-but": 12345678901234567890}]}"#,
            "12345678901234567890",
        ),
        (r#"{"n": [{"anything-but": [1, 5e-324]}]}"#, "5e-324"),
    ] {
        assert!(
            refused(pattern).ends_with(&format!(
                "{number} cannot be compared as a number: it is beyond the range or the precision of a 64-bit float"
            )),
            "{pattern}: {}",
            refused(pattern)
        );
    }
}

/// When `$or` is not a list of at least two objects (or a branch uses a reserved word),
/// JsonRuleCompiler throws a JsonParseException and GenericMachine.addRule compiles the
/// pattern again with the legacy RuleCompiler, where `$or` is an ordinary field name
/// (JsonRuleCompilerTest.testOrFieldCanKeepWorkingInLegacyRuleCompiler, whose rules are these).
#[test]
fn or_is_a_plain_field_name_where_it_cannot_be_an_or() {
    table(&[
        (
            r#"{"$or": [{"cidr": "10.0.0.0/24"}]}"#,
            r#"{"$or": "10.0.0.7"}"#,
            true,
        ),
        (
            r#"{"source": ["aws.cloudwatch"], "$or": {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]}}"#,
            r#"{"source": "aws.cloudwatch", "$or": {"metricType": "MetricType", "namespace": "AWS/ES"}}"#,
            true,
        ),
        (
            r#"{"source": ["aws.cloudwatch"], "$or": {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]}}"#,
            r#"{"source": "aws.cloudwatch", "metricType": "MetricType"}"#,
            false,
        ),
        (
            r#"{"time": [{"prefix": "2017-10-02"}], "detail": {"$or": [{"numeric": [">", 0, "<=", 5]}, {"cidr": "10.0.0.0/8"}]}}"#,
            r#"{"time": "2017-10-02T01", "detail": {"$or": "10.1.2.3"}}"#,
            true,
        ),
        (
            r#"{"detail": {"$or": [{"numeric": [">", 0, "<=", 5]}, {"numeric": [">", 10]}]}}"#,
            r#"{"detail": {"$or": 11}}"#,
            true,
        ),
        (
            r#"{"detail": {"$or": [{"numeric": [">", 0, "<=", 5]}, {"numeric": [">", 10]}]}}"#,
            r#"{"detail": {"$or": 7}}"#,
            false,
        ),
        (r#"{"$or": ["x", "y"]}"#, r#"{"$or": "y"}"#, true),
        // A real `$or` elsewhere in the pattern is a field name too then.
        (
            r#"{"a": {"$or": ["x"]}, "$or": [{"prefix": "p"}, {"suffix": "s"}]}"#,
            r#"{"a": {"$or": "x"}, "$or": "ps"}"#,
            true,
        ),
    ]);
    // Where the legacy compiler refuses too, the first complaint stands.
    assert_eq!(
        refused(r#"{"$or": [{"a": [1]}]}"#),
        "at `$or`: `$or` needs at least 2 objects"
    );
    assert_eq!(
        refused(r#"{"$or": "x"}"#),
        "at `$or`: `$or` must be an array of objects"
    );
    // The legacy compiler knows no `anything-but` wildcard and no lists for prefix or suffix.
    assert_eq!(
        refused(r#"{"$or": {"a": [1]}, "b": [{"anything-but": {"wildcard": "x*"}}]}"#),
        "at `$or`: `$or` must be an array of objects"
    );
    assert!(
        Pattern::compile(r#"{"$or": {"a": [1]}, "b": [{"anything-but": {"prefix": "x"}}]}"#)
            .is_ok()
    );
    assert!(
        Pattern::compile(r#"{"$or": {"a": [1]}, "b": [{"anything-but": {"prefix": ["x"]}}]}"#)
            .is_err()
    );
}

/// JsonRuleCompiler.doCompile reads one JSON object and closes the parser, and the Event
/// constructor (`Event(String, GenericMachine)`) does the same with an event: whatever follows
/// the first value is never read.
#[test]
fn text_after_the_json_value_is_ignored_in_patterns_and_events() {
    table(&[
        (r#"{"a": ["x"]} trailing"#, r#"{"a": "x"}"#, true),
        (r#"{"a": ["x"]}}]{"#, r#"{"a": "x"}"#, true),
        (r#"{"a": ["x"]}"#, r#"{"a": "x"} trailing"#, true),
        (r#"{"a": ["x"]}"#, r#"{"a": "y"} {"a": "x"}"#, false),
    ]);
    assert_eq!(
        refused(r#"{"a": ["x"] trailing"#),
        "invalid JSON at line 1, column 13: expected `,` or `}`"
    );
    assert!(
        Pattern::compile(r#"{"a": ["x"]}"#)
            .unwrap()
            .matches_json(r#"{"a": "x""#)
            .is_err()
    );
}

/// Ignoring case folds the pattern only, one UTF-16 unit at a time, into its
/// `toLowerCase(Locale.ROOT)` or its `toUpperCase(Locale.ROOT)`; the event's text must be one of
/// the two at every place (EqualsIgnoreCaseParser.parse; ByteMachineTest.
/// testEqualsIgnoreCaseManyCharactersWithDifferentByteLengthForLowerCaseAndUpperCase). A unit of
/// a surrogate pair encodes as "?" (`String.getBytes(UTF_8)` on a lone surrogate).
#[test]
fn ignoring_case_folds_each_pattern_character_to_its_lower_or_upper_case() {
    let eic = |p: &str| format!(r#"{{"a": [{{"equals-ignore-case": "{p}"}}]}}"#);
    // ByteMachineTest's "ΰɀɐΐΰῆK", whose K is the Kelvin sign, written out so that no editor
    // normalizes it.
    const GREEK: &str = "\u{3b0}\u{240}\u{250}\u{390}\u{3b0}\u{1fc6}\u{212a}";
    table(&[
        (&eic("ß"), r#"{"a": "ß"}"#, true),
        (&eic("ß"), r#"{"a": "SS"}"#, true),
        (&eic("ß"), r#"{"a": "ss"}"#, false),
        (&eic("ß"), r#"{"a": "ẞ"}"#, false),
        (&eic("SS"), r#"{"a": "ß"}"#, false),
        (&eic("SS"), r#"{"a": "sS"}"#, true),
        // The Kelvin sign lowercases to k and is its own uppercase.
        (&eic("\u{212a}"), r#"{"a": "k"}"#, true),
        (&eic("\u{212a}"), r#"{"a": "K"}"#, false),
        (&eic("k"), r#"{"a": "\u212a"}"#, false),
        // Locale.ROOT: no Turkish dotless or dotted i.
        (&eic("I"), r#"{"a": "ı"}"#, false),
        (&eic("ı"), r#"{"a": "I"}"#, true),
        (&eic("ı"), r#"{"a": "i"}"#, false),
        (&eic("İ"), r#"{"a": "i\u0307"}"#, true),
        (&eic("İ"), r#"{"a": "i"}"#, false),
        (
            &eic(GREEK),
            r#"{"a": "\u03a5\u0308\u0301\u0240\u2c6f\u0390\u03a5\u0308\u0301\u0397\u0342k"}"#,
            true,
        ),
        (
            &eic(GREEK),
            r#"{"a": "\u03a5\u0308\u0301\u023f\u2c6f\u0390\u03a5\u0308\u0301\u0397\u0342k"}"#,
            false,
        ),
        (&eic("Σ"), r#"{"a": "σ"}"#, true),
        (&eic("Σ"), r#"{"a": "ς"}"#, false),
        // Outside the Basic Multilingual Plane.
        (&eic("😀"), r#"{"a": "😀"}"#, false),
        (&eic("😀"), r#"{"a": "??"}"#, true),
        (&eic("𐐀"), r#"{"a": "𐐨"}"#, false),
    ]);
    table(&[
        (
            r#"{"a": [{"prefix": {"equals-ignore-case": "straß"}}]}"#,
            r#"{"a": "STRASSE"}"#,
            true,
        ),
        (
            r#"{"a": [{"suffix": {"equals-ignore-case": "ß"}}]}"#,
            r#"{"a": "GROSS"}"#,
            true,
        ),
        (
            r#"{"a": [{"suffix": {"equals-ignore-case": "ß"}}]}"#,
            r#"{"a": "gross"}"#,
            false,
        ),
        (
            r#"{"a": [{"anything-but": {"equals-ignore-case": "ß"}}]}"#,
            r#"{"a": "ss"}"#,
            true,
        ),
        (
            r#"{"a": [{"anything-but": {"equals-ignore-case": ["x", "ß"]}}]}"#,
            r#"{"a": "SS"}"#,
            false,
        ),
        // Wildcards never ignore case.
        (
            r#"{"a": [{"wildcard": "straß*"}]}"#,
            r#"{"a": "STRASSE"}"#,
            false,
        ),
    ]);
}

/// An event string is an IP address only when it matches event-ruler's IPv4_REGEX or
/// IPv6_REGEX (Constants.java; CIDR.isIPv4OrIPv6) and then parses; an IPv4-mapped IPv6
/// address is the IPv4 address (InetAddress.getByName returns an Inet4Address). CIDRTest.
/// testInvalidIPMatchedByIPv6Regex: "08:23" stays a string.
#[test]
fn ip_addresses_are_what_event_rulers_regexes_accept() {
    table(&[
        (
            r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
            r#"{"ip": "::ffff:a00:7"}"#,
            true,
        ),
        (
            r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
            r#"{"ip": "::FFFF:0A00:0007"}"#,
            true,
        ),
        // Dots in an IPv6 address fail both regexes.
        (
            r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
            r#"{"ip": "::ffff:10.0.0.7"}"#,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "::/0"}]}"#,
            r#"{"ip": "::ffff:a00:7"}"#,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
            r#"{"ip": "10.0.0.07"}"#,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
            r#"{"ip": "2001:db8::1%eth0"}"#,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
            r#"{"ip": "[2001:db8::1]"}"#,
            false,
        ),
        (r#"{"ip": ["10.0.0.7"]}"#, r#"{"ip": "::ffff:a00:7"}"#, true),
        (r#"{"ip": ["::ffff:a00:7"]}"#, r#"{"ip": "10.0.0.7"}"#, true),
        (
            r#"{"ip": ["::ffff:10.0.0.7"]}"#,
            r#"{"ip": "10.0.0.7"}"#,
            false,
        ),
        (
            r#"{"ip": ["::ffff:10.0.0.7"]}"#,
            r#"{"ip": "::ffff:10.0.0.7"}"#,
            true,
        ),
        (r#"{"a": ["08:23"]}"#, r#"{"a": "08:23"}"#, true),
        (r#"{"a": ["08:23"]}"#, r#"{"a": "8:23"}"#, false),
    ]);
    // A CIDR's address is read the same way: a mapped address is IPv4 and takes an IPv4 mask.
    assert!(matches(
        r#"{"ip": [{"cidr": "::ffff:a00:0/24"}]}"#,
        r#"{"ip": "10.0.0.9"}"#
    ));
    assert_eq!(
        refused(r#"{"ip": [{"cidr": "::ffff:a00:0/120"}]}"#),
        "at `ip[0].cidr`: \"::ffff:a00:0/120\" has a prefix length too long for its address: IPv4 mask bits must be < 32"
    );
    assert_eq!(
        refused(r#"{"ip": [{"cidr": "::ffff:10.0.0.0/104"}]}"#),
        "at `ip[0].cidr`: \"::ffff:10.0.0.0/104\" is not a CIDR block like \"10.0.0.0/24\""
    );
}
