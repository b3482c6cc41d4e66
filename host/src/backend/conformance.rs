//! The behaviour every backend must show, written once as plain async functions over the
//! traits; each backend's tests call every one of them against a fresh store.

use std::time::Duration;

use serde_json::{Value, json};

use super::{ChangeStream, Idempotency, Item, Store, StoreError, Write, Written};
use crate::config::{StreamViewType, TableConfig, TableId};
use crate::record::{AttributeValue, EventName, StreamRecord};

const ORDERS: TableId = TableId(0);
const CUSTOMERS: TableId = TableId(1);

/// The tables every conformance test runs on: `orders` keyed by `orderId`, `customers` by
/// `customerId`.
pub fn tables(view: StreamViewType) -> Vec<TableConfig> {
    let table = |name: &str, key: &str| TableConfig {
        name: name.to_string(),
        key: key.to_string(),
        path: format!("/{name}"),
        stream_view_type: view,
        stream_retention: Duration::from_secs(86400),
        schema: None,
    };
    vec![table("orders", "orderId"), table("customers", "customerId")]
}

pub fn order(key: &str, version: u64, total: u64) -> Item {
    let body = json!({"orderId": key, "version": version, "total": total});
    Item {
        key: key.to_string(),
        version,
        body: body.as_object().cloned().unwrap_or_default(),
    }
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
    let shard = stream.shards(table).await.unwrap().remove(0);
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
        store.get(ORDERS, "o-1").await.unwrap(),
        Some(order("o-1", 1, 10))
    );
    assert_eq!(store.get(ORDERS, "o-2").await.unwrap(), None);
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
        store.get(ORDERS, "o-1").await.unwrap(),
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
    assert_eq!(store.get(ORDERS, "o-1").await.unwrap(), None);
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
    let shard = stream.shards(ORDERS).await.unwrap().remove(0);
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
    let total = |image: &Option<crate::record::Image>| image.as_ref().map(|i| i["total"].clone());
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
    assert_eq!(store.get(ORDERS, "o-2").await.unwrap(), None);
    assert_eq!(read_all(stream, ORDERS).await.len(), 1);
    // The same key in another table is another key.
    let other = Item {
        key: "c-1".into(),
        version: 1,
        body: json!({"customerId": "c-1", "version": 1})
            .as_object()
            .cloned()
            .unwrap(),
    };
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

pub async fn list_pages_through_items_in_key_order(store: &dyn Store, _: &dyn ChangeStream) {
    for key in ["c", "a", "e", "b", "d"] {
        store.write(ORDERS, create(order(key, 1, 1))).await.unwrap();
    }
    let first = store.list(ORDERS, None, 2).await.unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|i| i.key.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(first.next_after.as_deref(), Some("b"));
    let second = store
        .list(ORDERS, first.next_after.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|i| i.key.as_str())
            .collect::<Vec<_>>(),
        ["c", "d"]
    );
    let last = store
        .list(ORDERS, second.next_after.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        last.items
            .iter()
            .map(|i| i.key.as_str())
            .collect::<Vec<_>>(),
        ["e"]
    );
    assert_eq!(last.next_after, None);
}

pub async fn a_stream_read_waits_for_the_next_commit(store: &dyn Store, stream: &dyn ChangeStream) {
    let shard = stream.shards(ORDERS).await.unwrap().remove(0);
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
    let customer = Item {
        key: "x".into(),
        version: 1,
        body: json!({"customerId": "x", "version": 1})
            .as_object()
            .cloned()
            .unwrap(),
    };
    store
        .write(CUSTOMERS, create(customer.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(CUSTOMERS, "x").await.unwrap(), Some(customer));
    assert_eq!(
        store
            .get(ORDERS, "x")
            .await
            .unwrap()
            .map(|i| i.body["total"].clone()),
        Some(Value::from(1))
    );
    assert_eq!(read_all(stream, ORDERS).await.len(), 1);
    assert_eq!(read_all(stream, CUSTOMERS).await.len(), 1);
    assert_eq!(
        read_all(stream, CUSTOMERS).await[0].dynamodb.keys["customerId"],
        AttributeValue::S("x".into())
    );
}

// ----- queues ---------------------------------------------------------------------------------

use super::{Checkpoint, Checkpoints, Depth, NewMessage, Queues, ShardId};
use crate::config::{QueueConfig, QueueId, Redrive};
use crate::record::SequenceNumber;

const JOBS: QueueId = QueueId(0);
const JOBS_DLQ: QueueId = QueueId(1);
const PLAIN: QueueId = QueueId(2);
const ORDERED: QueueId = QueueId(3);
const DELAYED: QueueId = QueueId(4);

/// The queues every queue conformance test runs on: `jobs` (visibility 300 ms, to `jobs-dlq`
/// after 2 receives), `jobs-dlq`, `plain` (no DLQ), `ordered.fifo` (content-based
/// deduplication) and `delayed` (300 ms delay).
pub fn queues() -> Vec<QueueConfig> {
    let queue = |name: &str| QueueConfig {
        name: name.to_string(),
        visibility_timeout: Duration::from_millis(300),
        retention: Duration::from_secs(4 * 86400),
        delay: Duration::ZERO,
        redrive: None,
        fifo: false,
        content_based_deduplication: false,
    };
    vec![
        QueueConfig {
            redrive: Some(Redrive {
                dlq: JOBS_DLQ,
                max_receive_count: 2,
            }),
            ..queue("jobs")
        },
        queue("jobs-dlq"),
        queue("plain"),
        QueueConfig {
            fifo: true,
            content_based_deduplication: true,
            ..queue("ordered.fifo")
        },
        QueueConfig {
            delay: Duration::from_millis(300),
            ..queue("delayed")
        },
    ]
}

fn message(body: &str) -> NewMessage {
    NewMessage::new(body, "test")
}

fn grouped(body: &str, group: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        ..message(body)
    }
}

fn bodies(received: &[super::Received]) -> Vec<&str> {
    received.iter().map(|r| r.body.as_str()).collect()
}

pub async fn a_received_message_is_hidden_until_its_visibility_timeout(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues.send(JOBS, vec![message("a")]).await.unwrap();
    let first = queues
        .receive(JOBS, 10, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a"]);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        queues
            .receive(JOBS, 10, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );
    assert_eq!(
        queues.depth(JOBS).await.unwrap(),
        Depth {
            visible: 0,
            in_flight: 1,
            delayed: 0
        }
    );
    let started = std::time::Instant::now();
    let again = queues
        .receive(JOBS, 10, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the visibility timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(bodies(&again), ["a"]);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(
        again[0].receipt_handle, first[0].receipt_handle,
        "each receive has its own receipt handle"
    );
    assert_eq!(again[0].message_id, first[0].message_id);
}

pub async fn a_deleted_message_is_gone_and_a_stale_receipt_is_ignored(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues
        .send(PLAIN, vec![message("a"), message("b")])
        .await
        .unwrap();
    let received = queues
        .receive(PLAIN, 10, Some(Duration::from_millis(100)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&received), ["a", "b"]);
    queues
        .delete(PLAIN, &[received[0].receipt_handle.clone()])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = queues
        .receive(PLAIN, 10, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        bodies(&again),
        ["b"],
        "only the undeleted message comes back"
    );
    queues
        .delete(PLAIN, &[received[1].receipt_handle.clone()])
        .await
        .unwrap();
    assert_eq!(
        queues.depth(PLAIN).await.unwrap().in_flight,
        1,
        "a stale receipt deletes nothing"
    );
}

pub async fn after_max_receive_count_a_message_moves_to_the_dlq(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues.send(JOBS, vec![message("poison")]).await.unwrap();
    for count in 1..=2 {
        let received = queues
            .receive(JOBS, 1, Some(Duration::ZERO), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            (bodies(&received), received[0].receive_count),
            (vec!["poison"], count)
        );
    }
    assert!(
        queues
            .receive(JOBS, 1, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "the third receive moves it away"
    );
    let dead = queues
        .receive(JOBS_DLQ, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&dead), ["poison"]);
    assert_eq!(dead[0].origin, "queue:jobs");
    assert_eq!(
        dead[0].error.as_deref(),
        Some("received 2 times without being deleted (max_receive_count = 2)")
    );
}

pub async fn change_visibility_brings_a_message_back_when_asked(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues.send(PLAIN, vec![message("a")]).await.unwrap();
    let received = queues
        .receive(PLAIN, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    queues
        .change_visibility(PLAIN, &received[0].receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        bodies(
            &queues
                .receive(PLAIN, 1, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["a"]
    );
    let stale = queues
        .change_visibility(PLAIN, &received[0].receipt_handle, Duration::ZERO)
        .await;
    assert!(stale.is_err(), "the first receipt is no longer current");
}

pub async fn dead_letter_moves_a_message_now_with_its_reason(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues.send(JOBS, vec![message("bad")]).await.unwrap();
    let received = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    queues
        .dead_letter(JOBS, &received[0].receipt_handle, "the consumer refused it")
        .await
        .unwrap();
    assert_eq!(queues.depth(JOBS).await.unwrap(), Depth::default());
    let dead = queues
        .receive(JOBS_DLQ, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead[0].error.as_deref(), Some("the consumer refused it"));
    queues.send(PLAIN, vec![message("x")]).await.unwrap();
    let plain = queues
        .receive(PLAIN, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert!(
        queues
            .dead_letter(PLAIN, &plain[0].receipt_handle, "no")
            .await
            .is_err(),
        "a queue without a DLQ refuses"
    );
}

pub async fn a_delayed_message_stays_hidden_for_the_delay(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    let started = std::time::Instant::now();
    queues.send(DELAYED, vec![message("later")]).await.unwrap();
    assert!(
        queues
            .receive(DELAYED, 1, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(queues.depth(DELAYED).await.unwrap().delayed, 1);
    let received = queues
        .receive(DELAYED, 1, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(bodies(&received), ["later"]);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

pub async fn a_long_poll_wakes_when_a_message_is_sent(queues: &dyn Queues, _: &dyn Checkpoints) {
    let started = std::time::Instant::now();
    let (received, ()) = tokio::join!(
        queues.receive(PLAIN, 10, None, Duration::from_secs(20)),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            queues.send(PLAIN, vec![message("hello")]).await.unwrap();
        }
    );
    assert_eq!(bodies(&received.unwrap()), ["hello"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the send, not the wait: {:?}",
        started.elapsed()
    );
}

pub async fn a_fifo_queue_keeps_order_per_group_and_holds_a_group_in_flight(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues
        .send(
            ORDERED,
            vec![
                grouped("a1", "a"),
                grouped("b1", "b"),
                grouped("a2", "a"),
                grouped("b2", "b"),
            ],
        )
        .await
        .unwrap();
    let first = queues
        .receive(ORDERED, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a1"]);
    // Group a is in flight: only group b can be received, in order.
    let next = queues
        .receive(ORDERED, 10, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&next), ["b1", "b2"]);
    queues
        .delete(ORDERED, &[first[0].receipt_handle.clone()])
        .await
        .unwrap();
    assert_eq!(
        bodies(
            &queues
                .receive(ORDERED, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["a2"]
    );
}

pub async fn a_fifo_queue_drops_duplicates_within_five_minutes(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    let first = queues
        .send(ORDERED, vec![grouped("same", "g")])
        .await
        .unwrap();
    let again = queues
        .send(ORDERED, vec![grouped("same", "g")])
        .await
        .unwrap();
    assert_eq!(first, again, "the duplicate gets the first message's id");
    let with_id = NewMessage {
        deduplication_id: Some("d-1".into()),
        ..grouped("other", "g")
    };
    queues
        .send(ORDERED, vec![with_id.clone(), with_id])
        .await
        .unwrap();
    assert_eq!(queues.depth(ORDERED).await.unwrap().visible, 2);
}

pub async fn delivery_and_checkpoint_commit_together(
    queues: &dyn Queues,
    checkpoints: &dyn Checkpoints,
) {
    let shard = ShardId("s-1".into());
    assert_eq!(checkpoints.checkpoint("p", &shard).await.unwrap(), None);
    let checkpoint = Checkpoint {
        pipe: "p".into(),
        shard: shard.clone(),
        sequence: SequenceNumber::from_u64(7),
    };
    let delivery = super::Delivery {
        messages: vec![(PLAIN, message("x")), (JOBS, message("y"))],
        archived: vec![],
        checkpoint: Some(checkpoint),
    };
    checkpoints.deliver(delivery).await.unwrap();
    assert_eq!(
        checkpoints.checkpoint("p", &shard).await.unwrap(),
        Some(SequenceNumber::from_u64(7))
    );
    assert_eq!(
        bodies(
            &queues
                .receive(PLAIN, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["x"]
    );
    assert_eq!(
        bodies(
            &queues
                .receive(JOBS, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["y"]
    );
    assert_eq!(
        checkpoints.checkpoint("other", &shard).await.unwrap(),
        None,
        "checkpoints are per pipe"
    );
}

pub async fn a_dead_letter_can_be_inspected_and_moved_back(
    queues: &dyn Queues,
    _: &dyn Checkpoints,
) {
    queues.send(JOBS, vec![message("bad")]).await.unwrap();
    let received = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    queues
        .dead_letter(JOBS, &received[0].receipt_handle, "refused")
        .await
        .unwrap();
    let dead = queues.peek(JOBS_DLQ, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].body.as_str(),
            dead[0].origin.as_str(),
            dead[0].error.as_deref()
        ),
        ("bad", "queue:jobs", Some("refused"))
    );
    assert_eq!(
        queues.find(JOBS_DLQ, &dead[0].message_id).await.unwrap(),
        Some(dead[0].clone())
    );
    assert_eq!(queues.find(JOBS, &dead[0].message_id).await.unwrap(), None);
    assert!(
        queues
            .move_message(JOBS_DLQ, &dead[0].message_id, JOBS)
            .await
            .unwrap()
    );
    assert!(
        !queues
            .move_message(JOBS_DLQ, &dead[0].message_id, JOBS)
            .await
            .unwrap(),
        "it is no longer there"
    );
    let back = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    assert_eq!(
        (back[0].body.as_str(), back[0].receive_count),
        ("bad", 1),
        "back as new"
    );
}
