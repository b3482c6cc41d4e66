//! Replay: events archived on a bus, through its rules again, in their original order.

use serde::Serialize;

use super::Runtime;
use super::tasks::{TaskHandle, TaskKind};
use crate::backend::Delivery;

/// What a replay did.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub replay_name: String,
    pub replayed: u64,
    /// This replay in `/admin/tasks`.
    pub task_id: String,
}

impl Runtime {
    /// Sends the events archived on `bus` between `from_ms` and `to_ms` through the bus's
    /// rules again, in their original order (EventBridge's replay does not keep order; this
    /// one does). Each carries `replay-name`, as EventBridge's replayed events do. The replay
    /// is a task of [`Runtime::tasks`] while it runs.
    pub async fn replay(
        &self,
        bus: crate::config::BusId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Replayed, crate::backend::StoreError> {
        let total = self
            .archives
            .count(bus, from_ms, to_ms)
            .await
            .ok()
            .flatten();
        let task = self
            .tasks
            .start(TaskKind::Replay, &self.config[bus].name, total);
        let replayed = self.replay_archived(bus, from_ms, to_ms, &task).await;
        super::tasks::finish(task, replayed, |report, id| report.task_id = id)
    }

    async fn replay_archived(
        &self,
        bus: crate::config::BusId,
        from_ms: i64,
        to_ms: i64,
        task: &TaskHandle,
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
            let batch_len = batch.len() as u64;
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
                        counts.tapped.extend(routed.tapped);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "an archived event could not be replayed")
                    }
                }
                replayed += 1;
            }
            self.handoff.deliver(delivery).await?;
            self.buses.count(&counts);
            task.advance(batch_len);
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
            task_id: String::new(),
        })
    }
}
