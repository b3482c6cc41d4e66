//! DLQ redrive as SQS's message move tasks: StartMessageMoveTask moves a dead-letter queue's
//! messages back to the queue each came from (or to a queue named), ListMessageMoveTasks shows
//! progress, CancelMessageMoveTask stops one. The host moves the messages itself, through
//! [`Queues::move_message`], on either backend; tasks live as long as the host process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::errors::*;
use super::{AwsError, Sqs, input};
use crate::backend::{Queues, StoreError};
use crate::config::{Config, QueueId};

/// SQS's most messages a second a task may be asked to move.
const MAX_RATE: i64 = 500;
/// ListMessageMoveTasks' most results.
const MAX_LISTED: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Cancelling => "CANCELLING",
            Status::Cancelled => "CANCELLED",
            Status::Failed => "FAILED",
        }
    }
}

/// One move task, shared between its worker and the API.
struct Task {
    handle: String,
    source: QueueId,
    source_arn: String,
    destination_arn: Option<String>,
    rate: Option<u32>,
    to_move: u64,
    started_ms: i64,
    moved: AtomicU64,
    cancel: AtomicBool,
    /// The status, and why the task failed.
    state: Mutex<(Status, Option<String>)>,
    /// The queues and config the task belongs to: tasks of another host in the same process
    /// (tests) are not this one's.
    queues: Arc<dyn Queues>,
}

impl Task {
    fn status(&self) -> (Status, Option<String>) {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, status: Status, reason: Option<String>) {
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (status, reason);
    }

    fn entry(&self) -> Value {
        let (status, reason) = self.status();
        let mut entry = json!({
            "TaskHandle": self.handle,
            "Status": status.as_str(),
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved.load(Ordering::Relaxed),
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        });
        if let Some(destination) = &self.destination_arn {
            entry["DestinationArn"] = json!(destination);
        }
        if let Some(rate) = self.rate {
            entry["MaxNumberOfMessagesPerSecond"] = json!(rate);
        }
        if let Some(reason) = reason {
            entry["FailureReason"] = json!(reason);
        }
        entry
    }
}

/// Every task this process started, newest last.
static TASKS: Mutex<Vec<Arc<Task>>> = Mutex::new(Vec::new());

fn tasks() -> std::sync::MutexGuard<'static, Vec<Arc<Task>>> {
    TASKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sqs<'_> {
    /// This host's tasks, newest first.
    fn own_tasks(&self) -> Vec<Arc<Task>> {
        let mine = &self.app.runtime.queues;
        tasks()
            .iter()
            .rev()
            .filter(|t| Arc::ptr_eq(&t.queues, mine))
            .cloned()
            .collect()
    }

    pub(super) async fn start_message_move_task(&self, input: &Value) -> Result<Value, AwsError> {
        let source_arn = input::required_string(input, "SourceArn")?;
        let source = self.queue_of_arn(source_arn).ok_or_else(|| {
            resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        })?;
        let config = &self.app.config;
        if !config
            .queues
            .iter()
            .any(|q| q.redrive.is_some_and(|r| r.dlq == source))
        {
            return Err(invalid_parameter(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let destination = match input::string(input, "DestinationArn")? {
            None => None,
            Some(arn) => Some(self.queue_of_arn(arn).ok_or_else(|| {
                resource_not_found(
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                )
            })?),
        };
        let rate = input::integer(input, "MaxNumberOfMessagesPerSecond")?;
        if let Some(rate) = rate
            && !(1..=MAX_RATE).contains(&rate)
        {
            return Err(invalid_value(
                "MaxNumberOfMessagesPerSecond",
                rate,
                "Must be between 1 and 500, if provided.",
            ));
        }
        let running = self
            .own_tasks()
            .into_iter()
            .any(|t| t.source == source && t.status().0 == Status::Running);
        if running {
            return Err(unsupported(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let depth = self
            .app
            .runtime
            .queues
            .depth(source)
            .await
            .map_err(internal)?;
        let handle = STANDARD.encode(
            json!({"taskId": uuid::Uuid::now_v7().to_string(), "sourceArn": source_arn})
                .to_string(),
        );
        let task = Arc::new(Task {
            handle: handle.clone(),
            source,
            source_arn: source_arn.to_string(),
            destination_arn: destination.map(|d| self.arn(d)),
            rate: rate.map(|r| r as u32),
            to_move: depth.visible + depth.in_flight + depth.delayed,
            started_ms: crate::backend::embedded::now_ms(),
            moved: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            state: Mutex::new((Status::Running, None)),
            queues: self.app.runtime.queues.clone(),
        });
        tasks().push(task.clone());
        tokio::spawn(run(task, self.app.config.clone(), destination));
        Ok(json!({"TaskHandle": handle}))
    }

    pub(super) fn list_message_move_tasks(&self, input: &Value) -> Result<Value, AwsError> {
        let source_arn = input::required_string(input, "SourceArn")?;
        let source = self.queue_of_arn(source_arn).ok_or_else(|| {
            resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        })?;
        let max = input::integer(input, "MaxResults")?.unwrap_or(1);
        if !(1..=MAX_LISTED).contains(&max) {
            return Err(invalid_value(
                "MaxResults",
                max,
                "Must be between 1 and 10, if provided.",
            ));
        }
        let results: Vec<Value> = self
            .own_tasks()
            .iter()
            .filter(|t| t.source == source)
            .take(max as usize)
            .map(|t| t.entry())
            .collect();
        Ok(json!({"Results": results}))
    }

    pub(super) fn cancel_message_move_task(&self, input: &Value) -> Result<Value, AwsError> {
        let handle = input::required_string(input, "TaskHandle")?;
        let task = self
            .own_tasks()
            .into_iter()
            .find(|t| t.handle == handle)
            .ok_or_else(|| resource_not_found("Task does not exist."))?;
        if task.status().0 != Status::Running {
            return Err(resource_not_found("Only active tasks can be cancelled."));
        }
        task.cancel.store(true, Ordering::Relaxed);
        task.set(Status::Cancelling, None);
        Ok(json!({"ApproximateNumberOfMessagesMoved": task.moved.load(Ordering::Relaxed)}))
    }
}

/// Moves the DLQ's messages until it is empty or the task is cancelled.
async fn run(task: Arc<Task>, config: Arc<Config>, destination: Option<QueueId>) {
    let outcome = move_all(&task, &config, destination).await;
    let cancelled = task.cancel.load(Ordering::Relaxed);
    match outcome {
        Ok(()) if cancelled => task.set(Status::Cancelled, None),
        Ok(()) => task.set(Status::Completed, None),
        Err(err) => {
            tracing::warn!(queue = config[task.source].name, error = %err, "a message move task failed");
            task.set(
                Status::Failed,
                Some("the store could not serve; see the host's log".into()),
            );
        }
    }
}

async fn move_all(
    task: &Task,
    config: &Config,
    destination: Option<QueueId>,
) -> Result<(), StoreError> {
    let pause = task
        .rate
        .map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
    // Messages that name no queue to go back to stay, as SQS leaves what it cannot move.
    let mut left: Vec<String> = Vec::new();
    loop {
        let batch = task.queues.peek(task.source, 100 + left.len()).await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|m| !left.contains(&m.message_id))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for message in fresh {
            if task.cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let origin = message
                .origin
                .strip_prefix("queue:")
                .and_then(|name| config.queue_id(name));
            let Some(target) = destination.or(origin) else {
                left.push(message.message_id);
                continue;
            };
            if task
                .queues
                .move_message(task.source, &message.message_id, target)
                .await?
            {
                task.moved.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    }
}
