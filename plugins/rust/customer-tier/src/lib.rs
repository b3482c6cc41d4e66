//! `customer-tier`: an enricher that adds `customerTier` to every record, looked up by the
//! order's `customerId` in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

use serde_json::value::RawValue;
use switchyard_plugin::{Error, Event, StreamRecord, config, enricher, json, log};

/// Each record as it came, with one more member: only the customer is read out of it.
#[enricher]
fn enrich(events: Vec<Event<String>>) -> Result<Vec<Event<Box<RawValue>>>, Error> {
    events
        .into_iter()
        .map(|event| {
            event.try_map(|text| {
                let record: StreamRecord = serde_json::from_str(&text)?;
                let customer = record
                    .new_image()
                    .and_then(|image| image.string("customerId"));
                json::with_member(&text, "customerTier", tier(customer.as_deref()))
            })
        })
        .collect()
}

fn tier(customer: Option<&str>) -> &'static str {
    let tier = customer.and_then(|c| config::text(&format!("tier.{c}")));
    tier.unwrap_or_else(|| {
        let customer = customer.unwrap_or_default();
        log::debug(
            "no tier for the customer; the default applies",
            &[("customer", &customer)],
        );
        config::text("default").unwrap_or("standard")
    })
}
