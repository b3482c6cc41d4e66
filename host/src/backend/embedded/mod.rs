//! The embedded backend: one SQLite database (WAL, `synchronous = FULL`) in the data dir. One
//! writer thread commits in groups (see `writer`); reads run on a few reader threads with their
//! own connections; a watch channel per table wakes stream readers on commit.

mod archive;
mod handoff;
mod queues;
mod typed;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

use super::{ChangeStream, Item, Page, Shard, ShardId, Store, StoreError, Write, Written};
use crate::config::{
    BusConfig, Config, Key, KeySchema, KeyValue, QueueConfig, StreamViewType, TableConfig, TableId,
};
use crate::record::{
    EventName, ImageText, SequenceNumber, StreamRecord, StreamRecordData, key_image,
};
use crate::telemetry;
use queues::QueueInfo;
pub use writer::CommitStats;
use writer::{Finish, Job, Writer};

/// Version of the database layout this build writes (`PRAGMA user_version`).
/// Layout 2 dropped the index on receipt handles (a handle names its row) and made the FIFO
/// indexes partial. Layout 3 keeps each message's attributes and first receive. Layout 4 keeps
/// items, change records' images and idempotent responses as DynamoDB JSON (typed), no longer
/// as plain JSON. Layout 5 keeps the trace header of the write with each change record and of
/// the sender with each message.
const SCHEMA_VERSION: i64 = 5;

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
    created_ms INTEGER NOT NULL,
    trace      TEXT
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

/// The largest write readiness tries after a commit failed.
const READINESS_PROBE_MAX: usize = 8 << 20;

/// Threads serving reads; each holds its own connection.
const READERS: usize = 4;

/// The embedded stream has one shard per table.
/// The one shard of each table's embedded stream.
pub const SHARD: &str = "shardId-00000000000000000000-embedded";

/// The ARN of a table's embedded stream, which its change records carry as `eventSourceARN`
/// and the DynamoDB Streams API on the host names the stream by.
pub fn stream_arn(region: &str, table: &str) -> String {
    format!("arn:aws:dynamodb:{region}:000000000000:table/{table}/stream/embedded")
}

/// What the store keeps of each table declared in routes.toml.
struct TableInfo {
    name: String,
    key: KeySchema,
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
    /// The writer's group commits, for `/metrics`.
    pub stats: CommitStats,
    failing: writer::Failing,
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
    /// The store for the tables, queues and buses of a routes.toml, in `data_dir`.
    pub fn open_for(data_dir: &Path, config: &Config) -> Result<EmbeddedStore, StoreError> {
        let (tables, queues, buses) = (&config.tables, &config.queues, &config.buses);
        EmbeddedStore::open(data_dir, tables, queues, buses, &config.aws.region)
    }

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
                arn: stream_arn(region, &table.name),
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
        let stats = CommitStats::default();
        let failing = writer::Failing::default();
        let writer = Writer {
            conn,
            tables: tables.clone(),
            stats: stats.clone(),
            failing: failing.clone(),
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
            stats,
            failing,
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

    /// The items whose storage text lies after `after` (and before `before`), in its order.
    async fn page(
        &self,
        table: TableId,
        after: String,
        before: Option<String>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let info = self.table(table);
        let (name, schema) = (info.name.clone(), info.key.clone());
        let rows = self
            .query(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT key, version, body FROM items WHERE tbl = ?1 AND key > ?2 AND (?3 IS NULL OR key < ?3) ORDER BY key LIMIT ?4",
                )?;
                let rows = stmt.query_map(params![name, after, before, limit as i64 + 1], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = rows.len() > limit;
        let items = rows
            .into_iter()
            .take(limit)
            .map(|(key, version, body)| item(schema.from_storage(&key), version, body))
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = if more {
            items.last().map(|i| i.key.clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    fn table(&self, table: TableId) -> &TableInfo {
        &self.tables[table.index()]
    }

    fn record(&self, table: &TableInfo, row: RecordRow) -> Result<StreamRecord, StoreError> {
        let image = |text: Option<String>| -> Result<Option<_>, StoreError> {
            text.map(|t| ImageText::stored(t).map_err(not_an_object))
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
                keys: key_image(&table.key, &table.key.from_storage(&row.key)),
                new_image: image(row.new)?,
                old_image: image(row.old)?,
                sequence_number: SequenceNumber::from_u64(row.seq),
                size_bytes,
                stream_view_type: table.view.as_str().to_string(),
            },
            event_source_arn: table.arn.clone(),
            trace: row.trace,
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
    trace: Option<String>,
}

/// One host owns the data dir; its buses route in the host, into one SQLite transaction per
/// batch that also keeps their archives; its one shard per table counts by sequence number.
impl crate::backend::Storage for EmbeddedStore {
    fn capabilities(&self) -> crate::backend::Capabilities {
        crate::backend::Capabilities {
            routes_events: false,
            atomic_handoff: true,
            keeps_archives: true,
            counts_lag: true,
            shared_leases: false,
            lists_in_key_order: true,
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, table: TableId, key: &Key) -> Result<Option<Item>, StoreError> {
        let (name, key) = (self.table(table).name.clone(), key.clone());
        let row = self
            .query(move |conn| {
                conn.prepare_cached("SELECT version, body FROM items WHERE tbl = ?1 AND key = ?2")?
                    .query_row(params![name, key.storage()], |row| {
                        Ok((key.clone(), row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                    })
                    .optional()
            })
            .await?;
        row.map(|(key, version, body)| item(key, version, body))
            .transpose()
    }

    async fn list(
        &self,
        table: TableId,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after = after.map(Key::storage).unwrap_or_default();
        self.page(table, after, None, limit).await
    }

    async fn query(
        &self,
        table: TableId,
        partition: &KeyValue,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after = after.map_or_else(|| Key::partition_start(partition), Key::storage);
        let before = Key::partition_end(partition);
        self.page(table, after, Some(before), limit).await
    }

    async fn write(&self, table: TableId, write: Write) -> Result<Written, StoreError> {
        if let Write::Create { item, .. } | Write::Replace { item, .. } = &write {
            item.text(); // made here, not on the one writer thread
        }
        let span = telemetry::write_span(&self.table(table).name, operation(&write));
        let trace = telemetry::header(&span);
        let written = self
            .submit(|reply| Job::Write {
                table: table.index(),
                write,
                trace,
                reply,
            })
            .instrument(span.clone())
            .await;
        let written = written.and_then(|written| written);
        match &written {
            Ok(_) => telemetry::outcome(&span, Ok("committed")),
            Err(err) => telemetry::outcome(&span, Err(err)),
        }
        written
    }

    async fn transact(
        &self,
        writes: Vec<(TableId, Write)>,
    ) -> Result<Vec<Written>, (usize, StoreError)> {
        let first = writes.first().map_or(TableId(0), |(table, _)| *table);
        let writes = writes
            .into_iter()
            .map(|(table, write)| {
                if let Write::Create { item, .. }
                | Write::Replace { item, .. }
                | Write::Put { item } = &write
                {
                    item.text();
                }
                (table.index(), write)
            })
            .collect();
        let span = telemetry::write_span(&self.table(first).name, "transact");
        let trace = telemetry::header(&span);
        let written = self
            .submit(|reply| Job::Transact {
                writes,
                trace,
                reply,
            })
            .instrument(span.clone())
            .await
            .map_err(|err| (0, err))
            .and_then(|written| written);
        match &written {
            Ok(_) => telemetry::outcome(&span, Ok("committed")),
            Err((_, err)) => telemetry::outcome(&span, Err(err)),
        }
        written
    }

    /// Ready when reads answer and writes commit. After a commit failed, a write as large as
    /// the failed one (made and undone in one transaction) tells whether they commit again.
    async fn ready(&self) -> Result<(), StoreError> {
        let failing = self
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(failure) = failing {
            let bytes = failure.bytes.clamp(1, READINESS_PROBE_MAX) as i64;
            self.apply(move |tx, now| {
                let key = params!["", "readiness probe"];
                tx.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?1, ?2, '', zeroblob(?3), ?4)",
                    params!["", "readiness probe", bytes, now],
                )?;
                tx.execute("DELETE FROM idempotency WHERE tbl = ?1 AND key = ?2", key)
            })
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!("writes do not commit: {}", failure.cause))
            })?;
        }
        self.query(|conn| conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
            .await
    }

    async fn trim_expired(&self) -> Result<u64, StoreError> {
        let (queues, archives) = (self.queues.clone(), self.archives.clone());
        let messages = self
            .apply(move |tx, now| {
                let trimmed = queues::trim(tx, &queues, now, writer::TRIM_BATCH)?;
                Ok(trimmed + archive::trim_archives(tx, &archives, now, writer::TRIM_BATCH)?)
            })
            .await?;
        Ok(self.submit(|reply| Job::Trim { reply }).await?? + messages)
    }
}

#[async_trait]
impl ChangeStream for EmbeddedStore {
    /// One shard per table, never closed.
    async fn shards(&self, _table: TableId) -> Result<Vec<Shard>, StoreError> {
        Ok(vec![Shard {
            id: ShardId(SHARD.to_string()),
            parent: None,
        }])
    }

    async fn latest(
        &self,
        table: TableId,
        _shard: &ShardId,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let last = *self.table(table).changed.borrow();
        Ok((last > 0).then(|| SequenceNumber::from_u64(last)))
    }

    /// SQLite's row ids: up to `i64::MAX`.
    fn holds(&self, seq: &SequenceNumber) -> bool {
        embedded_seq(seq).is_some()
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
            Some(seq) => embedded_seq(seq).ok_or_else(|| {
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
                        "SELECT seq, event, item_key, old_image, new_image, created_ms, trace FROM stream \
                         WHERE tbl = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                    )?;
                    let rows = stmt.query_map(params![name, after, limit as i64], |row| {
                        Ok(RecordRow {
                            seq: row.get::<_, i64>(0)? as u64,
                            event: row.get(1)?,
                            key: row.get(2)?,
                            old: row.get(3)?,
                            new: row.get(4)?,
                            created_ms: row.get(5)?,
                            trace: row.get(6)?,
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

/// The row id a sequence number of the embedded stream names, if it can name one.
fn embedded_seq(seq: &SequenceNumber) -> Option<i64> {
    seq.to_u64().and_then(|n| i64::try_from(n).ok())
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // The query planner's stability guarantee: plans never depend on bound values. Otherwise
    // SQLite peeks at a bound `LIMIT ?` and prepares the statement again whenever that
    // parameter is bound, which is on every use of a cached statement.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
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
    if version == 1 {
        conn.execute_batch(
            "DROP INDEX IF EXISTS messages_by_receipt; DROP INDEX IF EXISTS messages_by_group; \
             DROP INDEX IF EXISTS messages_in_order;",
        )
        .map_err(|e| e.to_string())?;
    }
    conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
    conn.execute_batch(queues::SCHEMA)
        .map_err(|e| e.to_string())?;
    queues::upgrade(conn).map_err(|e| e.to_string())?;
    queues::add_columns(conn, "stream", &[("trace", "TEXT")]).map_err(|e| e.to_string())?;
    conn.execute_batch(archive::SCHEMA)
        .map_err(|e| e.to_string())?;
    if (1..4).contains(&version) {
        typed::upgrade(conn).map_err(|e| e.to_string())?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| e.to_string())
}

/// The operation a write is, as its span names it.
fn operation(write: &Write) -> &'static str {
    match write {
        Write::Create { .. } => "create",
        Write::Put { .. } => "put",
        Write::Replace { .. } => "replace",
        Write::Delete { .. } => "delete",
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
        .map(drop)
        .map_err(|err| StoreError::Unavailable(format!("cannot start thread `{name}`: {err}")))
}

fn not_an_object(err: serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("stored item is not a JSON object: {err}"))
}

fn item(key: Key, version: i64, text: String) -> Result<Item, StoreError> {
    Item::from_text(key, version as u64, text).map_err(not_an_object)
}

/// An item rebuilt from its stored image (key and version are attributes of it).
fn item_from_body(table: &TableInfo, body: &str) -> rusqlite::Result<Item> {
    let image = serde_json::from_str(body).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })?;
    Ok(Item::from_image(&table.key, image))
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
mod tests;
