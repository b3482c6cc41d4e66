//! {{name}}: a Switchyard filter plugin. `keep` decides whether an event goes on.

wit_bindgen::generate!({ path: "wit", world: "filter" });

use switchyard::plugin::{config, log};

struct Plugin;

impl Guest for Plugin {
    fn keep(event: Event) -> Result<bool, Error> {
        let payload: serde_json::Value =
            serde_json::from_str(&event.payload).map_err(|err| Error::Invalid(format!("payload is not JSON: {err}")))?;
        let field = config::get("field").unwrap_or_else(|| "eventName".into());
        log::log(log::Level::Debug, "checking", &[("event".into(), event.id.clone())]);
        // Keep every event that has the configured field; change this to your own rule.
        Ok(payload.get(&field).is_some())
    }
}

export!(Plugin);
