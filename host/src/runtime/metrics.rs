//! Every metric `/metrics` serves, in Prometheus text format, registered in one place: the
//! counters the pipes, rules, consumers and plugins keep, and gauges read when scraped.

use std::borrow::Cow;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Runtime;
use crate::bus::Buses;
use crate::config::Config;
use crate::consumer::ConsumerStatus;
use crate::pipe::PipeRunner;
use crate::plugin::Plugins;

type Labels = Vec<(String, String)>;

fn label(name: &'static str, value: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    (Cow::Borrowed(name), Cow::Owned(value.to_string()))
}

/// The registry, and the gauges set from the stores' state at each scrape.
pub struct Metrics {
    registry: Registry,
    queue_messages: Family<Labels, Gauge>,
    pipe_lag: Family<Labels, Gauge>,
    pipe_stuck: Family<Labels, Gauge>,
}

impl Metrics {
    pub fn new(
        config: &Config,
        pipes: &[Arc<PipeRunner>],
        consumers: &[Arc<ConsumerStatus>],
        buses: &Buses,
        plugins: Option<&Plugins>,
    ) -> Metrics {
        let mut registry = Registry::with_prefix("switchyard");
        for (pipe, runner) in config.pipes.iter().zip(pipes) {
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
        for (consumer, status) in config.consumers.iter().zip(consumers) {
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
        Metrics {
            registry,
            queue_messages,
            pipe_lag,
            pipe_stuck,
        }
    }

    /// Publishes the embedded store's group commits.
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
}

impl Runtime {
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
                    self.metrics
                        .queue_messages
                        .get_or_create(&labels)
                        .set(n as i64);
                }
            }
        }
        for pipe in self.pipes().await {
            let labels = vec![("pipe".to_string(), pipe.name.clone())];
            if let Some(lag) = pipe.lag {
                self.metrics.pipe_lag.get_or_create(&labels).set(lag as i64);
            }
            self.metrics
                .pipe_stuck
                .get_or_create(&labels)
                .set(i64::from(pipe.stuck.is_some()));
        }
        let mut text = String::new();
        if let Err(err) = encode(&mut text, &self.metrics.registry) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        text
    }
}
