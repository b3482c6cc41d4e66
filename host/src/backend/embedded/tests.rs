//! The embedded backend against the conformance suites, and what only it does.
use super::*;
use crate::backend::conformance;
use crate::backend::{NewMessage, Queues};
use crate::config::QueueId;

fn tables(view: StreamViewType) -> Vec<TableConfig> {
    conformance::tables(view)
}

async fn store(dir: &Path, view: StreamViewType) -> EmbeddedStore {
    EmbeddedStore::open(
        dir,
        &tables(view),
        &conformance::queues(),
        &conformance::buses(),
        "us-east-1",
    )
    .expect("the store opens in a temp dir")
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
            conformance::$name(&store, &store).await;
        }
    )*};
}

// The store and stream suite takes (Store, ChangeStream); the store is both.
conformance::store_cases!(conformance_tests);

// The queue suite takes (Queues, Handoff); the store is both.
conformance::queue_cases!(conformance_tests);
conformance::sqs_only_cases!(conformance_tests);

#[tokio::test]
async fn list_pages_through_items_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
    conformance::list_pages_through_items_in_key_order(&store).await;
}

#[tokio::test]
async fn a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
    conformance::a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released(
        &store, &store,
    )
    .await;
}

#[tokio::test]
async fn a_bus_archive_keeps_delivered_events_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
    conformance::a_bus_archive_keeps_delivered_events_in_order(&store).await;
}

#[tokio::test]
async fn keys_only_stream_records_carry_no_images() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::KeysOnly).await;
    conformance::stream_view_type_keys_only_carries_no_images(&store, &store).await;
}

#[tokio::test]
async fn items_and_records_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let first = store(dir.path(), StreamViewType::NewAndOldImages).await;
    conformance::write_orders(&first, 3).await;
    drop(first);
    let again = store(dir.path(), StreamViewType::NewAndOldImages).await;
    let page = again.list(TableId(0), None, 10).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let records = conformance::read_all(&again, TableId(0)).await;
    assert_eq!(records.len(), 3);
    // Sequence numbers go on from where they were, never reused.
    conformance::write_orders_from(&again, 3, 1).await;
    let records = conformance::read_all(&again, TableId(0)).await;
    assert_eq!(
        records[3].dynamodb.sequence_number,
        SequenceNumber::from_u64(4)
    );
}

#[tokio::test]
async fn trimming_drops_records_past_retention_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut tables = tables(StreamViewType::NewAndOldImages);
    tables[0].stream_retention = Duration::from_secs(60);
    let store = EmbeddedStore::open(dir.path(), &tables, &[], &[], "us-east-1").unwrap();
    conformance::write_orders(&store, 2).await;
    // Age the first record past retention by hand; the clock cannot be moved for real.
    let path = store.path.clone();
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE stream SET created_ms = created_ms - 120000 WHERE seq = 1",
        [],
    )
    .unwrap();
    assert_eq!(store.trim_expired().await.unwrap(), 1);
    let records = conformance::read_all(&store, TableId(0)).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].dynamodb.sequence_number,
        SequenceNumber::from_u64(2)
    );
    assert_eq!(store.trim_expired().await.unwrap(), 0);
}

#[tokio::test]
async fn a_fifo_message_without_a_group_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
    let fifo = QueueId(3);
    let err = store
        .send(fifo, vec![NewMessage::new("{}", "test")])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`ordered.fifo` needs a group id"),
        "{err}"
    );
    let received = store.receive(fifo, 10, None, Duration::ZERO).await.unwrap();
    assert!(received.is_empty(), "nothing was sent: {received:?}");
}

/// A queue of the conformance routes without FIFO or DLQ.
const PLAIN: QueueId = QueueId(2);

/// A data dir whose queue `PLAIN` holds the message "kept", then taken back to an older layout
/// by `sql`; and its database file.
async fn older_layout(sql: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let first = store(dir.path(), StreamViewType::NewAndOldImages).await;
    first
        .send(PLAIN, vec![NewMessage::new("kept", "test")])
        .await
        .unwrap();
    let path = first.path.clone();
    drop(first);
    Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    (dir, path)
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_layout_1_database_is_brought_to_layout_2_and_keeps_its_messages() {
    // Put back what layout 1 had: an index on receipts and full FIFO indexes.
    let (dir, path) = older_layout(
        "DROP INDEX fifo_by_group; DROP INDEX fifo_in_order;
         CREATE INDEX messages_by_group ON messages (queue, group_id, id);
         CREATE INDEX messages_in_order ON messages (queue, id);
         CREATE INDEX messages_by_receipt ON messages (receipt);
         PRAGMA user_version = 1;",
    )
    .await;
    let again = store(dir.path(), StreamViewType::NewAndOldImages).await;
    let conn = Connection::open(&path).unwrap();
    let mut indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    indexes.sort();
    assert_eq!(
        indexes,
        ["fifo_by_group", "fifo_in_order", "messages_ready"]
    );
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let received = again
        .receive(PLAIN, 10, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, "kept");
    again
        .delete(PLAIN, &[received[0].receipt_handle.clone()])
        .await
        .unwrap();
    assert!(again.peek(PLAIN, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_layout_2_database_gains_message_attributes_and_keeps_its_messages() {
    // Put back what layout 2 had: no attributes, no first receive.
    let (dir, path) = older_layout(
        "ALTER TABLE messages DROP COLUMN attributes;
         ALTER TABLE messages DROP COLUMN first_received_ms;
         PRAGMA user_version = 2;",
    )
    .await;
    let again = store(dir.path(), StreamViewType::NewAndOldImages).await;
    let attributes = crate::backend::MessageAttributes::from([(
        "kind".to_string(),
        crate::backend::MessageAttribute {
            data_type: "String".into(),
            string_value: Some("new".into()),
            binary_value: None,
        },
    )]);
    let with = NewMessage {
        attributes: attributes.clone(),
        ..NewMessage::new("new", "test")
    };
    again.send(PLAIN, vec![with]).await.unwrap();
    let received = again
        .receive(PLAIN, 10, None, Duration::ZERO)
        .await
        .unwrap();
    let got: Vec<_> = received
        .iter()
        .map(|m| (m.body.as_str(), m.attributes.clone()))
        .collect();
    assert_eq!(
        got,
        [("kept", Default::default()), ("new", attributes)],
        "the old message has none, the new one its own"
    );
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

#[tokio::test]
async fn a_layout_3_database_has_its_plain_items_and_records_typed_and_keeps_them() {
    // Put back what layout 3 had: an item, its change record and an idempotent response in
    // plain JSON, one with a number DynamoDB cannot hold (older layouts took any double).
    let plain = r#"{"orderId":"o-1","version":1,"total":12.50,"huge":1e300,"lines":[{"sku":"a"}]}"#;
    let (dir, path) = older_layout(&format!(
        "INSERT INTO items (tbl, key, version, body) VALUES ('orders', 'o-1', 1, '{plain}');
         INSERT INTO stream (tbl, event, item_key, old_image, new_image, created_ms)
             VALUES ('orders', 'INSERT', 'o-1', NULL, '{plain}', 1);
         INSERT INTO idempotency (tbl, key, fingerprint, response, created_ms)
             VALUES ('orders', 'k-1', 'f-1', '{plain}', 1);
         PRAGMA user_version = 3;"
    ))
    .await;
    let again = store(dir.path(), StreamViewType::NewAndOldImages).await;
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let item = again
        .get(conformance::ORDERS, &"o-1".into())
        .await
        .unwrap()
        .unwrap();
    let typed = serde_json::json!({"orderId": {"S": "o-1"}, "version": {"N": "1"},
        "total": {"N": "12.5"}, "huge": {"S": "1e+300"}, "lines": {"L": [{"M": {"sku": {"S": "a"}}}]}});
    assert_eq!(serde_json::to_value(item.image()).unwrap(), typed);
    let records = conformance::read_all(&again, conformance::ORDERS).await;
    let image = records[0].dynamodb.new_image.as_ref().unwrap().as_str();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(image).unwrap(),
        typed
    );
    let response: String = Connection::open(&path)
        .unwrap()
        .query_row("SELECT response FROM idempotency", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&response).unwrap(),
        typed
    );
}

#[test]
fn a_cached_statement_is_not_prepared_again_when_bound_to_new_values() {
    // Without the planner's stability guarantee, SQLite peeks at a bound `LIMIT ?` and then
    // prepares the statement again every time that parameter is bound.
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&dir.path().join("switchyard.db")).unwrap();
    migrate(&conn).unwrap();
    let sql = "SELECT id FROM messages WHERE queue = ?1 AND visible_at_ms <= ?2 LIMIT ?3";
    for n in 1..=3 {
        let mut stmt = conn.prepare_cached(sql).unwrap();
        let rows = stmt.query_map(params!["q", n, n], |_| Ok(())).unwrap();
        assert_eq!(rows.count(), 0);
    }
    let stmt = conn.prepare_cached(sql).unwrap();
    assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
}

#[tokio::test]
async fn a_written_or_read_item_carries_its_stored_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
    let order = conformance::order("o-1", 1, 10);
    let text = serde_json::to_string(order.image()).unwrap();
    let written = store
        .write(
            conformance::ORDERS,
            Write::Create {
                item: order,
                idempotency: None,
            },
        )
        .await
        .unwrap();
    let Written::Created(created) = written else {
        panic!("a create of a new key creates: {written:?}");
    };
    assert_eq!(created.text(), text);
    let read = store
        .get(conformance::ORDERS, &"o-1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.text(), text);
    assert_eq!(read, created);
}
