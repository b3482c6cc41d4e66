//! `high-value`: a filter that keeps orders whose total is above the configured `threshold`
//! (default 100). It reads the total from a DynamoDB stream record's `NewImage` or from an
//! EventBridge event's `detail`.

wit_bindgen::generate!({ path: "../../../wit", world: "filter" });

use serde_json::Value;
use switchyard::plugin::{config, log};

struct HighValue;

impl Guest for HighValue {
    fn keep(event: Event) -> Result<bool, Error> {
        let threshold = match config::get("threshold") {
            None => 100.0,
            Some(text) => text.parse::<f64>().map_err(|_| Error::Invalid(format!("config `threshold` is not a number: {text}")))?,
        };
        let payload: Value = serde_json::from_str(&event.payload).map_err(|err| Error::Invalid(format!("payload is not JSON: {err}")))?;
        let total = total(&payload);
        let keep = total.is_some_and(|t| t > threshold);
        log::log(
            log::Level::Debug,
            "checked order total",
            &[("total".into(), total.map_or("none".into(), |t| t.to_string())), ("keep".into(), keep.to_string())],
        );
        Ok(keep)
    }
}

/// The order total: `dynamodb.NewImage.total` (typed `{"N": "..."}` or plain) or `detail.total`.
fn total(payload: &Value) -> Option<f64> {
    let value = payload.pointer("/dynamodb/NewImage/total").or_else(|| payload.pointer("/detail/total"))?;
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Object(typed) => typed.get("N")?.as_str()?.parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

export!(HighValue);
