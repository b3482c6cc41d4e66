//! {{name}}: an enricher. It sets the member `field` to the text `value` on each event
//! (routes.toml's `config`; by default `enrichedBy` and "{{name}}") and hands the rest of the
//! event on as it came.

use switchyard_plugin::json::{self, JsonText};
use switchyard_plugin::{Error, Event, config, enricher};

/// Called once per batch of the pipe, with the events that passed its filters: returns the
/// events to deliver. An `Err` fails the batch, which the pipe retries.
#[enricher]
fn enrich(events: Vec<Event<String>>) -> Result<Vec<Event<JsonText>>, Error> {
    let field = config::text("field").unwrap_or("enrichedBy");
    let value = config::text("value").unwrap_or("{{name}}");
    events
        .into_iter()
        // Each event keeps its id, so that one delivered again has the same id. `with_member`
        // changes the JSON text without reading the rest of it: numbers keep every digit.
        .map(|event| event.try_map(|text| json::with_member(&text, field, value)))
        .collect()
}
