//! The plugin stages a route calls, behind one small trait: the pipe's filter and enricher and
//! the consumer's handler. The host runs them as WebAssembly ([`Plugins`]); the routing cores
//! are tested with plain Rust stages instead, with no component to build.

use crate::config::PluginId;
use crate::plugin::{Event, Message, Outcome, PluginError, Plugins};

/// Calls into the plugins of routes.toml, by id. Calls block (a plugin runs on the caller's
/// thread), so async callers make them on a blocking thread.
pub trait Stages: Send + Sync + 'static {
    /// A filter's verdict on one event: true keeps it.
    fn keep(&self, filter: PluginId, event: &Event) -> Result<bool, PluginError>;
    /// An enricher's events for a batch.
    fn enrich(&self, enricher: PluginId, events: &[Event]) -> Result<Vec<Event>, PluginError>;
    /// A consumer's outcome for each message of a batch, in order.
    fn handle(&self, consumer: PluginId, messages: &[Message])
    -> Result<Vec<Outcome>, PluginError>;
}

impl Stages for Plugins {
    fn keep(&self, filter: PluginId, event: &Event) -> Result<bool, PluginError> {
        self.filter(filter).keep(event)
    }

    fn enrich(&self, enricher: PluginId, events: &[Event]) -> Result<Vec<Event>, PluginError> {
        self.enricher(enricher).enrich(events)
    }

    fn handle(
        &self,
        consumer: PluginId,
        messages: &[Message],
    ) -> Result<Vec<Outcome>, PluginError> {
        self.consumer(consumer).handle(messages)
    }
}
