//! DLQ redrive: each message back to the queue it came from (or to a queue named), and a
//! pipe's dead letters back through their pipe.

use serde::Serialize;

use super::Runtime;
use super::tasks::{TaskHandle, TaskKind};
use crate::config::PipeId;
use crate::origin::Origin;

/// What a redrive did.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Redriven {
    /// Set when the service moves the messages itself (SQS's StartMessageMoveTask); `moved`
    /// then stays 0 and SQS reports the move's progress (ListMessageMoveTasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_handle: Option<String>,
    /// This redrive in `/admin/tasks`.
    pub task_id: String,
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
    /// With `only`, just those messages move, one by one; ids not on the DLQ are skipped.
    /// The redrive is a task of [`Runtime::tasks`] while it runs.
    pub async fn redrive(
        &self,
        dlq: crate::config::QueueId,
        to: Option<crate::config::QueueId>,
        rate: Option<f64>,
        only: Option<&[String]>,
    ) -> Result<Redriven, crate::backend::StoreError> {
        let only = only.map(|ids| {
            let mut unique = std::collections::HashSet::new();
            ids.iter()
                .filter(|id| unique.insert(*id))
                .collect::<Vec<_>>()
        });
        let total = match &only {
            Some(ids) => Some(ids.len() as u64),
            None => {
                (self.queues.depth(dlq).await.ok()).map(|d| d.visible + d.in_flight + d.delayed)
            }
        };
        let task = self
            .tasks
            .start(TaskKind::Redrive, &self.config[dlq].name, total);
        let pause = rate
            .filter(|r| *r > 0.0)
            .map(|r| std::time::Duration::from_secs_f64(1.0 / r));
        let redriven = match only {
            Some(ids) => self.redrive_only(dlq, to, pause, &ids, &task).await,
            None => self.redrive_all(dlq, to, rate, pause, &task).await,
        };
        // The service moves the messages: the task goes on, with the service's counts, after
        // the answer (which, as StartMessageMoveTask's, comes at once).
        if let Ok(report) = &redriven
            && let Some(handle) = report.task_handle.clone()
        {
            let report = Redriven {
                task_id: task.id().to_string(),
                ..redriven?
            };
            let result = serde_json::to_value(&report).unwrap_or_default();
            let queues = self.queues.clone();
            tokio::spawn(follow_move_task(queues, dlq, handle, task, result));
            return Ok(report);
        }
        super::tasks::finish(task, redriven, |report, id| report.task_id = id)
    }

    async fn redrive_all(
        &self,
        dlq: crate::config::QueueId,
        to: Option<crate::config::QueueId>,
        rate: Option<f64>,
        pause: Option<std::time::Duration>,
        task: &TaskHandle,
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
            if let Some(handle) = self
                .queues
                .start_move_task(dlq, Some(destination), whole)
                .await?
            {
                // The service counts what it moves; `follow_move_task` asks it.
                task.set_progress(0, None);
                report.task_handle = Some(handle);
                return Ok(report);
            }
        }
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
                if self
                    .redrive_one(dlq, to, message, &mut report, task)
                    .await?
                    && let Some(pause) = pause
                {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Redrives the messages of `dlq` named by `ids`, one by one.
    async fn redrive_only(
        &self,
        dlq: crate::config::QueueId,
        to: Option<crate::config::QueueId>,
        pause: Option<std::time::Duration>,
        ids: &[&String],
        task: &TaskHandle,
    ) -> Result<Redriven, crate::backend::StoreError> {
        let mut report = Redriven::default();
        for id in ids {
            let Some(message) = self.queues.find(dlq, id).await? else {
                report.skipped.push(Skipped {
                    message_id: id.to_string(),
                    reason: "not on the DLQ".to_string(),
                });
                continue;
            };
            if self
                .redrive_one(dlq, to, message, &mut report, task)
                .await?
                && let Some(pause) = pause
            {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(report)
    }

    /// Redrives one message of `dlq` and notes it in `report`; true when it was tried, false
    /// when skipped at once (the rate counts only messages tried).
    async fn redrive_one(
        &self,
        dlq: crate::config::QueueId,
        to: Option<crate::config::QueueId>,
        message: crate::backend::Stored,
        report: &mut Redriven,
        task: &TaskHandle,
    ) -> Result<bool, crate::backend::StoreError> {
        // A pipe's dead letter goes back through its pipe, unless `to` names a queue.
        let origin = Origin::parse(&message.origin, &self.config);
        if let (Some(Origin::Pipe(pipe)), None) = (origin, to) {
            match self.redrive_into_pipe(dlq, pipe, &message).await? {
                Ok(()) => {
                    report.moved += 1;
                    task.advance(1);
                }
                Err(reason) => report.skipped.push(Skipped {
                    message_id: message.message_id,
                    reason,
                }),
            }
            return Ok(true);
        }
        let target = to.or(match origin {
            Some(Origin::Queue(queue)) => Some(queue),
            _ => None,
        });
        // Moving a message into the queue it is on would find it again, for ever.
        let Some(target) = target.filter(|target| *target != dlq) else {
            let reason = match target {
                Some(_) => {
                    "it came from this queue itself; redrive it with `to` naming another queue"
                        .to_string()
                }
                None => format!(
                    "it came from `{}`, not a queue; redrive it with `to` naming a queue",
                    message.origin
                ),
            };
            report.skipped.push(Skipped {
                message_id: message.message_id,
                reason,
            });
            return Ok(false);
        };
        if self
            .queues
            .move_message(dlq, &message.message_id, target)
            .await?
        {
            report.moved += 1;
            task.advance(1);
        }
        Ok(true)
    }
}

/// How often a service's move task is asked how far it has got.
const MOVE_TASK_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Asked this many times in a row without an answer, a move task is given up on.
const MOVE_TASK_TRIES: u32 = 5;

/// Follows the service's move task `handle` of `dlq` until it ends, keeping `task` at its
/// counts; `result` is what the redrive answered.
async fn follow_move_task(
    queues: std::sync::Arc<dyn crate::backend::Queues>,
    dlq: crate::config::QueueId,
    handle: String,
    task: TaskHandle,
    result: serde_json::Value,
) {
    let mut failed = 0;
    loop {
        tokio::time::sleep(MOVE_TASK_POLL).await;
        match queues.move_task_progress(dlq, &handle).await {
            Ok(Some(progress)) => {
                failed = 0;
                task.set_progress(progress.moved, progress.to_move);
                match progress.ended {
                    None => {}
                    Some(Ok(())) => return task.succeed(result),
                    Some(Err(reason)) => return task.fail(reason),
                }
            }
            // The backend cannot tell: as far as this host knows, the task is done.
            Ok(None) => return task.succeed(result),
            Err(err) => {
                failed += 1;
                tracing::warn!(task = handle, error = %err, "cannot ask how far a move task is");
                if failed == MOVE_TASK_TRIES {
                    return task.fail(format!(
                        "lost track of the queue service's move task {handle}: {}",
                        super::tasks::public(&err)
                    ));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::backend::{Depth, MoveProgress, NewMessage, Queues, Received, StoreError, Stored};
    use crate::config::QueueId;
    use crate::runtime::{TaskState, Tasks};

    /// A queue service whose move task answers as scripted, and notes the task's `done` each
    /// time it is asked.
    struct Scripted {
        answers: Mutex<VecDeque<Result<Option<MoveProgress>, StoreError>>>,
        tasks: Tasks,
        seen: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl Queues for Scripted {
        async fn move_task_progress(
            &self,
            _dlq: QueueId,
            handle: &str,
        ) -> Result<Option<MoveProgress>, StoreError> {
            assert_eq!(handle, "sqs-task");
            self.seen.lock().unwrap().push(self.tasks.list()[0].done);
            self.answers.lock().unwrap().pop_front().unwrap()
        }
        async fn send(&self, _: QueueId, _: Vec<NewMessage>) -> Result<Vec<String>, StoreError> {
            unreachable!()
        }
        async fn receive(
            &self,
            _: QueueId,
            _: usize,
            _: Option<Duration>,
            _: Duration,
        ) -> Result<Vec<Received>, StoreError> {
            unreachable!()
        }
        async fn delete(&self, _: QueueId, _: &[String]) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn change_visibility(
            &self,
            _: QueueId,
            _: &str,
            _: Duration,
        ) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn dead_letter(&self, _: QueueId, _: &Received, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn depth(&self, _: QueueId) -> Result<Depth, StoreError> {
            unreachable!()
        }
        async fn peek(&self, _: QueueId, _: usize) -> Result<Vec<Stored>, StoreError> {
            unreachable!()
        }
        async fn find(&self, _: QueueId, _: &str) -> Result<Option<Stored>, StoreError> {
            unreachable!()
        }
        async fn move_message(&self, _: QueueId, _: &str, _: QueueId) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn remove(&self, _: QueueId, _: &str) -> Result<bool, StoreError> {
            unreachable!()
        }
    }

    fn progress(moved: u64, ended: Option<Result<(), String>>) -> MoveProgress {
        MoveProgress {
            moved,
            to_move: Some(200),
            ended,
        }
    }

    /// Follows a move task whose service answers `answers`; the task as it ends, and its
    /// `done` at each question.
    async fn follow(
        answers: Vec<Result<Option<MoveProgress>, StoreError>>,
    ) -> (crate::runtime::Task, Vec<u64>) {
        let tasks = Tasks::default();
        let task = tasks.start(super::TaskKind::Redrive, "jobs-dlq", None);
        let id = task.id().to_string();
        let queues = Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            tasks: tasks.clone(),
            seen: Mutex::default(),
        });
        let result = json!({"taskHandle": "sqs-task", "moved": 0});
        follow_move_task(queues.clone(), QueueId(0), "sqs-task".into(), task, result).await;
        let seen = queues.seen.lock().unwrap().clone();
        (tasks.get(&id).unwrap(), seen)
    }

    #[tokio::test(start_paused = true)]
    async fn a_move_task_of_the_queue_service_is_followed_to_its_end_with_its_counts() {
        let (task, seen) = follow(vec![
            Ok(Some(progress(10, None))),
            Ok(Some(progress(150, None))),
            Ok(Some(progress(200, Some(Ok(()))))),
        ])
        .await;
        assert_eq!(seen, [0, 10, 150]);
        assert_eq!(task.state, TaskState::Succeeded);
        assert_eq!((task.done, task.total), (200, Some(200)));
        assert_eq!(
            task.result,
            Some(json!({"taskHandle": "sqs-task", "moved": 0}))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_move_task_that_failed_fails_its_task_with_the_service_s_reason() {
        let (task, _) = follow(vec![
            Ok(Some(progress(10, None))),
            Ok(Some(progress(10, Some(Err("AccessDenied".into()))))),
        ])
        .await;
        assert_eq!(task.state, TaskState::Failed);
        assert_eq!(task.error.as_deref(), Some("AccessDenied"));
        assert_eq!(task.done, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_move_task_the_service_stops_answering_for_is_given_up_on() {
        let down = || Err(StoreError::Unavailable("connection refused".into()));
        let (task, seen) = follow(vec![
            Ok(Some(progress(10, None))),
            down(),
            down(),
            down(),
            down(),
            down(),
        ])
        .await;
        assert_eq!(seen.len(), 6);
        assert_eq!(task.state, TaskState::Failed);
        let error = task.error.unwrap();
        assert!(error.contains("lost track"), "{error}");
        assert!(!error.contains("connection refused"), "{error}");
    }
}
