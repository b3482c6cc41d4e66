//! Replay: events archived on a bus, through its rules again, in their original order.

use serde::Serialize;

use super::Runtime;
use crate::backend::Delivery;

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
