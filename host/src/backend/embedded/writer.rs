//! The one writer of the embedded database. Writes queue up while a commit is being synced; the
//! next transaction takes every queued write at once (group commit), so N concurrent writers
//! share one fsync. Each write's change record is appended in the same transaction.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::{TableInfo, now_ms};
use crate::backend::{IDEMPOTENCY_TTL, Idempotency, Item, StoreError, Write, Written};
use crate::config::Key;
use crate::record::EventName;

/// Most writes one transaction takes; bounds the latency one commit adds to the writes in it.
const MAX_GROUP: usize = 512;

/// Rows removed by one trim pass per table, so that trimming never holds the writer for long.
pub(super) const TRIM_BATCH: i64 = 5_000;

pub(super) enum Job {
    Write {
        table: usize,
        /// The item's JSON text is made by the caller (see [`Item::text`]), so that the one
        /// writer thread does not serialize it.
        write: Write,
        /// The trace header of the write's span, kept with its change record.
        trace: Option<String>,
        reply: oneshot::Sender<Result<Written, StoreError>>,
    },
    /// Writes that commit all or none: the first that fails (by its index) undoes the others.
    Transact {
        writes: Vec<(usize, Write)>,
        trace: Option<String>,
        reply: oneshot::Sender<Result<Vec<Written>, (usize, StoreError)>>,
    },
    Trim {
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Any other work in the group transaction; what it returns runs after the commit (it sends
    /// the reply). If the commit fails it never runs, and its reply channel just closes.
    Apply(Apply),
}

impl Job {
    /// The item text a job writes.
    fn item_bytes(&self) -> usize {
        let bytes = |write: &Write| match write {
            Write::Create { item, .. } | Write::Put { item } | Write::Replace { item, .. } => {
                item.text().len()
            }
            Write::Delete { .. } => 0,
        };
        match self {
            Job::Write { write, .. } => bytes(write),
            Job::Transact { writes, .. } => writes.iter().map(|(_, w)| bytes(w)).sum(),
            Job::Trim { .. } | Job::Apply(_) => 0,
        }
    }
}

pub(super) type Apply = Box<dyn FnOnce(&Connection, i64) -> rusqlite::Result<Finish> + Send>;
pub(super) type Finish = Box<dyn FnOnce() + Send>;

enum Outcome {
    Write(Result<Done, StoreError>),
    Transact(Result<Vec<Done>, (usize, StoreError)>),
    Trim(u64),
    Apply(Finish),
}

pub(super) struct Writer {
    pub conn: Connection,
    pub tables: Arc<[TableInfo]>,
    pub stats: CommitStats,
    pub failing: Failing,
}

/// Why the writer's last commit that wrote anything failed (a full disk, say); `None` once one
/// succeeds. Readiness reads it: a store whose writes cannot commit is not ready.
pub(super) type Failing = Arc<std::sync::Mutex<Option<Failure>>>;

#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub cause: String,
    /// The most item text the failed commits carried: a write that size must commit before
    /// the store is ready again, since a small one may fit where a large one does not.
    pub bytes: usize,
}

/// How well group commit groups: transactions committed, and the jobs they carried.
#[derive(Debug, Clone, Default)]
pub struct CommitStats {
    pub transactions: Counter,
    pub jobs: Counter,
}

impl Writer {
    /// Runs until every sender of `jobs` is gone and the queue is drained.
    pub fn run(mut self, jobs: flume::Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut group = Vec::with_capacity(16);
            group.push(first);
            group.extend(jobs.try_iter().take(MAX_GROUP - 1));
            self.commit(group);
        }
    }

    fn commit(&mut self, group: Vec<Job>) {
        let mut last_seq: Vec<Option<u64>> = vec![None; self.tables.len()];
        let mut group = group;
        let changes = self.conn.total_changes();
        let result = apply_group(&mut self.conn, &self.tables, &mut group, &mut last_seq);
        // A commit that changed nothing wrote nothing, and says nothing of the disk.
        let wrote = self.conn.total_changes() != changes;
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) if !wrote => {}
            Ok(_) => *failing = None,
            Err(err) => {
                let bytes = group.iter().map(Job::item_bytes).sum::<usize>();
                let bytes = bytes.max(failing.as_ref().map_or(0, |f| f.bytes));
                *failing = Some(Failure {
                    cause: err.to_string(),
                    bytes,
                });
            }
        }
        drop(failing);
        if result.is_ok() {
            self.stats.transactions.inc();
            self.stats.jobs.inc_by(group.len() as u64);
            for (table, seq) in self.tables.iter().zip(&last_seq) {
                if let Some(seq) = seq {
                    table.changed.send_replace(*seq);
                }
            }
        }
        match result {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    match (job, outcome) {
                        (Job::Write { write, reply, .. }, Outcome::Write(result)) => {
                            drop(reply.send(result.map(|done| done.written(write))))
                        }
                        (Job::Transact { writes, reply, .. }, Outcome::Transact(result)) => {
                            let written = result.map(|done| {
                                done.into_iter()
                                    .zip(writes)
                                    .map(|(done, (_, write))| done.written(write))
                                    .collect()
                            });
                            drop(reply.send(written))
                        }
                        (Job::Trim { reply }, Outcome::Trim(n)) => drop(reply.send(Ok(n))),
                        (Job::Apply(_), Outcome::Apply(finish)) => finish(),
                        _ => {
                            unreachable!("apply_group returns one outcome of the same kind per job")
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, writes = group.len(), "embedded store: commit failed");
                let err = StoreError::Unavailable(err.to_string());
                for job in group {
                    match job {
                        Job::Write { reply, .. } => drop(reply.send(Err(err.clone()))),
                        Job::Transact { reply, .. } => drop(reply.send(Err((0, err.clone())))),
                        Job::Trim { reply } => drop(reply.send(Err(err.clone()))),
                        Job::Apply(_) => {}
                    }
                }
            }
        }
    }
}

/// Applies a group in one transaction. A failed condition fails only its own write (conditions
/// are checked before anything is written); an SQLite error fails the whole group.
fn apply_group(
    conn: &mut Connection,
    tables: &[TableInfo],
    group: &mut [Job],
    last_seq: &mut [Option<u64>],
) -> rusqlite::Result<Vec<Outcome>> {
    let now = now_ms();
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group.iter_mut() {
        match job {
            Job::Write {
                table,
                write,
                trace,
                ..
            } => {
                let result = apply(&tx, &tables[*table], write, now)?;
                if let Ok((_, Some(seq))) = &result {
                    last_seq[*table] = Some(*seq);
                    traced(&tx, *seq, trace.as_deref())?;
                }
                outcomes.push(Outcome::Write(result.map(|(done, _)| done)));
            }
            Job::Transact { writes, trace, .. } => {
                // A savepoint: a failed condition undoes this job's earlier writes only.
                let savepoint = tx.savepoint()?;
                let mut done = Vec::with_capacity(writes.len());
                let mut seqs = Vec::with_capacity(writes.len());
                let mut failed = None;
                for (i, (table, write)) in writes.iter().enumerate() {
                    match apply(&savepoint, &tables[*table], write, now)? {
                        Ok((d, seq)) => {
                            done.push(d);
                            seqs.push((*table, seq));
                        }
                        Err(err) => {
                            failed = Some((i, err));
                            break;
                        }
                    }
                }
                match failed {
                    Some(failed) => {
                        savepoint.finish()?;
                        outcomes.push(Outcome::Transact(Err(failed)));
                    }
                    None => {
                        savepoint.commit()?;
                        for (table, seq) in seqs {
                            if let Some(seq) = seq {
                                last_seq[table] = Some(seq);
                                traced(&tx, seq, trace.as_deref())?;
                            }
                        }
                        outcomes.push(Outcome::Transact(Ok(done)));
                    }
                }
            }
            Job::Trim { .. } => outcomes.push(Outcome::Trim(trim(&tx, tables, now)?)),
            Job::Apply(work) => {
                // Each closure runs once; what stays behind in the group is a no-op.
                let work = std::mem::replace(
                    work,
                    Box::new(|_: &Connection, _: i64| Ok(Box::new(|| {}) as Finish)),
                );
                outcomes.push(Outcome::Apply(work(&tx, now)?));
            }
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

/// What a write did; with the write itself it makes the [`Written`] its caller gets. The item
/// goes back to the caller, not copied: the writer thread neither clones nor frees it.
enum Done {
    Created,
    Replaced,
    Put { version: u64, old: Option<Item> },
    Deleted(Item),
    Replayed { fingerprint: String, item: Item },
}

impl Done {
    fn written(self, write: Write) -> Written {
        match (self, write) {
            (Done::Created, Write::Create { item, .. }) => Written::Created(item),
            (Done::Replaced, Write::Replace { item, .. }) => Written::Replaced(item),
            (Done::Put { version, old }, Write::Put { item }) => Written::Put {
                item: Item::new(item.key().clone(), version, item.into_image()),
                old,
            },
            (Done::Deleted(old), _) => Written::Deleted(old),
            (Done::Replayed { fingerprint, item }, _) => Written::Replayed { fingerprint, item },
            _ => unreachable!("a write is done as what it asked for"),
        }
    }
}

type Applied = Result<(Done, Option<u64>), StoreError>;

fn apply(tx: &Connection, table: &TableInfo, write: &Write, now: i64) -> rusqlite::Result<Applied> {
    match write {
        Write::Create { item, idempotency } => create(tx, table, item, idempotency.as_ref(), now),
        Write::Replace {
            item,
            expected_version,
        } => replace(tx, table, item, *expected_version, now),
        Write::Put { item } => put(tx, table, item, now),
        Write::Delete {
            key,
            expected_version,
        } => delete(tx, table, key, *expected_version, now),
    }
}

fn create(
    tx: &Connection,
    table: &TableInfo,
    item: &Item,
    idempotency: Option<&Idempotency>,
    now: i64,
) -> rusqlite::Result<Applied> {
    let (body, key) = (item.text(), item.key().storage());
    if let Some(idem) = idempotency {
        let fresh_after = now - IDEMPOTENCY_TTL.as_millis() as i64;
        let seen: Option<(String, String)> = tx
            .prepare_cached("SELECT fingerprint, response FROM idempotency WHERE tbl = ?1 AND key = ?2 AND created_ms >= ?3")?
            .query_row(params![table.name, idem.key, fresh_after], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((fingerprint, response)) = seen {
            let item = super::item_from_body(table, &response)?;
            return Ok(Ok((Done::Replayed { fingerprint, item }, None)));
        }
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO items (tbl, key, version, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?
        .execute(params![table.name, key, item.version() as i64, body])?;
    if inserted == 0 {
        return Ok(Err(StoreError::Exists {
            key: item.key().to_string(),
        }));
    }
    let seq = append(tx, table, EventName::Insert, &key, None, Some(body), now)?;
    if let Some(idem) = idempotency {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO idempotency (tbl, key, fingerprint, response, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![table.name, idem.key, idem.fingerprint, body, now])?;
    }
    Ok(Ok((Done::Created, Some(seq))))
}

fn replace(
    tx: &Connection,
    table: &TableInfo,
    item: &Item,
    expected: u64,
    now: i64,
) -> rusqlite::Result<Applied> {
    let (body, key) = (item.text(), item.key().storage());
    let old = match check(tx, table, item.key(), Some(expected))? {
        Ok(old) => old,
        Err(err) => return Ok(Err(err)),
    };
    tx.prepare_cached("UPDATE items SET version = ?3, body = ?4 WHERE tbl = ?1 AND key = ?2")?
        .execute(params![table.name, key, item.version() as i64, body])?;
    let seq = append(
        tx,
        table,
        EventName::Modify,
        &key,
        Some(&old.1),
        Some(body),
        now,
    )?;
    Ok(Ok((Done::Replaced, Some(seq))))
}

/// Stores an item whether or not its key is taken, as DynamoDB's PutItem does: an INSERT
/// record for a new key, a MODIFY with the old image for a taken one.
fn put(tx: &Connection, table: &TableInfo, item: &Item, now: i64) -> rusqlite::Result<Applied> {
    let (body, key) = (item.text(), item.key().storage());
    let old = current(tx, table, &key)?;
    let version = old.as_ref().map_or(1, |(version, _)| version + 1);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO items (tbl, key, version, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![table.name, key, version as i64, body])?;
    let (event, old_body) = match &old {
        None => (EventName::Insert, None),
        Some((_, old)) => (EventName::Modify, Some(old.as_str())),
    };
    let seq = append(tx, table, event, &key, old_body, Some(body), now)?;
    let old = match old {
        None => None,
        Some((_, body)) => Some(super::item_from_body(table, &body)?),
    };
    Ok(Ok((Done::Put { version, old }, Some(seq))))
}

fn delete(
    tx: &Connection,
    table: &TableInfo,
    key: &Key,
    expected: Option<u64>,
    now: i64,
) -> rusqlite::Result<Applied> {
    let (_, body) = match check(tx, table, key, expected)? {
        Ok(old) => old,
        Err(err) => return Ok(Err(err)),
    };
    let key = key.storage();
    tx.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND key = ?2")?
        .execute(params![table.name, key])?;
    let seq = append(tx, table, EventName::Remove, &key, Some(&body), None, now)?;
    let old = super::item_from_body(table, &body)?;
    Ok(Ok((Done::Deleted(old), Some(seq))))
}

/// The stored version and body of `key`, if the item exists and (when given) is at `expected`.
fn check(
    tx: &Connection,
    table: &TableInfo,
    key: &Key,
    expected: Option<u64>,
) -> rusqlite::Result<Result<(u64, String), StoreError>> {
    Ok(match current(tx, table, &key.storage())? {
        None => Err(StoreError::NotFound {
            key: key.to_string(),
        }),
        Some((actual, _)) if expected.is_some_and(|e| e != actual) => {
            Err(StoreError::VersionMismatch {
                key: key.to_string(),
                expected: expected.unwrap_or_default(),
                actual,
            })
        }
        Some(found) => Ok(found),
    })
}

fn current(
    tx: &Connection,
    table: &TableInfo,
    key: &str,
) -> rusqlite::Result<Option<(u64, String)>> {
    tx.prepare_cached("SELECT version, body FROM items WHERE tbl = ?1 AND key = ?2")?
        .query_row(params![table.name, key], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get(1)?))
        })
        .optional()
}

/// Appends a change record with the images the table's stream view type asks for.
fn append(
    tx: &Connection,
    table: &TableInfo,
    event: EventName,
    key: &str,
    old: Option<&str>,
    new: Option<&str>,
    now: i64,
) -> rusqlite::Result<u64> {
    let old = old.filter(|_| table.view.has_old_image());
    let new = new.filter(|_| table.view.has_new_image());
    tx.prepare_cached(
        "INSERT INTO stream (tbl, event, item_key, old_image, new_image, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![table.name, event.as_str(), key, old, new, now])?;
    Ok(tx.last_insert_rowid() as u64)
}

/// Keeps the trace header of the write that made a change record with it, so that the pipe's
/// spans join the write's trace, also after a restart.
fn traced(tx: &Connection, seq: u64, trace: Option<&str>) -> rusqlite::Result<()> {
    if let Some(trace) = trace {
        tx.prepare_cached("UPDATE stream SET trace = ?1 WHERE seq = ?2")?
            .execute(params![trace, seq as i64])?;
    }
    Ok(())
}

/// Removes one batch of change records past retention per table, and expired idempotency keys.
fn trim(tx: &Connection, tables: &[TableInfo], now: i64) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for table in tables {
        let cutoff = now - table.retention.as_millis() as i64;
        removed += tx
            .prepare_cached(
                "DELETE FROM stream WHERE seq IN \
                 (SELECT seq FROM stream WHERE tbl = ?1 ORDER BY seq LIMIT ?3) AND created_ms < ?2",
            )?
            .execute(params![table.name, cutoff, TRIM_BATCH])? as u64;
    }
    let cutoff = now - IDEMPOTENCY_TTL.as_millis() as i64;
    removed += tx
        .prepare_cached(
            "DELETE FROM idempotency WHERE (tbl, key) IN \
             (SELECT tbl, key FROM idempotency WHERE created_ms < ?1 LIMIT ?2)",
        )?
        .execute(params![cutoff, TRIM_BATCH])? as u64;
    Ok(removed)
}
