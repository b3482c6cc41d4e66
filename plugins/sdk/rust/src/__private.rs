//! The glue the attributes expand to: the world's export calls the plugin's function through
//! these conversions. Not part of the API; it changes with the attributes.

pub use wit_bindgen;

pub use crate::bindings::switchyard::plugin::{config, log, types};

use crate::{Error, FromEvent, IntoEvent, Message, Outcome};

impl From<Error> for types::Error {
    fn from(err: Error) -> types::Error {
        match err {
            Error::Invalid(reason) => types::Error::Invalid(reason),
            Error::Failed(reason) => types::Error::Failed(reason),
        }
    }
}

/// What a filter function may return: `bool`, or `Result<bool, E>`.
pub trait Verdict {
    fn verdict(self) -> Result<bool, Error>;
}

impl Verdict for bool {
    fn verdict(self) -> Result<bool, Error> {
        Ok(self)
    }
}

impl<E: Into<Error>> Verdict for Result<bool, E> {
    fn verdict(self) -> Result<bool, Error> {
        self.map_err(Into::into)
    }
}

pub fn keep<A: FromEvent, R: Verdict>(
    event: types::Event,
    filter: impl FnOnce(A) -> R,
) -> Result<bool, types::Error> {
    let input = A::from_event(&event.id, event.payload)?;
    Ok(filter(input).verdict()?)
}

pub fn enrich<A: FromEvent, O: IntoEvent, E: Into<Error>>(
    events: Vec<types::Event>,
    enricher: impl FnOnce(Vec<A>) -> Result<Vec<O>, E>,
) -> Result<Vec<types::Event>, types::Error> {
    let input = events
        .into_iter()
        .map(|event| A::from_event(&event.id, event.payload))
        .collect::<Result<Vec<A>, Error>>()?;
    let output = enricher(input).map_err(Into::into)?;
    let events = output
        .into_iter()
        .map(|event| {
            let (id, payload) = event.into_event()?;
            Ok(types::Event { id, payload })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(events)
}

/// A consumer function: a batch at a time (`Vec<Message>` in, an outcome per message out), or
/// a message at a time (`Message` in, an [`Outcome`] or a `Result` of one out).
pub trait Consumer<Form> {
    fn consume(self, messages: Vec<Message>) -> Result<Vec<Outcome>, Error>;
}

/// The batch form.
pub struct Batch;
/// The message-at-a-time form.
pub struct Each;

impl<F, E> Consumer<Batch> for F
where
    F: FnOnce(Vec<Message>) -> Result<Vec<Outcome>, E>,
    E: Into<Error>,
{
    fn consume(self, messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        let count = messages.len();
        let outcomes = self(messages).map_err(Into::into)?;
        if outcomes.len() != count {
            return Err(Error::Invalid(format!(
                "the consumer answered {} outcomes for {count} messages",
                outcomes.len()
            )));
        }
        Ok(outcomes)
    }
}

/// What a consumer function of one message may return.
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

/// An `Err` of one message: `Failed` retries it after its visibility timeout; `Invalid`
/// dead-letters it with the reason (it would fail the same way again).
impl<E: Into<Error>> IntoOutcome for Result<Outcome, E> {
    fn into_outcome(self) -> Outcome {
        match self.map_err(Into::into) {
            Ok(outcome) => outcome,
            Err(Error::Failed(_)) => Outcome::Retry(None),
            Err(Error::Invalid(reason)) => Outcome::DeadLetter(reason),
        }
    }
}

/// `Ok(())` is [`Outcome::Ok`].
impl<E: Into<Error>> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        self.map(|()| Outcome::Ok).into_outcome()
    }
}

impl<F, R> Consumer<Each> for F
where
    F: Fn(Message) -> R,
    R: IntoOutcome,
{
    fn consume(self, messages: Vec<Message>) -> Result<Vec<Outcome>, Error> {
        Ok(messages
            .into_iter()
            .map(|message| self(message).into_outcome())
            .collect())
    }
}

pub fn handle<Form>(
    messages: Vec<types::Message>,
    consumer: impl Consumer<Form>,
) -> Result<Vec<types::Outcome>, types::Error> {
    let messages = messages
        .into_iter()
        .map(|m| Message {
            id: m.id,
            body: m.body,
            receive_count: m.receive_count,
            attributes: m.attributes,
        })
        .collect();
    let outcomes = consumer.consume(messages)?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Ok => types::Outcome::Ok,
            Outcome::Retry(after) => types::Outcome::Retry(after),
            Outcome::DeadLetter(reason) => types::Outcome::DeadLetter(reason),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use serde_json::{Value, json};

    fn messages(bodies: &[&str]) -> Vec<types::Message> {
        let message = |(i, body): (usize, &&str)| types::Message {
            id: format!("m-{i}"),
            body: body.to_string(),
            receive_count: 1,
            attributes: vec![("MessageGroupId".into(), "g".into())],
        };
        bodies.iter().enumerate().map(message).collect()
    }

    fn each(message: Message) -> Result<Outcome, Error> {
        assert_eq!(message.group_id(), Some("g"));
        match message.body.as_str() {
            "later" => Err(Error::failed("down")),
            "bad" => Err(Error::invalid("not an order")),
            "wait" => Ok(Outcome::Retry(Some(30))),
            _ => Ok(Outcome::Ok),
        }
    }

    #[test]
    fn a_consumer_of_one_message_answers_per_message_and_its_errors_become_outcomes() {
        let outcomes = handle(messages(&["ok", "later", "bad", "wait"]), each).unwrap();
        assert_eq!(
            outcomes,
            [
                types::Outcome::Ok,
                types::Outcome::Retry(None),
                types::Outcome::DeadLetter("not an order".into()),
                types::Outcome::Retry(Some(30)),
            ]
        );
    }

    #[test]
    fn a_batch_consumer_fails_the_batch_with_its_error_or_a_wrong_count_of_outcomes() {
        let failing =
            |_: Vec<Message>| -> Result<Vec<Outcome>, Error> { Err(Error::failed("down")) };
        assert_eq!(
            handle(messages(&["a"]), failing),
            Err(types::Error::Failed("down".into()))
        );
        let short = |_: Vec<Message>| -> Result<Vec<Outcome>, Error> { Ok(vec![Outcome::Ok]) };
        assert_eq!(
            handle(messages(&["a", "b"]), short),
            Err(types::Error::Invalid(
                "the consumer answered 1 outcomes for 2 messages".into()
            ))
        );
    }

    #[test]
    fn an_enricher_keeps_each_events_id_and_a_payload_that_does_not_parse_is_invalid() {
        let events = vec![
            types::Event {
                id: "e-1".into(),
                payload: r#"{"n": 1}"#.into(),
            },
            types::Event {
                id: "e-2".into(),
                payload: r#"{"n": 2}"#.into(),
            },
        ];
        let doubled = |events: Vec<Event<Value>>| -> Result<Vec<Event<Value>>, Error> {
            Ok(events
                .into_iter()
                .map(|e| e.map(|v| json!({"n": v["n"].as_i64().unwrap() * 2})))
                .collect())
        };
        let out = enrich(events, doubled).unwrap();
        let out: Vec<(&str, &str)> = out
            .iter()
            .map(|e| (e.id.as_str(), e.payload.as_str()))
            .collect();
        assert_eq!(out, [("e-1", r#"{"n":2}"#), ("e-2", r#"{"n":4}"#)]);

        let bad = vec![types::Event {
            id: "e-3".into(),
            payload: "nope".into(),
        }];
        let Err(types::Error::Invalid(reason)) = enrich(bad, doubled) else {
            panic!("a payload that is not JSON is invalid");
        };
        assert!(reason.starts_with("event e-3: "), "{reason}");
    }

    #[test]
    fn a_filter_may_answer_a_bare_bool() {
        let event = types::Event {
            id: "e-1".into(),
            payload: "{}".into(),
        };
        assert_eq!(keep(event, |_: Value| false), Ok(false));
    }
}
