//! The last minutes of the pipeline's figures, for the console's live view and sparklines: a
//! sample of every stage's counters each second, kept in a ring. Counters cost nothing to read;
//! queue depths and pipe lag ask the store, so they are sampled only while someone watches.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

use super::Runtime;
use crate::plugin::Plugins;

/// How often a sample is taken.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// How many samples are kept: five minutes.
pub const KEPT: usize = 300;
/// Depths and lag are sampled while the last look at the figures is this recent.
const WATCHED_FOR_MS: i64 = 60_000;

/// One moment's figures, by stage name. Counters only grow; a rate is the difference of two
/// samples over their times.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    pub pipes: BTreeMap<String, PipeSample>,
    pub buses: BTreeMap<String, BusSample>,
    /// By `BUS/RULE`.
    pub rules: BTreeMap<String, RuleSample>,
    /// Only while someone watches (see the module's comment).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub queues: BTreeMap<String, QueueSample>,
    pub consumers: BTreeMap<String, ConsumerSample>,
    pub plugins: BTreeMap<String, PluginSample>,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PipeSample {
    pub read: u64,
    pub filtered: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub failed_attempts: u64,
    /// Records after the checkpoint, when measured and watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct BusSample {
    pub unmatched: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RuleSample {
    pub matched: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct QueueSample {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerSample {
    pub received: u64,
    pub succeeded: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub failed_batches: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PluginSample {
    pub invocations: u64,
    pub errors: u64,
}

/// The ring of samples, and the plugin counters it reads.
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    plugins: Vec<(String, Counter, Counter)>,
    watched_at: AtomicI64,
}

impl History {
    pub fn new(plugins: Option<&Plugins>) -> History {
        let plugins = plugins.into_iter().flat_map(Plugins::stats);
        History {
            samples: Mutex::new(VecDeque::with_capacity(KEPT)),
            plugins: plugins
                .map(|(name, s)| (name.to_string(), s.invocations.clone(), s.errors.clone()))
                .collect(),
            watched_at: AtomicI64::new(i64::MIN),
        }
    }

    /// The samples taken after `since` (ms since the epoch), oldest first; notes that someone
    /// is watching.
    pub fn since(&self, since: i64) -> Vec<Sample> {
        self.watched_at.store(now_ms(), Ordering::Relaxed);
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples.iter().filter(|s| s.t > since).cloned().collect()
    }

    fn watched(&self, now: i64) -> bool {
        now.saturating_sub(self.watched_at.load(Ordering::Relaxed)) <= WATCHED_FOR_MS
    }

    fn keep(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        if samples.len() == KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Runtime {
    /// Takes a sample of every stage's figures and keeps it.
    pub async fn sample(&self) {
        let t = now_ms();
        let watched = self.history.watched(t);
        let mut sample = Sample {
            t,
            ..Sample::default()
        };
        for (pipe, runner) in self.config.pipes.iter().zip(&self.pipes) {
            let status = &runner.status;
            sample.pipes.insert(
                pipe.name.clone(),
                PipeSample {
                    read: status.read.get(),
                    filtered: status.filtered.get(),
                    delivered: status.delivered.get(),
                    dead_lettered: status.dead_lettered.get(),
                    failed_attempts: status.failed_attempts.get(),
                    lag: None,
                },
            );
        }
        for bus in self.buses() {
            for rule in &bus.rules {
                let name = format!("{}/{}", bus.name, rule.name);
                let matched = rule.matched;
                sample.rules.insert(name, RuleSample { matched });
            }
            let unmatched = bus.unmatched;
            sample.buses.insert(bus.name, BusSample { unmatched });
        }
        for (consumer, status) in self.config.consumers.iter().zip(&self.consumers) {
            sample.consumers.insert(
                consumer.name.clone(),
                ConsumerSample {
                    received: status.received.get(),
                    succeeded: status.succeeded.get(),
                    retried: status.retried.get(),
                    dead_lettered: status.dead_lettered.get(),
                    failed_batches: status.failed_batches.get(),
                },
            );
        }
        for (name, invocations, errors) in &self.history.plugins {
            sample.plugins.insert(
                name.clone(),
                PluginSample {
                    invocations: invocations.get(),
                    errors: errors.get(),
                },
            );
        }
        if watched {
            if let Ok(queues) = self.queues().await {
                for queue in queues {
                    let depth = queue.depth;
                    sample.queues.insert(
                        queue.name,
                        QueueSample {
                            visible: depth.visible,
                            in_flight: depth.in_flight,
                            delayed: depth.delayed,
                        },
                    );
                }
            }
            for report in self.pipes().await {
                if let Some(pipe) = sample.pipes.get_mut(&report.name) {
                    pipe.lag = report.lag;
                }
            }
        }
        self.history.keep(sample);
    }

    /// Samples every [`INTERVAL`] until `stop` turns true.
    pub async fn sample_forever(
        self: std::sync::Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.sample().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64) -> Sample {
        Sample {
            t,
            ..Sample::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_last_five_minutes_and_answers_what_came_after_a_time() {
        let history = History::new(None);
        for t in 0..(KEPT as i64 + 10) {
            history.keep(sample(t));
        }
        let all = history.since(i64::MIN);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all.first().map(|s| s.t), Some(10));
        let newer = history.since(KEPT as i64 + 7);
        assert_eq!(newer.iter().map(|s| s.t).collect::<Vec<_>>(), [308, 309]);
    }

    #[test]
    fn depths_are_sampled_only_while_someone_watches() {
        let history = History::new(None);
        let now = now_ms();
        assert!(!history.watched(now));
        history.since(now);
        assert!(history.watched(now_ms()));
        assert!(!history.watched(now_ms() + WATCHED_FOR_MS + 1_000));
    }
}
