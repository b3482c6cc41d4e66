//! The AWS backend: items in DynamoDB, with DynamoDB's own conditional writes and transactions.
//! A create and its idempotency key commit in one `TransactWriteItems`; replace and delete are
//! conditioned on the item's `version`. DynamoDB Streams carries the change records, so the
//! outbox is DynamoDB's own transaction. Queues are SQS's (`queues`), buses EventBridge's, and
//! pipe checkpoints and shard leases live in a DynamoDB table (`leases`).

mod convert;
mod deploy;
mod events;
mod handoff;
mod leases;
mod queues;
mod stream;

#[cfg(test)]
mod endpoint_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, StreamSpecification, TransactWriteItem,
};

use super::{IDEMPOTENCY_TTL, Idempotency, Item, Page, ShardId, Store, StoreError, Write, Written};
use crate::config::{
    AwsConfig, BusConfig, Key, KeySchema, KeyValue, QueueConfig, StreamViewType, TableConfig,
    TableId,
};
use crate::record::SequenceNumber;
use crate::value::{AttributeValue as Typed, Image};
use convert::{attribute, from_item, key_map, key_of_map, to_item};

/// The table that keeps idempotency keys (with a TTL), beside the user's tables.
const IDEMPOTENCY_TABLE: &str = "switchyard-idempotency";
/// The table of pipe checkpoints and shard leases.
const LEASE_TABLE: &str = "switchyard-leases";

struct AwsTable {
    /// The DynamoDB table name: the routes.toml name with the configured prefix.
    name: String,
    key: KeySchema,
    view: StreamViewType,
}

/// Per stream ARN and shard: where the last read ended, and the iterator that goes on from
/// there.
type Iterators = HashMap<(String, ShardId), (Option<SequenceNumber>, String)>;

struct AwsQueue {
    /// The SQS queue name: the routes.toml name with the configured prefix.
    name: String,
    /// The routes.toml name, which origins use.
    config_name: String,
    fifo: bool,
    /// The DLQ (by index) and the receive count that sends a message there.
    redrive: Option<(usize, u32)>,
    url: tokio::sync::OnceCell<String>,
}

/// The whole pipeline's storage on AWS: DynamoDB tables and their streams, SQS queues,
/// EventBridge buses, and a lease table for pipe checkpoints.
pub struct AwsStore {
    client: Client,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    tables: Vec<AwsTable>,
    queues: Vec<AwsQueue>,
    /// EventBridge bus names, with the prefix.
    buses: Vec<String>,
    idempotency: String,
    /// The table of pipe checkpoints and shard leases.
    leases: String,
    /// This replica, as the lease table names its holder.
    owner: String,
    iterators: std::sync::Mutex<Iterators>,
}

impl std::fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsStore")
            .field(
                "tables",
                &self.tables.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn unavailable(err: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(err).to_string())
}

impl AwsStore {
    /// A client for the configured region and endpoint; credentials come from the standard AWS
    /// chain (environment, profile, IMDS/ECS) and never reach a log.
    pub async fn connect(
        aws: &AwsConfig,
        tables: &[TableConfig],
        queues: &[QueueConfig],
        buses: &[BusConfig],
    ) -> AwsStore {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(aws.region.clone()));
        if let Some(endpoint) = &aws.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        AwsStore::new(&loader.load().await, tables, queues, buses, &aws.prefix)
    }

    /// A store on an already loaded SDK configuration.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        tables: &[TableConfig],
        queues: &[QueueConfig],
        buses: &[BusConfig],
        prefix: &str,
    ) -> AwsStore {
        let client = Client::new(sdk);
        let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
        let queues = queues
            .iter()
            .map(|q| AwsQueue {
                name: format!("{prefix}{}", q.name),
                config_name: q.name.clone(),
                fifo: q.fifo,
                redrive: q.redrive.map(|r| (r.dlq.index(), r.max_receive_count)),
                url: tokio::sync::OnceCell::new(),
            })
            .collect();
        let tables = tables
            .iter()
            .map(|t| AwsTable {
                name: format!("{prefix}{}", t.name),
                key: t.key.clone(),
                view: t.stream_view_type,
            })
            .collect();
        AwsStore {
            client,
            streams,
            sqs: aws_sdk_sqs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            tables,
            queues,
            buses: buses
                .iter()
                .map(|b| format!("{prefix}{}", b.name))
                .collect(),
            leases: format!("{prefix}{LEASE_TABLE}"),
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            iterators: Default::default(),
            idempotency: format!("{prefix}{IDEMPOTENCY_TABLE}"),
        }
    }

    async fn create_table(
        &self,
        name: &str,
        key: &KeySchema,
        stream: Option<StreamSpecification>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_stream_specification(stream);
        for (attribute, role) in key.attributes().zip([KeyType::Hash, KeyType::Range]) {
            let kind = match attribute.kind {
                crate::config::KeyType::S => ScalarAttributeType::S,
                crate::config::KeyType::N => ScalarAttributeType::N,
            };
            let element = KeySchemaElement::builder()
                .attribute_name(&attribute.name)
                .key_type(role)
                .build()
                .map_err(unavailable)?;
            let definition = AttributeDefinition::builder()
                .attribute_name(&attribute.name)
                .attribute_type(kind)
                .build()
                .map_err(unavailable)?;
            request = request
                .key_schema(element)
                .attribute_definitions(definition);
        }
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    fn table(&self, table: TableId) -> &AwsTable {
        &self.tables[table.index()]
    }

    async fn fetch(&self, table: &AwsTable, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self
            .client
            .get_item()
            .table_name(&table.name)
            .set_key(Some(key_map(&table.key, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(found
            .item
            .map(|item| Item::from_image(&table.key, from_item(&item))))
    }

    /// Why a conditional write on `key` failed: the item is gone, or at another version.
    async fn diagnose(&self, table: &AwsTable, key: &Key, expected: u64) -> StoreError {
        match self.fetch(table, key).await {
            Ok(None) => StoreError::NotFound {
                key: key.to_string(),
            },
            Ok(Some(item)) => StoreError::VersionMismatch {
                key: key.to_string(),
                expected,
                actual: item.version(),
            },
            Err(err) => err,
        }
    }

    async fn create(
        &self,
        table: &AwsTable,
        item: Item,
        idempotency: Option<Idempotency>,
    ) -> Result<Written, StoreError> {
        let put = Put::builder()
            .table_name(&table.name)
            .set_item(Some(to_item(item.image())))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", &table.key.partition.name)
            .build()
            .map_err(unavailable)?;
        let Some(idem) = idempotency else {
            let result = self
                .client
                .put_item()
                .table_name(&table.name)
                .set_item(Some(to_item(item.image())))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", &table.key.partition.name)
                .send()
                .await;
            return match result {
                Ok(_) => Ok(Written::Created(item)),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Err(StoreError::Exists {
                        key: item.key().to_string(),
                    })
                }
                Err(err) => Err(unavailable(err)),
            };
        };
        let now = now_secs();
        let pk = format!("{}#{}", table.name, idem.key);
        let record = Image::from([
            ("pk".into(), Typed::S(pk.clone())),
            ("fingerprint".into(), Typed::S(idem.fingerprint.clone())),
            ("response".into(), Typed::S(item.text().to_string())),
            (
                "expires".into(),
                Typed::N((now + IDEMPOTENCY_TTL.as_secs() as i64).to_string()),
            ),
        ]);
        let remember = Put::builder()
            .table_name(&self.idempotency)
            .set_item(Some(to_item(&record)))
            .condition_expression("attribute_not_exists(pk) OR expires < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .build()
            .map_err(unavailable)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().put(remember).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Written::Created(item)),
            Err(err) => err,
        };
        let cancelled = match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e)) => e,
            _ => return Err(unavailable(err)),
        };
        let failed = |i: usize| {
            cancelled
                .cancellation_reasons()
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if failed(1) {
            // Seen before: answer with the first response.
            let seen = self
                .client
                .get_item()
                .table_name(&self.idempotency)
                .key("pk", AttributeValue::S(pk))
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            let seen = seen.item.map(|i| from_item(&i)).unwrap_or_default();
            let text = |name: &str| match seen.get(name) {
                Some(Typed::S(text)) => text.clone(),
                _ => String::new(),
            };
            let fingerprint = text("fingerprint");
            let response: Image = serde_json::from_str(&text("response")).unwrap_or_default();
            return Ok(Written::Replayed {
                fingerprint,
                item: Item::from_image(&table.key, response),
            });
        }
        if failed(0) {
            return Err(StoreError::Exists {
                key: item.key().to_string(),
            });
        }
        Err(unavailable(err))
    }
}

/// A Scan's or Query's items and `LastEvaluatedKey` as a page.
fn page_of(
    table: &AwsTable,
    items: &[HashMap<String, AttributeValue>],
    last: Option<&HashMap<String, AttributeValue>>,
) -> Page {
    Page {
        items: items
            .iter()
            .map(|i| Item::from_image(&table.key, from_item(i)))
            .collect(),
        next_after: last.and_then(|k| key_of_map(&table.key, k)),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// EventBridge routes and archives the events; replicas share streams through leases;
/// DynamoDB Streams cannot count a shard's records without reading them, nor Scan in key order.
impl crate::backend::Storage for AwsStore {
    fn capabilities(&self) -> crate::backend::Capabilities {
        crate::backend::Capabilities {
            routes_events: true,
            atomic_handoff: false,
            keeps_archives: false,
            counts_lag: false,
            shared_leases: true,
            lists_in_key_order: false,
        }
    }
}

#[async_trait]
impl Store for AwsStore {
    async fn get(&self, table: TableId, key: &Key) -> Result<Option<Item>, StoreError> {
        self.fetch(self.table(table), key).await
    }

    /// A Scan page. DynamoDB does not scan in key order, so pages come in DynamoDB's order.
    async fn list(
        &self,
        table: TableId,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let table = self.table(table);
        let start = after.map(|key| key_map(&table.key, key));
        let page = self
            .client
            .scan()
            .table_name(&table.name)
            .limit(limit.min(1000) as i32)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(page_of(table, page.items(), page.last_evaluated_key()))
    }

    /// A Query page: one partition's items, in sort-key order.
    async fn query(
        &self,
        table: TableId,
        partition: &KeyValue,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let table = self.table(table);
        let start = after.map(|key| key_map(&table.key, key));
        let page = self
            .client
            .query()
            .table_name(&table.name)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", &table.key.partition.name)
            .expression_attribute_values(":p", attribute(partition))
            .limit(limit.min(1000) as i32)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(page_of(table, page.items(), page.last_evaluated_key()))
    }

    async fn write(&self, table: TableId, write: Write) -> Result<Written, StoreError> {
        let table = self.table(table);
        match write {
            Write::Create { item, idempotency } => self.create(table, item, idempotency).await,
            Write::Put { item } => {
                let out = self
                    .client
                    .put_item()
                    .table_name(&table.name)
                    .set_item(Some(to_item(item.image())))
                    .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let old = out
                    .attributes
                    .map(|a| Item::from_image(&table.key, from_item(&a)));
                let version = old.as_ref().map_or(1, |old| old.version() + 1);
                let item = Item::new(item.key().clone(), version, item.into_image());
                Ok(Written::Put { item, old })
            }
            Write::Replace {
                item,
                expected_version,
            } => {
                let result = self
                    .client
                    .put_item()
                    .table_name(&table.name)
                    .set_item(Some(to_item(item.image())))
                    .condition_expression("attribute_exists(#k) AND #v = :expected")
                    .expression_attribute_names("#k", &table.key.partition.name)
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(
                        ":expected",
                        AttributeValue::N(expected_version.to_string()),
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(Written::Replaced(item)),
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        Err(self.diagnose(table, item.key(), expected_version).await)
                    }
                    Err(err) => Err(unavailable(err)),
                }
            }
            Write::Delete {
                key,
                expected_version,
            } => {
                let mut request = self
                    .client
                    .delete_item()
                    .table_name(&table.name)
                    .set_key(Some(key_map(&table.key, &key)))
                    .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                    .expression_attribute_names("#k", &table.key.partition.name);
                request = match expected_version {
                    None => request.condition_expression("attribute_exists(#k)"),
                    Some(version) => request
                        .condition_expression("attribute_exists(#k) AND #v = :expected")
                        .expression_attribute_names("#v", "version")
                        .expression_attribute_values(
                            ":expected",
                            AttributeValue::N(version.to_string()),
                        ),
                };
                match request.send().await {
                    Ok(out) => Ok(Written::Deleted(Item::from_image(
                        &table.key,
                        out.attributes.map(|a| from_item(&a)).unwrap_or_default(),
                    ))),
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        Err(self
                            .diagnose(table, &key, expected_version.unwrap_or_default())
                            .await)
                    }
                    Err(err) => Err(unavailable(err)),
                }
            }
        }
    }

    /// One `TransactWriteItems`: each write conditional as it is alone. It returns no old
    /// items, so a delete's `Written::Deleted` carries the key alone.
    async fn transact(
        &self,
        writes: Vec<(TableId, Write)>,
    ) -> Result<Vec<Written>, (usize, StoreError)> {
        let fail = |err: StoreError| (0, err);
        let mut request = self.client.transact_write_items();
        for (table, write) in &writes {
            let table = self.table(*table);
            let partition = &table.key.partition.name;
            let entry = match write {
                Write::Create { item, .. } | Write::Put { item } | Write::Replace { item, .. } => {
                    let mut put = Put::builder()
                        .table_name(&table.name)
                        .set_item(Some(to_item(item.image())));
                    put = match write {
                        Write::Create { .. } => put
                            .condition_expression("attribute_not_exists(#k)")
                            .expression_attribute_names("#k", partition),
                        Write::Replace {
                            expected_version, ..
                        } => put
                            .condition_expression("attribute_exists(#k) AND #v = :expected")
                            .expression_attribute_names("#k", partition)
                            .expression_attribute_names("#v", "version")
                            .expression_attribute_values(
                                ":expected",
                                AttributeValue::N(expected_version.to_string()),
                            ),
                        _ => put,
                    };
                    TransactWriteItem::builder()
                        .put(put.build().map_err(|e| fail(unavailable(e)))?)
                        .build()
                }
                Write::Delete {
                    key,
                    expected_version,
                } => {
                    let mut delete = aws_sdk_dynamodb::types::Delete::builder()
                        .table_name(&table.name)
                        .set_key(Some(key_map(&table.key, key)))
                        .expression_attribute_names("#k", partition);
                    delete = match expected_version {
                        None => delete.condition_expression("attribute_exists(#k)"),
                        Some(version) => delete
                            .condition_expression("attribute_exists(#k) AND #v = :expected")
                            .expression_attribute_names("#v", "version")
                            .expression_attribute_values(
                                ":expected",
                                AttributeValue::N(version.to_string()),
                            ),
                    };
                    TransactWriteItem::builder()
                        .delete(delete.build().map_err(|e| fail(unavailable(e)))?)
                        .build()
                }
            };
            request = request.transact_items(entry);
        }
        match request.send().await {
            Ok(_) => Ok(writes
                .into_iter()
                .map(|(_, write)| match write {
                    Write::Create { item, .. } => Written::Created(item),
                    Write::Put { item } => Written::Put { item, old: None },
                    Write::Replace { item, .. } => Written::Replaced(item),
                    Write::Delete {
                        key,
                        expected_version,
                    } => Written::Deleted(Item::new(
                        key,
                        expected_version.unwrap_or_default(),
                        Image::new(),
                    )),
                })
                .collect()),
            Err(err) => {
                let reasons = match err.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
                    _ => return Err(fail(unavailable(err))),
                };
                let failed = reasons
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    .ok_or_else(|| fail(unavailable(err)))?;
                let (table, write) = &writes[failed];
                let table = self.table(*table);
                let cause = match write {
                    Write::Create { item, .. } => StoreError::Exists {
                        key: item.key().to_string(),
                    },
                    Write::Replace {
                        item,
                        expected_version,
                    } => self.diagnose(table, item.key(), *expected_version).await,
                    Write::Delete {
                        key,
                        expected_version,
                    } => {
                        self.diagnose(table, key, expected_version.unwrap_or_default())
                            .await
                    }
                    Write::Put { .. } => {
                        StoreError::Unavailable("an unconditional put failed".into())
                    }
                };
                Err((failed, cause))
            }
        }
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.client
            .list_tables()
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// DynamoDB's TTL expires idempotency keys; the stream keeps its own 24 hours.
    async fn trim_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// EventBridge keeps a bus's archive itself (`switchyard deploy` creates it); replays go through
/// EventBridge's own StartReplay, which does not keep order.
#[async_trait]
impl super::Archives for AwsStore {
    async fn archived(
        &self,
        bus: crate::config::BusId,
        _from_ms: i64,
        _to_ms: i64,
        _after: i64,
        _limit: usize,
    ) -> Result<Vec<super::Archived>, StoreError> {
        Err(StoreError::Refused(format!(
            "on AWS, bus `{}` is archived by EventBridge: replay with `aws events start-replay`",
            self.buses[bus.index()]
        )))
    }
}
