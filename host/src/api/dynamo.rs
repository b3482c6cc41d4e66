//! DynamoDB's writes (PutItem, UpdateItem, DeleteItem) on a table of the store, as DynamoDB
//! runs them: conditions are checked against the item as stored and the write is made
//! conditional on that item's version, so a write in between fails it and it is tried again.
//! API Gateway integrations and the DynamoDB API both write through here.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::apigateway::{Action, DynamoError, ReturnValues};
use crate::backend::{Item, Store, StoreError, Write, Written};
use crate::config::{Key, KeySchema, TableId};
use crate::value::{Image, compare};

/// How often a conditional write is tried again when another write changed the item between
/// its read and its write.
const ATTEMPTS: usize = 5;

/// The writes of one table.
pub(super) struct Writer<'a> {
    pub table: TableId,
    pub key: &'a KeySchema,
    pub store: &'a Arc<dyn Store>,
}

pub(super) enum Failure {
    Dynamo(DynamoError),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        Failure::Store(err)
    }
}

impl Writer<'_> {
    /// Runs one DynamoDB write; the answer is DynamoDB's response body.
    pub(super) async fn run(&self, action: Action) -> Result<Map<String, Value>, Failure> {
        for _ in 0..ATTEMPTS {
            match self.attempt(&action).await {
                // Another write moved the item between the read and the write: read again.
                Err(Failure::Store(
                    StoreError::Exists { .. }
                    | StoreError::NotFound { .. }
                    | StoreError::VersionMismatch { .. },
                )) => continue,
                done => return done,
            }
        }
        Err(Failure::Store(StoreError::Unavailable(
            "the item kept changing under a conditional write".into(),
        )))
    }

    async fn attempt(&self, action: &Action) -> Result<Map<String, Value>, Failure> {
        match action {
            Action::Put {
                item,
                condition,
                return_old,
            } => {
                let key = self.key_of(item)?;
                let old = match condition {
                    None => {
                        let item = Item::new(key, 1, item.clone());
                        let written = self.store.write(self.table, Write::Put { item }).await?;
                        match written {
                            Written::Put { old, .. } => old,
                            _ => None,
                        }
                    }
                    Some(condition) => {
                        let current = self.store.get(self.table, &key).await?;
                        if !condition.holds(current.as_ref().map(Item::image)) {
                            return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                        }
                        self.store_over(current.as_ref(), key, item.clone()).await?;
                        current
                    }
                };
                Ok(attributes(
                    return_old
                        .then_some(old)
                        .flatten()
                        .as_ref()
                        .map(Item::image),
                ))
            }
            Action::Update {
                key,
                update,
                condition,
                return_values,
            } => {
                let key_value = self.key_of(key)?;
                let current = self.store.get(self.table, &key_value).await?;
                let old = current.as_ref().map(Item::image);
                if condition.as_ref().is_some_and(|c| !c.holds(old)) {
                    return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                }
                let mut new = old.cloned().unwrap_or_else(|| key.clone());
                update.apply(&mut new).map_err(Failure::Dynamo)?;
                if self.key.key_of_image(&new).ok().as_ref() != Some(&key_value) {
                    return Err(Failure::Dynamo(DynamoError::Validation(
                        "One or more parameter values were invalid: Cannot update attribute of the key; this attribute is part of the key".into(),
                    )));
                }
                self.store_over(current.as_ref(), key_value, new.clone())
                    .await?;
                Ok(match return_values {
                    ReturnValues::None => Map::new(),
                    ReturnValues::AllOld => attributes(old),
                    ReturnValues::AllNew => attributes(Some(&new)),
                    ReturnValues::UpdatedOld => attributes(Some(&changed(old, &new, true))),
                    ReturnValues::UpdatedNew => attributes(Some(&changed(old, &new, false))),
                })
            }
            Action::Delete {
                key,
                condition,
                return_old,
            } => {
                let key = self.key_of(key)?;
                let current = self.store.get(self.table, &key).await?;
                if condition
                    .as_ref()
                    .is_some_and(|c| !c.holds(current.as_ref().map(Item::image)))
                {
                    return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                }
                // Deleting an item that is not there is no error, and writes no record.
                if let Some(current) = &current {
                    let delete = Write::Delete {
                        key,
                        expected_version: Some(current.version()),
                    };
                    self.store.write(self.table, delete).await?;
                }
                Ok(attributes(
                    return_old
                        .then_some(current)
                        .flatten()
                        .as_ref()
                        .map(Item::image),
                ))
            }
        }
    }

    /// Writes `image` in place of `current` (a create when there is none), so that a write
    /// between this one's read and its write fails it instead of being overwritten.
    async fn store_over(
        &self,
        current: Option<&Item>,
        key: Key,
        image: Image,
    ) -> Result<(), StoreError> {
        let write = match current {
            None => Write::Create {
                item: Item::new(key, 1, image),
                idempotency: None,
            },
            Some(current) => Write::Replace {
                item: Item::new(key, current.version() + 1, image),
                expected_version: current.version(),
            },
        };
        self.store.write(self.table, write).await.map(drop)
    }

    /// The key an item or a `Key` map holds, refused as DynamoDB refuses it.
    pub(super) fn key_of(&self, item: &Image) -> Result<Key, Failure> {
        self.key
            .key_of_image(item)
            .map_err(|why| Failure::Dynamo(DynamoError::Validation(why)))
    }
}

/// `{"Attributes": ...}` in DynamoDB's typed JSON, or `{}`.
pub(super) fn attributes(item: Option<&Image>) -> Map<String, Value> {
    let mut answer = Map::new();
    if let Some(item) = item {
        answer.insert(
            "Attributes".into(),
            serde_json::to_value(item).unwrap_or_default(),
        );
    }
    answer
}

/// The attributes an update changed: their old values (`old_values`) or their new ones.
fn changed(old: Option<&Image>, new: &Image, old_values: bool) -> Image {
    let empty = Image::new();
    let old = old.unwrap_or(&empty);
    let (from, other) = if old_values { (old, new) } else { (new, old) };
    from.iter()
        .filter(|(name, value)| {
            other
                .get(*name)
                .is_none_or(|o| compare(o, value) != Some(std::cmp::Ordering::Equal))
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
