//! Pipes, as EventBridge Pipes: a table's change stream, filtered (event patterns, then a filter
//! plugin), enriched (an enricher plugin), and delivered to a bus or a queue. Delivery is at
//! least once and in order per shard, and the embedded backend commits the queue messages and
//! the checkpoint together. A failing batch is retried with backoff, then bisected down to the
//! failing record, which goes to the pipe's DLQ; without a DLQ the pipe stops there and says so.

mod plan;
mod retry;
mod target;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backend::{
    Capabilities, ChangeStream, Checkpoint, Delivery, Handoff, Leases, NewMessage, Position, Shard,
    ShardId, StoreError,
};
use crate::batching;
use crate::bus::{Buses, Envelope, Routed};
use crate::config::{Config, Destination, PipeId, StartingPosition};
use crate::origin::Origin;
use crate::plugin::{Event, PluginError};
use crate::record::{SequenceNumber, StreamRecord};
use crate::stages::Stages;
use crate::tap::Point;

use plan::Planned;
pub use plan::event_id;
pub(crate) use plan::{admitted, route, run_stages};
use retry::{MAX_BACKOFF, Next};
use target::{queue_body, target_input};

/// How long one read of the change stream waits for new records.
const POLL: Duration = Duration::from_secs(1);
/// How long a shard's lease lasts unless renewed: a replica that dies loses its shards to
/// another within this time.
pub const LEASE_TIME: Duration = Duration::from_secs(10);
/// How often a pipe renews its leases and looks for shards to take.
const LEASE_RENEW: Duration = Duration::from_secs(3);

/// What a pipe has done, for `/admin/pipes` and `/metrics`.
#[derive(Debug, Default)]
pub struct PipeStatus {
    pub read: Counter,
    pub filtered: Counter,
    pub delivered: Counter,
    pub dead_lettered: Counter,
    pub failed_attempts: Counter,
    /// The checkpoint: the last record handled.
    pub position: Mutex<Option<SequenceNumber>>,
    /// Why the pipe is stopped at a record, when it is.
    pub stuck: Mutex<Option<String>>,
    /// The shards this host holds the lease of and works on.
    pub leases: Mutex<std::collections::BTreeSet<String>>,
}

/// Why a batch could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("delivery failed: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Event(String),
}

impl PipeError {
    fn lease_lost(&self) -> bool {
        matches!(self, PipeError::Store(StoreError::LeaseLost(_)))
    }

    /// False when a plugin called a record invalid: retrying would fail the same way.
    fn retryable(&self) -> bool {
        match self {
            PipeError::Plugin(err) => err.retryable(),
            _ => true,
        }
    }
}

/// Everything a pipe needs; one per pipe of routes.toml.
pub struct PipeRunner {
    pub id: PipeId,
    pub config: Arc<Config>,
    pub stream: Arc<dyn ChangeStream>,
    pub leases: Arc<dyn Leases>,
    pub handoff: Arc<dyn Handoff>,
    /// What the backend does its own way (whether its buses route events, for one).
    pub capabilities: Capabilities,
    pub plugins: Arc<dyn Stages>,
    pub buses: Arc<Buses>,
    pub status: Arc<PipeStatus>,
}

impl PipeRunner {
    fn name(&self) -> &str {
        &self.config[self.id].name
    }

    /// Runs until `shutdown` turns true, finishing the batch in hand first. Every
    /// [`LEASE_RENEW`] it lists the source's shards, renews the leases it holds, and takes the
    /// leases of shards it may start (see [`startable`]) that no other replica holds.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let span = tracing::info_span!("pipe", pipe = self.name());
        self.run_leases(shutdown).instrument(span).await
    }

    async fn run_leases(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let (pipe, table) = (self.name().to_string(), self.config[self.id].source);
        let mut running: HashMap<ShardId, (JoinHandle<()>, watch::Sender<bool>)> = HashMap::new();
        let mut tick = tokio::time::interval(LEASE_RENEW);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            running.retain(|_, (task, _)| !task.is_finished());
            let shards = match self.stream.shards(table).await {
                Ok(shards) => shards,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot list the stream's shards; retrying");
                    continue;
                }
            };
            for (shard, (_, stop)) in &running {
                match self.leases.lease(&pipe, shard, LEASE_TIME).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            shard = shard.0,
                            "another replica took the shard's lease; stopping it here"
                        );
                        let _ = stop.send(true);
                    }
                    Err(err) => {
                        tracing::warn!(shard = shard.0, error = %err, "cannot renew the shard's lease")
                    }
                }
            }
            let mut finished = HashSet::new();
            for shard in &shards {
                if self
                    .handoff
                    .finished(&pipe, &shard.id)
                    .await
                    .unwrap_or(false)
                {
                    finished.insert(shard.id.clone());
                }
            }
            for shard in startable(&shards, &finished) {
                if running.contains_key(&shard) {
                    continue;
                }
                match self.leases.lease(&pipe, &shard, LEASE_TIME).await {
                    Ok(true) => {
                        let (stop, stopped) = watch::channel(false);
                        let span = tracing::info_span!("shard", shard = shard.0);
                        let task = tokio::spawn(
                            self.clone()
                                .run_shard(
                                    shard.clone(),
                                    continues_parent(&shards, &shard),
                                    stopped,
                                )
                                .instrument(span),
                        );
                        running.insert(shard, (task, stop));
                    }
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(shard = shard.0, error = %err, "cannot take the shard's lease")
                    }
                }
            }
            *self
                .status
                .leases
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                running.keys().map(|s| s.0.clone()).collect();
        }
        self.status
            .leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        for (shard, (task, stop)) in running {
            let _ = stop.send(true);
            let _ = task.await;
            // Let another replica go on at once rather than after the lease expires.
            if let Err(err) = self.leases.release(&pipe, &shard).await {
                tracing::warn!(shard = shard.0, error = %err, "cannot release the shard's lease");
            }
        }
    }

    /// Records where the pipe starts each shard it may read now and has never read, before the
    /// API takes a write: a record committed after the host started is then delivered or
    /// dead-lettered whatever the starting position, even if the host stops first.
    pub async fn record_start(&self) -> Result<(), StoreError> {
        let pipe = &self.config[self.id];
        let shards = self.stream.shards(pipe.source).await?;
        let mut finished = HashSet::new();
        for shard in &shards {
            if self.handoff.finished(&pipe.name, &shard.id).await? {
                finished.insert(shard.id.clone());
            }
        }
        for shard in startable(&shards, &finished) {
            self.start_position(&shard, continues_parent(&shards, &shard))
                .await?;
        }
        Ok(())
    }

    /// Where the pipe reads a shard from: its checkpoint, or for a shard the pipe has never
    /// read, a start recorded before anything is read. A `latest` pipe starts a shard it finds
    /// after the shard's newest record; the child of a shard it read to the end starts at its
    /// oldest, as DynamoDB Streams' readers (Pipes, the Kinesis Client Library) do.
    async fn start_position(
        &self,
        shard: &ShardId,
        continues_parent: bool,
    ) -> Result<Option<SequenceNumber>, StoreError> {
        let pipe = &self.config[self.id];
        if let Some(position) = self.handoff.checkpoint(&pipe.name, shard).await? {
            return Ok(position.after().cloned());
        }
        let at = match pipe.starting_position {
            StartingPosition::Latest if !continues_parent => {
                match self.stream.latest(pipe.source, shard).await? {
                    Some(sequence) => Position::After(sequence),
                    None => Position::Oldest,
                }
            }
            _ => Position::Oldest,
        };
        let started = self.handoff.start(&pipe.name, shard, at).await?;
        Ok(started.after().cloned())
    }

    /// Reads and delivers one shard until it ends or `shutdown` turns true.
    async fn run_shard(
        self: Arc<Self>,
        shard: ShardId,
        continues_parent: bool,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let pipe = &self.config[self.id];
        let mut position = loop {
            match self.start_position(&shard, continues_parent).await {
                Ok(position) => break position,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the checkpoint; retrying");
                    if sleep_or_shutdown(POLL, &mut shutdown).await {
                        return;
                    }
                }
            }
        };
        *self
            .status
            .position
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = position.clone();
        tracing::info!(from = ?position, "pipe started");
        let batch_size = pipe.batch_size as usize;
        // The next batch, read while the one before it was delivered.
        let mut ahead: Option<Vec<StreamRecord>> = None;
        while !*shutdown.borrow() {
            let read = match ahead.take() {
                Some(records) if !records.is_empty() => Ok(records),
                _ => tokio::select! {
                    read = self.stream.read(pipe.source, &shard, position.as_ref(), batch_size, POLL) => read,
                    _ = shutdown.changed() => break,
                },
            };
            let records = match read {
                Ok(records) if records.is_empty() => continue,
                Ok(records) => records,
                Err(StoreError::ShardEnded(_)) => {
                    self.end_shard(&shard, &mut shutdown).await;
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the change stream; retrying");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let records = batching::fill(
                records,
                batch_size,
                pipe.batching_window,
                |so_far: &[StreamRecord], room, wait| {
                    let after = so_far.last().map(|r| r.dynamodb.sequence_number.clone());
                    let (stream, shard) = (&self.stream, &shard);
                    async move {
                        stream
                            .read(pipe.source, shard, after.as_ref(), room, wait)
                            .await
                    }
                },
            )
            .await;
            self.status.read.inc_by(records.len() as u64);
            self.buses
                .tap
                .show(Point::PipeIn(self.id), &records, crate::tap::json);
            let last = records.last().map(|r| r.dynamodb.sequence_number.clone());
            let (handled, next) = tokio::join!(
                self.process(&shard, &records, &mut shutdown),
                self.stream.read(
                    pipe.source,
                    &shard,
                    last.as_ref(),
                    batch_size,
                    Duration::ZERO
                ),
            );
            // A failed read ahead is read again, and reported, at the top of the loop.
            ahead = next.ok();
            if !handled {
                tracing::warn!("another replica holds the shard now; stopping here");
                return;
            }
            self.delivered_to(&records);
            position = last;
        }
        tracing::info!("pipe stopped");
    }

    /// Marks a shard read to its end, so that its children start.
    async fn end_shard(&self, shard: &ShardId, shutdown: &mut watch::Receiver<bool>) {
        let pipe = self.name();
        loop {
            match self.handoff.finish(pipe, shard).await {
                Ok(()) => {
                    tracing::info!("shard ended; its children go on");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot mark the shard ended; retrying");
                    if sleep_or_shutdown(POLL, shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// Delivers a batch, retrying with backoff, then bisecting; returns once every record is
    /// delivered or dead-lettered (or the host is shutting down). False when another replica
    /// took the shard: the batch is theirs to deliver.
    async fn process(
        &self,
        shard: &ShardId,
        records: &[StreamRecord],
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let first = records.first().map_or("", |r| r.event_id.as_str());
        let span = tracing::info_span!("batch", event_id = first, records = records.len());
        self.retry(shard, records, shutdown).instrument(span).await
    }

    async fn retry(
        &self,
        shard: &ShardId,
        records: &[StreamRecord],
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut attempt = 0u32;
        loop {
            let err = match self.deliver(shard, records).await {
                Ok(()) => return true,
                Err(err) if err.lease_lost() => return false,
                Err(err) => err,
            };
            self.status.failed_attempts.inc_by(1);
            let next = retry::after_failure(
                self.config[self.id].retry,
                attempt,
                retry::oldest_age(records),
                err.retryable(),
            );
            if let Next::Retry(wait) = next {
                tracing::warn!(attempt, error = %err, "batch failed; retrying");
                if sleep_or_shutdown(wait, shutdown).await {
                    return true;
                }
                attempt += 1;
                continue;
            }
            if err.retryable() {
                tracing::warn!(error = %err, "batch failed after its retries; bisecting");
            } else {
                tracing::warn!(error = %err, "a plugin called the input invalid; bisecting without retries");
            }
            return self.bisect(shard, records, err, shutdown).await;
        }
    }

    /// False when another replica took the shard meanwhile.
    async fn bisect(
        &self,
        shard: &ShardId,
        records: &[StreamRecord],
        error: PipeError,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        if let [record] = records {
            let span = tracing::info_span!("record", event_id = record.event_id);
            return self
                .give_up(shard, record, error, shutdown)
                .instrument(span)
                .await;
        }
        let (left, right) = records.split_at(records.len() / 2);
        for half in [left, right] {
            // Shutting down, a half left undelivered must not be passed by the next half's
            // checkpoint: stop here, and this batch is read again after the restart.
            if *shutdown.borrow() {
                return true;
            }
            match self.deliver(shard, half).await {
                Ok(()) => self.delivered_to(half),
                Err(err) if err.lease_lost() => return false,
                Err(err) => {
                    if !Box::pin(self.bisect(shard, half, err, shutdown)).await {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// A record that keeps failing goes to the DLQ with its error; without a DLQ the pipe stays
    /// at it, retrying slowly, and says why.
    async fn give_up(
        &self,
        shard: &ShardId,
        record: &StreamRecord,
        error: PipeError,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let pipe = &self.config[self.id];
        let Some(dlq) = pipe.dlq else {
            let reason = format!(
                "stopped at record {}: {error}",
                record.dynamodb.sequence_number
            );
            tracing::error!(error = %error, sequence = %record.dynamodb.sequence_number, "pipe stopped at a record it cannot deliver and has no dlq");
            *self
                .status
                .stuck
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(reason);
            loop {
                if sleep_or_shutdown(MAX_BACKOFF, shutdown).await {
                    return true;
                }
                match self.deliver(shard, std::slice::from_ref(record)).await {
                    Ok(()) => {
                        self.delivered_to(std::slice::from_ref(record));
                        *self
                            .status
                            .stuck
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = None;
                        return true;
                    }
                    Err(err) if err.lease_lost() => return false,
                    Err(err) => {
                        tracing::error!(error = %err, "pipe still stopped at a record")
                    }
                }
            }
        };
        let body = serde_json::to_string(record).unwrap_or_default();
        let message = NewMessage {
            error: Some(error.to_string()),
            ..NewMessage::new(body, Origin::Pipe(self.id).text(&self.config))
        };
        let checkpoint = Checkpoint {
            pipe: pipe.name.clone(),
            shard: shard.clone(),
            sequence: record.dynamodb.sequence_number.clone(),
        };
        loop {
            match self
                .handoff
                .deliver(Delivery {
                    messages: vec![(dlq, message.clone())],
                    checkpoint: Some(checkpoint.clone()),
                    ..Delivery::default()
                })
                .await
            {
                Ok(()) => {
                    self.delivered_to(std::slice::from_ref(record));
                    self.status.dead_lettered.inc_by(1);
                    self.buses
                        .tap
                        .show(Point::Queue(dlq), [&message], |message| {
                            crate::tap::message(message, None)
                        });
                    tracing::warn!(sequence = %record.dynamodb.sequence_number, error = %error, "record sent to the pipe's dlq");
                    return true;
                }
                Err(StoreError::LeaseLost(_)) => return false,
                Err(err) => {
                    tracing::error!(error = %err, "cannot write to the pipe's dlq; retrying");
                    if sleep_or_shutdown(MAX_BACKOFF, shutdown).await {
                        return true;
                    }
                }
            }
        }
    }

    /// Notes how far the shard is delivered (for `/admin/pipes` and the lag gauge), also while
    /// a bisected batch is still partly undelivered.
    fn delivered_to(&self, records: &[StreamRecord]) {
        if let Some(last) = records.last() {
            *self
                .status
                .position
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(last.dynamodb.sequence_number.clone());
        }
    }

    /// One attempt at a batch: filter, enrich, route, and commit with the checkpoint.
    async fn deliver(&self, shard: &ShardId, records: &[StreamRecord]) -> Result<(), PipeError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let mut planned = self.plan(records).await?;
        planned.delivery.checkpoint = Some(Checkpoint {
            pipe: self.name().to_string(),
            shard: shard.clone(),
            sequence: last.dynamodb.sequence_number.clone(),
        });
        self.commit(planned).await
    }

    /// Processes a record of the pipe's DLQ again, from the filters on, and delivers what it
    /// becomes to the pipe's target; the pipe's checkpoint stays where it is.
    pub async fn redrive(&self, record: &StreamRecord) -> Result<(), PipeError> {
        let planned = self.plan(std::slice::from_ref(record)).await?;
        self.commit(planned).await
    }

    async fn commit(&self, planned: Planned) -> Result<(), PipeError> {
        let delivering = planned.spans.delivering(self.name());
        let delivered = self.handoff.deliver(planned.delivery).await;
        for span in &delivering {
            match &delivered {
                Ok(()) => crate::telemetry::outcome(span, Ok("committed")),
                Err(err) => crate::telemetry::outcome(span, Err(err)),
            }
        }
        match &delivered {
            Ok(()) => planned.spans.outcome(Ok("delivered")),
            Err(err) => planned.spans.outcome(Err(err)),
        }
        delivered?;
        self.buses.count(&planned.counts);
        self.status.filtered.inc_by(planned.filtered as u64);
        self.status.delivered.inc_by(planned.delivered as u64);
        Ok(())
    }
}

/// The shards a pipe may read now: those not finished whose parent is finished or gone (past
/// the stream's retention), so that records stay in order per item key across a split.
pub fn startable(shards: &[Shard], finished: &HashSet<ShardId>) -> Vec<ShardId> {
    let listed: HashSet<&ShardId> = shards.iter().map(|s| &s.id).collect();
    shards
        .iter()
        .filter(|s| !finished.contains(&s.id))
        .filter(|s| {
            s.parent
                .as_ref()
                .is_none_or(|parent| finished.contains(parent) || !listed.contains(parent))
        })
        .map(|s| s.id.clone())
        .collect()
}

/// Whether a shard continues a parent the pipe read to its end (a parent still listed: a
/// shard starts only once its listed parent is finished, see [`startable`]).
fn continues_parent(shards: &[Shard], shard: &ShardId) -> bool {
    let parent = shards
        .iter()
        .find(|s| &s.id == shard)
        .and_then(|s| s.parent.as_ref());
    parent.is_some_and(|parent| shards.iter().any(|s| &s.id == parent))
}

/// Sleeps; true when the host began shutting down meanwhile.
async fn sleep_or_shutdown(duration: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests;
