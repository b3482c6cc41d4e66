//! Shard leases and the pipe's hand-off on the embedded backend: a batch's queue messages, its
//! archived events and the pipe's checkpoint commit in one SQLite transaction.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::EmbeddedStore;
use super::queues::send;
use crate::backend::{Checkpoint, Delivery, Handoff, Leases, Position, ShardId, StoreError};

/// Records how far a pipe has delivered a shard.
pub(super) fn checkpoint(
    tx: &Connection,
    pipe: &str,
    shard: &str,
    sequence: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO checkpoints (pipe, shard, sequence) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![pipe, shard, sequence])?;
    Ok(())
}

pub(super) fn read_checkpoint(
    conn: &Connection,
    pipe: &str,
    shard: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT sequence FROM checkpoints WHERE pipe = ?1 AND shard = ?2")?
        .query_row(params![pipe, shard], |row| row.get(0))
        .optional()
}

/// One host owns an embedded data dir, so it holds every lease.
#[async_trait]
impl Leases for EmbeddedStore {
    async fn lease(&self, _: &str, _: &ShardId, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(&self, _: &str, _: &ShardId) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Messages, archived events and the checkpoint commit in one transaction: the hand-off from
/// stream to queues is exactly once. The one shard per table never ends.
#[async_trait]
impl Handoff for EmbeddedStore {
    async fn finish(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError> {
        Err(StoreError::Refused(format!(
            "pipe `{pipe}`: the embedded shard `{}` never ends",
            shard.0
        )))
    }

    async fn finished(&self, _: &str, _: &ShardId) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn checkpoint(
        &self,
        pipe: &str,
        shard: &ShardId,
    ) -> Result<Option<Position>, StoreError> {
        let (pipe, shard) = (pipe.to_string(), shard.0.clone());
        Ok(self
            .query(move |conn| read_checkpoint(conn, &pipe, &shard))
            .await?
            .map(Position::stored))
    }

    async fn start(
        &self,
        pipe: &str,
        shard: &ShardId,
        at: Position,
    ) -> Result<Position, StoreError> {
        let (pipe, shard) = (pipe.to_string(), shard.0.clone());
        let stored = self
            .apply(move |tx, _| {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO checkpoints (pipe, shard, sequence) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![pipe, shard, at.as_stored()])?;
                read_checkpoint(tx, &pipe, &shard)
            })
            .await?;
        stored.map(Position::stored).ok_or_else(|| {
            StoreError::Unavailable("the checkpoint just recorded cannot be read back".into())
        })
    }

    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError> {
        if !delivery.events.is_empty() {
            return Err(StoreError::Refused(
                "the embedded backend's buses route in the host; deliver their messages".into(),
            ));
        }
        let (queues, archives) = (self.queues.clone(), self.archives.clone());
        let touched: Vec<usize> = delivery.messages.iter().map(|(q, _)| q.index()).collect();
        self.apply(move |tx, now| {
            for (queue, message) in &delivery.messages {
                send(
                    tx,
                    &queues[queue.index()],
                    std::slice::from_ref(message),
                    now,
                )?;
            }
            for (bus, event) in &delivery.archived {
                super::archive::archive(tx, &archives[bus.index()].0, event, now)?;
            }
            if let Some(Checkpoint {
                pipe,
                shard,
                sequence,
            }) = &delivery.checkpoint
            {
                checkpoint(tx, pipe, &shard.0, sequence.as_str())?;
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
