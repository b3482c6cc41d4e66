//! {{name}}: a Switchyard filter plugin. `keep` decides whether an event goes on.

wit_bindgen::generate!({ path: "wit", world: "filter" });

use serde_json::Value;
use switchyard::plugin::{config, log};

struct Plugin;

impl Guest for Plugin {
    fn keep(event: Event) -> Result<bool, Error> {
        let payload: Value = serde_json::from_str(&event.payload)
            .map_err(|err| Error::Invalid(format!("payload is not JSON: {err}")))?;
        // The event is a change record: `dynamodb.Keys` holds the item's key attributes, named
        // as its table's key is, e.g. {"id": {"S": "x-1"}}. This line is at debug level, which
        // `RUST_LOG=info,switchyard::plugin=debug` on the host shows.
        let keys: Vec<(String, String)> = payload["dynamodb"]["Keys"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.clone(), text(value)))
            .collect();
        log::log(log::Level::Debug, "checking", &keys);
        let field = config::get("field").unwrap_or_else(|| "eventName".into());
        // Keep every event that has the configured field; change this to your own rule.
        Ok(payload.get(&field).is_some())
    }
}

/// A DynamoDB attribute value as text: a string (`{"S": "x-1"}`) or a number (`{"N": "42"}`) as
/// it is written, anything else as its JSON.
fn text(value: &Value) -> String {
    match value
        .get("S")
        .or_else(|| value.get("N"))
        .and_then(Value::as_str)
    {
        Some(text) => text.to_string(),
        None => value.to_string(),
    }
}

export!(Plugin);
