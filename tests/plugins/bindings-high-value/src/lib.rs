//! `high-value` as it was written before the SDK, with its own bindings and its own parsing: the
//! baseline that `bench micro` measures plugins/rust/high-value (the same filter on the SDK)
//! against. It keeps orders whose total is above the configured `threshold` (default 100),
//! read from a DynamoDB stream record's `NewImage` or an EventBridge event's `detail`.

wit_bindgen::generate!({ path: "../../../wit", world: "filter" });

use std::sync::OnceLock;

use serde::Deserialize;
use switchyard::plugin::{config, log};

struct HighValue;

impl Guest for HighValue {
    fn keep(event: Event) -> Result<bool, Error> {
        let threshold = threshold().map_err(Error::Invalid)?;
        let payload: Payload = serde_json::from_str(&event.payload)
            .map_err(|err| Error::Invalid(format!("payload is not a JSON object: {err}")))?;
        let total = payload.total();
        let keep = total.is_some_and(|t| t > threshold);
        if !keep {
            // Only a dropped event is logged: a kept one shows up downstream.
            log::log(
                log::Level::Debug,
                "dropped an order at or below the threshold, or without a total",
                &[(
                    "total".into(),
                    total.map_or("none".into(), |t| t.to_string()),
                )],
            );
        }
        Ok(keep)
    }
}

/// The config's `threshold`, read once: an instance's config never changes.
fn threshold() -> Result<f64, String> {
    static THRESHOLD: OnceLock<Result<f64, String>> = OnceLock::new();
    THRESHOLD
        .get_or_init(|| match config::get("threshold") {
            None => Ok(100.0),
            Some(text) => text
                .parse()
                .map_err(|_| format!("config `threshold` is not a number: {text}")),
        })
        .clone()
}

/// The parts of an event this filter reads. serde skips everything else without building it,
/// which is most of the work saved over parsing the whole event.
#[derive(Deserialize)]
struct Payload {
    dynamodb: Option<Images>,
    detail: Option<Order>,
}

#[derive(Deserialize)]
struct Images {
    #[serde(rename = "NewImage")]
    new_image: Option<Order>,
}

#[derive(Deserialize)]
struct Order {
    total: Option<Total>,
}

/// A total as DynamoDB types it (`{"N": "42.5"}`), or plain.
#[derive(Deserialize)]
#[serde(untagged)]
enum Total {
    Number(f64),
    Typed {
        #[serde(rename = "N")]
        n: String,
    },
    Text(String),
}

impl Payload {
    /// The order total: `dynamodb.NewImage.total` or `detail.total`.
    fn total(&self) -> Option<f64> {
        let image = self.dynamodb.as_ref().and_then(|d| d.new_image.as_ref());
        let total = image
            .and_then(|o| o.total.as_ref())
            .or_else(|| self.detail.as_ref()?.total.as_ref())?;
        match total {
            Total::Number(n) => Some(*n),
            Total::Typed { n: text } | Total::Text(text) => text.parse().ok(),
        }
    }
}

export!(HighValue);
