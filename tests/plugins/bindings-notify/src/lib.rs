//! `notify` as it was written before the SDK, with its own bindings and its own one-pass
//! parsing: the baseline that `bench micro` measures plugins/rust/notify (on the SDK) against.
//!
//! A consumer that logs every order it handles, naming it by its table's own key: each
//! attribute of the change record's `Keys` under its own name (`orderId="o-1"` for a table keyed
//! `orderId`, `id="x-1"` for one keyed `id`). The record is the message itself (a pipe that
//! targets a queue) or its `detail` (an EventBridge event). An order can ask to fail, to exercise
//! per-message results: `"fail": "retry"` (after `retryAfter` seconds, if given),
//! `"fail": "dead-letter"`, `"fail": "batch"` to fail the whole batch, or `"fail": "invalid"` to
//! refuse the batch as invalid (the host then hands it over in halves). With config
//! `honor_fail = false` (say, for a consumer of a dead-letter queue) it handles every message.
//! `"slowMs": N` makes the first receive of a message take N milliseconds.

wit_bindgen::generate!({ path: "../../../wit", world: "consumer" });

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use switchyard::plugin::{config, log};

/// The members notify reads, wherever they are in a message.
const MEMBERS: [&str; 5] = ["fail", "customerTier", "version", "slowMs", "retryAfter"];

/// A record's key attributes, as (name, text) pairs.
type Keys = Vec<(String, String)>;

struct Notify;

impl Guest for Notify {
    fn handle(messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        let honor_fail = config::get("honor_fail").is_none_or(|v| v != "false");
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            let (keys, [fail, tier, version, slow_ms, retry_after]) = scan(&message.body);
            let fail = fail.filter(|_| honor_fail);
            // The key attributes lead the line's fields; the rest follow them in place.
            let mut fields = keys;
            let key_count = fields.len();
            fields.extend([
                ("customerTier".into(), tier.unwrap_or_else(|| "none".into())),
                ("version".into(), version.unwrap_or_default()),
                ("receiveCount".into(), message.receive_count.to_string()),
            ]);
            log::log(log::Level::Info, "order handled", &fields);
            if message.receive_count == 1
                && let Some(ms) = slow_ms.and_then(|s| s.parse::<u64>().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            let order = || match &fields[..key_count] {
                [] => format!("message {}", message.id),
                keys => {
                    let values: Vec<&str> = keys.iter().map(|(_, value)| value.as_str()).collect();
                    format!("order {}", values.join("/"))
                }
            };
            outcomes.push(match fail.as_deref() {
                Some("retry") => Outcome::Retry(retry_after.and_then(|s| s.parse().ok())),
                Some("dead-letter") => {
                    Outcome::DeadLetter(format!("{} asked to be dead-lettered", order()))
                }
                Some("batch") => {
                    return Err(Error::Failed(format!("{} failed the batch", order())));
                }
                Some("invalid") => {
                    return Err(Error::Invalid(format!("{} is invalid", order())));
                }
                _ => Outcome::Ok,
            });
        }
        Ok(outcomes)
    }
}

/// The record's key attributes in `body`, and the text value of each of [`MEMBERS`]: a member of
/// the message itself first, else the first one anywhere inside it, in document order. An
/// EventBridge event (it has a `detail-type`) is read from inside only: its own `version` and `id`
/// are not the order's. The keys are the first `dynamodb.Keys` of a record, which is the message
/// itself or its `detail`. Nothing is found when the body is not JSON. One pass over the text that
/// keeps only what it finds, rather than building the whole document: the consumer runs once per
/// message.
fn scan(body: &str) -> (Keys, [Option<String>; MEMBERS.len()]) {
    let mut found = Found::default();
    let mut json = serde_json::Deserializer::from_str(body);
    if serde::Deserializer::deserialize_any(&mut json, Top(&mut found)).is_err() {
        return Default::default();
    }
    let Found {
        mut own,
        inside,
        envelope,
        keys,
    } = found;
    let keys = keys.unwrap_or_default();
    if envelope {
        return (keys, inside);
    }
    for (own, inside) in own.iter_mut().zip(inside) {
        *own = own.take().or(inside);
    }
    (keys, own)
}

#[derive(Default)]
struct Found {
    /// Members of the message itself.
    own: [Option<String>; MEMBERS.len()],
    /// The first of each anywhere below it.
    inside: [Option<String>; MEMBERS.len()],
    /// Whether the message is an EventBridge event.
    envelope: bool,
    /// The key attributes of the record, once found.
    keys: Option<Keys>,
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
        let Found {
            own,
            inside,
            envelope,
            keys,
        } = self.0;
        let mut scan = Scan {
            values: inside,
            keys,
            at: Place::Record,
        };
        while let Some(name) = members.next_key_seed(NameSeed)? {
            match name {
                Name::Envelope => {
                    *envelope = true;
                    members.next_value::<IgnoredAny>()?;
                }
                Name::Member(i) if own[i].is_none() => own[i] = members.next_value::<Text>()?.0,
                // The message is a record, and this its change; or an event, and this its record.
                Name::Dynamodb => members.next_value_seed(scan.below(Place::Change))?,
                Name::Detail => members.next_value_seed(scan.below(Place::Record))?,
                _ => members.next_value_seed(scan.below(Place::Elsewhere))?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<(), A::Error> {
        let Found { inside, keys, .. } = self.0;
        Scan {
            values: inside,
            keys,
            at: Place::Elsewhere,
        }
        .visit_seq(items)
    }
}

/// Where a [`Scan`] is, on the way to a record's `Keys`.
#[derive(Clone, Copy)]
enum Place {
    /// In a record: its `dynamodb` member is the change.
    Record,
    /// In a record's `dynamodb`: its `Keys` member is the key.
    Change,
    /// Anywhere else.
    Elsewhere,
}

/// Walks a JSON value, filling in the first text value of each of [`MEMBERS`] it meets, and the
/// record's keys if it meets them first.
struct Scan<'a> {
    values: &'a mut [Option<String>; MEMBERS.len()],
    keys: &'a mut Option<Keys>,
    at: Place,
}

impl Scan<'_> {
    fn below(&mut self, at: Place) -> Scan<'_> {
        Scan {
            values: self.values,
            keys: self.keys,
            at,
        }
    }
}

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

    fn visit_map<A: MapAccess<'de>>(mut self, mut members: A) -> Result<(), A::Error> {
        while let Some(name) = members.next_key_seed(NameSeed)? {
            match (name, self.at) {
                (Name::Member(i), _) if self.values[i].is_none() => {
                    self.values[i] = members.next_value::<Text>()?.0
                }
                (Name::Dynamodb, Place::Record) => {
                    members.next_value_seed(self.below(Place::Change))?
                }
                (Name::Keys, Place::Change) if self.keys.is_none() => {
                    *self.keys = Some(members.next_value::<KeyAttributes>()?.0)
                }
                _ => members.next_value_seed(self.below(Place::Elsewhere))?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        while items
            .next_element_seed(self.below(Place::Elsewhere))?
            .is_some()
        {}
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

/// What a member's name means to a [`Scan`] (compared in place, not copied).
enum Name {
    /// One of [`MEMBERS`], by its position.
    Member(usize),
    /// `detail-type`: the message is an EventBridge event.
    Envelope,
    /// `detail`: an EventBridge event's record.
    Detail,
    /// `dynamodb`: a record's change.
    Dynamodb,
    /// `Keys`: a change's key attributes.
    Keys,
    Other,
}

struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, name: D) -> Result<Name, D::Error> {
        name.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Name, E> {
        Ok(match name {
            "detail-type" => Name::Envelope,
            "detail" => Name::Detail,
            "dynamodb" => Name::Dynamodb,
            "Keys" => Name::Keys,
            _ => MEMBERS
                .iter()
                .position(|member| *member == name)
                .map_or(Name::Other, Name::Member),
        })
    }
}

/// A record's `Keys`: each attribute's name and text, in order. An attribute whose value is not
/// a string or a number (`{"S": ...}`, `{"N": ...}`) is left out, and so is all of a `Keys` that
/// is not an object.
struct KeyAttributes(Keys);

impl<'de> serde::Deserialize<'de> for KeyAttributes {
    fn deserialize<D: Deserializer<'de>>(value: D) -> Result<KeyAttributes, D::Error> {
        value.deserialize_any(KeyAttributesVisitor)
    }
}

struct KeyAttributesVisitor;

impl<'de> Visitor<'de> for KeyAttributesVisitor {
    type Value = KeyAttributes;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut attributes: A) -> Result<KeyAttributes, A::Error> {
        // Room for the three fields that follow the keys in notify's line.
        let mut keys = Vec::with_capacity(5);
        while let Some(name) = attributes.next_key::<String>()? {
            if let Some(text) = attributes.next_value::<Text>()?.0 {
                keys.push((name, text));
            }
        }
        Ok(KeyAttributes(keys))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<KeyAttributes, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_str<E>(self, _: &str) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
    }

    fn visit_unit<E>(self) -> Result<KeyAttributes, E> {
        Ok(KeyAttributes(Keys::new()))
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
        while let Some(wrapper) = members.next_key_seed(Wrapper)? {
            if wrapper && text.is_none() {
                text = members.next_value::<Text>()?.0;
            } else {
                members.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Text(text))
    }
}

/// Whether a member name is DynamoDB's `S` or `N` (compared in place, not copied).
struct Wrapper;

impl<'de> DeserializeSeed<'de> for Wrapper {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, name: D) -> Result<bool, D::Error> {
        name.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Wrapper {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, name: &str) -> Result<bool, E> {
        Ok(name == "S" || name == "N")
    }
}

export!(Notify);
