//! The behaviour every backend must show, written once as plain async functions over the
//! traits; each backend's tests call every one of them against a fresh store.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ChangeStream, Idempotency, Item, Storage, Store, StoreError, Write, Written};
use crate::config::{Key, KeyAttribute, KeySchema, KeyType, StreamViewType, TableConfig, TableId};
use crate::record::{AttributeValue, EventName, StreamRecord};

mod archives;
mod keys;
mod leases;
mod queues;

pub use archives::*;
pub use keys::*;
pub use leases::*;
pub use queues::*;

pub const ORDERS: TableId = TableId(0);
const CUSTOMERS: TableId = TableId(1);
const LEDGER: TableId = TableId(2);

/// The tables every conformance test runs on: `orders` keyed by `orderId`, `customers` by
/// `customerId`, and `ledger` by the partition key `account` (a string) and the sort key `seq`
/// (a number).
/// Calls `$run!(case, ...)` with the store and stream suite's cases, each an `async fn(store,
/// stream)`, so that every backend's tests run the same list.
macro_rules! store_cases {
    ($run:ident) => {
        $run!(
            create_then_get_returns_the_item,
            create_of_an_existing_key_fails_and_writes_no_record,
            replace_and_delete_check_the_version,
            every_write_appends_one_record_in_order,
            records_carry_old_and_new_images,
            idempotent_create_replays_the_first_result,
            a_stream_read_waits_for_the_next_commit,
            concurrent_writes_all_commit_with_increasing_sequence_numbers,
            tables_are_kept_apart,
            an_item_of_a_composite_key_is_addressed_by_both_keys,
            a_partition_pages_in_sort_key_order,
            a_put_creates_or_overwrites,
            a_transaction_writes_all_or_nothing,
        );
    };
}
pub(crate) use store_cases;

/// Calls `$run!(case, ...)` with the queue suite's cases, each an `async fn(queues, handoff)`,
/// but for those where SQS's own behaviour is checked ([`sqs_only_cases`]).
macro_rules! queue_cases {
    ($run:ident) => {
        $run!(
            a_received_message_is_hidden_until_its_visibility_timeout,
            a_deleted_message_is_gone,
            after_max_receive_count_a_message_moves_to_the_dlq,
            change_visibility_brings_a_message_back_when_asked,
            dead_letter_moves_a_message_now_with_its_reason,
            a_delayed_message_stays_hidden_for_the_delay,
            a_long_poll_wakes_when_a_message_is_sent,
            a_fifo_queue_keeps_order_per_group_and_holds_a_group_in_flight,
            a_fifo_queue_drops_duplicates_within_five_minutes,
            delivery_and_checkpoint_commit_together,
            a_pipes_start_position_is_recorded_once_and_deliveries_move_it_on,
            a_dead_letter_can_be_inspected_and_moved_back,
            a_message_can_be_removed_by_its_id,
            a_messages_attributes_travel_with_it_to_the_dlq_and_back,
            a_receive_tells_when_the_message_was_first_received,
            a_purge_deletes_every_message_in_flight_or_not,
        );
    };
}
pub(crate) use queue_cases;

/// The queue suite's cases where SQS does what moto does not: the embedded store and the
/// host's SQS API run them as the others, moto's tests expect each to fail.
macro_rules! sqs_only_cases {
    ($run:ident) => {
        $run!(
            a_stale_receipt_changes_nothing,
            a_fifo_duplicate_gets_the_first_message_id,
            a_long_poll_on_a_fifo_queue_wakes_when_the_message_ahead_is_deleted,
        );
    };
}
pub(crate) use sqs_only_cases;

pub fn tables(view: StreamViewType) -> Vec<TableConfig> {
    let table = |name: &str, key: KeySchema| TableConfig {
        name: name.to_string(),
        key,
        path: format!("/{name}"),
        stream_view_type: view,
        stream_retention: Duration::from_secs(86400),
        schema: None,
        integrations: Vec::new(),
    };
    let ledger = KeySchema {
        partition: KeyAttribute {
            name: "account".into(),
            kind: KeyType::S,
            generated: None,
        },
        sort: Some(KeyAttribute {
            name: "seq".into(),
            kind: KeyType::N,
            generated: None,
        }),
    };
    vec![
        table("orders", KeySchema::simple("orderId")),
        table("customers", KeySchema::simple("customerId")),
        table("ledger", ledger),
    ]
}

pub fn order(key: &str, version: u64, total: u64) -> Item {
    let body = json!({"orderId": key, "version": version, "total": total});
    Item::from_plain(key.into(), version, body.as_object().expect("an object"))
        .expect("a DynamoDB item")
}

/// A customer of the `customers` table, keyed `customerId`.
fn customer(key: &str) -> Item {
    let body = json!({"customerId": key, "version": 1});
    Item::from_plain(key.into(), 1, body.as_object().expect("an object")).expect("a DynamoDB item")
}

fn create(item: Item) -> Write {
    Write::Create {
        item,
        idempotency: None,
    }
}

/// Creates orders `o-0000` .. `o-{n-1}`.
pub async fn write_orders(store: &dyn Store, n: usize) {
    write_orders_from(store, 0, n).await
}

pub async fn write_orders_from(store: &dyn Store, first: usize, n: usize) {
    for i in first..first + n {
        store
            .write(ORDERS, create(order(&format!("o-{i:04}"), 1, i as u64)))
            .await
            .unwrap();
    }
}

/// Every retained record of a table's first shard, oldest first.
pub async fn read_all(stream: &dyn ChangeStream, table: TableId) -> Vec<StreamRecord> {
    let shard = stream.shards(table).await.unwrap().remove(0).id;
    let mut all = Vec::new();
    loop {
        let after = all
            .last()
            .map(|r: &StreamRecord| r.dynamodb.sequence_number.clone());
        let batch = stream
            .read(table, &shard, after.as_ref(), 100, Duration::ZERO)
            .await
            .unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

fn key_of(record: &StreamRecord) -> &str {
    match record.dynamodb.keys.values().next() {
        Some(AttributeValue::S(key)) => key,
        other => panic!("record key is not a string: {other:?}"),
    }
}

pub async fn create_then_get_returns_the_item(store: &dyn Store, _: &dyn ChangeStream) {
    let written = store
        .write(ORDERS, create(order("o-1", 1, 10)))
        .await
        .unwrap();
    assert_eq!(written, Written::Created(order("o-1", 1, 10)));
    assert_eq!(
        store.get(ORDERS, &"o-1".into()).await.unwrap(),
        Some(order("o-1", 1, 10))
    );
    assert_eq!(store.get(ORDERS, &"o-2".into()).await.unwrap(), None);
}

pub async fn create_of_an_existing_key_fails_and_writes_no_record(
    store: &dyn Store,
    stream: &dyn ChangeStream,
) {
    store
        .write(ORDERS, create(order("o-1", 1, 10)))
        .await
        .unwrap();
    let again = store.write(ORDERS, create(order("o-1", 1, 99))).await;
    assert_eq!(again, Err(StoreError::Exists { key: "o-1".into() }));
    assert_eq!(
        store.get(ORDERS, &"o-1".into()).await.unwrap(),
        Some(order("o-1", 1, 10))
    );
    assert_eq!(read_all(stream, ORDERS).await.len(), 1);
}

pub async fn replace_and_delete_check_the_version(store: &dyn Store, stream: &dyn ChangeStream) {
    store
        .write(ORDERS, create(order("o-1", 1, 10)))
        .await
        .unwrap();
    let stale = store
        .write(
            ORDERS,
            Write::Replace {
                item: order("o-1", 3, 30),
                expected_version: 2,
            },
        )
        .await;
    assert_eq!(
        stale,
        Err(StoreError::VersionMismatch {
            key: "o-1".into(),
            expected: 2,
            actual: 1
        })
    );
    let missing = store
        .write(
            ORDERS,
            Write::Replace {
                item: order("o-9", 2, 30),
                expected_version: 1,
            },
        )
        .await;
    assert_eq!(missing, Err(StoreError::NotFound { key: "o-9".into() }));

    let replaced = store
        .write(
            ORDERS,
            Write::Replace {
                item: order("o-1", 2, 20),
                expected_version: 1,
            },
        )
        .await;
    assert_eq!(replaced, Ok(Written::Replaced(order("o-1", 2, 20))));

    let stale = store
        .write(
            ORDERS,
            Write::Delete {
                key: "o-1".into(),
                expected_version: Some(1),
            },
        )
        .await;
    assert_eq!(
        stale,
        Err(StoreError::VersionMismatch {
            key: "o-1".into(),
            expected: 1,
            actual: 2
        })
    );
    let deleted = store
        .write(
            ORDERS,
            Write::Delete {
                key: "o-1".into(),
                expected_version: Some(2),
            },
        )
        .await;
    assert_eq!(deleted, Ok(Written::Deleted(order("o-1", 2, 20))));
    assert_eq!(store.get(ORDERS, &"o-1".into()).await.unwrap(), None);
    let gone = store
        .write(
            ORDERS,
            Write::Delete {
                key: "o-1".into(),
                expected_version: None,
            },
        )
        .await;
    assert_eq!(gone, Err(StoreError::NotFound { key: "o-1".into() }));

    // Only the three writes that happened left records.
    let events: Vec<EventName> = read_all(stream, ORDERS)
        .await
        .iter()
        .map(|r| r.event_name)
        .collect();
    assert_eq!(
        events,
        [EventName::Insert, EventName::Modify, EventName::Remove]
    );
}

pub async fn every_write_appends_one_record_in_order(store: &dyn Store, stream: &dyn ChangeStream) {
    write_orders(store, 5).await;
    let records = read_all(stream, ORDERS).await;
    let keys: Vec<&str> = records.iter().map(key_of).collect();
    assert_eq!(keys, ["o-0000", "o-0001", "o-0002", "o-0003", "o-0004"]);
    for pair in records.windows(2) {
        assert!(pair[0].dynamodb.sequence_number < pair[1].dynamodb.sequence_number);
        assert_ne!(pair[0].event_id, pair[1].event_id);
    }
    let first = &records[0];
    assert_eq!(first.event_source, "aws:dynamodb");
    assert_eq!(first.aws_region, "us-east-1");
    assert!(
        first
            .event_source_arn
            .starts_with("arn:aws:dynamodb:us-east-1:"),
        "{}",
        first.event_source_arn
    );
    assert!(first.dynamodb.approximate_creation_date_time > 1_600_000_000);

    // Reading again from a record's sequence number gives the records after it, same ids.
    let shard = stream.shards(ORDERS).await.unwrap().remove(0).id;
    let again = stream
        .read(
            ORDERS,
            &shard,
            Some(&records[1].dynamodb.sequence_number),
            2,
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(again, records[2..4].to_vec());
}

pub async fn records_carry_old_and_new_images(store: &dyn Store, stream: &dyn ChangeStream) {
    store
        .write(ORDERS, create(order("o-1", 1, 10)))
        .await
        .unwrap();
    store
        .write(
            ORDERS,
            Write::Replace {
                item: order("o-1", 2, 20),
                expected_version: 1,
            },
        )
        .await
        .unwrap();
    store
        .write(
            ORDERS,
            Write::Delete {
                key: "o-1".into(),
                expected_version: None,
            },
        )
        .await
        .unwrap();
    let records = read_all(stream, ORDERS).await;
    let total = |image: &Option<crate::record::ImageText>| {
        image.as_ref().map(|i| i.image()["total"].clone())
    };
    let n = |s: &str| Some(AttributeValue::N(s.to_string()));
    assert_eq!(
        (
            total(&records[0].dynamodb.old_image),
            total(&records[0].dynamodb.new_image)
        ),
        (None, n("10"))
    );
    assert_eq!(
        (
            total(&records[1].dynamodb.old_image),
            total(&records[1].dynamodb.new_image)
        ),
        (n("10"), n("20"))
    );
    assert_eq!(
        (
            total(&records[2].dynamodb.old_image),
            total(&records[2].dynamodb.new_image)
        ),
        (n("20"), None)
    );
    assert_eq!(
        records[0].dynamodb.keys["orderId"],
        AttributeValue::S("o-1".into())
    );
    assert_eq!(records[0].dynamodb.stream_view_type, "NEW_AND_OLD_IMAGES");
}

pub async fn stream_view_type_keys_only_carries_no_images(
    store: &dyn Store,
    stream: &dyn ChangeStream,
) {
    store
        .write(ORDERS, create(order("o-1", 1, 10)))
        .await
        .unwrap();
    let records = read_all(stream, ORDERS).await;
    assert_eq!(records[0].dynamodb.new_image, None);
    assert_eq!(records[0].dynamodb.old_image, None);
    assert_eq!(records[0].dynamodb.stream_view_type, "KEYS_ONLY");
    assert_eq!(key_of(&records[0]), "o-1");
}

pub async fn idempotent_create_replays_the_first_result(
    store: &dyn Store,
    stream: &dyn ChangeStream,
) {
    let idem = Idempotency {
        key: "k-1".into(),
        fingerprint: "f-1".into(),
    };
    let first = Write::Create {
        item: order("o-1", 1, 10),
        idempotency: Some(idem.clone()),
    };
    assert_eq!(
        store.write(ORDERS, first).await,
        Ok(Written::Created(order("o-1", 1, 10)))
    );
    // The retry carries another server-assigned key; it must not create a second item.
    let retry = Write::Create {
        item: order("o-2", 1, 10),
        idempotency: Some(idem),
    };
    let replayed = store.write(ORDERS, retry).await.unwrap();
    assert_eq!(
        replayed,
        Written::Replayed {
            fingerprint: "f-1".into(),
            item: order("o-1", 1, 10)
        }
    );
    assert_eq!(store.get(ORDERS, &"o-2".into()).await.unwrap(), None);
    assert_eq!(read_all(stream, ORDERS).await.len(), 1);
    // The same key in another table is another key.
    let other = customer("c-1");
    let idem = Idempotency {
        key: "k-1".into(),
        fingerprint: "f-2".into(),
    };
    assert!(matches!(
        store
            .write(
                CUSTOMERS,
                Write::Create {
                    item: other,
                    idempotency: Some(idem)
                }
            )
            .await,
        Ok(Written::Created(_))
    ));
}

/// Pages hold every item once; in key order where the backend keeps it
/// ([`super::Capabilities::lists_in_key_order`]; a DynamoDB Scan does not).
pub async fn list_pages_through_items_in_key_order(store: &dyn Storage) {
    for key in ["c", "a", "e", "b", "d"] {
        store.write(ORDERS, create(order(key, 1, 1))).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<Key> = None;
    loop {
        let page = store.list(ORDERS, after.as_ref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|i| i.key.to_string()));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a", "b", "c", "d", "e"], "every item, once");
    if !store.capabilities().lists_in_key_order {
        return;
    }
    let first = store.list(ORDERS, None, 2).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|i| i.key.to_string())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(first.next_after, Some("b".into()));
    let second = store
        .list(ORDERS, first.next_after.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|i| i.key.to_string())
            .collect::<Vec<_>>(),
        ["c", "d"]
    );
    let last = store
        .list(ORDERS, second.next_after.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(
        last.items
            .iter()
            .map(|i| i.key.to_string())
            .collect::<Vec<_>>(),
        ["e"]
    );
    assert_eq!(last.next_after, None);
}

pub async fn a_stream_read_waits_for_the_next_commit(store: &dyn Store, stream: &dyn ChangeStream) {
    let shard = stream.shards(ORDERS).await.unwrap().remove(0).id;
    let started = std::time::Instant::now();
    let empty = stream
        .read(ORDERS, &shard, None, 10, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(empty.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "an empty read waits out its wait"
    );

    let (records, ()) = tokio::join!(
        stream.read(ORDERS, &shard, None, 10, Duration::from_secs(30)),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            store
                .write(ORDERS, create(order("o-1", 1, 10)))
                .await
                .unwrap();
        }
    );
    let records = records.unwrap();
    assert_eq!(
        records.len(),
        1,
        "the waiting read returns the record committed while it waited"
    );
    assert_eq!(key_of(&records[0]), "o-1");
}

pub async fn concurrent_writes_all_commit_with_increasing_sequence_numbers(
    store: &dyn Store,
    stream: &dyn ChangeStream,
) {
    let writes = (0..100).map(|i| store.write(ORDERS, create(order(&format!("o-{i:03}"), 1, i))));
    let results = futures::future::join_all(writes).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let records = read_all(stream, ORDERS).await;
    assert_eq!(records.len(), 100);
    let mut keys: Vec<&str> = records.iter().map(key_of).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 100, "every write has exactly one record");
    assert!(
        records
            .windows(2)
            .all(|p| p[0].dynamodb.sequence_number < p[1].dynamodb.sequence_number)
    );
}

pub async fn tables_are_kept_apart(store: &dyn Store, stream: &dyn ChangeStream) {
    store.write(ORDERS, create(order("x", 1, 1))).await.unwrap();
    let customer = customer("x");
    store
        .write(CUSTOMERS, create(customer.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.get(CUSTOMERS, &"x".into()).await.unwrap(),
        Some(customer)
    );
    assert_eq!(
        store
            .get(ORDERS, &"x".into())
            .await
            .unwrap()
            .map(|i| i.plain()["total"].clone()),
        Some(Value::from(1))
    );
    assert_eq!(read_all(stream, ORDERS).await.len(), 1);
    assert_eq!(read_all(stream, CUSTOMERS).await.len(), 1);
    assert_eq!(
        read_all(stream, CUSTOMERS).await[0].dynamodb.keys["customerId"],
        AttributeValue::S("x".into())
    );
}
