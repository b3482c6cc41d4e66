//! DLQ redrive: each message back to the queue it came from (or to a queue named), and a
//! pipe's dead letters back through their pipe.

use serde::Serialize;

use super::Runtime;
use crate::config::PipeId;
use crate::origin::Origin;

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
        // A pipe's DLQ goes back through its pipe, which the service's task cannot do.
        let a_pipes = self.config.pipes.iter().any(|p| p.dlq == Some(dlq));
        let task_destination = to.or(only_source.filter(|_| !a_pipes));
        if let Some(destination) = task_destination {
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
        // Each message is looked at once: one that comes back to the DLQ while the redrive runs
        // (its consumer failed it again) waits for the next redrive.
        let mut seen = std::collections::HashSet::new();
        let mut stale = 0;
        loop {
            let window = 100 + stale;
            let batch = self.queues.peek(dlq, window).await?;
            let full = batch.len() == window;
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|m| !seen.contains(&m.message_id))
                .collect();
            stale = window - fresh.len();
            if fresh.is_empty() {
                if full {
                    continue; // only messages looked at already in this window: look further
                }
                return Ok(report);
            }
            seen.extend(fresh.iter().map(|m| m.message_id.clone()));
            for message in fresh {
                // A pipe's dead letter goes back through its pipe, unless `to` names a queue.
                let origin = Origin::parse(&message.origin, &self.config);
                if let (Some(Origin::Pipe(pipe)), None) = (origin, to) {
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
                let target = to.or(match origin {
                    Some(Origin::Queue(queue)) => Some(queue),
                    _ => None,
                });
                // Moving a message into the queue it is on would find it again, for ever.
                let Some(target) = target.filter(|target| *target != dlq) else {
                    let reason = match target {
                        Some(_) => "it came from this queue itself; redrive it with `to` naming another queue".to_string(),
                        None => format!(
                            "it came from `{}`, not a queue; redrive it with `to` naming a queue",
                            message.origin
                        ),
                    };
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
        if !self.queues.remove(dlq, &message.message_id).await? {
            return Ok(Err(format!(
                "pipe `{name}` delivered it, but it could not be found on the DLQ to remove; \
                 a later redrive delivers it again"
            )));
        }
        tracing::info!(
            pipe = name,
            message = message.message_id,
            "redrove a dead letter through its pipe"
        );
        Ok(Ok(()))
    }
}
