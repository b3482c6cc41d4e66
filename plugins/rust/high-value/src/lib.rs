//! `high-value`: a filter that keeps orders whose total is above the configured `threshold`
//! (default 100), read from a stream record's new image or an EventBridge event's detail.

use serde::Deserialize;
use serde_json::Value;
use switchyard_plugin::{Error, Image, Json, config, filter, log};

/// What the filter reads of an event; the rest is passed over unread.
#[derive(Deserialize)]
struct Order {
    dynamodb: Option<Change>,
    detail: Option<Detail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Change {
    new_image: Option<Image>,
}

#[derive(Deserialize)]
struct Detail {
    total: Option<Value>,
}

#[filter]
fn keep(Json(order): Json<Order>) -> Result<bool, Error> {
    let threshold: f64 = config::get_or("threshold", 100.0)?;
    let total = match (order.dynamodb, order.detail) {
        (Some(change), _) => change.new_image.and_then(|image| image.number("total")),
        (None, Some(detail)) => detail.total.and_then(|t| t.as_f64()),
        (None, None) => None,
    };
    let keep = total.is_some_and(|total| total > threshold);
    if !keep {
        // Only a dropped order is logged: a kept one shows up downstream.
        let total = total.map_or("none".into(), |total| total.to_string());
        log::debug(
            "dropped an order at or below the threshold, or without a total",
            &[("total", &total)],
        );
    }
    Ok(keep)
}
