//! The plugin stages a route calls, behind one small trait: the pipe's filter and enricher and
//! the consumer's handler. The host runs them as WebAssembly ([`Plugins`]); the routing cores
//! are tested with plain Rust stages instead, with no component to build.

use crate::config::PluginId;
use crate::plugin::{Event, Message, Outcome, PluginError, Plugins};
use crate::telemetry;

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

/// Each call is a span, a child of the record's or message's, with its outcome.
impl Stages for Plugins {
    fn keep(&self, filter: PluginId, event: &Event) -> Result<bool, PluginError> {
        let runner = self.filter(filter);
        let span = telemetry::plugin_span(runner.name(), "filter");
        let kept = span.in_scope(|| runner.keep(event));
        match &kept {
            Ok(true) => telemetry::outcome(&span, Ok("keep")),
            Ok(false) => telemetry::outcome(&span, Ok("drop")),
            Err(err) => telemetry::outcome(&span, Err(err)),
        }
        kept
    }

    fn enrich(&self, enricher: PluginId, events: &[Event]) -> Result<Vec<Event>, PluginError> {
        let runner = self.enricher(enricher);
        let span = telemetry::plugin_span(runner.name(), "enricher");
        let enriched = span.in_scope(|| runner.enrich(events));
        match &enriched {
            Ok(_) => telemetry::outcome(&span, Ok("enriched")),
            Err(err) => telemetry::outcome(&span, Err(err)),
        }
        enriched
    }

    fn handle(
        &self,
        consumer: PluginId,
        messages: &[Message],
    ) -> Result<Vec<Outcome>, PluginError> {
        let runner = self.consumer(consumer);
        let span = telemetry::plugin_span(runner.name(), "consumer");
        let handled = span.in_scope(|| runner.handle(messages));
        match &handled {
            Ok(_) => telemetry::outcome(&span, Ok("handled")),
            Err(err) => telemetry::outcome(&span, Err(err)),
        }
        handled
    }
}
