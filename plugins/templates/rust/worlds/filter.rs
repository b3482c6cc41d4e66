//! {{name}}: a filter. It keeps the change records of items whose new image has a number
//! `attribute` above `threshold` (routes.toml's `config`; by default `total` and 100), and
//! drops the others, removals among them (they have no new image).

use std::fmt::Display;

use switchyard_plugin::{AttributeValue, Error, StreamRecord, config, filter, log};

/// Called once per event of the pipe: `true` keeps it, `false` drops it. An `Err` fails the
/// event: `Error::invalid` (the same input fails again) sends it to the pipe's DLQ at once.
#[filter]
fn keep(record: StreamRecord) -> Result<bool, Error> {
    let attribute = config::text("attribute").unwrap_or("total");
    // A threshold that is not a number is an error naming the key.
    let threshold: f64 = config::get_or("threshold", 100.0)?;
    let value = record.new_image().and_then(|image| image.number(attribute));
    let keep = value.is_some_and(|value| value > threshold);

    // The item's key, under its table's own attribute names (`id="x-1"` for a table keyed
    // `id`). Debug lines show when the host runs with RUST_LOG=info,switchyard::plugin=debug.
    let key = key(&record);
    let fields: Vec<(&str, &dyn Display)> = key
        .iter()
        .map(|(name, value)| (name.as_str(), value as &dyn Display))
        .collect();
    log::debug(if keep { "kept" } else { "dropped" }, &fields);
    Ok(keep)
}

/// The record's `Keys` as (name, text) pairs. A key attribute is a string, a number or binary
/// (base64), each held as text.
fn key(record: &StreamRecord) -> Vec<(String, String)> {
    let attributes = record.keys().attributes().into_iter();
    attributes
        .map(|(name, value)| match value {
            AttributeValue::S(text) | AttributeValue::N(text) | AttributeValue::B(text) => {
                (name, text)
            }
            other => (name, other.unmarshall().to_string()),
        })
        .collect()
}
