//! The operator tasks that run for a while (a DLQ redrive, an archive replay) and what each has
//! done so far, as `/admin/tasks` shows them: every running task, and the last
//! [`KEPT_FINISHED`] finished ones.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::Value;

use crate::backend::StoreError;

/// How many finished tasks the registry keeps, the most recent ones.
pub const KEPT_FINISHED: usize = 50;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Redrive,
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Running,
    Succeeded,
    Failed,
}

/// A task as `/admin/tasks` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub kind: TaskKind,
    /// The queue redriven or the bus replayed.
    pub name: String,
    pub state: TaskState,
    /// Messages moved, or events replayed, so far.
    pub done: u64,
    /// How many there are to do, when that was cheap to know at the start.
    pub total: Option<u64>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// What the task's request answered, once it succeeded.
    pub result: Option<Value>,
}

/// Every running task and the most recent finished ones. Clones share them.
#[derive(Debug, Default, Clone)]
pub struct Tasks {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// How many tasks have started: each task's place in the start order.
    started: u64,
    running: Vec<(u64, Task)>,
    /// In the order they finished, oldest first.
    finished: VecDeque<(u64, Task)>,
}

impl Tasks {
    /// Registers a running task; the returned handle reports its progress and its end. A
    /// handle dropped before either (its request went away) marks the task failed.
    pub fn start(&self, kind: TaskKind, name: &str, total: Option<u64>) -> TaskHandle {
        let id = uuid::Uuid::now_v7().to_string();
        let mut inner = self.lock();
        inner.started += 1;
        let order = inner.started;
        inner.running.push((
            order,
            Task {
                id: id.clone(),
                kind,
                name: name.to_string(),
                state: TaskState::Running,
                done: 0,
                total,
                started_at: now(),
                finished_at: None,
                error: None,
                result: None,
            },
        ));
        TaskHandle {
            tasks: self.clone(),
            id,
            ended: false,
        }
    }

    /// Every task kept, the most recently started first.
    pub fn list(&self) -> Vec<Task> {
        let inner = self.lock();
        let mut all: Vec<_> = inner.running.iter().chain(&inner.finished).collect();
        all.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
        all.into_iter().map(|(_, task)| task.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<Task> {
        let inner = self.lock();
        let mut all = inner.running.iter().chain(&inner.finished);
        all.find(|(_, t)| t.id == id).map(|(_, t)| t.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A task's fields are plain values: one poisoned mid-update is still whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Task)) {
        let mut inner = self.lock();
        if let Some((_, task)) = inner.running.iter_mut().find(|(_, t)| t.id == id) {
            change(task);
        }
    }

    fn end(&self, id: &str, state: TaskState, error: Option<String>, result: Option<Value>) {
        let mut inner = self.lock();
        let Some(at) = inner.running.iter().position(|(_, t)| t.id == id) else {
            return;
        };
        let (order, mut task) = inner.running.remove(at);
        task.state = state;
        task.finished_at = Some(now());
        task.error = error;
        task.result = result;
        inner.finished.push_back((order, task));
        if inner.finished.len() > KEPT_FINISHED {
            inner.finished.pop_front();
        }
    }
}

/// A running task, as the code doing it reports on it.
#[derive(Debug)]
pub struct TaskHandle {
    tasks: Tasks,
    id: String,
    ended: bool,
}

impl TaskHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Counts `n` more messages moved or events replayed.
    pub fn advance(&self, n: u64) {
        self.tasks.update(&self.id, |t| t.done += n);
    }

    /// Sets how many are done and how many there are to do, as counted elsewhere.
    pub fn set_progress(&self, done: u64, total: Option<u64>) {
        self.tasks
            .update(&self.id, |t| (t.done, t.total) = (done, total));
    }

    pub fn succeed(mut self, result: Value) {
        self.ended = true;
        self.tasks
            .end(&self.id, TaskState::Succeeded, None, Some(result));
    }

    pub fn fail(mut self, error: impl Into<String>) {
        self.ended = true;
        self.tasks
            .end(&self.id, TaskState::Failed, Some(error.into()), None);
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        if !self.ended {
            self.tasks.end(
                &self.id,
                TaskState::Failed,
                Some(
                    "stopped before it finished: its request was cancelled, or the host stopped"
                        .to_string(),
                ),
                None,
            );
        }
    }
}

/// Ends `task` with what its work came to: on success the result, given the task's id by
/// `tag`, which the task keeps as its `result`; else the error, which it keeps as its `error`.
pub(super) fn finish<T: Serialize>(
    task: TaskHandle,
    outcome: Result<T, StoreError>,
    tag: impl FnOnce(&mut T, String),
) -> Result<T, StoreError> {
    match outcome {
        Ok(mut result) => {
            tag(&mut result, task.id().to_string());
            task.succeed(serde_json::to_value(&result).unwrap_or_default());
            Ok(result)
        }
        Err(err) => {
            task.fail(public(&err));
            Err(err)
        }
    }
}

/// A store error as a task shows it, as the API answers it: the store's own trouble is for the
/// log, not for clients.
pub(super) fn public(err: &StoreError) -> String {
    match err {
        StoreError::Unavailable(_) => "the store is unavailable; the host's log says why".into(),
        err => err.to_string(),
    }
}

fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    // Any time since year 0 formats as RFC 3339.
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn a_running_task_shows_its_progress_and_then_its_result() {
        let tasks = Tasks::default();
        let task = tasks.start(TaskKind::Redrive, "jobs-dlq", Some(3));
        let id = task.id().to_string();
        task.advance(1);
        task.advance(1);
        let running = tasks.get(&id).unwrap();
        assert_eq!(
            (
                running.state,
                running.done,
                running.total,
                &running.finished_at
            ),
            (TaskState::Running, 2, Some(3), &None)
        );
        assert!(running.result.is_none());
        task.succeed(json!({"moved": 2}));
        let done = tasks.get(&id).unwrap();
        assert_eq!(done.state, TaskState::Succeeded);
        assert_eq!(done.result, Some(json!({"moved": 2})));
        assert!(done.finished_at.is_some());
        let shown = serde_json::to_value(&done).unwrap();
        assert_eq!(shown["kind"], "redrive");
        assert_eq!(shown["state"], "succeeded");
        assert_eq!(shown["name"], "jobs-dlq");
        assert!(
            time::OffsetDateTime::parse(
                shown["startedAt"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "{shown}"
        );
        assert_eq!(shown["error"], Value::Null);
    }

    #[test]
    fn a_failed_task_says_why_and_has_no_result() {
        let tasks = Tasks::default();
        let task = tasks.start(TaskKind::Replay, "orders", None);
        let id = task.id().to_string();
        task.fail("store unavailable");
        let failed = tasks.get(&id).unwrap();
        assert_eq!(failed.state, TaskState::Failed);
        assert_eq!(failed.error.as_deref(), Some("store unavailable"));
        assert_eq!(failed.result, None);
    }

    #[test]
    fn a_task_whose_request_went_away_is_failed_not_left_running() {
        let tasks = Tasks::default();
        let id = tasks
            .start(TaskKind::Redrive, "jobs-dlq", None)
            .id()
            .to_string();
        let dropped = tasks.get(&id).unwrap();
        assert_eq!(dropped.state, TaskState::Failed);
        assert!(dropped.error.unwrap().contains("cancelled"));
    }

    #[test]
    fn tasks_list_most_recent_first() {
        let tasks = Tasks::default();
        let first = tasks.start(TaskKind::Redrive, "a", None);
        let second = tasks.start(TaskKind::Replay, "b", None);
        let names: Vec<_> = tasks.list().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["b", "a"]);
        first.succeed(json!({}));
        second.succeed(json!({}));
    }

    #[test]
    fn only_the_last_50_finished_tasks_are_kept_and_running_ones_always_are() {
        let tasks = Tasks::default();
        let long = tasks.start(TaskKind::Replay, "long", None);
        for i in 0..60 {
            tasks
                .start(TaskKind::Redrive, &format!("q{i}"), None)
                .succeed(json!({}));
        }
        let listed = tasks.list();
        assert_eq!(listed.len(), KEPT_FINISHED + 1);
        assert_eq!(listed[0].name, "q59");
        assert_eq!(listed[KEPT_FINISHED - 1].name, "q10");
        assert_eq!(listed[KEPT_FINISHED].name, "long");
        assert_eq!(listed[KEPT_FINISHED].state, TaskState::Running);
        long.succeed(json!({}));
        let names: Vec<_> = tasks.list().into_iter().map(|t| t.name).collect();
        // The one that finished first goes, not the one that started first.
        assert_eq!(names.len(), KEPT_FINISHED);
        assert!(!names.contains(&"q10".to_string()), "{names:?}");
        assert_eq!(names[0], "q59");
        assert_eq!(names[KEPT_FINISHED - 1], "long");
    }
}
