//! `notify`: a consumer that logs every order it handles, naming it by its table's own key: each
//! attribute of the change record's `Keys` under its own name (`orderId="o-1"` for a table keyed
//! `orderId`, `id="x-1"` for one keyed `id`). The record is the message itself (a pipe that
//! targets a queue) or its `detail` (an EventBridge event). An order can ask to fail, to exercise
//! per-message results: `"fail": "retry"` (after `retryAfter` seconds, if given),
//! `"fail": "dead-letter"`, `"fail": "batch"` to fail the whole batch, or `"fail": "invalid"` to
//! refuse the batch as invalid (the host then hands it over in halves). With config
//! `honor_fail = false` (say, for a consumer of a dead-letter queue) it handles every message.
//! `"slowMs": N` makes the first receive of a message take N milliseconds.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;
use switchyard_plugin::{
    AttributeValue, Error, Image, Message, Outcome, config, consumer, json, log,
};

#[consumer]
fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
    let honor_fail = config::text("honor_fail") != Some("false");
    messages.iter().map(|m| handle_one(m, honor_fail)).collect()
}

/// The members notify reads, wherever they are: the record's own, else its images'.
const MEMBERS: [&str; 5] = ["fail", "customerTier", "version", "slowMs", "retryAfter"];

fn handle_one(message: &Message, honor_fail: bool) -> Result<Outcome, Error> {
    let order = Order::read(&message.body);
    let [fail, tier, version, slow_ms, retry_after] = order.members;
    let count = message.receive_count;
    // The key attributes lead the line's fields, all of them text already.
    let mut fields: Vec<(&str, &str)> = order
        .keys
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let tier = tier.unwrap_or_else(|| "none".into());
    let version = version.unwrap_or_default();
    let receive_count = count.to_string();
    fields.extend([
        ("customerTier", tier.as_str()),
        ("version", &version),
        ("receiveCount", &receive_count),
    ]);
    log::text(log::Level::Info, "order handled", &fields);

    if count == 1
        && let Some(ms) = slow_ms.and_then(|s| s.parse().ok())
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
    Ok(match fail.filter(|_| honor_fail).as_deref() {
        Some("retry") => Outcome::Retry(retry_after.and_then(|s| s.parse().ok())),
        Some("dead-letter") => Outcome::DeadLetter(format!("{} asked to be dead-lettered", name())),
        Some("batch") => return Err(Error::failed(format!("{} failed the batch", name()))),
        Some("invalid") => return Err(Error::invalid(format!("{} is invalid", name()))),
        _ => Outcome::Ok,
    })
}

/// What notify reads of a message: the record's key attributes, and the text of each of
/// [`MEMBERS`].
#[derive(Default)]
struct Order {
    keys: Vec<(String, String)>,
    members: [Option<String>; MEMBERS.len()],
}

/// A message as notify reads it: a record, an EventBridge event with the record as its
/// `detail`, or any other object. Members it does not name are passed over unread.
#[derive(Default, Deserialize)]
struct Body<'a> {
    #[serde(rename = "detail-type")]
    detail_type: Option<IgnoredAny>,
    // Kept as the text they are until read: most messages have few of them.
    #[serde(borrow, default, deserialize_with = "json::if_object")]
    detail: Option<Box<Body<'a>>>,
    #[serde(borrow)]
    dynamodb: Option<Change<'a>>,
    #[serde(borrow)]
    fail: Option<&'a RawValue>,
    #[serde(rename = "customerTier")]
    #[serde(borrow)]
    customer_tier: Option<&'a RawValue>,
    #[serde(borrow)]
    version: Option<&'a RawValue>,
    #[serde(rename = "slowMs")]
    #[serde(borrow)]
    slow_ms: Option<&'a RawValue>,
    #[serde(rename = "retryAfter")]
    #[serde(borrow)]
    retry_after: Option<&'a RawValue>,
}

/// The `dynamodb` member of a record, as far as notify reads it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Change<'a> {
    #[serde(borrow)]
    keys: Option<Image<&'a RawValue>>,
    new_image: Option<Members>,
    old_image: Option<Members>,
}

/// The attributes of [`MEMBERS`] in an item image, read as it is parsed; the others are
/// passed over.
#[derive(Deserialize)]
struct Members {
    fail: Option<AttributeValue>,
    #[serde(rename = "customerTier")]
    customer_tier: Option<AttributeValue>,
    version: Option<AttributeValue>,
    #[serde(rename = "slowMs")]
    slow_ms: Option<AttributeValue>,
    #[serde(rename = "retryAfter")]
    retry_after: Option<AttributeValue>,
}

impl Order {
    /// Nothing is found in a body that is not a JSON object.
    fn read(body: &str) -> Order {
        let Ok(mut message) = serde_json::from_str::<Body>(body) else {
            return Order::default();
        };
        // The record is the message, or its `detail`. An EventBridge event's own members (its
        // `version`, its `id`) are not the order's; another message's come first.
        let (outer, record) = match message.detail.take() {
            Some(detail) => (Some(message), *detail),
            // An EventBridge event whose `detail` is not an object carries no record.
            None if message.detail_type.is_some() => (Some(message), Body::default()),
            None => (None, message),
        };
        let outer = outer.filter(|outer| outer.detail_type.is_none());
        let mut members: [Option<String>; MEMBERS.len()] = Default::default();
        for body in outer.into_iter().chain([record]) {
            let own = [
                body.fail,
                body.customer_tier,
                body.version,
                body.slow_ms,
                body.retry_after,
            ];
            for (member, found) in members.iter_mut().zip(own) {
                if member.is_none() {
                    *member = found
                        .and_then(|raw| serde_json::from_str(raw.get()).ok())
                        .map(text);
                }
            }
            let Some(change) = body.dynamodb else {
                continue;
            };
            // What the record lacks, from its new image, else its old image (a change that
            // removed `fail` still fails as the item did).
            for image in [change.new_image, change.old_image].into_iter().flatten() {
                let found = [
                    image.fail,
                    image.customer_tier,
                    image.version,
                    image.slow_ms,
                    image.retry_after,
                ];
                for (member, found) in members.iter_mut().zip(found) {
                    if member.is_none() {
                        *member = found.map(attribute_text);
                    }
                }
            }
            if let Some(keys) = change.keys {
                let keys = keys
                    .attributes()
                    .into_iter()
                    .map(|(name, value)| (name, attribute_text(value)));
                return Order {
                    keys: keys.collect(),
                    members,
                };
            }
        }
        Order {
            keys: Vec::new(),
            members,
        }
    }
}

/// A string or a number as it is written; any other attribute value as its plain JSON.
fn attribute_text(value: AttributeValue) -> String {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text,
        other => text(other.unmarshall()),
    }
}

fn text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}
