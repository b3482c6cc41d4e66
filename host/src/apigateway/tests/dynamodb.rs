use serde_json::{Map, Value, json};

use super::super::*;
use crate::value::{Image, image_from_typed, image_of, plain_of};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// An item as the API would store this plain JSON.
fn plain_item(value: Value) -> Image {
    image_of(&object(value)).unwrap()
}

/// An item of DynamoDB's typed JSON.
fn typed(value: Value) -> Image {
    image_from_typed(&object(value)).unwrap()
}

fn plain(image: Image) -> Value {
    Value::Object(plain_of(&image))
}

fn parse(kind: ActionKind, request: Value) -> Result<Operation, DynamoError> {
    parse_action(kind, &request.to_string())
}

fn error(kind: ActionKind, request: Value) -> String {
    parse(kind, request).unwrap_err().to_string()
}

/// The values an expression names (DynamoDB refuses unused ones), or none.
fn used(values: &Value, expression: &str) -> Option<Value> {
    let used: Map<String, Value> = object(values.clone())
        .into_iter()
        .filter(|(k, _)| expression.contains(k.as_str()))
        .collect();
    (!used.is_empty()).then_some(Value::Object(used))
}

fn update(expression: &str, values: Value) -> Update {
    let mut request =
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "UpdateExpression": expression});
    if let Some(values) = used(&values, expression) {
        request["ExpressionAttributeValues"] = values;
    }
    match parse(ActionKind::UpdateItem, request).unwrap().action {
        Action::Update { update, .. } => update,
        other => panic!("not an update: {other:?}"),
    }
}

fn condition(expression: &str, names: Value, values: Value) -> Condition {
    let mut request =
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "ConditionExpression": expression});
    if names != json!({}) {
        request["ExpressionAttributeNames"] = names;
    }
    if let Some(values) = used(&values, expression) {
        request["ExpressionAttributeValues"] = values;
    }
    match parse(ActionKind::DeleteItem, request).unwrap().action {
        Action::Delete { condition, .. } => condition.unwrap(),
        other => panic!("not a delete: {other:?}"),
    }
}

#[test]
fn put_item_reads_the_table_the_item_and_return_values() {
    let request = json!({
        "TableName": "orders-table",
        "Item": {"id": {"S": "o-1"}, "n": {"N": "42"}},
        "ConditionExpression": "attribute_not_exists(id)",
        "ReturnValues": "ALL_OLD"
    });
    let operation = parse(ActionKind::PutItem, request).unwrap();
    assert_eq!(operation.table_name, "orders-table");
    let Action::Put {
        item,
        condition,
        return_old,
    } = operation.action
    else {
        panic!()
    };
    assert_eq!(plain(item), json!({"id": "o-1", "n": 42}));
    assert!(return_old);
    assert!(condition.unwrap().holds(None));
}

#[test]
fn typed_values_are_kept_with_their_types() {
    let request = json!({"TableName": "t", "Item": {
        "s": {"S": "x"}, "n": {"N": "+5"}, "b": {"BOOL": true}, "z": {"NULL": true},
        "m": {"M": {"inner": {"N": ".5"}}}, "l": {"L": [{"S": "a"}, {"N": "1e3"}]},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bin": {"B": "aGk="}, "bs": {"BS": ["aGk="]}
    }});
    let Action::Put { item, .. } = parse(ActionKind::PutItem, request).unwrap().action else {
        panic!()
    };
    assert_eq!(
        serde_json::to_value(&item).unwrap(),
        json!({"s": {"S": "x"}, "n": {"N": "5"}, "b": {"BOOL": true}, "z": {"NULL": true},
               "m": {"M": {"inner": {"N": "0.5"}}}, "l": {"L": [{"S": "a"}, {"N": "1000"}]},
               "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bin": {"B": "aGk="},
               "bs": {"BS": ["aGk="]}})
    );
}

#[test]
fn malformed_attribute_values_get_dynamodbs_errors() {
    let put = |item: Value| error(ActionKind::PutItem, json!({"TableName": "t", "Item": item}));
    let prefix = "ValidationException: One or more parameter values were invalid: ";
    assert_eq!(
        put(json!({"a": {}})),
        format!(
            "{prefix}Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    );
    assert_eq!(
        put(json!({"a": {"X": "1"}})),
        format!(
            "{prefix}Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    );
    assert_eq!(
        put(json!({"a": {"S": "x", "N": "1"}})),
        format!(
            "{prefix}Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        )
    );
    assert_eq!(
        put(json!({"a": {"S": 1}})),
        "SerializationException: NUMBER_VALUE cannot be converted to String"
    );
    assert_eq!(
        put(json!({"a": {"S": {"S": "x"}}})),
        "SerializationException: Start of structure or map found where not expected"
    );
    assert_eq!(
        put(json!({"a": {"N": "abc"}})),
        "ValidationException: The parameter cannot be converted to a numeric value: abc"
    );
    assert_eq!(
        put(json!({"a": {"N": "1".repeat(39)}})),
        "ValidationException: Attempting to store more than 38 significant digits in a Number"
    );
    assert_eq!(
        put(json!({"a": {"N": "1e126"}})),
        "ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    assert_eq!(
        put(json!({"a": {"NULL": false}})),
        format!("{prefix}Null attribute value types must have the value of true")
    );
    assert_eq!(
        put(json!({"a": {"SS": []}})),
        format!("{prefix}An string set  may not be empty")
    );
    assert_eq!(
        put(json!({"a": {"SS": ["x", "x"]}})),
        format!("{prefix}Input collection [x, x] contains duplicates.")
    );
}

#[test]
fn missing_members_and_bad_options_are_refused() {
    assert_eq!(
        error(ActionKind::PutItem, json!({"Item": {}})),
        "ValidationException: 1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        error(ActionKind::DeleteItem, json!({"TableName": "t"})),
        "ValidationException: 1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null"
    );
    let put = json!({"TableName": "t", "Item": {}, "ReturnValues": "ALL_NEW"});
    assert_eq!(
        error(ActionKind::PutItem, put),
        "ValidationException: Return values set to invalid value"
    );
    assert!(error(ActionKind::PutItem, json!([1])).starts_with("SerializationException: "));
    assert!(parse_action(ActionKind::PutItem, "{not json").is_err());
}

#[test]
fn placeholders_must_be_defined_and_used() {
    let base = || json!({"TableName": "t", "Key": {"id": {"S": "1"}}});
    let mut unused = base();
    unused["ExpressionAttributeNames"] = json!({"#a": "a", "#b": "b"});
    unused["UpdateExpression"] = json!("SET #a = :v");
    unused["ExpressionAttributeValues"] = json!({":v": {"S": "x"}, ":w": {"S": "y"}});
    assert_eq!(
        error(ActionKind::UpdateItem, unused.clone()),
        "ValidationException: Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    );
    unused["ExpressionAttributeNames"] = json!({"#a": "a"});
    assert_eq!(
        error(ActionKind::UpdateItem, unused),
        "ValidationException: Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    );
    let mut undefined = base();
    undefined["UpdateExpression"] = json!("SET #a = :v");
    undefined["ExpressionAttributeValues"] = json!({":v": {"S": "x"}});
    assert_eq!(
        error(ActionKind::UpdateItem, undefined),
        "ValidationException: Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #a"
    );
    let mut undefined = base();
    undefined["ConditionExpression"] = json!("a = :nope");
    assert_eq!(
        error(ActionKind::DeleteItem, undefined),
        "ValidationException: Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
    );
    let mut empty = base();
    empty["ExpressionAttributeValues"] = json!({});
    assert_eq!(
        error(ActionKind::DeleteItem, empty),
        "ValidationException: ExpressionAttributeValues must not be empty"
    );
    let mut bad_key = base();
    bad_key["ExpressionAttributeNames"] = json!({"a": "b"});
    assert_eq!(
        error(ActionKind::DeleteItem, bad_key),
        "ValidationException: ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
}

#[test]
fn syntax_errors_name_the_token_and_what_is_near_it() {
    let request = |expression: &str| {
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "UpdateExpression": expression,
               "ExpressionAttributeValues": {":v": {"N": "1"}}})
    };
    let syntax = |expression: &str| error(ActionKind::UpdateItem, request(expression));
    assert_eq!(
        syntax("SET a = :v,"),
        "ValidationException: Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""
    );
    assert_eq!(
        syntax("SET a = VALUE 1 :v"),
        "ValidationException: Invalid UpdateExpression: Syntax error; token: \"1\", near: \"VALUE 1 :v\""
    );
    assert_eq!(
        syntax("PUT a = :v"),
        "ValidationException: Invalid UpdateExpression: Syntax error; token: \"PUT\", near: \"PUT a\""
    );
    assert_eq!(
        syntax("SET a = :v; b"),
        "ValidationException: Invalid UpdateExpression: Syntax error; token: \";\", near: \":v;\""
    );
    assert_eq!(
        syntax("SET a = :v SET b = :v"),
        "ValidationException: Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
    assert_eq!(
        syntax("SET a = :v REMOVE a"),
        "ValidationException: Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        syntax("SET a = size(b) + :v"),
        "ValidationException: Invalid UpdateExpression: The function is not allowed in an update expression; function: size"
    );
    assert_eq!(
        syntax("SET a = nope(b, :v)"),
        "ValidationException: Invalid UpdateExpression: Invalid function name; function: nope"
    );
    assert_eq!(
        syntax("   "),
        "ValidationException: Invalid UpdateExpression: The expression can not be empty;"
    );
    let delete =
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "ConditionExpression": "a = = b"});
    assert_eq!(
        error(ActionKind::DeleteItem, delete),
        "ValidationException: Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = b\""
    );
}

#[test]
fn set_writes_values_paths_and_arithmetic() {
    let values = json!({":s": {"S": "x"}, ":n": {"N": "0.25"}, ":m": {"M": {"k": {"S": "v"}}}, ":l": {"L": [{"N": "3"}]}, ":d": {"N": "9"}});
    let update = update(
        "SET a = :s, b.c = :n, cnt = cnt + :n, neg = cnt - :n, d = if_not_exists(d, :d), e = if_not_exists(a, :d), \
         l = list_append(l, :l), m = :m, l2 = list_append(:l, l)",
        values,
    );
    let mut item =
        plain_item(json!({"id": "1", "a": "old", "b": {"c": 0}, "cnt": 1.5, "l": [1, 2]}));
    update.apply(&mut item).unwrap();
    assert_eq!(
        plain(item),
        json!({"id": "1", "a": "x", "b": {"c": 0.25}, "cnt": 1.75, "neg": 1.25, "d": 9, "e": "old",
               "l": [1, 2, 3], "m": {"k": "v"}, "l2": [3, 1, 2]})
    );
}

#[test]
fn names_and_list_positions_address_attributes() {
    let request = json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "UpdateExpression": "SET #s = :v, l[1] = :v, l[9] = :v REMOVE #r[0]",
        "ExpressionAttributeNames": {"#s": "status", "#r": "rest"}, "ExpressionAttributeValues": {":v": {"S": "v"}}});
    let Action::Update { update, .. } = parse(ActionKind::UpdateItem, request).unwrap().action
    else {
        panic!()
    };
    let mut item = plain_item(json!({"l": ["a", "b"], "rest": [1, 2]}));
    update.apply(&mut item).unwrap();
    assert_eq!(
        plain(item),
        json!({"status": "v", "l": ["a", "v", "v"], "rest": [2]})
    );
}

#[test]
fn remove_add_and_delete_change_attributes_and_sets() {
    let values = json!({":one": {"N": "1"}, ":tags": {"SS": ["b", "c"]}, ":gone": {"SS": ["a", "b"]},
                        ":all": {"SS": ["z"]}, ":ns": {"NS": ["2.0", "3"]}});
    let update = update(
        "REMOVE x, y ADD counter :one, fresh :one, tags :tags, nums :ns DELETE old :gone, only :all",
        values,
    );
    let mut item = typed(
        json!({"x": {"N": "1"}, "y": {"N": "2"}, "counter": {"N": "41"},
        "tags": {"SS": ["a", "b"]}, "old": {"SS": ["a", "b", "d"]}, "only": {"SS": ["z"]},
        "nums": {"NS": ["1", "2"]}}),
    );
    update.apply(&mut item).unwrap();
    assert_eq!(
        serde_json::to_value(&item).unwrap(),
        json!({"counter": {"N": "42"}, "fresh": {"N": "1"}, "tags": {"SS": ["a", "b", "c"]},
               "old": {"SS": ["d"]}, "nums": {"NS": ["1", "2", "3"]}}),
        "sets stay sets; 2.0 is the 2 the number set holds"
    );
    // A set is no list: ADD of a set to a list attribute is DynamoDB's type error.
    let mut listed = plain_item(json!({"tags": ["a"]}));
    assert!(update.apply(&mut listed).is_err());
}

#[test]
fn updates_refuse_operands_of_the_wrong_type() {
    let mut item = plain_item(json!({"name": "text", "n": 1, "list": []}));
    let applied = |expression: &str, item: &mut Image| {
        let update = update(expression, json!({":s": {"S": "x"}, ":n": {"N": "1"}}));
        update.apply(item).unwrap_err().to_string()
    };
    assert_eq!(
        applied("SET n = name + :n", &mut item),
        "ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"
    );
    assert_eq!(
        applied("SET list = list_append(list, :s)", &mut item),
        "ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
    );
    assert_eq!(
        applied("SET a = missing", &mut item),
        "ValidationException: The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        applied("SET no.such = :s", &mut item),
        "ValidationException: The document path provided in the update expression is invalid for update"
    );
    assert_eq!(
        applied("ADD name :n", &mut item),
        "ValidationException: An operand in the update expression has an incorrect data type"
    );
    let request = json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "UpdateExpression": "DELETE n :n", "ExpressionAttributeValues": {":n": {"N": "1"}}});
    assert_eq!(
        error(ActionKind::UpdateItem, request),
        "ValidationException: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: operator: DELETE, operand type: NUMBER"
    );
    assert_eq!(
        plain(item),
        json!({"name": "text", "n": 1, "list": []}),
        "a failed update changes nothing"
    );
}

#[test]
fn conditions_test_existence_comparisons_and_functions() {
    let item = plain_item(
        json!({"id": "o-1", "n": 10, "s": "order#1", "tags": ["a", "b"], "m": {"k": 1}}),
    );
    let values = json!({":n": {"N": "10.0"}, ":low": {"N": "5"}, ":p": {"S": "order#"}, ":a": {"S": "a"}, ":s": {"S": "order#1"}});
    let holds =
        |expression: &str| condition(expression, json!({}), values.clone()).holds(Some(&item));
    assert!(holds("attribute_exists(id) AND attribute_not_exists(nope)"));
    assert!(holds("attribute_exists(m.k) AND NOT attribute_exists(m.x)"));
    assert!(holds("n = :n AND n >= :n AND n <= :n AND NOT n <> :n"));
    assert!(holds("n > :low AND :low < n AND NOT (n < :low)"));
    assert!(holds("n BETWEEN :low AND :n"));
    assert!(holds("s IN (:p, :s)"));
    assert!(holds(
        "begins_with(s, :p) AND contains(s, :p) AND contains(tags, :a)"
    ));
    assert!(holds("s = :p OR s = :s"));
    assert!(holds("missing <> :n"));
    assert!(!holds("missing = :n OR missing < :n OR s > :n"));
    assert!(!holds("attribute_exists(nope) or n = :low"));
    assert!(condition("attribute_not_exists(id)", json!({}), json!({})).holds(None));
    assert!(
        condition("attribute_exists(#s)", json!({"#s": "status"}), json!({}))
            .holds(Some(&plain_item(json!({"status": 1}))))
    );
}

#[test]
fn size_attribute_type_and_sets_work_in_conditions() {
    let item = typed(
        json!({"s": {"S": "héllo"}, "tags": {"SS": ["a", "b"]}, "ns": {"NS": ["1.5"]},
        "bin": {"B": "AAEC"}, "l": {"L": [{"N": "1"}]}, "m": {"M": {}}}),
    );
    let values = json!({":five": {"N": "6"}, ":two": {"N": "2"}, ":ss": {"S": "SS"}, ":ntype": {"S": "N"},
        ":a": {"S": "a"}, ":num": {"N": "1.50"}, ":pre": {"B": "AAE="}, ":set": {"SS": ["b", "a"]}});
    let holds =
        |expression: &str| condition(expression, json!({}), values.clone()).holds(Some(&item));
    assert!(holds("size(s) = :five"), "size counts UTF-8 bytes");
    assert!(holds("size(tags) = :two AND size(bin) > :two"));
    assert!(holds(
        "attribute_type(tags, :ss) AND NOT attribute_type(tags, :ntype)"
    ));
    assert!(holds("contains(tags, :a) AND contains(ns, :num)"));
    assert!(holds("begins_with(bin, :pre)"));
    assert!(holds("tags = :set"), "sets are equal whatever their order");
    assert!(!holds("size(missing) = :two"));
    let request = |expression: &str| json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "ConditionExpression": expression, "ExpressionAttributeValues": {":t": {"S": "X"}}});
    assert_eq!(
        error(ActionKind::DeleteItem, request("attribute_type(a, :t)")),
        "ValidationException: Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
    );
    assert_eq!(
        error(ActionKind::DeleteItem, request("exists(a) OR a = :t")),
        "ValidationException: Invalid ConditionExpression: Invalid function name; function: exists"
    );
    let update =
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}, "UpdateExpression": "SET a = size(b)"});
    assert_eq!(
        error(ActionKind::UpdateItem, update),
        "ValidationException: Invalid UpdateExpression: The function is not allowed in an update expression; function: size"
    );
}

#[test]
fn the_conditional_check_failure_reads_as_dynamodb_writes_it() {
    let failed = DynamoError::ConditionalCheckFailed;
    assert_eq!(
        (failed.type_name(), failed.message()),
        (
            "ConditionalCheckFailedException",
            "The conditional request failed"
        )
    );
}
