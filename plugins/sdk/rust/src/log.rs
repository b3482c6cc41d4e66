//! Log lines into the host's log, tagged by the host with the plugin's name and the event or
//! message in hand. Fields are key and value pairs: `log::info("order handled", &[("orderId",
//! &id)])`. Fields that are text already can skip formatting: `log::text(Level::Info, ...)`.

use std::fmt::{Display, Write};

use crate::bindings::switchyard::plugin::log as host;
pub use crate::bindings::switchyard::plugin::log::Level;

/// A line whose fields are text already, passed to the host as they are: for a hot path
/// that logs text it holds (`info` formats each field through `Display` first).
pub fn text(level: Level, message: &str, fields: &[(&str, &str)]) {
    host::log(level, message, fields);
}

fn write(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    // Every value written into one text, then passed as slices of it.
    let mut text = String::new();
    let mut ends = Vec::with_capacity(fields.len());
    for (_, value) in fields {
        let _ = write!(text, "{value}");
        ends.push(text.len());
    }
    let mut start = 0;
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .zip(ends)
        .map(|((key, _), end)| {
            let value = &text[start..end];
            start = end;
            (*key, value)
        })
        .collect();
    host::log(level, message, &fields);
}

pub fn trace(message: &str, fields: &[(&str, &dyn Display)]) {
    write(Level::Trace, message, fields);
}

pub fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
    write(Level::Debug, message, fields);
}

pub fn info(message: &str, fields: &[(&str, &dyn Display)]) {
    write(Level::Info, message, fields);
}

pub fn warn(message: &str, fields: &[(&str, &dyn Display)]) {
    write(Level::Warn, message, fields);
}

pub fn error(message: &str, fields: &[(&str, &dyn Display)]) {
    write(Level::Error, message, fields);
}
