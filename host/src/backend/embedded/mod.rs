//! The embedded backend: one SQLite database (WAL, `synchronous = FULL`) in the data dir. One
//! writer thread commits in groups (see `writer`); reads run on a few reader threads with their
//! own connections; a watch channel per table wakes stream readers on commit.

mod queues;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use tokio::sync::{oneshot, watch};

use super::{
    Archived, Archives, ChangeStream, Checkpoint, Checkpoints, Delivery, Depth, Item, NewMessage,
    Page, Queues, Received, ShardId, Store, StoreError, Stored, Write, Written,
};
use crate::config::{BusConfig, BusId, QueueConfig, QueueId, StreamViewType, TableConfig, TableId};
use crate::record::{
    AttributeValue, EventName, SequenceNumber, StreamRecord, StreamRecordData, image_of,
};
use queues::QueueInfo;
use writer::{Finish, Job, Writer};

/// Version of the database layout this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl     TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl        TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    item_key   TEXT    NOT NULL,
    old_image  TEXT,
    new_image  TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stream_by_table ON stream (tbl, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    tbl         TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    response    TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_ms);
";

/// Threads serving reads; each holds its own connection.
const READERS: usize = 4;

/// The embedded stream has one shard per table.
const SHARD: &str = "shardId-00000000000000000000-embedded";

/// What the store keeps of each table declared in routes.toml.
struct TableInfo {
    name: String,
    key: String,
    view: StreamViewType,
    retention: Duration,
    arn: String,
    /// The last sequence number committed for this table.
    changed: watch::Sender<u64>,
}

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The SQLite store; cheap to share behind an `Arc`.
pub struct EmbeddedStore {
    path: PathBuf,
    region: String,
    tables: Arc<[TableInfo]>,
    queues: Arc<[QueueInfo]>,
    /// Each bus's name and archive retention (`None`: no archive, or kept for ever).
    archives: Arc<[(String, Option<Duration>)]>,
    writes: flume::Sender<Job>,
    reads: flume::Sender<ReadJob>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the database in `data_dir` for the given tables.
    pub fn open(
        data_dir: &Path,
        tables: &[TableConfig],
        queues: &[QueueConfig],
        buses: &[BusConfig],
        region: &str,
    ) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot create data dir `{}`: {err}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join("switchyard.db");
        let conn = connect(&path).map_err(|err| unavailable(&path, err))?;
        migrate(&conn)
            .map_err(|err| StoreError::Unavailable(format!("{}: {err}", path.display())))?;

        let mut infos = Vec::with_capacity(tables.len());
        for table in tables {
            let last: u64 = conn
                .query_row(
                    "SELECT coalesce(max(seq), 0) FROM stream WHERE tbl = ?1",
                    [&table.name],
                    |row| row.get::<_, i64>(0),
                )
                .map_err(|err| unavailable(&path, err))? as u64;
            infos.push(TableInfo {
                name: table.name.clone(),
                key: table.key.clone(),
                view: table.stream_view_type,
                retention: table.stream_retention,
                arn: format!(
                    "arn:aws:dynamodb:{region}:000000000000:table/{}/stream/embedded",
                    table.name
                ),
                changed: watch::Sender::new(last),
            });
        }
        let tables: Arc<[TableInfo]> = infos.into();
        let queues: Arc<[QueueInfo]> = queues
            .iter()
            .map(|q| QueueInfo {
                name: q.name.clone(),
                visibility_timeout: q.visibility_timeout,
                retention: q.retention,
                delay: q.delay,
                redrive: q.redrive.map(|r| (r.dlq.index(), r.max_receive_count)),
                fifo: q.fifo,
                content_based_deduplication: q.content_based_deduplication,
                changed: watch::Sender::new(0),
            })
            .collect();

        let (writes, jobs) = flume::unbounded();
        let writer = Writer {
            conn,
            tables: tables.clone(),
        };
        spawn("switchyard-writer", move || writer.run(jobs))?;

        let (reads, read_jobs) = flume::unbounded::<ReadJob>();
        for i in 0..READERS {
            let conn = connect(&path).map_err(|err| unavailable(&path, err))?;
            conn.pragma_update(None, "query_only", true)
                .map_err(|err| unavailable(&path, err))?;
            let read_jobs = read_jobs.clone();
            spawn(&format!("switchyard-reader-{i}"), move || {
                for job in read_jobs.iter() {
                    job(&conn);
                }
            })?;
        }
        Ok(EmbeddedStore {
            path,
            region: region.to_string(),
            tables,
            queues,
            archives: buses
                .iter()
                .map(|b| (b.name.clone(), b.archive.as_ref().and_then(|a| a.retention)))
                .collect(),
            writes,
            reads,
        })
    }

    /// Runs `query` on a reader connection.
    async fn query<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| drop(reply.send(query(conn))));
        self.reads.send_async(job).await.map_err(|_| closed())?;
        let path = self.path.clone();
        answer
            .await
            .map_err(|_| closed())?
            .map_err(|err| unavailable(&path, err))
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<T>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send_async(job(reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())
    }

    /// Runs `work` in the writer's next group transaction; returns its result once committed.
    async fn apply<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job::Apply(Box::new(move |conn, now| {
            let value = work(conn, now)?;
            Ok(Box::new(move || drop(reply.send(value))) as Finish)
        }));
        self.writes.send_async(job).await.map_err(|_| closed())?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the transaction did not commit".into()))
    }

    fn table(&self, table: TableId) -> &TableInfo {
        &self.tables[table.index()]
    }

    fn record(&self, table: &TableInfo, row: RecordRow) -> Result<StreamRecord, StoreError> {
        let image = |text: &Option<String>| -> Result<Option<_>, StoreError> {
            text.as_deref()
                .map(|t| parse_body(t).map(|body| image_of(&body)))
                .transpose()
        };
        let size_bytes = (row.key.len()
            + row.old.as_ref().map_or(0, String::len)
            + row.new.as_ref().map_or(0, String::len)) as u64;
        let event_name = EventName::parse(&row.event).ok_or_else(|| {
            StoreError::Unavailable(format!("unknown event `{}` in stream", row.event))
        })?;
        Ok(StreamRecord {
            event_id: event_id(&table.name, row.seq),
            event_name,
            event_version: "1.1".to_string(),
            event_source: "aws:dynamodb".to_string(),
            aws_region: self.region.clone(),
            dynamodb: StreamRecordData {
                approximate_creation_date_time: row.created_ms.div_euclid(1000),
                keys: [(table.key.clone(), AttributeValue::S(row.key))].into(),
                new_image: image(&row.new)?,
                old_image: image(&row.old)?,
                sequence_number: SequenceNumber::from_u64(row.seq),
                size_bytes,
                stream_view_type: table.view.as_str().to_string(),
            },
            event_source_arn: table.arn.clone(),
        })
    }
}

struct RecordRow {
    seq: u64,
    event: String,
    key: String,
    old: Option<String>,
    new: Option<String>,
    created_ms: i64,
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, table: TableId, key: &str) -> Result<Option<Item>, StoreError> {
        let (name, key) = (self.table(table).name.clone(), key.to_string());
        let row = self
            .query(move |conn| {
                conn.prepare_cached("SELECT version, body FROM items WHERE tbl = ?1 AND key = ?2")?
                    .query_row(params![name, key], |row| {
                        Ok((key.clone(), row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })
                    .optional()
            })
            .await?;
        row.map(|(key, version, body)| item(key, version, &body))
            .transpose()
    }

    async fn list(
        &self,
        table: TableId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (name, after) = (
            self.table(table).name.clone(),
            after.unwrap_or("").to_string(),
        );
        let rows = self
            .query(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT key, version, body FROM items WHERE tbl = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![name, after, limit as i64 + 1], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(key, version, body)| item(key, version, &body))
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = if more {
            items.last().map(|i| i.key.clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    async fn write(&self, table: TableId, write: Write) -> Result<Written, StoreError> {
        self.submit(|reply| Job::Write {
            table: table.index(),
            write,
            reply,
        })
        .await?
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.query(|conn| conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
            .await
    }

    async fn trim_expired(&self) -> Result<u64, StoreError> {
        let (queues, archives) = (self.queues.clone(), self.archives.clone());
        let messages = self
            .apply(move |tx, now| {
                let trimmed = queues::trim(tx, &queues, now, writer::TRIM_BATCH)?;
                Ok(trimmed + queues::trim_archives(tx, &archives, now, writer::TRIM_BATCH)?)
            })
            .await?;
        Ok(self.submit(|reply| Job::Trim { reply }).await?? + messages)
    }
}

#[async_trait]
impl ChangeStream for EmbeddedStore {
    async fn shards(&self, _table: TableId) -> Result<Vec<ShardId>, StoreError> {
        Ok(vec![ShardId(SHARD.to_string())])
    }

    async fn latest(
        &self,
        table: TableId,
        _shard: &ShardId,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let last = *self.table(table).changed.borrow();
        Ok((last > 0).then(|| SequenceNumber::from_u64(last)))
    }

    async fn read(
        &self,
        table: TableId,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<StreamRecord>, StoreError> {
        if shard.0 != SHARD {
            return Err(StoreError::Unavailable(format!(
                "no shard `{}` in the embedded stream",
                shard.0
            )));
        }
        let after = match after {
            None => 0,
            Some(seq) => seq.to_u64().ok_or_else(|| {
                StoreError::Unavailable(format!("`{seq}` is not an embedded sequence number"))
            })?,
        };
        let info = self.table(table);
        let mut commits = info.changed.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Mark the current commit as seen before reading, so a commit that lands after the
            // read wakes the wait below.
            commits.borrow_and_update();
            let name = info.name.clone();
            let rows = self
                .query(move |conn| {
                    let mut stmt = conn.prepare_cached(
                        "SELECT seq, event, item_key, old_image, new_image, created_ms FROM stream \
                         WHERE tbl = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                    )?;
                    let rows =
                        stmt.query_map(params![name, after as i64, limit as i64], |row| {
                            Ok(RecordRow {
                                seq: row.get::<_, i64>(0)? as u64,
                                event: row.get(1)?,
                                key: row.get(2)?,
                                old: row.get(3)?,
                                new: row.get(4)?,
                                created_ms: row.get(5)?,
                            })
                        })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                })
                .await?;
            if !rows.is_empty() {
                return rows.into_iter().map(|row| self.record(info, row)).collect();
            }
            match tokio::time::timeout_at(deadline, commits.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return Ok(Vec::new()),
            }
        }
    }
}

#[async_trait]
impl Queues for EmbeddedStore {
    async fn send(
        &self,
        queue: QueueId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<String>, StoreError> {
        let queues = self.queues.clone();
        let ids = self
            .apply(move |tx, now| queues::send(tx, &queues[queue.index()], &messages, now))
            .await?;
        self.queues[queue.index()].bump();
        Ok(ids)
    }

    async fn receive(
        &self,
        queue: QueueId,
        max: usize,
        visibility: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<Received>, StoreError> {
        let info = &self.queues[queue.index()];
        let visibility = visibility.unwrap_or(info.visibility_timeout);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut changed = info.changed.subscribe();
            changed.borrow_and_update();
            let queues = self.queues.clone();
            let received = self
                .apply(move |tx, now| {
                    queues::receive(tx, &queues, queue.index(), max, visibility, now)
                })
                .await?;
            if let Some((dlq, _)) = info.redrive {
                self.queues[dlq].bump();
            }
            let now = tokio::time::Instant::now();
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            // Sleep until a send, or until a hidden message becomes visible, or the deadline.
            let name = info.name.clone();
            let next = self
                .query(move |conn| queues::next_visible(conn, &name, now_ms()))
                .await?;
            let wake = next.map_or(deadline, |at| {
                deadline.min(now + Duration::from_millis((at - now_ms()).max(1) as u64))
            });
            let _ = tokio::time::timeout_at(wake, changed.changed()).await;
        }
    }

    async fn delete(&self, queue: QueueId, receipts: &[String]) -> Result<(), StoreError> {
        let (queues, receipts) = (self.queues.clone(), receipts.to_vec());
        self.apply(move |tx, _| queues::delete(tx, &queues[queue.index()], &receipts))
            .await?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue: QueueId,
        receipt: &str,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let (queues, receipt) = (self.queues.clone(), receipt.to_string());
        let changed = self
            .apply(move |tx, now| {
                queues::change_visibility(tx, &queues[queue.index()], &receipt, timeout, now)
            })
            .await?;
        self.queues[queue.index()].bump();
        if changed {
            Ok(())
        } else {
            Err(StoreError::Refused(
                "the receipt handle is not current".into(),
            ))
        }
    }

    async fn dead_letter(
        &self,
        queue: QueueId,
        receipt: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let info = &self.queues[queue.index()];
        let Some((dlq, _)) = info.redrive else {
            return Err(StoreError::Refused(format!(
                "queue `{}` has no dead-letter queue",
                info.name
            )));
        };
        let (queues, receipt, reason) =
            (self.queues.clone(), receipt.to_string(), reason.to_string());
        let moved = self
            .apply(move |tx, now| {
                queues::dead_letter(tx, &queues, queue.index(), &receipt, &reason, now)
            })
            .await?;
        self.queues[dlq].bump();
        if moved {
            Ok(())
        } else {
            Err(StoreError::Refused(
                "the receipt handle is not current".into(),
            ))
        }
    }

    async fn depth(&self, queue: QueueId) -> Result<Depth, StoreError> {
        let name = self.queues[queue.index()].name.clone();
        self.query(move |conn| queues::depth(conn, &name, now_ms()))
            .await
    }

    async fn peek(&self, queue: QueueId, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let name = self.queues[queue.index()].name.clone();
        self.query(move |conn| queues::peek(conn, &name, limit))
            .await
    }

    async fn find(&self, queue: QueueId, message_id: &str) -> Result<Option<Stored>, StoreError> {
        let (name, id) = (
            self.queues[queue.index()].name.clone(),
            message_id.to_string(),
        );
        self.query(move |conn| queues::find(conn, &name, &id)).await
    }

    async fn move_message(
        &self,
        from: QueueId,
        message_id: &str,
        to: QueueId,
    ) -> Result<bool, StoreError> {
        let from_name = self.queues[from.index()].name.clone();
        let to_name = self.queues[to.index()].name.clone();
        let id = message_id.to_string();
        let moved = self
            .apply(move |tx, now| queues::move_message(tx, &from_name, &id, &to_name, now))
            .await?;
        self.queues[to.index()].bump();
        Ok(moved)
    }
}

#[async_trait]
impl Checkpoints for EmbeddedStore {
    async fn checkpoint(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let (pipe, shard) = (pipe.to_string(), shard.0.clone());
        Ok(self
            .query(move |conn| queues::read_checkpoint(conn, &pipe, &shard))
            .await?
            .map(SequenceNumber))
    }

    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError> {
        let (queues, archives) = (self.queues.clone(), self.archives.clone());
        let touched: Vec<usize> = delivery.messages.iter().map(|(q, _)| q.index()).collect();
        self.apply(move |tx, now| {
            for (queue, message) in &delivery.messages {
                queues::send(
                    tx,
                    &queues[queue.index()],
                    std::slice::from_ref(message),
                    now,
                )?;
            }
            for (bus, event) in &delivery.archived {
                queues::archive(tx, &archives[bus.index()].0, event, now)?;
            }
            if let Some(Checkpoint {
                pipe,
                shard,
                sequence,
            }) = &delivery.checkpoint
            {
                queues::checkpoint(tx, pipe, &shard.0, sequence.as_str())?;
            }
            Ok(())
        })
        .await?;
        for queue in touched {
            self.queues[queue].bump();
        }
        Ok(())
    }
}

#[async_trait]
impl Archives for EmbeddedStore {
    async fn archived(
        &self,
        bus: BusId,
        from_ms: i64,
        to_ms: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Archived>, StoreError> {
        let name = self.archives[bus.index()].0.clone();
        self.query(move |conn| queues::archived(conn, &name, from_ms, to_ms, after, limit))
            .await
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
        row.get::<_, String>(0)
    })?;
    // FULL: a commit is on disk before any write in it is acknowledged (see README, Durability).
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), String> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if version > SCHEMA_VERSION {
        return Err(format!(
            "the database was written by a newer switchyard (layout {version}, this build knows {SCHEMA_VERSION})"
        ));
    }
    conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
    conn.execute_batch(queues::SCHEMA)
        .map_err(|e| e.to_string())?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| e.to_string())
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
        .map(drop)
        .map_err(|err| StoreError::Unavailable(format!("cannot start thread `{name}`: {err}")))
}

fn parse_body(text: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(text)
        .map_err(|err| StoreError::Unavailable(format!("stored item is not a JSON object: {err}")))
}

fn item(key: String, version: i64, body: &str) -> Result<Item, StoreError> {
    Ok(Item {
        key,
        version: version as u64,
        body: parse_body(body)?,
    })
}

/// An item rebuilt from its stored body alone (key and version are attributes of it).
fn item_from_body(table: &TableInfo, body: &str) -> rusqlite::Result<Item> {
    let body = parse_body(body).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })?;
    let key = body
        .get(&table.key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let version = body
        .get("version")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    Ok(Item { key, version, body })
}

/// A stable id for a change record, so a re-read record carries the same id.
fn event_id(table: &str, seq: u64) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("switchyard/{table}/{seq}").as_bytes(),
    )
    .simple()
    .to_string()
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn unavailable(path: &Path, err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {err}", path.display()))
}

fn closed() -> StoreError {
    StoreError::Unavailable("the embedded store has shut down".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::conformance;

    fn tables(view: StreamViewType) -> Vec<TableConfig> {
        conformance::tables(view)
    }

    async fn store(dir: &Path, view: StreamViewType) -> EmbeddedStore {
        EmbeddedStore::open(dir, &tables(view), &conformance::queues(), &[], "us-east-1")
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

    conformance_tests!(
        create_then_get_returns_the_item,
        create_of_an_existing_key_fails_and_writes_no_record,
        replace_and_delete_check_the_version,
        every_write_appends_one_record_in_order,
        records_carry_old_and_new_images,
        idempotent_create_replays_the_first_result,
        list_pages_through_items_in_key_order,
        a_stream_read_waits_for_the_next_commit,
        concurrent_writes_all_commit_with_increasing_sequence_numbers,
        tables_are_kept_apart,
    );

    macro_rules! queue_conformance_tests {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let store = store(dir.path(), StreamViewType::NewAndOldImages).await;
                conformance::$name(&store, &store).await;
            }
        )*};
    }

    queue_conformance_tests!(
        a_received_message_is_hidden_until_its_visibility_timeout,
        a_deleted_message_is_gone_and_a_stale_receipt_is_ignored,
        after_max_receive_count_a_message_moves_to_the_dlq,
        change_visibility_brings_a_message_back_when_asked,
        dead_letter_moves_a_message_now_with_its_reason,
        a_delayed_message_stays_hidden_for_the_delay,
        a_long_poll_wakes_when_a_message_is_sent,
        a_fifo_queue_keeps_order_per_group_and_holds_a_group_in_flight,
        a_fifo_queue_drops_duplicates_within_five_minutes,
        delivery_and_checkpoint_commit_together,
        a_dead_letter_can_be_inspected_and_moved_back,
    );

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
}
