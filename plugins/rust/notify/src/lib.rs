//! `notify`: a consumer that logs every order it handles, naming it by its table's own key: each
//! attribute of the change record's `Keys` under its own name (`orderId="o-1"` for a table keyed
//! `orderId`, `id="x-1"` for one keyed `id`). The record is the message itself (a pipe that
//! targets a queue) or its `detail` (an EventBridge event). An order can ask to fail, to exercise
//! per-message results: `"fail": "retry"` (after `retryAfter` seconds, if given),
//! `"fail": "dead-letter"`, `"fail": "batch"` to fail the whole batch, or `"fail": "invalid"` to
//! refuse the batch as invalid (the host then hands it over in halves). With config
//! `honor_fail = false` (say, for a consumer of a dead-letter queue) it handles every message.
//! `"slowMs": N` makes the first receive of a message take N milliseconds.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use switchyard_plugin::{Error, Image, Message, Outcome, config, consumer, log};

#[consumer]
fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
    let honor_fail = config::text("honor_fail") != Some("false");
    messages.iter().map(|m| handle_one(m, honor_fail)).collect()
}

fn handle_one(message: &Message, honor_fail: bool) -> Result<Outcome, Error> {
    let order = Order::read(&message.body);
    let (tier, version) = (order.member("customerTier"), order.member("version"));
    let count = message.receive_count;
    // The key attributes lead the line's fields.
    let mut fields: Vec<(&str, &dyn Display)> = order
        .keys
        .iter()
        .map(|(name, value)| (name.as_str(), value as &dyn Display))
        .collect();
    let tier = tier.unwrap_or_else(|| "none".into());
    let version = version.unwrap_or_default();
    fields.extend([
        ("customerTier", &tier as &dyn Display),
        ("version", &version),
        ("receiveCount", &count),
    ]);
    log::info("order handled", &fields);

    if count == 1
        && let Some(ms) = order.member("slowMs").and_then(|s| s.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let name = || match &order.keys[..] {
        [] => format!("message {}", message.id),
        keys => {
            let values: Vec<&str> = keys.iter().map(|(_, value)| value.as_str()).collect();
            format!("order {}", values.join("/"))
        }
    };
    let fail = order.member("fail").filter(|_| honor_fail);
    Ok(match fail.as_deref() {
        Some("retry") => Outcome::Retry(order.member("retryAfter").and_then(|s| s.parse().ok())),
        Some("dead-letter") => Outcome::DeadLetter(format!("{} asked to be dead-lettered", name())),
        Some("batch") => return Err(Error::failed(format!("{} failed the batch", name()))),
        Some("invalid") => return Err(Error::invalid(format!("{} is invalid", name()))),
        _ => Outcome::Ok,
    })
}

/// What notify reads of a message: the record's key attributes, its own members and its images.
/// Members are kept as the JSON text they are, borrowed from the body, and read when asked for.
#[derive(Default)]
struct Order<'a> {
    keys: Vec<(String, String)>,
    /// The record's own members (the message's, when it is not a record).
    own: Members<'a>,
    /// The record's new and old images.
    images: Vec<Image>,
}

type Members<'a> = BTreeMap<&'a str, &'a RawValue>;

/// The `dynamodb` member of a record, as far as notify reads it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Change {
    keys: Option<Image>,
    new_image: Option<Image>,
    old_image: Option<Image>,
}

impl<'a> Order<'a> {
    /// Nothing is found in a body that is not a JSON object.
    fn read(body: &'a str) -> Order<'a> {
        let members = |json: &'a str| serde_json::from_str::<Members<'a>>(json).ok();
        let Some(message) = members(body) else {
            return Order::default();
        };
        // An EventBridge event carries the record as its `detail`; its own members (its
        // `version`, its `id`) are not the order's.
        let own = match message.get("detail-type") {
            Some(_) => message
                .get("detail")
                .and_then(|d| members(d.get()))
                .unwrap_or_default(),
            None => message,
        };
        let change = own
            .get("dynamodb")
            .and_then(|d| serde_json::from_str::<Change>(d.get()).ok());
        let Some(change) = change else {
            return Order {
                own,
                ..Order::default()
            };
        };
        let keys = change
            .keys
            .map(|keys| keys.unmarshall())
            .unwrap_or_default();
        let keys = keys
            .into_iter()
            .map(|(name, value)| (name, text(value)))
            .collect();
        let images = [change.new_image, change.old_image]
            .into_iter()
            .flatten()
            .collect();
        Order { keys, own, images }
    }

    /// The text of the member `name`: the record's own, else its new image's, else its old
    /// image's (a change that removed `fail` still fails as the item did).
    fn member(&self, name: &str) -> Option<String> {
        if let Some(raw) = self.own.get(name) {
            return serde_json::from_str(raw.get()).ok().map(text);
        }
        let value = self.images.iter().find_map(|image| image.get(name))?;
        Some(text(value.unmarshall()))
    }
}

fn text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}
