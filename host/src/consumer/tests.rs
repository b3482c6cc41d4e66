//! The consumer's core with plain Rust plugin stages: the FIFO hold and the bisection of a
//! batch refused as invalid.

use std::sync::Mutex;

use super::*;
use crate::backend::NewMessage;
use crate::backend::embedded::EmbeddedStore;
use crate::config::QueueId;
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
        attributes: Default::default(),
        first_received_ms: None,
        trace: None,
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

/// A consumer `c` of the queue `jobs` with the handler above, on a real embedded store.
fn runner(dir: &std::path::Path) -> (Arc<ConsumerRunner>, Arc<EmbeddedStore>) {
    let routes = r#"
[plugins.h]
world = "consumer"
wasm = "h.wasm"

[queues.jobs]

[consumers.c]
queue = "jobs"
handler = "h"
"#;
    let config = Arc::new(
        crate::config::compile(routes, std::path::Path::new("routes.toml"))
            .unwrap_or_else(|err| panic!("{err}")),
    );
    let store = Arc::new(EmbeddedStore::open_for(dir, &config).unwrap());
    let runner = Arc::new(ConsumerRunner {
        id: ConsumerId(0),
        tap: Arc::new(crate::tap::Tap::new(&config)),
        config,
        queues: store.clone(),
        plugins: Arc::new(Handler::default()),
        status: Arc::new(ConsumerStatus::default()),
    });
    (runner, store)
}

#[tokio::test]
async fn a_log_line_names_the_consumer_and_the_batch_it_is_about() {
    let (logs, _guard) = crate::captured_logs::Captured::start();
    let dir = tempfile::tempdir().unwrap();
    let (runner, store) = runner(dir.path());
    let sent = store
        .send(QueueId(0), vec![NewMessage::new("down", "test")])
        .await
        .unwrap();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(runner.clone().run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runner.status.failed_batches.get() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    let line = logs.line("batch failed");
    for field in [
        r#"consumer{consumer="c" queue="jobs" plugin="h"}"#.to_string(),
        format!(r#"batch{{message_id="{}" messages=1}}"#, sent[0]),
        format!("error=plugin `h` returned an error: {} refused", sent[0]),
    ] {
        assert!(line.contains(&field), "{field} is not in {line}");
    }
}
