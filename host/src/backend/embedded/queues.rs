//! Queues in the embedded database, with SQS's semantics. Every function here runs inside the
//! writer's transaction (see `writer`); reads that change nothing run on reader connections.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use async_trait::async_trait;

use super::{EmbeddedStore, now_ms};
use crate::backend::{Depth, MessageAttributes, NewMessage, Queues, Received, StoreError, Stored};
use crate::config::QueueId;

/// How long a FIFO deduplication id is remembered, as in SQS.
const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    message_id    TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    group_id      TEXT,
    sent_ms       INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    origin        TEXT    NOT NULL,
    error         TEXT,
    attributes    TEXT,
    first_received_ms INTEGER,
    trace         TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at_ms);
CREATE INDEX IF NOT EXISTS fifo_by_group ON messages (queue, group_id, id) WHERE group_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS fifo_in_order ON messages (queue, id) WHERE group_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS deduplication (
    queue      TEXT    NOT NULL,
    dedup_id   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    sent_ms    INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    pipe     TEXT NOT NULL,
    shard    TEXT NOT NULL,
    sequence TEXT NOT NULL,
    PRIMARY KEY (pipe, shard)
) WITHOUT ROWID;
";

/// The columns layouts 3 and 5 added to `messages`: a data dir written by an older build gets
/// them.
const ADDED_COLUMNS: [(&str, &str); 3] = [
    ("attributes", "TEXT"),
    ("first_received_ms", "INTEGER"),
    ("trace", "TEXT"),
];

/// Adds the columns an older layout's `messages` table lacks.
pub(super) fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    add_columns(conn, "messages", &ADDED_COLUMNS)
}

/// Adds the columns of `columns` that an older layout's `table` lacks.
pub(super) fn add_columns(
    conn: &Connection,
    table: &str,
    columns: &[(&str, &str)],
) -> rusqlite::Result<()> {
    let present: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (column, kind) in columns {
        if !present.iter().any(|p| p == column) {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// Attributes as the `attributes` column keeps them: SQS's JSON form, NULL when there are none.
fn attributes_text(attributes: &MessageAttributes) -> Option<String> {
    // A map of plain structs with string keys always serializes.
    (!attributes.is_empty()).then(|| serde_json::to_string(attributes).unwrap_or_default())
}

fn attributes_of(text: Option<String>) -> rusqlite::Result<MessageAttributes> {
    match text {
        None => Ok(MessageAttributes::new()),
        Some(text) => serde_json::from_str(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
        }),
    }
}

/// What the store keeps of each queue of routes.toml.
pub(super) struct QueueInfo {
    pub name: String,
    pub visibility_timeout: Duration,
    pub retention: Duration,
    pub delay: Duration,
    /// The DLQ's position and the receive count after which messages move there.
    pub redrive: Option<(usize, u32)>,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    /// Bumped whenever messages may have become visible, to wake long polls.
    pub changed: watch::Sender<u64>,
}

impl QueueInfo {
    pub fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A receipt handle names its message's row, so a delete or a visibility change finds the
/// message by its primary key (with no index on receipts to keep up): `ROW:TOKEN`. One token
/// serves a whole receive: the row tells its messages apart, the token tells receives apart.
fn new_receipt(row: i64, token: &uuid::fmt::Simple) -> String {
    format!("{row}:{token}")
}

/// The row a receipt handle names; a handle that is not ours names no row.
fn receipt_row(receipt: &str) -> i64 {
    receipt
        .split_once(':')
        .and_then(|(row, _)| row.parse().ok())
        .unwrap_or(-1)
}

/// Inserts messages; returns their ids (for a FIFO duplicate, the first message's id). Every
/// message to a FIFO queue has a group id, as SQS requires: the FIFO indexes hold only those.
pub(super) fn send(
    tx: &Connection,
    queue: &QueueInfo,
    messages: &[NewMessage],
    now: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(messages.len());
    for message in messages {
        let dedup = queue.fifo.then(|| {
            message.deduplication_id.clone().or_else(|| {
                queue
                    .content_based_deduplication
                    .then(|| format!("{:x}", Sha256::digest(message.body.as_bytes())))
            })
        });
        if let Some(Some(dedup)) = &dedup {
            let seen: Option<String> = tx
                .prepare_cached("SELECT message_id FROM deduplication WHERE queue = ?1 AND dedup_id = ?2 AND sent_ms > ?3")?
                .query_row(params![queue.name, dedup, now - DEDUPLICATION_WINDOW_MS], |row| row.get(0))
                .optional()?;
            if let Some(id) = seen {
                ids.push(id);
                continue;
            }
        }
        let id = new_id();
        let delay = message.delay.unwrap_or(queue.delay).as_millis() as i64;
        tx.prepare_cached(
            "INSERT INTO messages (queue, message_id, body, group_id, sent_ms, visible_at_ms, origin, error, attributes, trace) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![queue.name, id, message.body, message.group_id, now, now + delay, message.origin, message.error, attributes_text(&message.attributes), message.trace])?;
        if let Some(Some(dedup)) = dedup {
            tx.prepare_cached("INSERT OR REPLACE INTO deduplication (queue, dedup_id, message_id, sent_ms) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![queue.name, dedup, id, now])?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// A visible message, read whole: a receive needs all of it but its new receipt.
struct Candidate {
    row: i64,
    message: Stored,
    first_received_ms: Option<i64>,
}

/// Receives up to `max` visible messages. A message already received `max_receive_count`
/// times moves to the DLQ instead, as SQS's redrive policy does; the flag says whether any did.
pub(super) fn receive(
    tx: &Connection,
    queues: &[QueueInfo],
    index: usize,
    max: usize,
    visibility: Duration,
    now: i64,
) -> rusqlite::Result<(Vec<Received>, bool)> {
    let queue = &queues[index];
    let mut received = Vec::new();
    let mut moved = false;
    let token = uuid::Uuid::now_v7().simple();
    // Moving poison messages away may free room for more; bound the rounds.
    for _ in 0..4 {
        let candidates = candidates(tx, queue, max - received.len(), now)?;
        if candidates.is_empty() {
            break;
        }
        for Candidate {
            row,
            message,
            first_received_ms,
        } in candidates
        {
            if let Some((dlq, max_receives)) = queue.redrive
                && message.receive_count >= max_receives
            {
                let reason = format!(
                    "received {} times without being deleted (max_receive_count = {max_receives})",
                    message.receive_count
                );
                move_to(
                    tx,
                    row,
                    &queues[dlq].name,
                    &crate::origin::queue_text(&queue.name),
                    Some(&reason),
                    now,
                )?;
                moved = true;
                continue;
            }
            let receipt = new_receipt(row, &token);
            tx.prepare_cached(
                "UPDATE messages SET receive_count = receive_count + 1, visible_at_ms = ?2, receipt = ?3, \
                 first_received_ms = coalesce(first_received_ms, ?4) WHERE id = ?1",
            )?
            .execute(params![row, now + visibility.as_millis() as i64, receipt, now])?;
            let Stored {
                message_id,
                body,
                receive_count,
                sent_timestamp_ms,
                group_id,
                origin,
                error,
                attributes,
                trace,
            } = message;
            received.push(Received {
                message_id,
                receipt_handle: receipt,
                body,
                receive_count: receive_count + 1,
                sent_timestamp_ms,
                group_id,
                origin,
                error,
                attributes,
                first_received_ms: Some(first_received_ms.unwrap_or(now)),
                trace,
            });
        }
        if received.len() >= max {
            break;
        }
    }
    Ok((received, moved))
}

/// Visible messages, oldest first. A standard queue takes them in the order they became
/// visible, straight from the `messages_ready` index, so a backlog costs a receive nothing (SQS
/// promises standard queues only best-effort order). A FIFO queue takes them in the order they
/// were sent, and a message qualifies only when every earlier message of its group is visible
/// too: a group with a message in flight waits.
fn candidates(
    tx: &Connection,
    queue: &QueueInfo,
    max: usize,
    now: i64,
) -> rusqlite::Result<Vec<Candidate>> {
    let sql = if queue.fifo {
        "SELECT message_id, body, receive_count, sent_ms, group_id, origin, error, attributes, trace, id, first_received_ms \
         FROM messages m INDEXED BY fifo_in_order \
         WHERE queue = ?1 AND group_id IS NOT NULL AND visible_at_ms <= ?2 AND NOT EXISTS \
         (SELECT 1 FROM messages e INDEXED BY fifo_by_group \
          WHERE e.queue = m.queue AND e.group_id = m.group_id AND e.id < m.id AND e.visible_at_ms > ?2) \
         ORDER BY id LIMIT ?3"
    } else {
        "SELECT message_id, body, receive_count, sent_ms, group_id, origin, error, attributes, trace, id, first_received_ms \
         FROM messages INDEXED BY messages_ready \
         WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY visible_at_ms, id LIMIT ?3"
    };
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params![queue.name, now, max as i64], |row| {
        // The columns of `STORED`, then the row and its first receive.
        Ok(Candidate {
            row: row.get(9)?,
            message: stored(row)?,
            first_received_ms: row.get(10)?,
        })
    })?;
    rows.collect()
}

fn move_to(
    tx: &Connection,
    row: i64,
    queue: &str,
    origin: &str,
    error: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET queue = ?2, visible_at_ms = ?3, receipt = NULL, origin = ?4, error = coalesce(?5, error) WHERE id = ?1",
    )?
    .execute(params![row, queue, now, origin, error])?;
    Ok(())
}

pub(super) fn delete(
    tx: &Connection,
    queue: &QueueInfo,
    receipts: &[String],
) -> rusqlite::Result<usize> {
    let mut stmt =
        tx.prepare_cached("DELETE FROM messages WHERE id = ?1 AND receipt = ?2 AND queue = ?3")?;
    let mut deleted = 0;
    for receipt in receipts {
        deleted += stmt.execute(params![receipt_row(receipt), receipt, queue.name])?;
    }
    Ok(deleted)
}

/// Whether the receipt was current (and the visibility changed).
pub(super) fn change_visibility(
    tx: &Connection,
    queue: &QueueInfo,
    receipt: &str,
    timeout: Duration,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE messages SET visible_at_ms = ?4 WHERE id = ?1 AND receipt = ?2 AND queue = ?3",
        )?
        .execute(params![
            receipt_row(receipt),
            receipt,
            queue.name,
            now + timeout.as_millis() as i64
        ])?;
    Ok(changed > 0)
}

/// Moves a received message to the queue's DLQ with `reason`; false when the queue has no DLQ
/// or the receipt is not current.
pub(super) fn dead_letter(
    tx: &Connection,
    queues: &[QueueInfo],
    index: usize,
    receipt: &str,
    reason: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let queue = &queues[index];
    let Some((dlq, _)) = queue.redrive else {
        return Ok(false);
    };
    let row: Option<i64> = tx
        .prepare_cached("SELECT id FROM messages WHERE id = ?1 AND receipt = ?2 AND queue = ?3")?
        .query_row(params![receipt_row(receipt), receipt, queue.name], |row| {
            row.get(0)
        })
        .optional()?;
    let Some(row) = row else { return Ok(false) };
    move_to(
        tx,
        row,
        &queues[dlq].name,
        &crate::origin::queue_text(&queue.name),
        Some(reason),
        now,
    )?;
    Ok(true)
}

pub(super) fn depth(conn: &Connection, queue: &str, now: i64) -> rusqlite::Result<Depth> {
    conn.prepare_cached(
        "SELECT coalesce(sum(visible_at_ms <= ?2), 0), coalesce(sum(visible_at_ms > ?2 AND receive_count > 0), 0), \
         coalesce(sum(visible_at_ms > ?2 AND receive_count = 0), 0) FROM messages WHERE queue = ?1",
    )?
    .query_row(params![queue, now], |row| Ok(Depth { visible: row.get::<_, i64>(0)? as u64, in_flight: row.get::<_, i64>(1)? as u64, delayed: row.get::<_, i64>(2)? as u64 }))
}

/// When the next hidden message of a queue becomes visible, for long polls to wake then.
pub(super) fn next_visible(
    conn: &Connection,
    queue: &str,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT min(visible_at_ms) FROM messages WHERE queue = ?1 AND visible_at_ms > ?2",
    )?
    .query_row(params![queue, now], |row| row.get(0))
}

/// Drops messages past their queue's retention and expired deduplication ids.
pub(super) fn trim(
    tx: &Connection,
    queues: &[QueueInfo],
    now: i64,
    batch: i64,
) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for queue in queues {
        let cutoff = now - queue.retention.as_millis() as i64;
        removed += tx
            .prepare_cached("DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue = ?1 AND sent_ms < ?2 LIMIT ?3)")?
            .execute(params![queue.name, cutoff, batch])? as u64;
    }
    removed += tx
        .prepare_cached("DELETE FROM deduplication WHERE (queue, dedup_id) IN (SELECT queue, dedup_id FROM deduplication WHERE sent_ms < ?1 LIMIT ?2)")?
        .execute(params![now - DEDUPLICATION_WINDOW_MS, batch])? as u64;
    Ok(removed)
}

const STORED: &str = "SELECT message_id, body, receive_count, sent_ms, group_id, origin, error, attributes, trace FROM messages";

fn stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        message_id: row.get(0)?,
        body: row.get(1)?,
        receive_count: row.get(2)?,
        sent_timestamp_ms: row.get(3)?,
        group_id: row.get(4)?,
        origin: row.get(5)?,
        error: row.get(6)?,
        attributes: attributes_of(row.get(7)?)?,
        trace: row.get(8)?,
    })
}

pub(super) fn peek(conn: &Connection, queue: &str, limit: usize) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt =
        conn.prepare_cached(&format!("{STORED} WHERE queue = ?1 ORDER BY id LIMIT ?2"))?;
    let rows = stmt.query_map(params![queue, limit as i64], stored)?;
    rows.collect()
}

pub(super) fn find(
    conn: &Connection,
    queue: &str,
    message_id: &str,
) -> rusqlite::Result<Option<Stored>> {
    conn.prepare_cached(&format!("{STORED} WHERE queue = ?1 AND message_id = ?2"))?
        .query_row(params![queue, message_id], stored)
        .optional()
}

pub(super) fn move_message(
    tx: &Connection,
    from: &str,
    message_id: &str,
    to: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let moved = tx
        .prepare_cached(
            "UPDATE messages SET queue = ?3, visible_at_ms = ?4, receive_count = 0, receipt = NULL, \
             first_received_ms = NULL WHERE queue = ?1 AND message_id = ?2",
        )?
        .execute(params![from, message_id, to, now])?;
    Ok(moved > 0)
}

#[async_trait]
impl Queues for EmbeddedStore {
    async fn send(
        &self,
        queue: QueueId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<String>, StoreError> {
        let info = &self.queues[queue.index()];
        if info.fifo && messages.iter().any(|m| m.group_id.is_none()) {
            return Err(StoreError::Refused(format!(
                "a message to FIFO queue `{}` needs a group id (SQS's MessageGroupId)",
                info.name
            )));
        }
        let queues = self.queues.clone();
        let ids = self
            .apply(move |tx, now| send(tx, &queues[queue.index()], &messages, now))
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
            let (received, moved) = self
                .apply(move |tx, now| receive(tx, &queues, queue.index(), max, visibility, now))
                .await?;
            if moved && let Some((dlq, _)) = info.redrive {
                self.queues[dlq].bump();
            }
            let now = tokio::time::Instant::now();
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            // Sleep until a send, or until a hidden message becomes visible, or the deadline.
            let name = info.name.clone();
            let next = self
                .query(move |conn| next_visible(conn, &name, now_ms()))
                .await?;
            let wake = next.map_or(deadline, |at| {
                deadline.min(now + Duration::from_millis((at - now_ms()).max(1) as u64))
            });
            let _ = tokio::time::timeout_at(wake, changed.changed()).await;
        }
    }

    async fn delete(&self, queue: QueueId, receipts: &[String]) -> Result<(), StoreError> {
        let (queues, receipts) = (self.queues.clone(), receipts.to_vec());
        self.apply(move |tx, _| delete(tx, &queues[queue.index()], &receipts))
            .await?;
        // In a FIFO queue, a delete lets its group's next message through.
        let info = &self.queues[queue.index()];
        if info.fifo {
            info.bump();
        }
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
                change_visibility(tx, &queues[queue.index()], &receipt, timeout, now)
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
        message: &Received,
        reason: &str,
    ) -> Result<(), StoreError> {
        let receipt = &message.receipt_handle;
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
            .apply(move |tx, now| dead_letter(tx, &queues, queue.index(), &receipt, &reason, now))
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
        self.query(move |conn| depth(conn, &name, now_ms())).await
    }

    async fn peek(&self, queue: QueueId, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let name = self.queues[queue.index()].name.clone();
        self.query(move |conn| peek(conn, &name, limit)).await
    }

    async fn find(&self, queue: QueueId, message_id: &str) -> Result<Option<Stored>, StoreError> {
        let (name, id) = (
            self.queues[queue.index()].name.clone(),
            message_id.to_string(),
        );
        self.query(move |conn| find(conn, &name, &id)).await
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
            .apply(move |tx, now| move_message(tx, &from_name, &id, &to_name, now))
            .await?;
        self.queues[to.index()].bump();
        Ok(moved)
    }

    async fn purge(&self, queue: QueueId) -> Result<u64, StoreError> {
        let name = self.queues[queue.index()].name.clone();
        let removed = self
            .apply(move |tx, _| {
                tx.prepare_cached("DELETE FROM messages WHERE queue = ?1")?
                    .execute(params![name])
            })
            .await?;
        // A long poll waiting on a FIFO group goes on to see the queue empty.
        self.queues[queue.index()].bump();
        Ok(removed as u64)
    }

    async fn remove(&self, queue: QueueId, message_id: &str) -> Result<bool, StoreError> {
        let name = self.queues[queue.index()].name.clone();
        let id = message_id.to_string();
        let removed = self
            .apply(move |tx, _| {
                tx.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND message_id = ?2")?
                    .execute(params![name, id])
            })
            .await?;
        // A FIFO group waiting behind the message may go on.
        self.queues[queue.index()].bump();
        Ok(removed > 0)
    }
}
