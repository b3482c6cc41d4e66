//! `notify`: a consumer that logs the `orderId` of every order it handles. An order can ask to
//! fail, to exercise per-message results: `"fail": "retry"` (after `retryAfter` seconds, if
//! given), `"fail": "dead-letter"`, or `"fail": "batch"` to fail the whole batch. With config
//! `honor_fail = false` (say, for a consumer of a dead-letter queue) it handles every message.
//! `"slowMs": N` makes the first receive of a message take N milliseconds.

wit_bindgen::generate!({ path: "../../../wit", world: "consumer" });

use serde_json::Value;
use switchyard::plugin::{config, log};

struct Notify;

impl Guest for Notify {
    fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        let honor_fail = config::get("honor_fail").is_none_or(|v| v != "false");
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            let body: Value =
                serde_json::from_str(&message.body).unwrap_or(Value::String(message.body.clone()));
            let order_id = find(&body, "orderId").unwrap_or_else(|| "unknown".into());
            let fail = find(&body, "fail").filter(|_| honor_fail);
            let tier = find(&body, "customerTier").unwrap_or_else(|| "none".into());
            log::log(
                log::Level::Info,
                "order handled",
                &[
                    ("orderId".into(), order_id.clone()),
                    ("customerTier".into(), tier),
                    ("version".into(), find(&body, "version").unwrap_or_default()),
                    ("receiveCount".into(), message.receive_count.to_string()),
                ],
            );
            if message.receive_count == 1
                && let Some(ms) = find(&body, "slowMs").and_then(|s| s.parse::<u64>().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            outcomes.push(match fail.as_deref() {
                Some("retry") => {
                    Outcome::Retry(find(&body, "retryAfter").and_then(|s| s.parse().ok()))
                }
                Some("dead-letter") => {
                    Outcome::DeadLetter(format!("order {order_id} asked to be dead-lettered"))
                }
                Some("batch") => {
                    return Err(Error::Failed(format!("order {order_id} failed the batch")));
                }
                _ => Outcome::Ok,
            });
        }
        Ok(outcomes)
    }
}

/// The first value named `key` anywhere in `value`, as text; DynamoDB's `{"S": ...}` and
/// `{"N": ...}` wrappers are unwrapped.
fn find(value: &Value, key: &str) -> Option<String> {
    match value {
        Value::Object(fields) => {
            if let Some(found) = fields.get(key) {
                return text(found);
            }
            fields.values().find_map(|v| find(v, key))
        }
        Value::Array(items) => items.iter().find_map(|v| find(v, key)),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(typed) => typed.get("S").or_else(|| typed.get("N")).and_then(text),
        _ => None,
    }
}

export!(Notify);
