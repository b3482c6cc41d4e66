//! The pattern language, operator by operator. Cases marked (docs) come from the Amazon
//! EventBridge User Guide ("Creating event patterns", "Comparison operators for use in event
//! patterns", "Content filtering"); cases marked (ruler) from the README of aws/event-ruler.

use super::*;

mod refusals;
mod ruler;

fn matches(pattern: &str, event: &str) -> bool {
    let pattern =
        Pattern::compile(pattern).unwrap_or_else(|err| panic!("pattern {pattern}: {err}"));
    pattern
        .matches_json(event)
        .unwrap_or_else(|err| panic!("event {event}: {err}"))
}

fn refused(pattern: &str) -> String {
    match Pattern::compile(pattern) {
        Ok(_) => panic!("expected {pattern} to be refused"),
        Err(err) => err.to_string(),
    }
}

/// Each row: a pattern, an event, and whether it matches.
fn table(rows: &[(&str, &str, bool)]) {
    for (pattern, event, expected) in rows {
        assert_eq!(
            matches(pattern, event),
            *expected,
            "pattern {pattern} on event {event}"
        );
    }
}

/// The EC2 example event of the docs and of event-ruler's README.
const EC2: &str = r#"{
  "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "012345679012", "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
             "instance-id": "i-000000aaaaaa00000", "state": "running"}
}"#;

#[test]
fn exact_values_strings_numbers_booleans_and_null() {
    table(&[
        (
            r#"{"source": ["aws.ec2"], "detail": {"state": ["initializing", "running"]}}"#,
            EC2,
            true,
        ), // (ruler)
        (r#"{"source": ["aws.s3"]}"#, EC2, false),
        (r#"{"source": ["AWS.EC2"]}"#, EC2, false),
        (r#"{"detail": {"c-count": [5]}}"#, EC2, true),
        (r#"{"detail": {"c-count": [5.0]}}"#, EC2, true),
        (r#"{"detail": {"c-count": [5e0]}}"#, EC2, true),
        (r#"{"detail": {"c-count": ["5"]}}"#, EC2, false),
        (r#"{"a": [5]}"#, r#"{"a": "5"}"#, false),
        (r#"{"a": [true]}"#, r#"{"a": true}"#, true),
        (r#"{"a": [true]}"#, r#"{"a": "true"}"#, false),
        (r#"{"a": [false]}"#, r#"{"a": true}"#, false),
        (
            r#"{"responseElements": [null]}"#,
            r#"{"responseElements": null}"#,
            true,
        ), // (docs)
        (r#"{"responseElements": [null]}"#, r#"{}"#, false),
        (r#"{"LastName": [""]}"#, r#"{"LastName": ""}"#, true), // (docs)
        (r#"{"LastName": [""]}"#, r#"{"LastName": null}"#, false),
        (
            r#"{"name": ["Ünïcödé ✓"]}"#,
            r#"{"name": "\u00dcn\u00efc\u00f6d\u00e9 \u2713"}"#,
            true,
        ),
        // Large numbers compare as doubles too, e.g. account numbers (ComparableNumber.java).
        (
            r#"{"account": [123456789012]}"#,
            r#"{"account": 123456789012}"#,
            true,
        ),
        (
            r#"{"account": [123456789012]}"#,
            r#"{"account": 123456789012.0}"#,
            true,
        ),
        (r#"{"a": [-0]}"#, r#"{"a": 0}"#, true),
        // A string that is an IP address also matches the same address spelled another way.
        (
            r#"{"ip": ["2001:db8::1"]}"#,
            r#"{"ip": "2001:0db8:0:0:0:0:0:1"}"#,
            true,
        ),
    ]);
}

#[test]
fn several_fields_are_anded_and_values_ored() {
    table(&[
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            r#"{"Location": "New York", "Day": "Monday"}"#,
            true,
        ), // (docs)
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            r#"{"Location": "New York", "Day": "Tuesday"}"#,
            false,
        ),
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            r#"{"Location": "New York"}"#,
            false,
        ),
        (
            r#"{"Day": ["Monday", "Tuesday"]}"#,
            r#"{"Day": "Tuesday"}"#,
            true,
        ),
        (
            r#"{"detail": {"state": ["running"]}}"#,
            r#"{"detail": "running"}"#,
            false,
        ),
        (
            r#"{"detail": {"state": ["running"]}}"#,
            r#"{"state": "running"}"#,
            false,
        ),
    ]);
}

#[test]
fn prefix_and_suffix_with_and_without_case() {
    table(&[
        (r#"{"time": [{"prefix": "2017-10-02"}]}"#, EC2, true), // (docs)
        (r#"{"time": [{"prefix": "2017-10-03"}]}"#, EC2, false),
        (
            r#"{"Region": [{"prefix": "us-"}]}"#,
            r#"{"Region": "us-east-1"}"#,
            true,
        ), // (docs)
        (
            r#"{"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}"#,
            r#"{"service": "EventBridge"}"#,
            true,
        ), // (docs)
        (
            r#"{"service": [{"prefix": "eventb"}]}"#,
            r#"{"service": "EventBridge"}"#,
            false,
        ),
        (
            r#"{"FileName": [{"suffix": ".png"}]}"#,
            r#"{"FileName": "image.png"}"#,
            true,
        ), // (docs)
        (
            r#"{"FileName": [{"suffix": ".png"}]}"#,
            r#"{"FileName": "image.PNG"}"#,
            false,
        ),
        (
            r#"{"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]}"#,
            r#"{"service": "EventBRIDGE"}"#,
            true,
        ), // (docs)
        (r#"{"a": [{"prefix": ""}]}"#, r#"{"a": "anything"}"#, true),
        (r#"{"a": [{"prefix": "1"}]}"#, r#"{"a": 12}"#, false),
        (
            r#"{"a": [{"prefix": {"equals-ignore-case": "ÉC"}}]}"#,
            r#"{"a": "école"}"#,
            true,
        ),
    ]);
}

#[test]
fn equals_ignore_case() {
    table(&[
        (
            r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
            r#"{"Name": "Alice"}"#,
            true,
        ), // (docs)
        (
            r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
            r#"{"Name": "ALICE"}"#,
            true,
        ),
        (
            r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
            r#"{"Name": "Alicia"}"#,
            false,
        ),
        (
            r#"{"source": [{"equals-ignore-case": "EC2"}]}"#,
            r#"{"source": "ec2"}"#,
            true,
        ), // (ruler)
        (
            r#"{"a": [{"equals-ignore-case": "straße"}]}"#,
            r#"{"a": "STRAßE"}"#,
            true,
        ),
    ]);
}

#[test]
fn wildcards_and_their_escapes() {
    table(&[
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"}"#,
            true,
        ), // (docs)
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/orders"}"#,
            false,
        ),
        (
            r#"{"source": [{"wildcard": "Simple*Service"}]}"#,
            r#"{"source": "Simple Queue Service"}"#,
            true,
        ), // (ruler)
        (
            r#"{"file": [{"wildcard": "*.png"}]}"#,
            r#"{"file": "a.png"}"#,
            true,
        ),
        (
            r#"{"file": [{"wildcard": "*.png"}]}"#,
            r#"{"file": "a.png.bak"}"#,
            false,
        ),
        (r#"{"s": [{"wildcard": "a\\*b"}]}"#, r#"{"s": "a*b"}"#, true),
        (
            r#"{"s": [{"wildcard": "a\\*b"}]}"#,
            r#"{"s": "axb"}"#,
            false,
        ),
        (
            r#"{"s": [{"wildcard": "a\\\\b"}]}"#,
            r#"{"s": "a\\b"}"#,
            true,
        ),
        (r#"{"s": [{"wildcard": "*"}]}"#, r#"{"s": ""}"#, true),
        (r#"{"s": [{"wildcard": "*"}]}"#, r#"{"s": 5}"#, false),
    ]);
    assert_eq!(
        refused(r#"{"s": [{"wildcard": "a**b"}]}"#),
        "at `s[0].wildcard`: consecutive wildcard characters at position 1"
    );
    assert_eq!(
        refused(r#"{"s": [{"wildcard": "a\\b"}]}"#),
        "at `s[0].wildcard`: invalid escape character at position 1"
    );
}

#[test]
fn anything_but_in_all_its_forms() {
    table(&[
        (
            r#"{"detail": {"state": [{"anything-but": "initializing"}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"state": [{"anything-but": "running"}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"x-limit": [{"anything-but": 123}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"x-limit": [{"anything-but": 301.8}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"x-limit": [{"anything-but": 3.018e2}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": {"prefix": ["init", "run"]}}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
            r#"{"FileName": "a.jpg"}"#,
            true,
        ), // (docs)
        (
            r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
            r#"{"FileName": "a.png"}"#,
            false,
        ),
        (
            r#"{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#,
            r#"{"state": "INITIALIZING"}"#,
            false,
        ), // (docs)
        (
            r#"{"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}"#,
            r#"{"state": "C"}"#,
            true,
        ),
        (
            r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
            r#"{"FilePath": "/usr/lib/x"}"#,
            false,
        ), // (docs)
        (
            r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
            r#"{"FilePath": "/usr/bin/x"}"#,
            true,
        ),
        // A missing field matches no anything-but: it needs a value to compare.
        (r#"{"state": [{"anything-but": "x"}]}"#, r#"{}"#, false),
        (
            r#"{"state": [{"anything-but": "x"}]}"#,
            r#"{"state": {"nested": "y"}}"#,
            false,
        ),
        // Any element of an array that is not excluded makes the match.
        (
            r#"{"tags": [{"anything-but": "a"}]}"#,
            r#"{"tags": ["a", "b"]}"#,
            true,
        ),
        (
            r#"{"tags": [{"anything-but": "a"}]}"#,
            r#"{"tags": ["a"]}"#,
            false,
        ),
        // Values of another type are not the excluded ones.
        (r#"{"a": [{"anything-but": "5"}]}"#, r#"{"a": 5}"#, true),
        (r#"{"a": [{"anything-but": 5}]}"#, r#"{"a": "5"}"#, true),
        (r#"{"a": [{"anything-but": 5}]}"#, r#"{"a": 5.000}"#, false),
    ]);
}

#[test]
fn numeric_comparisons_and_ranges() {
    table(&[
        (
            r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
             "x-limit": [{"numeric": ["=", 3.018e2]}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"c-count": [{"numeric": [">", 5]}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"c-count": [{"numeric": [">=", 5]}]}}"#,
            EC2,
            true,
        ),
        (
            r#"{"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"c-count": [{"numeric": [">=", 5, "<", 6]}]}}"#,
            EC2,
            true,
        ),
        (
            r#"{"n": [{"numeric": ["=", 0.000001]}]}"#,
            r#"{"n": 1e-6}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": ["<", -4999999999.5]}]}"#,
            r#"{"n": -5e9}"#,
            true,
        ),
        (r#"{"n": [{"numeric": [">", 0]}]}"#, r#"{"n": "5"}"#, false),
        (r#"{"n": [{"numeric": [">", 0]}]}"#, r#"{"n": 1e10}"#, true),
        (
            r#"{"n": [{"numeric": [">", 0]}]}"#,
            r#"{"n": [-1, 3]}"#,
            true,
        ),
        (
            r#"{"n": [{"numeric": ["<=", 1]}]}"#,
            r#"{"n": 1.0000001}"#,
            false,
        ),
    ]);
    assert_eq!(
        refused(r#"{"n": [{"numeric": [">", 5e9, "<", 1e999]}]}"#),
        "at `n[0].numeric`: 1e999 cannot be compared as a number: it is beyond the range or the precision of a 64-bit float"
    );
    assert_eq!(
        refused(r#"{"n": [{"numeric": ["<", 5, ">", 1]}]}"#),
        "at `n[0].numeric`: a numeric range starts with its lower bound, \">\" or \">=\""
    );
    assert_eq!(
        refused(r#"{"n": [{"numeric": [">", 5, "<", 1]}]}"#),
        "at `n[0].numeric`: the lower bound of a numeric range must be below its upper bound"
    );
    assert_eq!(
        refused(r#"{"n": [{"numeric": ["!=", 5]}]}"#),
        "at `n[0].numeric`: unrecognized numeric operator \"!=\""
    );
    assert_eq!(
        refused(r#"{"n": [{"numeric": [">", "5"]}]}"#),
        "at `n[0].numeric`: the value of \">\" must be a number, not a string"
    );
    assert!(
        refused(r#"{"n": [{"numeric": [">", 1, "<", 5, "<", 6]}]}"#)
            .starts_with("at `n[0].numeric`: `numeric` takes one comparison")
    );
}

#[test]
fn cidr_blocks_for_ipv4_and_ipv6() {
    table(&[
        (
            r#"{"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}"#,
            EC2,
            true,
        ), // (docs)
        (
            r#"{"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
            r#"{"ip": "2001:db8:1::5"}"#,
            true,
        ),
        (
            r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
            r#"{"ip": "10.0.0.1"}"#,
            false,
        ),
        (
            r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#,
            r#"{"ip": "not an ip"}"#,
            false,
        ),
    ]);
    assert_eq!(
        refused(r#"{"ip": [{"cidr": "10.0.0.0/33"}]}"#),
        "at `ip[0].cidr`: \"10.0.0.0/33\" has a prefix length too long for its address: IPv4 mask bits must be < 32"
    );
    // event-ruler's CIDR.cidr (CIDR.java) refuses a mask of the address's full length: "IPv4
    // mask bits must be < 32", "IPv6 mask bits must be < 128". One address is a plain string.
    assert_eq!(
        refused(r#"{"ip": [{"cidr": "10.0.0.1/32"}]}"#),
        "at `ip[0].cidr`: \"10.0.0.1/32\" has a prefix length too long for its address: IPv4 mask bits must be < 32"
    );
    assert_eq!(
        refused(r#"{"ip": [{"cidr": "2001:db8::1/128"}]}"#),
        "at `ip[0].cidr`: \"2001:db8::1/128\" has a prefix length too long for its address: IPv6 mask bits must be < 128"
    );
    table(&[(
        r#"{"ip": [{"cidr": "10.0.0.0/31"}]}"#,
        r#"{"ip": "10.0.0.1"}"#,
        true,
    )]);
}

/// `{"exactly": "..."}` (event-ruler's EXACT_MATCH, JsonRuleCompiler.java): a string matched as
/// it is written, with no IP-range reading; a number is refused
/// (`JsonRuleCompilerTest.testExactlyMatchingRule...`).
#[test]
fn exactly_matches_the_text_as_written() {
    table(&[
        (r#"{"a": [{"exactly": "x"}]}"#, r#"{"a": "x"}"#, true),
        (r#"{"a": [{"exactly": "x"}]}"#, r#"{"a": "X"}"#, false),
        (
            r#"{"a": [{"exactly": "10.0.0.1"}]}"#,
            r#"{"a": "10.0.0.1"}"#,
            true,
        ),
        (
            r#"{"a": [{"exactly": "10.0.0.1"}]}"#,
            r#"{"a": "10.0.0.01"}"#,
            false,
        ),
        (r#"{"a": [{"exactly": "33"}]}"#, r#"{"a": 33}"#, false),
        (
            r#"{"a": [{"exactly": "x"}, "y"]}"#,
            r#"{"a": ["z", "y"]}"#,
            true,
        ),
    ]);
    assert_eq!(
        refused(r#"{"a": [{"exactly": 33}]}"#),
        "at `a[0].exactly`: `exactly` takes a string, not a number"
    );
    // Reserved inside `$or` as in event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP
    // (Constants.java), which reserves words for operators to come too.
    for word in [
        "exactly",
        ">=",
        "regex",
        "not-wildcard",
        "in-date-range",
        "ip-address-in-range",
    ] {
        assert_eq!(
            refused(&format!(r#"{{"$or": [{{"a": [1]}}, {{"{word}": [1]}}]}}"#)),
            format!(
                "at `$or[1].{word}`: \"{word}\" is a reserved word and cannot be a field name inside `$or`"
            )
        );
    }
}

#[test]
fn exists_on_leaves_only() {
    table(&[
        (r#"{"detail": {"c-count": [{"exists": true}]}}"#, EC2, true), // (docs)
        (
            r#"{"detail": {"c-count": [{"exists": false}]}}"#,
            EC2,
            false,
        ),
        (
            r#"{"detail": {"c-count": [{"exists": false}]}}"#,
            r#"{"detail": {"state": "x"}}"#,
            true,
        ), // (docs)
        // An object is not a leaf, so the field counts as absent (docs).
        (
            r#"{"detail": {"c-count": [{"exists": false}]}}"#,
            r#"{"detail": {"c-count": {"c1": 100}}}"#,
            true,
        ),
        (
            r#"{"detail": {"c-count": [{"exists": true}]}}"#,
            r#"{"detail": {"c-count": {"c1": 100}}}"#,
            false,
        ),
        (r#"{"a": [{"exists": true}]}"#, r#"{"a": null}"#, true),
        (r#"{"a": [{"exists": false}]}"#, r#"{"a": []}"#, true),
        (r#"{"a": [{"exists": false}, "x"]}"#, r#"{"a": "x"}"#, true),
        (r#"{"a": [{"exists": false}, "x"]}"#, r#"{"a": "y"}"#, false),
    ]);
}

#[test]
fn or_at_any_level_and_nested() {
    let or = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}]}"#; // (ruler)
    table(&[
        (
            or,
            r#"{"source": "aws.cloudwatch", "namespace": "AWS/ES"}"#,
            true,
        ),
        (
            or,
            r#"{"source": "aws.cloudwatch", "metricName": "ReadLatency"}"#,
            true,
        ),
        (
            or,
            r#"{"source": "aws.cloudwatch", "metricName": "Other"}"#,
            false,
        ),
        (or, r#"{"source": "aws.s3", "namespace": "AWS/ES"}"#, false),
        (
            r#"{"$or": [{"source": ["aws.ec2"]}, {"source": ["aws.s3"]}]}"#,
            r#"{"source": "my.app"}"#,
            false,
        ),
    ]);
    let nested = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        {"scope": ["Service"]}]}"#; // (ruler)
    table(&[
        (
            nested,
            r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}"#,
            true,
        ),
        (
            nested,
            r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1}"#,
            false,
        ),
        (
            nested,
            r#"{"source": "aws.cloudwatch", "scope": "Service"}"#,
            true,
        ),
    ]);
    let inside =
        r#"{"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [3]}]}}"#;
    table(&[(inside, EC2, true)]);
    assert_eq!(
        refused(r#"{"$or": [{"a": [1]}]}"#),
        "at `$or`: `$or` needs at least 2 objects"
    );
    assert_eq!(
        refused(r#"{"$or": [{"a": [1]}, ["b"]]}"#),
        "at `$or[1]`: only objects are allowed in `$or`, not an array"
    );
    assert_eq!(
        refused(r#"{"$or": [{"a": [1]}, {"numeric": [1]}]}"#),
        "at `$or[1].numeric`: \"numeric\" is a reserved word and cannot be a field name inside `$or`"
    );
}

#[test]
fn arrays_in_events_and_array_consistency() {
    table(&[
        (
            r#"{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"]}"#,
            EC2,
            true,
        ), // (ruler)
        (r#"{"tags": ["b", "z"]}"#, r#"{"tags": ["a", "b"]}"#, true),
        (r#"{"tags": ["z"]}"#, r#"{"tags": ["a", "b"]}"#, false),
        (r#"{"m": [3]}"#, r#"{"m": [[1, 2], [3]]}"#, true),
    ]);
    let employees = r#"{"employees": [{"firstName": "John", "lastName": "Doe"},
                                      {"firstName": "Anna", "lastName": "Smith"},
                                      {"firstName": "Peter", "lastName": "Jones"}]}"#; // (ruler)
    table(&[
        (r#"{"employees": {"firstName": ["Anna"]}}"#, employees, true),
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
            employees,
            true,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
            employees,
            false,
        ),
        (
            r#"{"employees": {"firstName": ["Anna", "Peter"], "lastName": ["Jones"]}}"#,
            employees,
            true,
        ),
    ]);
    let nested = r#"{"orders": [{"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]},
                                {"lines": [{"sku": "a", "qty": 2}]}], "id": 7}"#;
    table(&[
        (
            r#"{"orders": {"lines": {"sku": ["a"], "qty": [2]}}, "id": [7]}"#,
            nested,
            true,
        ),
        (
            r#"{"orders": {"lines": {"sku": ["b"], "qty": [1]}}}"#,
            nested,
            false,
        ),
    ]);
}
