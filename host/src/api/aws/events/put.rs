//! PutEvents: each entry made into the event EventBridge makes of it, and put on its bus
//! through the runtime, as a pipe puts its events; an entry EventBridge would refuse is
//! answered with EventBridge's error code and nothing else of the call fails with it.

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{AwsError, Input, bus, validation};
use crate::api::App;
use crate::backend::StoreError;
use crate::bus::{ACCOUNT, Envelope, event_time};
use crate::config::{BusId, Config};

/// PutEvents takes 1 to 10 entries, of at most 256 KiB together.
const MAX_ENTRIES: usize = 10;
const MAX_BYTES: usize = 256 * 1024;

pub(super) async fn put_events(app: &App, input: Input<'_>) -> Result<Value, AwsError> {
    if input.get("EndpointId").is_some() {
        return Err(validation(
            "Switchyard has no global endpoints: send PutEvents without `EndpointId`",
        ));
    }
    let entries = entries(input)?;
    let mut answers = Vec::with_capacity(entries.len());
    let mut events = Vec::with_capacity(entries.len());
    for entry in entries {
        match event(&app.config, Input(entry)) {
            Ok((bus, event)) => {
                answers.push(json!({"EventId": event["id"]}));
                let trace = entry.get("TraceHeader").and_then(Value::as_str);
                events.push((bus, event, trace.map(str::to_string)));
            }
            Err(Refused { code, message }) => {
                answers.push(json!({"ErrorCode": code, "ErrorMessage": message}))
            }
        }
    }
    let failed = answers.len() - events.len();
    if !events.is_empty() {
        app.runtime.put_events(events).await.map_err(internal)?;
    }
    Ok(json!({"FailedEntryCount": failed, "Entries": answers}))
}

/// The request's entries, within PutEvents' count and size limits.
fn entries(input: Input<'_>) -> Result<&[Value], AwsError> {
    let entries = match input.get("Entries") {
        None => {
            return Err(validation(
                "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
            ));
        }
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(AwsError::serialization("`Entries` must be a list")),
    };
    if !(1..=MAX_ENTRIES).contains(&entries.len()) {
        return Err(validation(format!(
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and {MAX_ENTRIES}, and it has {}",
            entries.len()
        )));
    }
    if entries.iter().map(size).sum::<usize>() > MAX_BYTES {
        return Err(validation(
            "Total size of the entries in the request is over the limit.",
        ));
    }
    Ok(entries)
}

/// An entry's size as EventBridge counts it: 14 bytes for a `Time`, and the UTF-8 bytes of
/// `Source`, `DetailType`, `Detail` and each of `Resources`.
fn size(entry: &Value) -> usize {
    let text = |member: &str| {
        entry
            .get(member)
            .and_then(Value::as_str)
            .map_or(0, str::len)
    };
    let time = if entry.get("Time").is_some_and(|t| !t.is_null()) {
        14
    } else {
        0
    };
    let resources = entry
        .get("Resources")
        .and_then(Value::as_array)
        .map_or(0, |list| {
            list.iter().filter_map(Value::as_str).map(str::len).sum()
        });
    time + text("Source") + text("DetailType") + text("Detail") + resources
}

/// Why EventBridge refuses an entry: its `ErrorCode` and `ErrorMessage`.
#[derive(Debug, PartialEq)]
struct Refused {
    code: &'static str,
    message: String,
}

impl Refused {
    fn invalid(member: &str, reason: &str) -> Refused {
        Refused {
            code: "InvalidArgument",
            message: format!("Parameter {member} is not valid. Reason: {reason}"),
        }
    }
}

/// The event EventBridge makes of an entry, and its bus; or why EventBridge refuses it.
fn event(config: &Config, entry: Input<'_>) -> Result<(BusId, Value), Refused> {
    let required = |member: &str| match entry.get(member) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.as_str()),
        Some(Value::String(_)) | None => Err(Refused::invalid(
            member,
            &format!("{member} is a required argument."),
        )),
        Some(_) => Err(Refused::invalid(
            member,
            &format!("{member} must be a string."),
        )),
    };
    let source = required("Source")?;
    let detail_type = required("DetailType")?;
    let detail = required("Detail")?;
    let detail = serde_json::from_str::<&RawValue>(detail)
        .ok()
        .filter(|raw| raw.get().starts_with('{'))
        .ok_or_else(|| Refused {
            code: "MalformedDetail",
            message: "Detail is malformed.".into(),
        })?;
    if source.starts_with("aws.") {
        // EventBridge keeps the `aws.` sources for AWS's own services.
        return Err(Refused {
            code: "NotAuthorizedForSourceException",
            message: "Not authorized for the source.".into(),
        });
    }
    let resources = match entry.get("Resources") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|r| r.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Refused::invalid("Resources", "Resources must be a list of strings."))?,
        Some(_) => {
            return Err(Refused::invalid(
                "Resources",
                "Resources must be a list of strings.",
            ));
        }
    };
    let time = match entry.get("Time") {
        None => time::OffsetDateTime::now_utc(),
        Some(time) => parse_time(time).ok_or_else(|| {
            Refused::invalid(
                "Time",
                "Time must be a timestamp: seconds since 1970, or an RFC 3339 time.",
            )
        })?,
    };
    let bus_name = match entry.get("EventBusName") {
        None => None,
        Some(Value::String(name)) => Some(name.as_str()),
        Some(_) => {
            return Err(Refused::invalid(
                "EventBusName",
                "EventBusName must be a string.",
            ));
        }
    };
    let bus = bus(config, bus_name).map_err(|err| Refused {
        code: "ResourceNotFoundException",
        message: err.message,
    })?;
    let id = uuid::Uuid::now_v7().to_string();
    let envelope = Envelope {
        version: "0",
        id: &id,
        detail_type,
        source,
        account: ACCOUNT,
        time: event_time(time),
        region: &config.aws.region,
        resources,
        detail,
    };
    let event = serde_json::to_value(&envelope).map_err(|err| Refused {
        code: "InternalFailure",
        message: err.to_string(),
    })?;
    Ok((bus, event))
}

/// A timestamp as the JSON protocol sends it, seconds since 1970 (boto3, the CLI), or as an
/// RFC 3339 text.
fn parse_time(time: &Value) -> Option<time::OffsetDateTime> {
    match time {
        Value::Number(seconds) => {
            let seconds = seconds.as_f64()?;
            let nanos = (seconds * 1e9).round();
            if !nanos.is_finite() || nanos.abs() > i128::MAX as f64 {
                return None;
            }
            time::OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
        }
        Value::String(text) => {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        }
        _ => None,
    }
}

/// The store could not take the events: EventBridge's `InternalException`, the cause logged.
fn internal(err: StoreError) -> AwsError {
    AwsError {
        kind: "InternalException".into(),
        ..AwsError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_its_texts_and_fourteen_bytes_for_a_time() {
        let entry = json!({
            "Source": "shop", "DetailType": "Order", "Detail": "{}",
            "Resources": ["arn:x", "é"], "Time": 1.5, "EventBusName": "not counted"
        });
        assert_eq!(size(&entry), 14 + 4 + 5 + 2 + 5 + 2);
    }

    #[test]
    fn times_are_seconds_since_1970_or_rfc_3339() {
        let at = |v: Value| parse_time(&v).map(event_time);
        assert_eq!(
            at(json!(1767225600)).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            at(json!(1767225600.75)).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            at(json!("2026-01-01T01:00:00+01:00")).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(at(json!(1e300)), None);
        assert_eq!(at(json!("yesterday")), None);
        assert_eq!(at(json!(true)), None);
    }
}
