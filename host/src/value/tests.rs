use serde_json::json;

use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// `{"a": {"a": ... {"a": 1}}}` with `levels` maps around the number.
fn nested_maps(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!({"a": inner}))
}

#[test]
fn plain_json_becomes_typed_values_with_every_digit_of_its_numbers() {
    let text = r#"{"big": 123456789012345678901234567890, "tiny": 1e-130, "f": 1.50,
                   "s": "", "l": [true, null], "m": {"x": -0}}"#;
    let image = image_of(&parse_object(text.as_bytes()).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&image).unwrap(),
        json!({"big": {"N": "123456789012345678901234567890"},
               "tiny": {"N": format!("0.{}1", "0".repeat(129))}, "f": {"N": "1.5"},
               "s": {"S": ""}, "l": {"L": [{"BOOL": true}, {"NULL": true}]},
               "m": {"M": {"x": {"N": "0"}}}})
    );
    assert_eq!(
        serde_json::to_string(&plain_of(&image)["big"]).unwrap(),
        "123456789012345678901234567890"
    );
}

#[test]
fn numbers_beyond_dynamodbs_range_are_refused_not_rounded() {
    for (text, why) in [
        (
            "1234567890123456789012345678901234567890",
            "more than 38 significant digits",
        ),
        ("1e-400", "Number underflow"),
        ("1e200", "Number overflow"),
    ] {
        let body = format!(r#"{{"n": {text}}}"#);
        let err = image_of(&parse_object(body.as_bytes()).unwrap()).unwrap_err();
        assert!(err.to_string().contains(why), "{text}: {err}");
    }
}

#[test]
fn thirty_one_levels_of_maps_and_lists_are_held_and_thirty_two_refused() {
    assert!(AttributeValue::from_plain(&nested_maps(31)).is_ok());
    let err = AttributeValue::from_plain(&nested_maps(32)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Nesting Levels have exceeded supported limits")
    );
    let typed = (0..32).fold(json!({"N": "1"}), |inner, _| json!({"L": [inner]}));
    assert!(AttributeValue::from_typed(&typed).is_err());
    let typed = (0..31).fold(json!({"N": "1"}), |inner, _| json!({"L": [inner]}));
    assert_eq!(AttributeValue::from_typed(&typed).unwrap().nesting(), 31);
}

#[test]
fn typed_json_keeps_sets_binary_and_numbers_exactly() {
    let item = json!({"ss": {"SS": ["b", "a", ""]}, "ns": {"NS": ["1.50", "-2"]},
                      "bs": {"BS": ["aGk="]}, "b": {"B": "aGk="},
                      "n": {"N": "99999999999999999999999999999999999999"}});
    let image = image_from_typed(item.as_object().unwrap()).unwrap();
    assert_eq!(
        image["ss"],
        AttributeValue::SS(vec!["b".into(), "a".into(), "".into()])
    );
    assert_eq!(
        image["ns"],
        AttributeValue::NS(vec!["1.5".into(), "-2".into()])
    );
    assert_eq!(image["b"], AttributeValue::B("aGk=".into()));
    assert_eq!(
        plain_of(&image),
        object(
            json!({"ss": ["b", "a", ""], "ns": [1.5, -2], "bs": ["aGk="], "b": "aGk=",
                      "n": 99999999999999999999999999999999999999u128})
        )
    );
    let err = |value: Value| AttributeValue::from_typed(&value).unwrap_err().to_string();
    assert_eq!(
        err(json!({"NS": ["1", "1.0"]})),
        "One or more parameter values were invalid: Input collection [1, 1.0] contains duplicates."
    );
    assert_eq!(
        err(json!({"SS": []})),
        "One or more parameter values were invalid: An string set  may not be empty"
    );
    assert!(err(json!({"B": "not base64!"})).contains("base64"));
}

#[test]
fn sets_compare_as_sets_and_numbers_by_value() {
    let typed = |value: Value| AttributeValue::from_typed(&value).unwrap();
    let eq = |a: Value, b: Value| compare(&typed(a), &typed(b)) == Some(Ordering::Equal);
    assert!(eq(json!({"SS": ["a", "b"]}), json!({"SS": ["b", "a"]})));
    assert!(eq(json!({"NS": ["1", "2.0"]}), json!({"NS": ["2", "1"]})));
    assert!(!eq(json!({"SS": ["a"]}), json!({"L": [{"S": "a"}]})));
    assert_eq!(
        compare(&typed(json!({"N": "10"})), &typed(json!({"N": "9.5"}))),
        Some(Ordering::Greater)
    );
    assert_eq!(
        compare(&typed(json!({"B": "AQ=="})), &typed(json!({"B": "/w=="}))),
        Some(Ordering::Less),
        "binary compares as unsigned bytes, not as its base64 text"
    );
}

#[test]
fn a_merge_patch_keeps_the_types_of_what_it_does_not_name() {
    let mut image = image_from_typed(
        json!({"tags": {"SS": ["a"]}, "m": {"M": {"x": {"N": "1"}, "y": {"B": "aGk="}}}})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    merge_patch(
        &mut image,
        &object(json!({"m": {"x": null, "z": 2}, "n": 3})),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&image).unwrap(),
        json!({"tags": {"SS": ["a"]}, "n": {"N": "3"},
               "m": {"M": {"y": {"B": "aGk="}, "z": {"N": "2"}}}})
    );
}

#[test]
fn a_member_named_twice_is_refused_at_any_depth() {
    assert_eq!(
        parse_object(br#"{"a": 1, "a": 2}"#),
        Err(PlainError::Duplicate(
            "the member `a` appears twice in one object at line 1 column 12".into()
        ))
    );
    assert!(matches!(
        parse_object(br#"{"a": [{"b": 1.5, "b": 1}]}"#),
        Err(PlainError::Duplicate(_))
    ));
    assert_eq!(parse_object(b"[1]"), Err(PlainError::NotAnObject));
    assert!(parse_object(br#"{"a": 1, "b": {"a": 12345678901234567890123}}"#).is_ok());
}
