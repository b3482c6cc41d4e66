//! `customer-tier` as it was written before the SDK, with its own bindings and its own
//! parsing: the baseline that `bench micro` measures plugins/rust/customer-tier (on the SDK)
//! against.
//!
//! An enricher that adds `customerTier` to every event, looked up by the order's `customerId`
//! in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

wit_bindgen::generate!({ path: "../../../wit", world: "enricher" });

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::{RawValue, to_raw_value};
use switchyard::plugin::{config, log};

struct CustomerTier;

impl Guest for CustomerTier {
    fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error> {
        events
            .into_iter()
            .map(|event| {
                let invalid = |err: serde_json::Error| {
                    Error::Invalid(format!(
                        "event {}: payload is not a JSON object: {err}",
                        event.id
                    ))
                };
                // The event's members are kept as the JSON text they are, borrowed from the
                // payload; only the one that holds the customer is parsed.
                let members: BTreeMap<String, &RawValue> =
                    serde_json::from_str(&event.payload).map_err(invalid)?;
                let tier = tier(customer_id(&members).as_deref());
                let payload = if members.contains_key("customerTier") {
                    let mut members = members;
                    let tier = to_raw_value(tier).map_err(invalid)?;
                    members.insert("customerTier".into(), &tier);
                    serde_json::to_string(&members).map_err(invalid)?
                } else {
                    with_member(&event.payload, members.is_empty(), tier)
                };
                Ok(Event {
                    id: event.id,
                    payload,
                })
            })
            .collect()
    }
}

/// The customer's tier from the config, read once: an instance's config never changes.
fn tier(customer: Option<&str>) -> &'static str {
    static CONFIG: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| config::get_all().into_iter().collect());
    let tier = customer.and_then(|c| config.get(&format!("tier.{c}")).map(String::as_str));
    tier.unwrap_or_else(|| {
        log::log(
            log::Level::Debug,
            "no tier for the customer; the default applies",
            &[("customer".into(), customer.unwrap_or_default().into())],
        );
        config.get("default").map_or("standard", String::as_str)
    })
}

/// The object `payload` with one more member, `customerTier`, written after the others: the
/// payload's own text is kept as it is.
fn with_member(payload: &str, empty: bool, tier: &str) -> String {
    let body = payload.trim_end();
    let body = &body[..body.len() - 1]; // the closing brace of a JSON object
    let tier = serde_json::to_string(tier).unwrap_or_default();
    let comma = if empty { "" } else { "," };
    format!("{body}{comma}\"customerTier\":{tier}}}")
}

/// `dynamodb.NewImage.customerId` (typed `{"S": "..."}` or plain) or `detail.customerId`.
fn customer_id(payload: &BTreeMap<String, &RawValue>) -> Option<String> {
    #[derive(Deserialize)]
    struct Images {
        #[serde(rename = "NewImage")]
        new_image: Option<Order>,
    }
    #[derive(Deserialize)]
    struct Order {
        #[serde(rename = "customerId")]
        customer_id: Option<Customer>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Customer {
        Plain(String),
        Typed {
            #[serde(rename = "S")]
            s: String,
        },
    }
    let order = member::<Images>(payload, "dynamodb")
        .and_then(|d| d.new_image)
        .filter(|o| o.customer_id.is_some())
        .or_else(|| member::<Order>(payload, "detail"))?;
    match order.customer_id? {
        Customer::Plain(id) | Customer::Typed { s: id } => Some(id),
    }
}

/// One member of the payload, read as `T`; none when it is missing or not a `T`.
fn member<T: DeserializeOwned>(payload: &BTreeMap<String, &RawValue>, name: &str) -> Option<T> {
    serde_json::from_str(payload.get(name)?.get()).ok()
}

export!(CustomerTier);
