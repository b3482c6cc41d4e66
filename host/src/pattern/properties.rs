//! Properties that hold for any event and any pattern, checked on generated ones.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{Pattern, RuleSet};

/// Keys from a small alphabet, so that patterns and events often share them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("détail".to_string()),
        "[a-c]{1,3}"
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e10..1e10f64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9.:*\\\\ é✓]{0,8}".prop_map(Value::from),
        Just(Value::from("10.0.0.7")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), json_value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// One value of a pattern's list: a plain value or an operator object, well-formed or not.
fn pattern_value() -> impl Strategy<Value = Value> {
    let text = "[a-z0-9.*\\\\]{0,5}";
    prop_oneof![
        scalar(),
        text.prop_map(|s| json!({"prefix": s})),
        text.prop_map(|s| json!({"suffix": {"equals-ignore-case": s}})),
        text.prop_map(|s| json!({"equals-ignore-case": s})),
        text.prop_map(|s| json!({"wildcard": s})),
        text.prop_map(|s| json!({"anything-but": s})),
        prop::collection::vec(any::<i32>(), 0..3).prop_map(|v| json!({"anything-but": v})),
        text.prop_map(|s| json!({"anything-but": {"prefix": s}})),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| json!({"numeric": [">", a, "<=", b]})),
        any::<i32>().prop_map(|a| json!({"numeric": ["=", a]})),
        any::<bool>().prop_map(|b| json!({"exists": b})),
        Just(json!({"cidr": "10.0.0.0/24"})),
        json_value(),
    ]
}

fn pattern() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec(pattern_value(), 0..4).prop_map(Value::Array);
    let node = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map(key(), inner.clone(), 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            prop::collection::vec(
                prop::collection::btree_map(key(), inner, 1..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                2..3
            )
            .prop_map(|alternatives| json!({"$or": alternatives})),
        ]
    });
    prop::collection::btree_map(key(), node, 1..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// The event's leaves with their paths, and whether each sits inside an array.
fn leaves(
    value: &Value,
    path: &mut Vec<String>,
    in_array: bool,
    out: &mut Vec<(Vec<String>, Value, bool)>,
) {
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                path.push(k.clone());
                leaves(v, path, in_array, out);
                path.pop();
            }
        }
        Value::Array(items) => items.iter().for_each(|item| leaves(item, path, true, out)),
        leaf => out.push((path.clone(), leaf.clone(), in_array)),
    }
}

/// A pattern asking for every leaf outside arrays and for one leaf inside one.
fn pattern_of(event: &Value, pick: usize) -> Option<Value> {
    let mut found = Vec::new();
    leaves(event, &mut Vec::new(), false, &mut found);
    let outside: Vec<_> = found.iter().filter(|(_, _, in_array)| !in_array).collect();
    let inside: Vec<_> = found.iter().filter(|(_, _, in_array)| *in_array).collect();
    let chosen = outside
        .into_iter()
        .chain(inside.get(pick % inside.len().max(1)).copied());
    let mut pattern = Map::new();
    for (path, value, _) in chosen {
        let mut node = &mut pattern;
        for name in &path[..path.len() - 1] {
            node = node
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()?;
        }
        node.insert(path[path.len() - 1].clone(), json!([value]));
    }
    (!pattern.is_empty()).then_some(Value::Object(pattern))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matching_never_panics(pattern in pattern(), event in event(), raw in ".{0,40}") {
        if let Ok(compiled) = Pattern::compile(&pattern.to_string()) {
            let _ = compiled.matches_json(&event.to_string());
            let _ = compiled.matches_json(&raw);
        }
        let _ = Pattern::compile(&raw);
    }

    #[test]
    fn a_pattern_built_from_an_events_own_leaves_matches_it(event in event(), pick in any::<usize>()) {
        let Some(pattern) = pattern_of(&event, pick) else { return Ok(()) };
        let text = pattern.to_string();
        prop_assume!(text.len() <= super::MAX_PATTERN_BYTES);
        let compiled = Pattern::compile(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert!(compiled.matches_json(&event.to_string()).unwrap(), "pattern {} on event {}", text, event);
    }

    #[test]
    fn a_rule_set_agrees_with_its_patterns_one_by_one(patterns in prop::collection::vec(pattern(), 1..12), events in prop::collection::vec(event(), 1..4)) {
        let texts: Vec<String> = patterns.iter().map(Value::to_string).filter(|t| Pattern::compile(t).is_ok()).collect();
        prop_assume!(!texts.is_empty());
        let rules = RuleSet::new(&texts).unwrap();
        let singles: Vec<Pattern> = texts.iter().map(|t| Pattern::compile(t).unwrap()).collect();
        for event in events {
            let text = event.to_string();
            let expected: Vec<usize> = (0..singles.len()).filter(|&i| singles[i].matches_json(&text).unwrap()).collect();
            prop_assert_eq!(rules.matching_json(&text).unwrap(), expected);
        }
    }
}
