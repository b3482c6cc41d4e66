//! Consumers, as Lambda's SQS event source mapping: up to `concurrency` workers receive batches
//! (waiting up to `batching_window` to fill them), hand each to the consumer plugin, and apply
//! its answer per message: `ok` deletes the message, `retry(delay)` hides it for the delay,
//! `dead-letter(reason)` moves it to the queue's DLQ now. A trap, a timeout or an error fails
//! the whole batch: its messages come back after their visibility timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backend::{Queues, Received};
use crate::batching;
use crate::config::{Config, ConsumerId, PluginId};
use crate::plugin::{Message, Outcome, PluginError};
use crate::stages::Stages;
use crate::tap::{Point, Tap};
use crate::telemetry;

/// How long one receive waits for a message: SQS's longest long poll. A send wakes it sooner.
const POLL: Duration = Duration::from_secs(20);
/// How long to wait before receiving again after a failed receive.
const RETRY: Duration = Duration::from_secs(1);

/// What a consumer has done, for `/admin` and `/metrics`.
#[derive(Debug, Default)]
pub struct ConsumerStatus {
    pub received: Counter,
    pub succeeded: Counter,
    pub retried: Counter,
    pub dead_lettered: Counter,
    pub failed_batches: Counter,
    /// Why the last batch failed as a whole, until a batch goes through again.
    pub stuck: std::sync::Mutex<Option<String>>,
}

impl ConsumerStatus {
    fn stuck_at(&self, reason: Option<String>) {
        *self
            .stuck
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reason;
    }
}

pub struct ConsumerRunner {
    pub id: ConsumerId,
    pub config: Arc<Config>,
    pub queues: Arc<dyn Queues>,
    pub plugins: Arc<dyn Stages>,
    pub status: Arc<ConsumerStatus>,
    /// Shows each message's outcome to whoever taps the consumer.
    pub tap: Arc<Tap>,
}

impl ConsumerRunner {
    /// Runs its workers until `shutdown` turns true; a batch in hand is finished first.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let consumer = &self.config[self.id];
        let span = tracing::info_span!(
            "consumer",
            consumer = consumer.name,
            queue = self.config[consumer.queue].name,
            plugin = self.config[consumer.handler].name,
        );
        let workers = (0..consumer.concurrency).map(|_| self.clone().worker(shutdown.clone()));
        futures::future::join_all(workers).instrument(span).await;
    }

    /// Receives and handles batches. A batch's deletes go on while the next batch is received,
    /// so that on the embedded backend both share one commit.
    async fn worker(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let consumer = &self.config[self.id];
        let batch_size = consumer.batch_size as usize;
        let mut deleting: Option<JoinHandle<()>> = None;
        while !*shutdown.borrow() {
            let received = tokio::select! {
                received = self.queues.receive(consumer.queue, batch_size, None, POLL) => received,
                _ = shutdown.changed() => break,
            };
            let batch = match received {
                Ok(batch) if batch.is_empty() => continue,
                Ok(batch) => batch,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot receive; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            let batch = batching::fill(
                batch,
                batch_size,
                consumer.batching_window,
                |_: &[Received], room, wait| self.queues.receive(consumer.queue, room, None, wait),
            )
            .await;
            let done = self.handle(batch).await;
            if let Some(previous) = deleting.take() {
                let _ = previous.await;
            }
            deleting = self.delete(done);
        }
        if let Some(last) = deleting {
            let _ = last.await;
        }
    }

    /// Deletes handled messages in the background; `None` when there are none.
    fn delete(&self, done: Vec<String>) -> Option<JoinHandle<()>> {
        if done.is_empty() {
            return None;
        }
        let (queues, queue) = (self.queues.clone(), self.config[self.id].queue);
        Some(tokio::spawn(
            async move {
                if let Err(err) = queues.delete(queue, &done).await {
                    tracing::warn!(error = %err, "cannot delete handled messages; they will be handled again");
                }
            }
            .in_current_span(),
        ))
    }

    /// Hands a batch to the plugin and applies its outcomes; returns the receipts of the
    /// messages it handled (`ok`), to delete.
    async fn handle(&self, batch: Vec<Received>) -> Vec<String> {
        let first = batch.first().map_or("", |m| m.message_id.as_str());
        let span = tracing::info_span!("batch", message_id = first, messages = batch.len());
        self.apply(batch).instrument(span).await
    }

    async fn apply(&self, batch: Vec<Received>) -> Vec<String> {
        let consumer = &self.config[self.id];
        self.status.received.inc_by(batch.len() as u64);
        let messages: Vec<Message> = batch.iter().map(message).collect();
        let (plugins, handler) = (self.plugins.clone(), consumer.handler);
        // A span per message, each in its own trace; the plugin's call for the batch is a
        // child of the first message's span.
        let traced: Vec<tracing::Span> = batch
            .iter()
            .map(|m| {
                telemetry::message_span(
                    &consumer.name,
                    &self.config[consumer.queue].name,
                    &m.message_id,
                    m.trace.as_deref(),
                )
            })
            .collect();
        let span = tracing::Span::current();
        let first = traced.first().cloned();
        let outcomes = tokio::task::spawn_blocking(move || {
            let _in_batch = span.enter();
            let _first = first.as_ref().map(tracing::Span::enter);
            outcomes(&*plugins, handler, &messages)
        })
        .await;
        let outcomes = match outcomes {
            Ok(Ok(outcomes)) => Ok(fifo_hold(&batch, outcomes)),
            Ok(Err(err)) => {
                traced.iter().for_each(|s| telemetry::outcome(s, Err(&err)));
                tracing::warn!(error = %err, "batch failed; its messages come back after their visibility timeout");
                Err(format!("every message of the last batch failed: {err}"))
            }
            Err(err) => {
                tracing::error!(error = %err, "the plugin task failed");
                Err(format!("the plugin task failed: {err}"))
            }
        };
        let point = Point::Consumer(self.id);
        self.tap.show(
            point,
            batch.iter().enumerate(),
            |(n, received)| match &outcomes {
                Ok(outcomes) => crate::tap::outcome(received, Ok(&outcomes[n])),
                Err(error) => crate::tap::outcome(received, Err(error)),
            },
        );
        let outcomes = match outcomes {
            Ok(outcomes) => {
                self.status.stuck_at(None);
                outcomes
            }
            Err(reason) => {
                self.status.failed_batches.inc_by(1);
                self.status.stuck_at(Some(reason));
                return Vec::new();
            }
        };
        let mut done = Vec::new();
        for ((received, outcome), traced) in batch.iter().zip(outcomes).zip(&traced) {
            let kind = match &outcome {
                Outcome::Ok => "ok",
                Outcome::Retry(_) => "retry",
                Outcome::DeadLetter(_) => "dead-letter",
            };
            telemetry::outcome(traced, Ok(kind));
            let receipt = &received.receipt_handle;
            let applied = match outcome {
                Outcome::Ok => {
                    done.push(receipt.clone());
                    Ok(())
                }
                Outcome::Retry(delay) => {
                    self.status.retried.inc_by(1);
                    match delay {
                        // No delay: the message comes back when its visibility timeout ends.
                        None => Ok(()),
                        Some(seconds) => {
                            self.queues
                                .change_visibility(
                                    consumer.queue,
                                    receipt,
                                    Duration::from_secs(seconds.into()),
                                )
                                .await
                        }
                    }
                }
                Outcome::DeadLetter(reason) => {
                    self.status.dead_lettered.inc_by(1);
                    self.queues
                        .dead_letter(consumer.queue, received, &reason)
                        .await
                }
            };
            if let Err(err) = applied {
                tracing::warn!(message_id = received.message_id, error = %err, "cannot apply the plugin's outcome; the message comes back after its visibility timeout");
            }
        }
        self.status.succeeded.inc_by(done.len() as u64);
        done
    }
}

/// The outcomes to apply, in order. FIFO: once a message of a group is retried, the group's
/// later messages in the batch are retried with it, with its delay, whatever the plugin
/// answered for them, so that none is done before it (as Powertools'
/// `SqsFifoPartialProcessor` does for a Lambda function).
fn fifo_hold(batch: &[Received], outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let mut held: HashMap<&str, Option<u32>> = HashMap::new();
    batch
        .iter()
        .zip(outcomes)
        .map(|(received, outcome)| {
            let group = received.group_id.as_deref();
            let outcome = match group.and_then(|g| held.get(g)) {
                Some(delay) => Outcome::Retry(*delay),
                None => outcome,
            };
            if let (Some(group), Outcome::Retry(delay)) = (group, &outcome) {
                held.entry(group).or_insert(*delay);
            }
            outcome
        })
        .collect()
}

/// The plugin's outcome for each message, or the error that fails the batch. A batch the
/// plugin calls invalid is handed over again in halves down to the message it refuses, which
/// is dead-lettered with the plugin's reason at once: retrying it would fail the same way.
pub(crate) fn outcomes(
    plugins: &dyn Stages,
    handler: PluginId,
    messages: &[Message],
) -> Result<Vec<Outcome>, PluginError> {
    match plugins.handle(handler, messages) {
        Err(err) if !err.retryable() => {
            if messages.len() == 1 {
                return Ok(vec![Outcome::DeadLetter(err.to_string())]);
            }
            let (left, right) = messages.split_at(messages.len() / 2);
            let mut all = outcomes(plugins, handler, left)?;
            all.extend(outcomes(plugins, handler, right)?);
            Ok(all)
        }
        handled => handled,
    }
}

/// A received message as the plugin sees it, with SQS's attribute names.
pub(crate) fn message(received: &Received) -> Message {
    let mut attributes = vec![
        (
            "ApproximateReceiveCount".to_string(),
            received.receive_count.to_string(),
        ),
        (
            "SentTimestamp".to_string(),
            received.sent_timestamp_ms.to_string(),
        ),
        ("SenderId".to_string(), received.origin.clone()),
    ];
    if let Some(group) = &received.group_id {
        attributes.push(("MessageGroupId".to_string(), group.clone()));
    }
    Message {
        id: received.message_id.clone(),
        body: received.body.clone(),
        receive_count: received.receive_count,
        attributes,
    }
}

#[cfg(test)]
mod tests;
