//! `customer-tier`: an enricher that adds `customerTier` to every event, looked up by the
//! order's `customerId` in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

wit_bindgen::generate!({ path: "../../../wit", world: "enricher" });

use serde_json::Value;
use switchyard::plugin::{config, log};

struct CustomerTier;

impl Guest for CustomerTier {
    fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error> {
        let default = config::get("default").unwrap_or_else(|| "standard".into());
        events
            .into_iter()
            .map(|event| {
                let mut payload: Value = serde_json::from_str(&event.payload)
                    .map_err(|err| Error::Invalid(format!("event {}: payload is not JSON: {err}", event.id)))?;
                let customer = customer_id(&payload);
                let tier = customer.as_deref().and_then(|c| config::get(&format!("tier.{c}"))).unwrap_or_else(|| default.clone());
                log::log(log::Level::Debug, "enriched", &[("customer".into(), customer.unwrap_or_default()), ("tier".into(), tier.clone())]);
                let Some(fields) = payload.as_object_mut() else {
                    return Err(Error::Invalid(format!("event {}: payload is not a JSON object", event.id)));
                };
                fields.insert("customerTier".into(), Value::String(tier));
                Ok(Event { id: event.id, payload: payload.to_string() })
            })
            .collect()
    }
}

/// `dynamodb.NewImage.customerId` (typed `{"S": "..."}` or plain) or `detail.customerId`.
fn customer_id(payload: &Value) -> Option<String> {
    let value = payload.pointer("/dynamodb/NewImage/customerId").or_else(|| payload.pointer("/detail/customerId"))?;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(typed) => typed.get("S")?.as_str().map(String::from),
        _ => None,
    }
}

export!(CustomerTier);
