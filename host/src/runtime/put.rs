//! Events put on buses from outside a pipe (EventBridge's PutEvents on the host), routed and
//! delivered as a pipe's events are.

use serde_json::Value;

use super::Runtime;
use crate::backend::{Delivery, StoreError};
use crate::bus::Routed;
use crate::config::BusId;

impl Runtime {
    /// Puts each event (an EventBridge envelope) on its bus. Where the backend's buses route
    /// events themselves, they get the events as they are; otherwise each goes through its
    /// bus's rules here, and the messages for the rules' targets and the bus archives' copies
    /// are handed off together (one transaction on the embedded backend), as a pipe's are.
    /// An event's trace header (PutEvents' `TraceHeader`) makes its routing part of that trace.
    pub async fn put_events(
        &self,
        events: Vec<(BusId, Value, Option<String>)>,
    ) -> Result<(), StoreError> {
        if self.capabilities.routes_events {
            let delivery = Delivery {
                events: events
                    .into_iter()
                    .map(|(bus, event, _)| (bus, event))
                    .collect(),
                ..Delivery::default()
            };
            return self.handoff.deliver(delivery).await;
        }
        let mut routed = Routed::default();
        for (bus, event, trace) in &events {
            let id = event.get("id").and_then(Value::as_str).unwrap_or_default();
            let _event = tracing::info_span!("event", event_id = id).entered();
            let _traced =
                crate::telemetry::put_span(&self.config[*bus].name, trace.as_deref()).entered();
            let one = self
                .buses
                .route(&self.config, *bus, &event.to_string())
                .map_err(|err| StoreError::Refused(format!("the event cannot be routed: {err}")))?;
            routed.append(one);
        }
        let delivery = Delivery {
            messages: std::mem::take(&mut routed.messages),
            archived: if self.capabilities.keeps_archives {
                std::mem::take(&mut routed.archived)
            } else {
                Vec::new()
            },
            ..Delivery::default()
        };
        self.handoff.deliver(delivery).await?;
        self.buses.count(&routed);
        Ok(())
    }
}
