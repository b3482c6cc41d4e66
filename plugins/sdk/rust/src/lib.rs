//! Write Switchyard plugins in Rust: a filter, an enricher or a consumer is one function and
//! one attribute. The attribute makes the bindings of the plugin's world and the export; the
//! function takes and returns the AWS shapes as Rust types.
//!
//! ```ignore
//! use switchyard_plugin::{Error, StreamRecord, config, filter};
//!
//! /// Keeps orders above the configured `threshold` (default 100).
//! #[filter]
//! fn keep(record: StreamRecord) -> Result<bool, Error> {
//!     let threshold: f64 = config::get_or("threshold", 100.0)?;
//!     let total = record.new_image().and_then(|image| image.number("total"));
//!     Ok(total.is_some_and(|total| total > threshold))
//! }
//! ```
//!
//! A plugin crate is a `cdylib` built for `wasm32-wasip2`; `switchyard plugin new` writes one.

mod dynamodb;
mod error;
mod event;
mod eventbridge;
mod queue;

pub mod config;
pub mod json;
pub mod log;

pub use dynamodb::{
    AttributeValue, Attributes, EventName, Image, StreamData, StreamRecord, marshall, unmarshall,
};
pub use error::Error;
pub use event::{Event, FromEvent, IntoEvent, Json};
pub use eventbridge::Envelope;
pub use queue::{Message, Outcome};
pub use switchyard_plugin_macros::{consumer, enricher, filter};

/// The host's functions (log, config) and the shared types, for every world.
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package switchyard:sdk;
            world imports {
                import switchyard:plugin/types@0.1.0;
                import switchyard:plugin/log@0.1.0;
                import switchyard:plugin/config@0.1.0;
            }
        ",
        path: "wit",
        world: "switchyard:sdk/imports",
        generate_all,
        additional_derives: [PartialEq],
        // Imports take borrowed text: a log line's fields are not copied to be passed.
        ownership: Borrowing { duplicate_if_necessary: false },
    });
}

/// What the attributes expand to; not part of the API.
#[doc(hidden)]
pub mod __private;
