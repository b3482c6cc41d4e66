//! `customer-tier`: an enricher that adds `customerTier` to every record (or EventBridge
//! event), looked up by the order's `customerId` in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

use serde::Deserialize;
use serde::de::IgnoredAny;
use switchyard_plugin::json::{self, JsonText};
use switchyard_plugin::{Error, Event, Image, config, enricher, log};

/// What the enricher reads of a record (or an EventBridge event); the rest is passed over, and
/// handed on as it came.
#[derive(Deserialize)]
struct Record {
    dynamodb: Option<Change>,
    detail: Option<Detail>,
    #[serde(rename = "customerTier")]
    tier: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "customerId")]
    customer_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Change {
    new_image: Option<Image>,
}

#[enricher]
fn enrich(events: Vec<Event<String>>) -> Result<Vec<Event<JsonText>>, Error> {
    events
        .into_iter()
        .map(|event| {
            event.try_map(|text| {
                let record: Record = serde_json::from_str(&text)?;
                let customer = match (record.dynamodb, record.detail) {
                    (Some(change), _) => change.new_image.and_then(|i| i.string("customerId")),
                    (None, Some(detail)) => detail.customer_id,
                    (None, None) => None,
                };
                let tier = tier(customer.as_deref());
                match record.tier {
                    Some(_) => json::with_member(&text, "customerTier", tier),
                    None => json::append_member(&text, "customerTier", tier),
                }
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
