//! Tables keyed by a partition key and a sort key, as DynamoDB's HASH + RANGE tables: items
//! are addressed by both, a partition's items come back in sort-key order (numbers by value),
//! change records carry both keys, and a put overwrites.

use serde_json::json;

use super::{LEDGER, read_all};
use crate::backend::{ChangeStream, Item, Store, StoreError, Write, Written};
use crate::config::{Key, KeyValue};
use crate::record::{AttributeValue, EventName};

/// An entry of the `ledger` table: partition `account`, sort key `seq` (a number).
pub fn entry(account: &str, seq: &str, version: u64, amount: i64) -> Item {
    let body = json!({
        "account": account,
        "seq": serde_json::from_str::<serde_json::Value>(seq).unwrap(),
        "version": version,
        "amount": amount,
    });
    Item::from_plain(
        entry_key(account, seq),
        version,
        body.as_object().expect("an object"),
    )
    .expect("a DynamoDB item")
}

pub fn entry_key(account: &str, seq: &str) -> Key {
    Key {
        partition: KeyValue::S(account.into()),
        sort: Some(KeyValue::N(seq.into())),
    }
}

fn create(item: Item) -> Write {
    Write::Create {
        item,
        idempotency: None,
    }
}

pub async fn an_item_of_a_composite_key_is_addressed_by_both_keys(
    store: &dyn Store,
    stream: &dyn ChangeStream,
) {
    store
        .write(LEDGER, create(entry("a-1", "1", 1, 10)))
        .await
        .unwrap();
    store
        .write(LEDGER, create(entry("a-1", "2", 1, 20)))
        .await
        .unwrap();
    // The same sort key in another partition is another item.
    store
        .write(LEDGER, create(entry("a-2", "1", 1, 30)))
        .await
        .unwrap();
    let again = store.write(LEDGER, create(entry("a-1", "2", 1, 99))).await;
    assert_eq!(
        again,
        Err(StoreError::Exists {
            key: "a-1/2".into()
        })
    );
    let get = |account: &'static str, seq: &'static str| async move {
        store.get(LEDGER, &entry_key(account, seq)).await.unwrap()
    };
    assert_eq!(get("a-1", "2").await, Some(entry("a-1", "2", 1, 20)));
    assert_eq!(get("a-2", "1").await, Some(entry("a-2", "1", 1, 30)));
    assert_eq!(get("a-2", "2").await, None);

    let replaced = store
        .write(
            LEDGER,
            Write::Replace {
                item: entry("a-1", "2", 2, 21),
                expected_version: 1,
            },
        )
        .await;
    assert_eq!(replaced, Ok(Written::Replaced(entry("a-1", "2", 2, 21))));
    let deleted = store
        .write(
            LEDGER,
            Write::Delete {
                key: entry_key("a-1", "1"),
                expected_version: Some(1),
            },
        )
        .await;
    assert_eq!(deleted, Ok(Written::Deleted(entry("a-1", "1", 1, 10))));
    assert_eq!(get("a-1", "1").await, None);
    assert_eq!(get("a-1", "2").await, Some(entry("a-1", "2", 2, 21)));

    // Each record's Keys carries both key attributes, typed as the table declares them.
    let records = read_all(stream, LEDGER).await;
    let events: Vec<_> = records.iter().map(|r| r.event_name).collect();
    assert_eq!(
        events,
        [
            EventName::Insert,
            EventName::Insert,
            EventName::Insert,
            EventName::Modify,
            EventName::Remove
        ]
    );
    let keys = &records[4].dynamodb.keys;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys["account"], AttributeValue::S("a-1".into()));
    assert_eq!(keys["seq"], AttributeValue::N("1".into()));
}

/// A Query: one partition's items in sort-key order, numbers by value, page by page.
pub async fn a_partition_pages_in_sort_key_order(store: &dyn Store, _: &dyn ChangeStream) {
    for seq in ["10", "-5", "2", "100", "2.5", "-0.5"] {
        store
            .write(LEDGER, create(entry("a-1", seq, 1, 1)))
            .await
            .unwrap();
    }
    store
        .write(LEDGER, create(entry("a-0", "1", 1, 1)))
        .await
        .unwrap();
    store
        .write(LEDGER, create(entry("a-10", "1", 1, 1)))
        .await
        .unwrap();
    let partition = KeyValue::S("a-1".into());
    let mut seen = Vec::new();
    let mut after: Option<Key> = None;
    loop {
        let page = store
            .query(LEDGER, &partition, after.as_ref(), 4)
            .await
            .unwrap();
        assert!(page.items.len() <= 4);
        for item in &page.items {
            assert_eq!(
                item.key().partition,
                partition,
                "only the partition's items"
            );
            seen.push(item.key().sort.clone().map(|s| s.text().to_string()));
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let seen: Vec<_> = seen.into_iter().flatten().collect();
    assert_eq!(seen, ["-5", "-0.5", "2", "2.5", "10", "100"]);
    let empty = store
        .query(LEDGER, &KeyValue::S("a-9".into()), None, 4)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next_after.is_none());
}

/// PutItem: a new key is an INSERT, a taken one is overwritten as a MODIFY with its old image.
pub async fn a_put_creates_or_overwrites(store: &dyn Store, stream: &dyn ChangeStream) {
    let first = store
        .write(
            LEDGER,
            Write::Put {
                item: entry("a-1", "1", 1, 10),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        Written::Put {
            item: entry("a-1", "1", 1, 10),
            old: None
        }
    );
    let second = store
        .write(
            LEDGER,
            Write::Put {
                item: entry("a-1", "1", 1, 20),
            },
        )
        .await
        .unwrap();
    let Written::Put { item, old } = second else {
        panic!("a put is written as a put: {second:?}");
    };
    assert_eq!(item.version(), 2);
    assert_eq!(item.plain()["amount"], json!(20));
    assert_eq!(old.map(|o| o.plain()["amount"].clone()), Some(json!(10)));
    let stored = store.get(LEDGER, &entry_key("a-1", "1")).await.unwrap();
    assert_eq!(stored.map(|i| i.plain()["amount"].clone()), Some(json!(20)));

    let records = read_all(stream, LEDGER).await;
    let events: Vec<_> = records.iter().map(|r| r.event_name).collect();
    assert_eq!(events, [EventName::Insert, EventName::Modify]);
    let old = records[1].dynamodb.old_image.as_ref().map(|i| i.image());
    assert_eq!(
        old.map(|image| image["amount"].clone()),
        Some(AttributeValue::N("10".into()))
    );
}

/// TransactWriteItems: the writes commit together, or none does and the failed one is named.
pub async fn a_transaction_writes_all_or_nothing(store: &dyn Store, stream: &dyn ChangeStream) {
    store
        .write(LEDGER, create(entry("a-1", "1", 1, 10)))
        .await
        .unwrap();
    // The second write's version is stale: the first (a create) must not happen either.
    let refused = store
        .transact(vec![
            (LEDGER, create(entry("a-1", "2", 1, 20))),
            (
                LEDGER,
                Write::Replace {
                    item: entry("a-1", "1", 3, 11),
                    expected_version: 2,
                },
            ),
        ])
        .await;
    assert_eq!(
        refused.map(|w| w.len()),
        Err((
            1,
            StoreError::VersionMismatch {
                key: "a-1/1".into(),
                expected: 2,
                actual: 1
            }
        ))
    );
    assert_eq!(
        store.get(LEDGER, &entry_key("a-1", "2")).await.unwrap(),
        None
    );
    assert_eq!(read_all(stream, LEDGER).await.len(), 1);

    let written = store
        .transact(vec![
            (LEDGER, create(entry("a-1", "2", 1, 20))),
            (
                LEDGER,
                Write::Replace {
                    item: entry("a-1", "1", 2, 11),
                    expected_version: 1,
                },
            ),
            (
                LEDGER,
                Write::Put {
                    item: entry("a-2", "1", 1, 5),
                },
            ),
        ])
        .await
        .unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(
        store.get(LEDGER, &entry_key("a-1", "1")).await.unwrap(),
        Some(entry("a-1", "1", 2, 11))
    );
    let events: Vec<_> = read_all(stream, LEDGER)
        .await
        .iter()
        .map(|r| r.event_name)
        .collect();
    assert_eq!(
        events,
        [
            EventName::Insert,
            EventName::Insert,
            EventName::Modify,
            EventName::Insert
        ]
    );
}
