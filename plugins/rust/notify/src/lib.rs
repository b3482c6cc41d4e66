//! `notify`: a consumer that logs the `orderId` of every order it handles. An order can ask to
//! fail, to exercise per-message results: `"fail": "retry"` (after `retryAfter` seconds, if
//! given), `"fail": "dead-letter"`, or `"fail": "batch"` to fail the whole batch. With config
//! `honor_fail = false` (say, for a consumer of a dead-letter queue) it handles every message.
//! `"slowMs": N` makes the first receive of a message take N milliseconds.

wit_bindgen::generate!({ path: "../../../wit", world: "consumer" });

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use switchyard::plugin::{config, log};

/// The members notify reads, wherever they are in a message; and, last, the member that marks
/// an EventBridge event.
const KEYS: [&str; 7] = [
    "orderId",
    "fail",
    "customerTier",
    "version",
    "slowMs",
    "retryAfter",
    "detail-type",
];

/// The position of `detail-type` in [`KEYS`].
const ENVELOPE: usize = 6;

struct Notify;

impl Guest for Notify {
    fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        let honor_fail = config::get("honor_fail").is_none_or(|v| v != "false");
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            let [order_id, fail, tier, version, slow_ms, retry_after, _] = scan(&message.body);
            let order_id = order_id.unwrap_or_else(|| "unknown".into());
            let fail = fail.filter(|_| honor_fail);
            log::log(
                log::Level::Info,
                "order handled",
                &[
                    ("orderId".into(), order_id.clone()),
                    ("customerTier".into(), tier.unwrap_or_else(|| "none".into())),
                    ("version".into(), version.unwrap_or_default()),
                    ("receiveCount".into(), message.receive_count.to_string()),
                ],
            );
            if message.receive_count == 1
                && let Some(ms) = slow_ms.and_then(|s| s.parse::<u64>().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            outcomes.push(match fail.as_deref() {
                Some("retry") => Outcome::Retry(retry_after.and_then(|s| s.parse().ok())),
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

/// The text value of each of [`KEYS`] in `body`: a member of the message itself first, else
/// the first one anywhere inside it, in document order. An EventBridge event (it has a
/// `detail-type`) is read from inside only: its own `version` and `id` are not the order's.
/// All `None` when the body is not JSON. One pass over the text that keeps only what it finds,
/// rather than building the whole document: the consumer runs once per message.
fn scan(body: &str) -> [Option<String>; KEYS.len()] {
    let mut found = Found::default();
    let mut json = serde_json::Deserializer::from_str(body);
    if serde::Deserializer::deserialize_any(&mut json, Top(&mut found)).is_err() {
        return Default::default();
    }
    let Found {
        mut own,
        inside,
        envelope,
    } = found;
    if envelope {
        return inside;
    }
    for (own, inside) in own.iter_mut().zip(inside) {
        *own = own.take().or(inside);
    }
    own
}

#[derive(Default)]
struct Found {
    /// Members of the message itself.
    own: [Option<String>; KEYS.len()],
    /// The first of each anywhere below it.
    inside: [Option<String>; KEYS.len()],
    /// Whether the message is an EventBridge event.
    envelope: bool,
}

/// Walks the message itself: its own members, and [`Scan`] below them. A message that is
/// neither an object nor an array has nothing to find; the visitor refuses it.
struct Top<'a>(&'a mut Found);

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let found = self.0;
        while let Some(key) = members.next_key_seed(Key)? {
            match key {
                Some(ENVELOPE) => {
                    found.envelope = true;
                    members.next_value::<IgnoredAny>()?;
                }
                Some(i) if found.own[i].is_none() => found.own[i] = members.next_value::<Text>()?.0,
                _ => members.next_value_seed(Scan(&mut found.inside))?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<(), A::Error> {
        Scan(&mut self.0.inside).visit_seq(items)
    }
}

/// Walks a JSON value, filling in the first text value of each key it meets.
struct Scan<'a>(&'a mut [Option<String>; KEYS.len()]);

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<(), D::Error> {
        value.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some(key) = members.next_key_seed(Key)? {
            match key {
                Some(i) if self.0[i].is_none() => self.0[i] = members.next_value::<Text>()?.0,
                _ => members.next_value_seed(Scan(self.0))?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(Scan(self.0))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A member name, as its position in [`KEYS`] (compared in place, not copied).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, name: D) -> Result<Option<usize>, D::Error> {
        name.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(KEYS.iter().position(|key| *key == name))
    }
}

/// A value as text: a string or a number, also inside DynamoDB's `{"S": ...}` and `{"N": ...}`
/// wrappers; anything else is `None`.
struct Text(Option<String>);

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(value: D) -> Result<Text, D::Error> {
        value.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Some(text.to_string())))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Text, E> {
        Ok(Text(Some(n.to_string())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Text, E> {
        Ok(Text(Some(n.to_string())))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Text, E> {
        Ok(Text(Some(n.to_string())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_unit<E>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Text, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Text, A::Error> {
        let mut text = None;
        while let Some(name) = members.next_key::<String>()? {
            match name.as_str() {
                "S" | "N" if text.is_none() => text = members.next_value::<Text>()?.0,
                _ => drop(members.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Text(text))
    }
}

export!(Notify);
