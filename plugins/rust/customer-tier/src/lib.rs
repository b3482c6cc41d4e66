//! `customer-tier`: an enricher that adds `customerTier` to every event, looked up by the
//! order's `customerId` in the plugin's config (`tier.<customerId> = "gold"`, and `default`).

wit_bindgen::generate!({ path: "../../../wit", world: "enricher" });

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::{RawValue, to_raw_value};
use switchyard::plugin::{config, log};

struct CustomerTier;

impl Guest for CustomerTier {
    fn enrich(events: Vec<Event>) -> Result<Vec<Event>, Error> {
        let default = config::get("default").unwrap_or_else(|| "standard".into());
        events
            .into_iter()
            .map(|event| {
                let invalid = |err: serde_json::Error| {
                    Error::Invalid(format!(
                        "event {}: payload is not a JSON object: {err}",
                        event.id
                    ))
                };
                // The event's members are kept as the JSON text they are; only the one that
                // holds the customer is read, and only one member is added.
                let mut payload: BTreeMap<String, Box<RawValue>> =
                    serde_json::from_str(&event.payload).map_err(invalid)?;
                let customer = customer_id(&payload);
                let tier = customer
                    .as_deref()
                    .and_then(|c| config::get(&format!("tier.{c}")))
                    .unwrap_or_else(|| default.clone());
                log::log(
                    log::Level::Debug,
                    "enriched",
                    &[
                        ("customer".into(), customer.unwrap_or_default()),
                        ("tier".into(), tier.clone()),
                    ],
                );
                payload.insert("customerTier".into(), to_raw_value(&tier).map_err(invalid)?);
                let payload = serde_json::to_string(&payload).map_err(invalid)?;
                Ok(Event {
                    id: event.id,
                    payload,
                })
            })
            .collect()
    }
}

/// `dynamodb.NewImage.customerId` (typed `{"S": "..."}` or plain) or `detail.customerId`.
fn customer_id(payload: &BTreeMap<String, Box<RawValue>>) -> Option<String> {
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
fn member<T: DeserializeOwned>(payload: &BTreeMap<String, Box<RawValue>>, name: &str) -> Option<T> {
    serde_json::from_str(payload.get(name)?.get()).ok()
}

export!(CustomerTier);
