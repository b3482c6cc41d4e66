//! `high-value`: a filter that keeps orders whose total, in the stream record's new image, is
//! above the configured `threshold` (default 100).

use switchyard_plugin::{Error, StreamRecord, config, filter, log};

#[filter]
fn keep(record: StreamRecord) -> Result<bool, Error> {
    let threshold: f64 = config::get_or("threshold", 100.0)?;
    let total = record.new_image().and_then(|image| image.number("total"));
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
