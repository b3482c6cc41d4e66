//! What a pipe hands its target: the input a bus's envelope ([`crate::bus::Envelope`]) carries as
//! its detail, or the message body for a queue, from the event's JSON text as the plugins left it.

use serde_json::Value;
use serde_json::value::RawValue;

use super::PipeError;
use crate::transform;

/// What a pipe's target gets of an event: its JSON text, or with an input template the
/// template's output (JSON where it is JSON, else a JSON string of the text).
pub(super) fn target_input(
    payload: String,
    template: Option<&str>,
) -> Result<Box<RawValue>, PipeError> {
    let invalid = |err: serde_json::Error| PipeError::Event(err.to_string());
    let Some(template) = template else {
        return RawValue::from_string(payload).map_err(invalid);
    };
    let payload: Value = serde_json::from_str(&payload).map_err(invalid)?;
    let text = transform::pipe_template(&payload, template);
    if serde_json::from_str::<&RawValue>(&text).is_ok() {
        return RawValue::from_string(text).map_err(invalid);
    }
    serde_json::value::to_raw_value(&text).map_err(invalid)
}

/// A queue message's body from a pipe's target input: a JSON string goes as its text, as
/// EventBridge Pipes sends it to SQS; anything else goes as the JSON it is, unparsed.
pub(super) fn queue_body(input: &RawValue) -> String {
    let json = input.get();
    let text = json
        .trim_start()
        .starts_with('"')
        .then(|| serde_json::from_str::<String>(json).ok())
        .flatten();
    text.unwrap_or_else(|| json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_input_keeps_the_event_text_or_renders_the_template() {
        let event = r#"{"dynamodb": {"NewImage": {"orderId": {"S": "o-1"}}}}"#;
        let as_is = target_input(event.to_string(), None).unwrap();
        assert_eq!(
            as_is.get(),
            event,
            "no template: the text goes on unchanged"
        );
        let json = target_input(
            event.to_string(),
            Some(r#"{"id": "<$.dynamodb.NewImage.orderId.S>"}"#),
        )
        .unwrap();
        assert_eq!(queue_body(&json), r#"{"id": "o-1"}"#);
        let text = target_input(
            event.to_string(),
            Some("order <$.dynamodb.NewImage.orderId.S>"),
        )
        .unwrap();
        // A template writes each value as JSON, so the string keeps its quotes.
        assert_eq!(text.get(), r#""order \"o-1\"""#, "not JSON: a JSON string");
        assert_eq!(
            queue_body(&text),
            r#"order "o-1""#,
            "a string body is its text"
        );
        let err = target_input("not json".to_string(), None).unwrap_err();
        assert!(err.to_string().contains("expected"), "{err}");
    }
}
