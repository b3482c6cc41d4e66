//! The running pipeline as operators see it: each pipe's and consumer's status, bus rule counts,
//! plugin stats and queue depths, for the `/admin` endpoints and for `/metrics` (Prometheus text
//! format).

use std::borrow::Cow;
use std::sync::{Arc, PoisonError};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::backend::{Archives, ChangeStream, Checkpoints, Delivery, Depth, Queues};
use crate::bus::Buses;
use crate::config::{Config, PipeId};
use crate::consumer::ConsumerStatus;
use crate::pipe::PipeRunner;
use crate::plugin::Plugins;

type Labels = Vec<(String, String)>;

pub struct Runtime {
    pub config: Arc<Config>,
    pub queues: Arc<dyn Queues>,
    pub archives: Arc<dyn Archives>,
    pub checkpoints: Arc<dyn Checkpoints>,
    pub stream: Arc<dyn ChangeStream>,
    pub pipes: Vec<Arc<PipeRunner>>,
    pub consumers: Vec<Arc<ConsumerStatus>>,
    pub buses: Arc<Buses>,
    registry: Registry,
    queue_messages: Family<Labels, Gauge>,
    pipe_lag: Family<Labels, Gauge>,
    pipe_stuck: Family<Labels, Gauge>,
}

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

fn label(name: &'static str, value: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    (Cow::Borrowed(name), Cow::Owned(value.to_string()))
}

impl Runtime {
    /// Publishes the embedded store's group commits in `/metrics`.
    pub fn register_commits(&mut self, stats: &crate::backend::embedded::CommitStats) {
        self.registry.register(
            "store_transactions",
            "Transactions the embedded store committed",
            stats.transactions.clone(),
        );
        self.registry.register(
            "store_grouped_writes",
            "Writes and other jobs those transactions carried (group commit)",
            stats.jobs.clone(),
        );
    }

    pub fn new(
        config: Arc<Config>,
        (queues, archives, checkpoints): (Arc<dyn Queues>, Arc<dyn Archives>, Arc<dyn Checkpoints>),
        stream: Arc<dyn ChangeStream>,
        pipes: Vec<Arc<PipeRunner>>,
        consumers: Vec<Arc<ConsumerStatus>>,
        buses: Arc<Buses>,
        plugins: Option<&Plugins>,
    ) -> Runtime {
        let mut registry = Registry::with_prefix("switchyard");
        for (pipe, runner) in config.pipes.iter().zip(&pipes) {
            let status = &runner.status;
            let sub = registry.sub_registry_with_label(label("pipe", &pipe.name));
            sub.register(
                "pipe_records_read",
                "Change records the pipe read",
                status.read.clone(),
            );
            sub.register(
                "pipe_records_filtered",
                "Records the pipe's filters dropped",
                status.filtered.clone(),
            );
            sub.register(
                "pipe_records_delivered",
                "Events the pipe delivered",
                status.delivered.clone(),
            );
            sub.register(
                "pipe_records_dead_lettered",
                "Records sent to the pipe's DLQ",
                status.dead_lettered.clone(),
            );
            sub.register(
                "pipe_failed_attempts",
                "Batch deliveries that failed",
                status.failed_attempts.clone(),
            );
        }
        for (b, bus) in config.buses.iter().enumerate() {
            let sub = registry.sub_registry_with_label(label("bus", &bus.name));
            sub.register(
                "bus_events_unmatched",
                "Events no rule matched",
                buses.unmatched[b].clone(),
            );
            for (r, rule) in bus.rules.iter().enumerate() {
                sub.sub_registry_with_label(label("rule", &rule.name))
                    .register(
                        "rule_events_matched",
                        "Events the rule matched",
                        buses.matched[b][r].clone(),
                    );
            }
        }
        for (consumer, status) in config.consumers.iter().zip(&consumers) {
            let sub = registry.sub_registry_with_label(label("consumer", &consumer.name));
            sub.register(
                "consumer_messages_received",
                "Messages handed to the consumer",
                status.received.clone(),
            );
            sub.register(
                "consumer_messages_succeeded",
                "Messages the plugin answered ok",
                status.succeeded.clone(),
            );
            sub.register(
                "consumer_messages_retried",
                "Messages the plugin asked to retry",
                status.retried.clone(),
            );
            sub.register(
                "consumer_messages_dead_lettered",
                "Messages the plugin dead-lettered",
                status.dead_lettered.clone(),
            );
            sub.register(
                "consumer_batches_failed",
                "Batches that failed as a whole",
                status.failed_batches.clone(),
            );
        }
        for (name, stats) in plugins.into_iter().flat_map(Plugins::stats) {
            let sub = registry.sub_registry_with_label(label("plugin", name));
            sub.register(
                "plugin_invocations",
                "Plugin calls",
                stats.invocations.clone(),
            );
            sub.register(
                "plugin_errors",
                "Plugin calls that failed",
                stats.errors.clone(),
            );
            sub.register(
                "plugin_duration_seconds",
                "Time per plugin call",
                stats.duration.clone(),
            );
        }
        let queue_messages = Family::<Labels, Gauge>::default();
        registry.register(
            "queue_messages",
            "Messages on a queue, by state",
            queue_messages.clone(),
        );
        let pipe_lag = Family::<Labels, Gauge>::default();
        registry.register(
            "pipe_lag_records",
            "Records in the stream after the pipe's checkpoint",
            pipe_lag.clone(),
        );
        let pipe_stuck = Family::<Labels, Gauge>::default();
        registry.register(
            "pipe_stuck",
            "1 when the pipe is stopped at a record it cannot deliver",
            pipe_stuck.clone(),
        );
        Runtime {
            config,
            queues,
            archives,
            checkpoints,
            stream,
            pipes,
            consumers,
            buses,
            registry,
            queue_messages,
            pipe_lag,
            pipe_stuck,
        }
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
            let counted = self.config.host.backend == crate::config::Backend::Embedded;
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

    /// Every metric, in Prometheus text format.
    pub async fn metrics(&self) -> String {
        if let Ok(queues) = self.queues().await {
            for queue in queues {
                for (state, n) in [
                    ("visible", queue.depth.visible),
                    ("in_flight", queue.depth.in_flight),
                    ("delayed", queue.depth.delayed),
                ] {
                    let labels = vec![
                        ("queue".to_string(), queue.name.clone()),
                        ("state".to_string(), state.to_string()),
                    ];
                    self.queue_messages.get_or_create(&labels).set(n as i64);
                }
            }
        }
        for pipe in self.pipes().await {
            let labels = vec![("pipe".to_string(), pipe.name.clone())];
            if let Some(lag) = pipe.lag {
                self.pipe_lag.get_or_create(&labels).set(lag as i64);
            }
            self.pipe_stuck
                .get_or_create(&labels)
                .set(i64::from(pipe.stuck.is_some()));
        }
        let mut text = String::new();
        if let Err(err) = encode(&mut text, &self.registry) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        text
    }
}

/// What a redrive did.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Redriven {
    /// Set when the service moves the messages itself (SQS's StartMessageMoveTask); `moved`
    /// then stays 0 and the task reports its own progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_handle: Option<String>,
    pub moved: u64,
    /// Messages left on the DLQ, with why.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub message_id: String,
    pub reason: String,
}

impl Runtime {
    /// Moves every message of `dlq` back to the queue it came from (its origin), or to `to`,
    /// at most `rate` messages per second: StartMessageMoveTask's behaviour. A record from a
    /// pipe's DLQ goes through its pipe again, from the filters on, to the pipe's target.
    pub async fn redrive(
        &self,
        dlq: crate::config::QueueId,
        to: Option<crate::config::QueueId>,
        rate: Option<f64>,
    ) -> Result<Redriven, crate::backend::StoreError> {
        let mut report = Redriven::default();
        // The service's own task moves everything to one queue: `to`, or the DLQ's one source.
        let mut sources = self
            .config
            .queues
            .iter()
            .enumerate()
            .filter(|(_, q)| q.redrive.is_some_and(|r| r.dlq == dlq));
        let only_source = match (sources.next(), sources.next()) {
            (Some((i, _)), None) => Some(crate::config::QueueId(i)),
            _ => None,
        };
        if let Some(destination) = to.or(only_source) {
            let whole = rate.map(|r| r.ceil().max(1.0) as u32);
            if let Some(task) = self
                .queues
                .start_move_task(dlq, Some(destination), whole)
                .await?
            {
                report.task_handle = Some(task);
                return Ok(report);
            }
        }
        let pause = rate
            .filter(|r| *r > 0.0)
            .map(|r| std::time::Duration::from_secs_f64(1.0 / r));
        loop {
            let batch = self.queues.peek(dlq, 100 + report.skipped.len()).await?;
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|m| report.skipped.iter().all(|s| s.message_id != m.message_id))
                .collect();
            if fresh.is_empty() {
                return Ok(report);
            }
            for message in fresh {
                // A pipe's dead letter goes back through its pipe, unless `to` names a queue.
                let pipe = message
                    .origin
                    .strip_prefix("pipe:")
                    .and_then(|name| self.config.pipes.iter().position(|p| p.name == name))
                    .map(PipeId)
                    .filter(|_| to.is_none());
                if let Some(pipe) = pipe {
                    match self.redrive_into_pipe(dlq, pipe, &message).await? {
                        Ok(()) => report.moved += 1,
                        Err(reason) => report.skipped.push(Skipped {
                            message_id: message.message_id,
                            reason,
                        }),
                    }
                    if let Some(pause) = pause {
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
                let target = to.or_else(|| {
                    message
                        .origin
                        .strip_prefix("queue:")
                        .and_then(|name| self.config.queue_id(name))
                });
                let Some(target) = target else {
                    let reason = format!(
                        "it came from `{}`, not a queue; redrive it with `to` naming a queue",
                        message.origin
                    );
                    report.skipped.push(Skipped {
                        message_id: message.message_id,
                        reason,
                    });
                    continue;
                };
                if self
                    .queues
                    .move_message(dlq, &message.message_id, target)
                    .await?
                {
                    report.moved += 1;
                }
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

impl Runtime {
    /// Processes a record from a pipe's DLQ again through the pipe, then removes it from the
    /// DLQ; the inner error says why it stays there.
    async fn redrive_into_pipe(
        &self,
        dlq: crate::config::QueueId,
        pipe: PipeId,
        message: &crate::backend::Stored,
    ) -> Result<Result<(), String>, crate::backend::StoreError> {
        let name = &self.config[pipe].name;
        let record: crate::record::StreamRecord = match serde_json::from_str(&message.body) {
            Ok(record) => record,
            Err(err) => {
                return Ok(Err(format!(
                    "it came from pipe `{name}`, but it is not a stream record ({err}); redrive it with `to` naming a queue"
                )));
            }
        };
        if let Err(err) = self.pipes[pipe.index()].redrive(&record).await {
            return Ok(Err(format!("pipe `{name}` failed it again: {err}")));
        }
        // Delivered: a crash before this removal redrives it again later, with the same
        // event id, as at-least-once delivery allows.
        self.queues.remove(dlq, &message.message_id).await?;
        tracing::info!(
            pipe = name,
            message = message.message_id,
            "redrove a dead letter through its pipe"
        );
        Ok(Ok(()))
    }
}

/// What a replay did.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub replay_name: String,
    pub replayed: u64,
}

impl Runtime {
    /// Sends the events archived on `bus` between `from_ms` and `to_ms` through the bus's
    /// rules again, in their original order (EventBridge's replay does not keep order; this
    /// one does). Each carries `replay-name`, as EventBridge's replayed events do.
    pub async fn replay(
        &self,
        bus: crate::config::BusId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Replayed, crate::backend::StoreError> {
        let replay_name = format!("replay-{}", uuid::Uuid::now_v7());
        let mut after = 0;
        let mut replayed = 0;
        loop {
            let batch = self
                .archives
                .archived(bus, from_ms, to_ms, after, 100)
                .await?;
            let Some(last) = batch.last() else { break };
            after = last.position;
            let mut delivery = Delivery::default();
            let mut counts = crate::bus::Routed::default();
            for archived in batch {
                let mut event: serde_json::Value =
                    serde_json::from_str(&archived.event).unwrap_or_default();
                event["replay-name"] = serde_json::Value::String(replay_name.clone());
                match self.buses.route(&self.config, bus, &event.to_string()) {
                    Ok(routed) => {
                        delivery.messages.extend(routed.messages);
                        counts.matched.extend(routed.matched);
                        counts.unmatched.extend(routed.unmatched);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "an archived event could not be replayed")
                    }
                }
                replayed += 1;
            }
            self.checkpoints.deliver(delivery).await?;
            self.buses.count(&counts);
        }
        tracing::info!(
            bus = self.config[bus].name,
            replay_name,
            replayed,
            "replay finished"
        );
        Ok(Replayed {
            replay_name,
            replayed,
        })
    }
}
