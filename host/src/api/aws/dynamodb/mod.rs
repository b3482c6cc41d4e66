//! DynamoDB (`DynamoDB_20120810`): the tables of routes.toml, through the same store as the
//! HTTP API, so that every write appends its change record in the same transaction. Items
//! travel in DynamoDB's typed JSON and are kept as plain JSON (see the README's differences).

use serde_json::{Map, Value, json};

mod transact;

use super::AwsError;
use crate::api::App;
use crate::api::dynamo::{Failure, Writer};
use crate::apigateway::{
    Action, ActionKind, DynamoError, ReadExpressions, parse_action, read_expressions,
};
use crate::backend::Item;
use crate::config::{Key, KeyType, TableConfig, TableId};
use crate::value;

/// Most items one Query or Scan page holds when the request sets no `Limit`.
const PAGE: usize = 1000;

pub(super) async fn call(app: &App, operation: &str, input: Value) -> Result<Value, AwsError> {
    let Value::Object(input) = input else {
        return Err(AwsError::serialization("the request must be a JSON object"));
    };
    match operation {
        "ListTables" => list_tables(app, &input),
        "DescribeTable" => describe_table(app, &input).await,
        "CreateTable" => create_table(app, &input).await,
        "PutItem" => write(app, ActionKind::PutItem, input).await,
        "UpdateItem" => write(app, ActionKind::UpdateItem, input).await,
        "DeleteItem" => write(app, ActionKind::DeleteItem, input).await,
        "GetItem" => get_item(app, &input).await,
        "Query" => query(app, &input).await,
        "Scan" => scan(app, &input).await,
        "BatchGetItem" => batch_get(app, &input).await,
        "BatchWriteItem" => batch_write(app, &input).await,
        "TransactGetItems" => transact_get(app, &input).await,
        "TransactWriteItems" => transact::write(app, &input).await,
        _ => Err(AwsError::unknown_operation(&format!(
            "DynamoDB_20120810.{operation}"
        ))),
    }
}

pub(super) fn error(err: DynamoError) -> AwsError {
    AwsError::client(
        format!("com.amazonaws.dynamodb.v20120810#{}", err.type_name()),
        err.message(),
    )
}

pub(super) fn validation(message: impl Into<String>) -> AwsError {
    error(DynamoError::Validation(message.into()))
}

pub(super) fn failure(err: Failure) -> AwsError {
    match err {
        Failure::Dynamo(err) => error(err),
        Failure::Store(err) => AwsError::internal(err),
    }
}

/// The table a request names, or DynamoDB's ResourceNotFoundException.
fn table(app: &App, name: &str) -> Result<TableId, AwsError> {
    app.config
        .table_ids()
        .find(|&id| app.config[id].name == name)
        .ok_or_else(|| {
            AwsError::client(
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                format!(
                    "Requested resource not found: Table: {name} not found (the tables are those routes.toml declares)"
                ),
            )
        })
}

fn string<'a>(input: &'a Map<String, Value>, member: &str) -> Result<&'a str, AwsError> {
    match input.get(member) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))),
        Some(_) => Err(AwsError::serialization(format!(
            "`{member}` must be a string"
        ))),
    }
}

fn lower_first(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

pub(super) fn table_of(app: &App, input: &Map<String, Value>) -> Result<TableId, AwsError> {
    table(app, string(input, "TableName")?)
}

/// The key a typed `Key` map names, as DynamoDB checks it against the table's key schema.
pub(super) fn key(table: &TableConfig, typed: Option<&Value>) -> Result<Key, AwsError> {
    let Some(Value::Object(typed)) = typed else {
        return Err(validation(
            "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
        ));
    };
    let image = value::image_from_typed(typed).map_err(|e| error(e.into()))?;
    if image.len() != table.key.attributes().count() {
        return Err(validation(
            "The provided key element does not match the schema",
        ));
    }
    table
        .key
        .key_of_image(&image)
        .map_err(|_| validation("The provided key element does not match the schema"))
}

/// A key as DynamoDB's typed `Key` map (a `LastEvaluatedKey`).
fn typed_key(table: &TableConfig, key: &Key) -> Value {
    serde_json::to_value(table.key.image(key)).unwrap_or_default()
}

fn list_tables(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let limit = input.get("Limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    if !(1..=100).contains(&limit) {
        return Err(validation(
            "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
        ));
    }
    let start = input.get("ExclusiveStartTableName").and_then(Value::as_str);
    let mut names: Vec<&str> = app.config.tables.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    let names: Vec<&str> = names
        .into_iter()
        .filter(|name| start.is_none_or(|start| *name > start))
        .collect();
    let page = &names[..limit.min(names.len())];
    let mut output = json!({ "TableNames": page });
    if names.len() > page.len()
        && let Some(last) = page.last()
    {
        output["LastEvaluatedTableName"] = json!(last);
    }
    Ok(output)
}

/// The stream ARN the table's change records carry.
fn stream_arn(app: &App, table: &TableConfig) -> String {
    format!(
        "arn:aws:dynamodb:{}:000000000000:table/{}/stream/embedded",
        app.config.aws.region, table.name
    )
}

async fn describe(app: &App, id: TableId) -> Result<Value, AwsError> {
    let table = &app.config[id];
    let mut count = 0;
    let mut after = None;
    loop {
        let page = app
            .store
            .list(id, after.as_ref(), PAGE)
            .await
            .map_err(AwsError::internal)?;
        count += page.items.len();
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let roles = ["HASH", "RANGE"];
    let key_schema: Vec<Value> = table
        .key
        .attributes()
        .zip(roles)
        .map(|(a, role)| json!({"AttributeName": a.name, "KeyType": role}))
        .collect();
    let definitions: Vec<Value> = table
        .key
        .attributes()
        .map(|a| {
            let kind = match a.kind {
                KeyType::S => "S",
                KeyType::N => "N",
            };
            json!({"AttributeName": a.name, "AttributeType": kind})
        })
        .collect();
    let region = &app.config.aws.region;
    Ok(json!({
        "TableName": table.name,
        "TableArn": format!("arn:aws:dynamodb:{region}:000000000000:table/{}", table.name),
        "TableId": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, table.name.as_bytes()).to_string(),
        "TableStatus": "ACTIVE",
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "ItemCount": count,
        "TableSizeBytes": 0,
        "CreationDateTime": 0,
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": table.stream_view_type.as_str()},
        "LatestStreamLabel": "embedded",
        "LatestStreamArn": stream_arn(app, table),
        "DeletionProtectionEnabled": false,
    }))
}

async fn describe_table(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let id = table_of(app, input)?;
    Ok(json!({ "Table": describe(app, id).await? }))
}

/// A table routes.toml declares "exists" with its key schema: creating it again with the same
/// keys succeeds (test set-ups do that); anything else is to be declared in routes.toml.
async fn create_table(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let name = string(input, "TableName")?;
    let declare = || {
        validation(format!(
            "Switchyard serves the tables routes.toml declares: declare `[tables.{name}]` there with this key schema"
        ))
    };
    let id = table(app, name).map_err(|_| declare())?;
    let table = &app.config[id];
    let asked: Vec<(&str, &str)> = input
        .get("KeySchema")
        .and_then(Value::as_array)
        .map(|schema| {
            schema
                .iter()
                .filter_map(|k| Some((k["AttributeName"].as_str()?, k["KeyType"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let declared: Vec<(&str, &str)> = table
        .key
        .attributes()
        .zip(["HASH", "RANGE"])
        .map(|(a, role)| (a.name.as_str(), role))
        .collect();
    if asked != declared {
        return Err(declare());
    }
    Ok(json!({ "TableDescription": describe(app, id).await? }))
}

async fn write(app: &App, kind: ActionKind, input: Map<String, Value>) -> Result<Value, AwsError> {
    let id = table_of(app, &input)?;
    let operation = parse_action(kind, &Value::Object(input).to_string()).map_err(error)?;
    let writer = Writer {
        table: id,
        key: &app.config[id].key,
        store: &app.store,
    };
    let answer = writer.run(operation.action).await.map_err(failure)?;
    Ok(Value::Object(answer))
}

fn expressions(input: &Map<String, Value>) -> Result<ReadExpressions, AwsError> {
    read_expressions(input).map_err(error)
}

/// An item as a read returns it: projected, in typed JSON.
fn shown(item: &Item, expressions: &ReadExpressions) -> Value {
    let value = match &expressions.projection {
        Some(projection) => serde_json::to_value(projection.apply(item.image())),
        None => serde_json::from_str(item.text()),
    };
    value.unwrap_or_default()
}

async fn get_item(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let id = table_of(app, input)?;
    let key = key(&app.config[id], input.get("Key"))?;
    let expressions = expressions(input)?;
    let item = app.store.get(id, &key).await.map_err(AwsError::internal)?;
    Ok(match item {
        Some(item) => json!({ "Item": shown(&item, &expressions) }),
        None => json!({}),
    })
}

fn limit(input: &Map<String, Value>) -> Result<Option<usize>, AwsError> {
    match input.get("Limit") {
        None | Some(Value::Null) => Ok(None),
        Some(limit) => match limit.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n as usize)),
            _ => Err(validation(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            )),
        },
    }
}

/// A Query or Scan answer: the evaluated items filtered, counted, projected.
fn page_answer(
    table: &TableConfig,
    input: &Map<String, Value>,
    expressions: &ReadExpressions,
    evaluated: Vec<Item>,
    last_evaluated: Option<Key>,
) -> Result<Value, AwsError> {
    let scanned = evaluated.len();
    let matched: Vec<&Item> = evaluated
        .iter()
        .filter(|item| {
            expressions
                .filter
                .as_ref()
                .is_none_or(|f| f.holds(Some(item.image())))
        })
        .collect();
    let mut output = json!({"Count": matched.len(), "ScannedCount": scanned});
    match input.get("Select").and_then(Value::as_str) {
        None | Some("ALL_ATTRIBUTES") | Some("SPECIFIC_ATTRIBUTES") => {
            let items: Vec<Value> = matched
                .iter()
                .map(|item| shown(item, expressions))
                .collect();
            output["Items"] = Value::Array(items);
        }
        Some("COUNT") => {}
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
            )));
        }
    }
    if let Some(key) = last_evaluated {
        output["LastEvaluatedKey"] = typed_key(table, &key);
    }
    Ok(output)
}

async fn query(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let id = table_of(app, input)?;
    let table = &app.config[id];
    if input.contains_key("IndexName") {
        return Err(validation(
            "Switchyard tables have no secondary indexes: query the table itself",
        ));
    }
    let expressions = expressions(input)?;
    let Some(condition) = &expressions.key_condition else {
        return Err(validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let partition = &table.key.partition;
    let value = condition.equality(&partition.name).ok_or_else(|| {
        validation(format!(
            "Query condition missed key schema element: {}",
            partition.name
        ))
    })?;
    let partition_value = partition
        .value_of_attribute(&value)
        .map_err(|_| validation("One or more parameter values were invalid: Condition parameter type does not match schema type"))?;
    let forward = input.get("ScanIndexForward") != Some(&Value::Bool(false));
    let start = match input.get("ExclusiveStartKey") {
        None | Some(Value::Null) => None,
        Some(start) => Some(key(table, Some(start))?),
    };
    let limit = limit(input)?.unwrap_or(usize::MAX);
    // The partition's items in sort-key order, those the key condition keeps: forward, from
    // the start key on, until one past the limit; backward, all of them, turned round.
    let mut items = Vec::new();
    let mut after = start.clone().filter(|_| forward);
    loop {
        let page = app
            .store
            .query(id, &partition_value, after.as_ref(), PAGE)
            .await
            .map_err(AwsError::internal)?;
        items.extend(
            page.items
                .into_iter()
                .filter(|item| condition.holds(Some(item.image()))),
        );
        match page.next_after {
            Some(next) if !(forward && items.len() > limit) => after = Some(next),
            _ => break,
        }
    }
    if !forward {
        items.reverse();
        if let Some(start) = &start {
            let start = start.storage();
            items.retain(|item| item.key().storage() < start);
        }
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let last = more
        .then(|| items.last().map(|i| i.key().clone()))
        .flatten();
    page_answer(table, input, &expressions, items, last)
}

async fn scan(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let id = table_of(app, input)?;
    let table = &app.config[id];
    let expressions = expressions(input)?;
    let start = match input.get("ExclusiveStartKey") {
        None | Some(Value::Null) => None,
        Some(start) => Some(key(table, Some(start))?),
    };
    let limit = limit(input)?.unwrap_or(PAGE);
    let page = app
        .store
        .list(id, start.as_ref(), limit)
        .await
        .map_err(AwsError::internal)?;
    let segments = input.get("TotalSegments").and_then(Value::as_u64);
    let segment = input.get("Segment").and_then(Value::as_u64);
    let items = match (segment, segments) {
        (Some(segment), Some(total)) if segment < total => page
            .items
            .into_iter()
            .filter(|item| {
                let digest = item
                    .key()
                    .storage()
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                digest % total == segment
            })
            .collect(),
        (None, None) => page.items,
        _ => {
            return Err(validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
    };
    page_answer(table, input, &expressions, items, page.next_after)
}

async fn batch_get(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let Some(Value::Object(requests)) = input.get("RequestItems") else {
        return Err(validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
        ));
    };
    let total: usize = requests
        .values()
        .map(|r| r["Keys"].as_array().map_or(0, Vec::len))
        .sum();
    if total > 100 {
        return Err(validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let mut responses = Map::new();
    for (name, request) in requests {
        let id = table(app, name)?;
        let Value::Object(request) = request else {
            return Err(AwsError::serialization("a table's request must be a map"));
        };
        let expressions = expressions(request)?;
        let mut items = Vec::new();
        for typed in request["Keys"].as_array().into_iter().flatten() {
            let key = key(&app.config[id], Some(typed))?;
            if let Some(item) = app.store.get(id, &key).await.map_err(AwsError::internal)? {
                items.push(shown(&item, &expressions));
            }
        }
        responses.insert(name.clone(), Value::Array(items));
    }
    Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
}

async fn batch_write(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let Some(Value::Object(requests)) = input.get("RequestItems") else {
        return Err(validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
        ));
    };
    // Everything is checked before anything is written, as DynamoDB refuses a bad batch whole.
    let mut writes = Vec::new();
    for (name, list) in requests {
        let id = table(app, name)?;
        let table = &app.config[id];
        let mut keys = Vec::new();
        for request in list.as_array().into_iter().flatten() {
            let action = if let Some(put) = request.get("PutRequest") {
                let Some(Value::Object(item)) = put.get("Item") else {
                    return Err(validation("A PutRequest needs an Item"));
                };
                let item = value::image_from_typed(item).map_err(|e| error(e.into()))?;
                let key = table.key.key_of_image(&item).map_err(validation)?;
                keys.push(key);
                Action::Put {
                    item,
                    condition: None,
                    return_old: false,
                }
            } else if let Some(delete) = request.get("DeleteRequest") {
                let key_value = key(table, delete.get("Key"))?;
                keys.push(key_value);
                let Some(Value::Object(typed)) = delete.get("Key") else {
                    unreachable!("`key` read it as a map")
                };
                Action::Delete {
                    key: value::image_from_typed(typed).map_err(|e| error(e.into()))?,
                    condition: None,
                    return_old: false,
                }
            } else {
                return Err(validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ));
            };
            writes.push((id, action));
        }
        let distinct: std::collections::HashSet<&Key> = keys.iter().collect();
        if distinct.len() != keys.len() {
            return Err(validation("Provided list of item keys contains duplicates"));
        }
    }
    if writes.is_empty() || writes.len() > 25 {
        return Err(validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
        ));
    }
    for (id, action) in writes {
        let writer = Writer {
            table: id,
            key: &app.config[id].key,
            store: &app.store,
        };
        writer.run(action).await.map_err(failure)?;
    }
    Ok(json!({"UnprocessedItems": {}}))
}

/// A transaction's `TransactItems`: 1 to 100 of them.
pub(super) fn transact_items(input: &Map<String, Value>) -> Result<&Vec<Value>, AwsError> {
    let items = input
        .get("TransactItems")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            validation(
                "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
            )
        })?;
    if items.is_empty() || items.len() > 100 {
        return Err(validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    Ok(items)
}

async fn transact_get(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let items = transact_items(input)?;
    let mut responses = Vec::new();
    for entry in items {
        let Some(Value::Object(get)) = entry.get("Get") else {
            return Err(validation("each TransactItems entry needs a Get"));
        };
        let id = table_of(app, get)?;
        let key = key(&app.config[id], get.get("Key"))?;
        let expressions = expressions(get)?;
        let item = app.store.get(id, &key).await.map_err(AwsError::internal)?;
        responses.push(match item {
            Some(item) => json!({"Item": shown(&item, &expressions)}),
            None => json!({}),
        });
    }
    Ok(json!({ "Responses": responses }))
}
