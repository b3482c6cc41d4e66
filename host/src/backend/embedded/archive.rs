//! Bus archives in the embedded database: every event a bus with an archive routed, kept for
//! the archive's retention, for `switchyard replay`. Writes run inside the writer's transaction
//! (see `writer`); reads run on reader connections.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::EmbeddedStore;
use crate::backend::{Archived, Archives, StoreError};
use crate::config::BusId;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archive (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    bus         TEXT    NOT NULL,
    archived_ms INTEGER NOT NULL,
    event       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS archive_by_bus ON archive (bus, archived_ms);
";

pub(super) fn archive(tx: &Connection, bus: &str, event: &str, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO archive (bus, archived_ms, event) VALUES (?1, ?2, ?3)")?
        .execute(params![bus, now, event])?;
    Ok(())
}

pub(super) fn archived(
    conn: &Connection,
    bus: &str,
    from: i64,
    to: i64,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Archived>> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, archived_ms, event FROM archive WHERE bus = ?1 AND archived_ms >= ?2 AND archived_ms <= ?3 \
         AND position > ?4 ORDER BY position LIMIT ?5",
    )?;
    let rows = stmt.query_map(params![bus, from, to, after, limit as i64], |row| {
        Ok(Archived {
            position: row.get(0)?,
            archived_ms: row.get(1)?,
            event: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// Drops archived events past their bus's retention.
pub(super) fn trim_archives(
    tx: &Connection,
    archives: &[(String, Option<Duration>)],
    now: i64,
    batch: i64,
) -> rusqlite::Result<u64> {
    let mut removed = 0;
    for (bus, retention) in archives {
        let Some(retention) = retention else { continue };
        removed += tx
            .prepare_cached("DELETE FROM archive WHERE position IN (SELECT position FROM archive WHERE bus = ?1 AND archived_ms < ?2 LIMIT ?3)")?
            .execute(params![bus, now - retention.as_millis() as i64, batch])? as u64;
    }
    Ok(removed)
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
        self.query(move |conn| archived(conn, &name, from_ms, to_ms, after, limit))
            .await
    }

    async fn count(&self, bus: BusId, from_ms: i64, to_ms: i64) -> Result<Option<u64>, StoreError> {
        let name = self.archives[bus.index()].0.clone();
        let counted = self
            .query(move |conn| {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM archive WHERE bus = ?1 AND archived_ms >= ?2 AND archived_ms <= ?3",
                )?
                .query_row(params![name, from_ms, to_ms], |row| row.get::<_, i64>(0))
            })
            .await?;
        Ok(Some(counted.max(0) as u64))
    }
}
