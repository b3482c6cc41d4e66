//! The consumer's core with plain Rust plugin stages: the FIFO hold and the bisection of a
//! batch refused as invalid.

use std::sync::Mutex;

use super::*;
use crate::plugin::Event;

fn received(id: &str, group: Option<&str>) -> Received {
    Received {
        message_id: id.into(),
        receipt_handle: format!("r-{id}"),
        body: id.into(),
        receive_count: 1,
        sent_timestamp_ms: 0,
        group_id: group.map(Into::into),
        origin: "queue:q".into(),
        error: None,
    }
}

#[test]
fn in_a_fifo_batch_a_groups_later_messages_are_retried_with_the_first_retried_one() {
    let batch = [
        received("a1", Some("a")),
        received("b1", Some("b")),
        received("a2", Some("a")),
        received("a3", Some("a")),
        received("b2", Some("b")),
    ];
    let answered = vec![
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Retry(Some(7)),
        Outcome::DeadLetter("no".into()),
        Outcome::Ok,
    ];
    assert_eq!(
        fifo_hold(&batch, answered),
        [
            Outcome::Ok,
            Outcome::Ok,
            Outcome::Retry(Some(7)),
            Outcome::Retry(Some(7)),
            Outcome::Ok,
        ],
        "a3 waits for a2 with its delay; group b goes on"
    );
}

#[test]
fn outside_fifo_groups_every_answer_stands() {
    let batch = [received("1", None), received("2", None)];
    let answered = vec![Outcome::Retry(None), Outcome::Ok];
    assert_eq!(fifo_hold(&batch, answered.clone()), answered);
}

/// A handler that refuses as invalid any batch holding a message whose body starts with
/// `bad`, else fails any holding `down`, and answers `ok` otherwise; it notes each batch's size.
#[derive(Default)]
struct Handler {
    batches: Mutex<Vec<usize>>,
}

impl Stages for Handler {
    fn keep(&self, _: PluginId, _: &Event) -> Result<bool, PluginError> {
        unreachable!("consumers call no filter")
    }

    fn enrich(&self, _: PluginId, _: &[Event]) -> Result<Vec<Event>, PluginError> {
        unreachable!("consumers call no enricher")
    }

    fn handle(&self, _: PluginId, messages: &[Message]) -> Result<Vec<Outcome>, PluginError> {
        self.batches.lock().unwrap().push(messages.len());
        let refuse = |prefix: &str, retryable: bool| {
            let found = messages.iter().find(|m| m.body.starts_with(prefix));
            found.map(|m| PluginError::Returned {
                plugin: "h".into(),
                message: format!("{} refused", m.id),
                retryable,
            })
        };
        if let Some(err) = refuse("bad", false).or_else(|| refuse("down", true)) {
            return Err(err);
        }
        Ok(vec![Outcome::Ok; messages.len()])
    }
}

fn messages(bodies: &[&str]) -> Vec<Message> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| message(&received(&i.to_string(), None)).with_body(body))
        .collect()
}

trait WithBody {
    fn with_body(self, body: &str) -> Self;
}

impl WithBody for Message {
    fn with_body(mut self, body: &str) -> Message {
        self.body = body.into();
        self
    }
}

#[test]
fn a_batch_refused_as_invalid_is_handed_over_in_halves_and_the_refused_message_dead_lettered() {
    let handler = Handler::default();
    let answered = outcomes(&handler, PluginId(0), &messages(&["ok", "ok", "bad", "ok"]));
    assert_eq!(
        answered.unwrap(),
        [
            Outcome::Ok,
            Outcome::Ok,
            Outcome::DeadLetter("plugin `h` returned an error: 2 refused".into()),
            Outcome::Ok,
        ]
    );
    assert_eq!(*handler.batches.lock().unwrap(), [4, 2, 2, 1, 1]);
}

#[test]
fn a_failure_that_may_pass_later_fails_the_whole_batch_even_in_a_half() {
    let handler = Handler::default();
    let answered = outcomes(&handler, PluginId(0), &messages(&["bad", "ok", "down"]));
    // Whole: `bad` is refused; the half with `down` then fails, and with it the batch.
    assert_eq!(
        answered,
        Err(PluginError::Returned {
            plugin: "h".into(),
            message: "2 refused".into(),
            retryable: true,
        })
    );
}
