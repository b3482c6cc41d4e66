//! TransactWriteItems: Put, Update, Delete and ConditionCheck entries, every condition checked
//! against the items as stored, then all the writes committed in one store transaction (each
//! conditional on the version read, so a write in between makes the whole try again) or, when
//! a condition fails, none of them and DynamoDB's TransactionCanceledException with a reason
//! per entry.

use serde_json::{Map, Value, json};

use super::{error, failure, table_of, transact_items, validation};
use crate::api::App;
use crate::api::aws::AwsError;
use crate::api::dynamo::Failure;
use crate::apigateway::{Action, ActionKind, Condition, DynamoError, parse_action};
use crate::backend::{Item, StoreError, Write};
use crate::config::{Key, TableId};
use crate::value::Image;

/// How often the whole transaction is tried again when another write changed one of its items
/// between the reads and the commit.
const ATTEMPTS: usize = 5;

/// One entry, read.
struct Entry {
    table: TableId,
    key: Key,
    condition: Option<Condition>,
    change: Change,
}

enum Change {
    Put(Image),
    Update(crate::apigateway::Update, Image),
    Delete,
    Check,
}

pub(super) async fn write(app: &App, input: &Map<String, Value>) -> Result<Value, AwsError> {
    let items = transact_items(input)?;
    let entries = items
        .iter()
        .map(|item| entry(app, item))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    if !entries.iter().all(|e| seen.insert((e.table, &e.key))) {
        return Err(validation(
            "Transaction request cannot include multiple operations on one item",
        ));
    }
    for _ in 0..ATTEMPTS {
        match attempt(app, &entries).await {
            Err(Failure::Store(
                StoreError::Exists { .. }
                | StoreError::NotFound { .. }
                | StoreError::VersionMismatch { .. },
            )) => continue,
            Err(err) => return Err(failure(err)),
            Ok(Some(reasons)) => return Err(cancelled(reasons)),
            Ok(None) => return Ok(json!({})),
        }
    }
    Err(AwsError::client(
        "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "Transaction is ongoing for the item",
    ))
}

fn entry(app: &App, item: &Value) -> Result<Entry, AwsError> {
    let Value::Object(item) = item else {
        return Err(AwsError::serialization(
            "a TransactItems entry must be a map",
        ));
    };
    let (member, request) = match item.iter().collect::<Vec<_>>().as_slice() {
        [(member, Value::Object(request))] => (member.as_str(), request),
        _ => {
            return Err(validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            ));
        }
    };
    let table = table_of(app, request)?;
    let kind = match member {
        "Put" => ActionKind::PutItem,
        "Update" => ActionKind::UpdateItem,
        "Delete" | "ConditionCheck" => ActionKind::DeleteItem,
        other => {
            return Err(validation(format!(
                "TransactItems can only contain one of Check, Put, Update or Delete, not {other}"
            )));
        }
    };
    let action = parse_action(kind, &Value::Object(request.clone()).to_string())
        .map_err(error)?
        .action;
    let schema = &app.config[table].key;
    let key_of = |image: &Image| {
        schema
            .key_of_image(image)
            .map_err(|why| error(DynamoError::Validation(why)))
    };
    Ok(match (member, action) {
        (
            "Put",
            Action::Put {
                item, condition, ..
            },
        ) => Entry {
            table,
            key: key_of(&item)?,
            condition,
            change: Change::Put(item),
        },
        (
            "Update",
            Action::Update {
                key,
                update,
                condition,
                ..
            },
        ) => Entry {
            table,
            key: key_of(&key)?,
            condition,
            change: Change::Update(update, key),
        },
        ("ConditionCheck", Action::Delete { key, condition, .. }) => {
            if condition.is_none() {
                return Err(validation(
                    "1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null",
                ));
            }
            Entry {
                table,
                key: key_of(&key)?,
                condition,
                change: Change::Check,
            }
        }
        (_, Action::Delete { key, condition, .. }) => Entry {
            table,
            key: key_of(&key)?,
            condition,
            change: Change::Delete,
        },
        _ => unreachable!("parse_action reads the action its kind names"),
    })
}

/// One try: `Some(reasons)` when a condition failed (nothing written), `None` when committed.
async fn attempt(app: &App, entries: &[Entry]) -> Result<Option<Vec<Value>>, Failure> {
    let mut currents = Vec::with_capacity(entries.len());
    for entry in entries {
        currents.push(app.store.get(entry.table, &entry.key).await?);
    }
    let holds: Vec<bool> = entries
        .iter()
        .zip(&currents)
        .map(|(e, current)| {
            e.condition
                .as_ref()
                .is_none_or(|c| c.holds(current.as_ref().map(Item::image)))
        })
        .collect();
    if holds.contains(&false) {
        let reasons = holds
            .iter()
            .map(|&ok| match ok {
                true => json!({"Code": "None"}),
                false => json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}),
            })
            .collect();
        return Ok(Some(reasons));
    }
    let mut writes = Vec::new();
    for (entry, current) in entries.iter().zip(currents) {
        let body = match &entry.change {
            Change::Check => continue,
            Change::Delete => {
                if let Some(current) = current {
                    writes.push((
                        entry.table,
                        Write::Delete {
                            key: entry.key.clone(),
                            expected_version: Some(current.version()),
                        },
                    ));
                }
                continue;
            }
            Change::Put(item) => item.clone(),
            Change::Update(update, key) => {
                let mut body = current
                    .as_ref()
                    .map_or_else(|| key.clone(), |c| c.image().clone());
                update.apply(&mut body).map_err(Failure::Dynamo)?;
                let schema = &app.config[entry.table].key;
                if schema.key_of_image(&body).ok().as_ref() != Some(&entry.key) {
                    return Err(Failure::Dynamo(DynamoError::Validation(
                        "One or more parameter values were invalid: Cannot update attribute of the key; this attribute is part of the key".into(),
                    )));
                }
                body
            }
        };
        let write = match current {
            None => Write::Create {
                item: Item::new(entry.key.clone(), 1, body),
                idempotency: None,
            },
            Some(current) => Write::Replace {
                item: Item::new(entry.key.clone(), current.version() + 1, body),
                expected_version: current.version(),
            },
        };
        writes.push((entry.table, write));
    }
    app.store
        .transact(writes)
        .await
        .map_err(|(_, err)| Failure::Store(err))?;
    Ok(None)
}

fn cancelled(reasons: Vec<Value>) -> AwsError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r["Code"].as_str().unwrap_or("None"))
        .collect();
    let mut err = AwsError::client(
        "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    err.details
        .insert("CancellationReasons".into(), Value::Array(reasons));
    err
}
