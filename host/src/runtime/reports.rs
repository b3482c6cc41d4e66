//! What `/admin/pipes`, `/admin/consumers`, `/admin/buses` and `/admin/queues` show.

use std::sync::PoisonError;

use serde::Serialize;

use super::Runtime;
use crate::backend::Depth;
use crate::config::PipeId;

/// A pipe's status, as `/admin/pipes` shows it.
#[derive(Debug, Serialize)]
pub struct PipeReport {
    pub name: String,
    pub source: String,
    pub state: &'static str,
    pub stuck: Option<String>,
    /// The shards whose lease this host holds.
    pub leases: Vec<String>,
    pub checkpoint: Option<String>,
    /// Records in the stream after the checkpoint. DynamoDB Streams cannot count them without
    /// reading them all, so on AWS it is not measured (`null`).
    pub lag: Option<u64>,
    pub read: u64,
    pub filtered: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub failed_attempts: u64,
}

/// A queue's depth and its DLQ's, as `/admin/queues` shows it.
#[derive(Debug, Serialize)]
pub struct QueueReport {
    pub name: String,
    pub fifo: bool,
    #[serde(flatten)]
    pub depth: Depth,
    pub dlq: Option<String>,
    pub max_receive_count: Option<u32>,
}

/// A consumer's counts and state, as `/admin/consumers` shows them.
#[derive(Debug, Serialize)]
pub struct ConsumerReport {
    pub name: String,
    pub queue: String,
    pub plugin: String,
    pub state: &'static str,
    /// Why its batches fail, while they do.
    pub stuck: Option<String>,
    pub received: u64,
    pub succeeded: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub failed_batches: u64,
}

/// A bus's counts, as `/admin/buses` shows them.
#[derive(Debug, Serialize)]
pub struct BusReport {
    pub name: String,
    /// Events no rule matched.
    pub unmatched: u64,
    pub rules: Vec<RuleReport>,
}

#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub name: String,
    /// Events the rule matched, once delivered.
    pub matched: u64,
    pub targets: usize,
}

impl Runtime {
    pub fn buses(&self) -> Vec<BusReport> {
        let counts = &self.buses;
        let buses = self.config.buses.iter().enumerate();
        buses
            .map(|(b, bus)| BusReport {
                name: bus.name.clone(),
                unmatched: counts.unmatched[b].get(),
                rules: (bus.rules.iter().enumerate())
                    .map(|(r, rule)| RuleReport {
                        name: rule.name.clone(),
                        matched: counts.matched[b][r].get(),
                        targets: rule.targets.len(),
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn consumers(&self) -> Vec<ConsumerReport> {
        let consumers = self.config.consumers.iter().zip(&self.consumers);
        consumers
            .map(|(consumer, status)| {
                let stuck = status
                    .stuck
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                ConsumerReport {
                    name: consumer.name.clone(),
                    queue: self.config[consumer.queue].name.clone(),
                    plugin: self.config[consumer.handler].name.clone(),
                    state: if stuck.is_some() { "stuck" } else { "running" },
                    stuck,
                    received: status.received.get(),
                    succeeded: status.succeeded.get(),
                    retried: status.retried.get(),
                    dead_lettered: status.dead_lettered.get(),
                    failed_batches: status.failed_batches.get(),
                }
            })
            .collect()
    }

    pub async fn pipes(&self) -> Vec<PipeReport> {
        let mut reports = Vec::with_capacity(self.pipes.len());
        for (i, runner) in self.pipes.iter().enumerate() {
            let (pipe, status) = (&self.config[PipeId(i)], &runner.status);
            let checkpoint = status
                .position
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let stuck = status
                .stuck
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let mut latest = None;
            let counted = self.capabilities.counts_lag;
            if counted && let Ok(shards) = self.stream.shards(pipe.source).await {
                for shard in shards {
                    let last = self.stream.latest(pipe.source, &shard.id).await;
                    latest = latest.max(last.ok().flatten());
                }
            }
            let at = |s: &Option<crate::record::SequenceNumber>| {
                s.as_ref().and_then(|s| s.to_u64()).unwrap_or(0)
            };
            reports.push(PipeReport {
                name: pipe.name.clone(),
                source: self.config[pipe.source].name.clone(),
                state: if stuck.is_some() { "stuck" } else { "running" },
                stuck,
                lag: counted.then(|| at(&latest).saturating_sub(at(&checkpoint))),
                checkpoint: checkpoint.map(|s| s.0),
                read: status.read.get(),
                filtered: status.filtered.get(),
                delivered: status.delivered.get(),
                dead_lettered: status.dead_lettered.get(),
                failed_attempts: status.failed_attempts.get(),
                leases: status
                    .leases
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned()
                    .collect(),
            });
        }
        reports
    }

    pub async fn queues(&self) -> Result<Vec<QueueReport>, crate::backend::StoreError> {
        let mut reports = Vec::with_capacity(self.config.queues.len());
        for (i, queue) in self.config.queues.iter().enumerate() {
            let depth = self.queues.depth(crate::config::QueueId(i)).await?;
            reports.push(QueueReport {
                name: queue.name.clone(),
                fifo: queue.fifo,
                depth,
                dlq: queue.redrive.map(|r| self.config[r.dlq].name.clone()),
                max_receive_count: queue.redrive.map(|r| r.max_receive_count),
            });
        }
        Ok(reports)
    }
}
