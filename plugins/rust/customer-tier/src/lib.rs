//! `customer-tier`: an enricher that adds `customerTier` to every record, looked up by the
//! order's `customerId` in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

use serde_json::Value;
use switchyard_plugin::{Error, Event, config, enricher, log};

#[enricher]
fn enrich(events: Vec<Event<Value>>) -> Result<Vec<Event<Value>>, Error> {
    events
        .into_iter()
        .map(|event| {
            event.try_map(|mut record| {
                let Some(members) = record.as_object_mut() else {
                    return Err(Error::invalid("the record is not a JSON object"));
                };
                let customer = customer_id(members);
                members.insert("customerTier".into(), tier(customer.as_deref()).into());
                Ok(record)
            })
        })
        .collect()
}

/// `dynamodb.NewImage.customerId` of a record, or `detail.customerId` of an EventBridge event.
fn customer_id(record: &serde_json::Map<String, Value>) -> Option<String> {
    let image = record.get("dynamodb").and_then(|d| d.get("NewImage"));
    let id = match image.and_then(|image| image.get("customerId")) {
        Some(typed) => typed.get("S"),
        None => record.get("detail").and_then(|d| d.get("customerId")),
    };
    id.and_then(Value::as_str).map(str::to_string)
}

fn tier(customer: Option<&str>) -> &'static str {
    let tier = customer.and_then(|c| config::text(&format!("tier.{c}")));
    tier.unwrap_or_else(|| {
        log::debug(
            "no tier for the customer; the default applies",
            &[("customer", &customer.unwrap_or_default())],
        );
        config::text("default").unwrap_or("standard")
    })
}
