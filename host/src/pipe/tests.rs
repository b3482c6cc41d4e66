//! The pipe's core against a real embedded store in a temp dir, with plain Rust plugin stages:
//! retries, bisection, dead-lettering, a pipe stopped at a record, batch size and planning.

use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::backend::embedded::EmbeddedStore;
use crate::backend::{Queues, Store, Write, conformance};
use crate::config::{PluginId, QueueId, TableId};
use crate::plugin::{Message, Outcome};

/// Plugin stages in plain Rust. The filter reads an order's key: `fail-*` fails (may work
/// later), `invalid-*` is refused as invalid, `drop-*` is dropped, anything else is kept. The
/// enricher passes events through. Both note what they were handed.
#[derive(Default)]
struct Fake {
    filtered: Mutex<Vec<String>>,
    enriched: Mutex<Vec<usize>>,
}

fn key_of(event: &Event) -> String {
    let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    payload["dynamodb"]["Keys"]["orderId"]["S"]
        .as_str()
        .unwrap()
        .to_string()
}

fn refused(message: &str, retryable: bool) -> PluginError {
    PluginError::Returned {
        plugin: "f".into(),
        message: message.into(),
        retryable,
    }
}

impl Stages for Fake {
    fn keep(&self, _: PluginId, event: &Event) -> Result<bool, PluginError> {
        let key = key_of(event);
        self.filtered.lock().unwrap().push(key.clone());
        match key.split('-').next() {
            Some("fail") => Err(refused("try again later", true)),
            Some("invalid") => Err(refused("not an order", false)),
            Some("drop") => Ok(false),
            _ => Ok(true),
        }
    }

    fn enrich(&self, _: PluginId, events: &[Event]) -> Result<Vec<Event>, PluginError> {
        self.enriched.lock().unwrap().push(events.len());
        Ok(events.to_vec())
    }

    fn handle(&self, _: PluginId, _: &[Message]) -> Result<Vec<Outcome>, PluginError> {
        unreachable!("pipes call no consumer")
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<EmbeddedStore>,
    runner: Arc<PipeRunner>,
    fake: Arc<Fake>,
}

/// Queues are numbered in name order.
const DLQ: QueueId = QueueId(0);
const OUT: QueueId = QueueId(1);

/// A pipe `p` from `orders` through the filter `f` to the queue `out`, with `settings`.
fn harness(settings: &str) -> Harness {
    let routes = format!(
        r#"
[tables.orders]
key = "orderId"

[plugins.f]
world = "filter"
wasm = "f.wasm"

[plugins.e]
world = "enricher"
wasm = "e.wasm"

[pipes.p]
source = "orders"
target = {{ queue = "out" }}
{settings}

[queues.out]
[queues.dlq]
"#
    );
    let config = Arc::new(
        crate::config::compile(&routes, Path::new("routes.toml"))
            .unwrap_or_else(|err| panic!("{err}")),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open_for(dir.path(), &config).unwrap());
    let fake = Arc::new(Fake::default());
    let runner = Arc::new(PipeRunner {
        id: PipeId(0),
        buses: Arc::new(Buses::new(&config)),
        config,
        stream: store.clone(),
        leases: store.clone(),
        handoff: store.clone(),
        capabilities: crate::backend::Storage::capabilities(&*store),
        plugins: fake.clone(),
        status: Arc::new(PipeStatus::default()),
    });
    Harness {
        _dir: dir,
        store,
        runner,
        fake,
    }
}

impl Harness {
    /// Writes orders with these keys and returns their change records.
    async fn records(&self, keys: &[&str]) -> Vec<StreamRecord> {
        for key in keys {
            let item = conformance::order(key, 1, 5);
            let write = Write::Create {
                item,
                idempotency: None,
            };
            self.store.write(TableId(0), write).await.unwrap();
        }
        let all = conformance::read_all(&*self.store, TableId(0)).await;
        all[all.len() - keys.len()..].to_vec()
    }

    /// The order keys of the messages on `queue`, oldest first, with each one's error.
    async fn on(&self, queue: QueueId) -> Vec<(String, Option<String>)> {
        let messages = self.store.peek(queue, 100).await.unwrap();
        messages
            .into_iter()
            .map(|m| {
                let record: serde_json::Value = serde_json::from_str(&m.body).unwrap();
                let key = record["dynamodb"]["Keys"]["orderId"]["S"].as_str().unwrap();
                (key.to_string(), m.error)
            })
            .collect()
    }

    fn tries_of(&self, key: &str) -> usize {
        let filtered = self.fake.filtered.lock().unwrap();
        filtered.iter().filter(|k| *k == key).count()
    }

    async fn checkpoint(&self) -> Option<Position> {
        let shard = ShardId(crate::backend::embedded::SHARD.to_string());
        self.store.checkpoint("p", &shard).await.unwrap()
    }
}

fn shard() -> ShardId {
    ShardId(crate::backend::embedded::SHARD.to_string())
}

/// A shutdown that does not come while the test runs (a dropped sender would read as one).
fn no_shutdown() -> watch::Receiver<bool> {
    let (stop, stopped) = watch::channel(false);
    std::mem::forget(stop);
    stopped
}

#[tokio::test]
async fn a_failing_batch_is_retried_then_bisected_to_the_record_that_goes_to_the_dlq() {
    let pipe = harness("filter_plugin = \"f\"\nretry = { attempts = 1 }\ndlq = \"dlq\"");
    let records = pipe.records(&["o-1", "fail-2", "o-3", "o-4"]).await;
    assert!(
        pipe.runner
            .process(&shard(), &records, &mut no_shutdown())
            .await
    );
    let ok = |k: &str| (k.to_string(), None);
    assert_eq!(pipe.on(OUT).await, [ok("o-1"), ok("o-3"), ok("o-4")]);
    assert_eq!(
        pipe.on(DLQ).await,
        [(
            "fail-2".to_string(),
            Some("plugin `f` returned an error: try again later".to_string())
        )]
    );
    // The first try and its one retry, then once in the failing half, then once alone.
    assert_eq!(pipe.tries_of("fail-2"), 4);
    assert_eq!(pipe.runner.status.failed_attempts.get(), 2);
    assert_eq!(pipe.runner.status.dead_lettered.get(), 1);
    assert_eq!(
        pipe.checkpoint().await,
        Some(Position::After(records[3].dynamodb.sequence_number.clone())),
        "the checkpoint moves past the whole batch"
    );
}

#[tokio::test]
async fn a_record_a_plugin_calls_invalid_is_dead_lettered_without_retries() {
    let pipe = harness("filter_plugin = \"f\"\nretry = { attempts = -1 }\ndlq = \"dlq\"");
    let records = pipe.records(&["o-1", "invalid-2"]).await;
    assert!(
        pipe.runner
            .process(&shard(), &records, &mut no_shutdown())
            .await
    );
    assert_eq!(pipe.on(OUT).await, [("o-1".to_string(), None)]);
    assert_eq!(pipe.on(DLQ).await.len(), 1);
    assert_eq!(pipe.runner.status.failed_attempts.get(), 1, "no retry");
    assert_eq!(pipe.tries_of("invalid-2"), 2, "in the batch, then alone");
}

#[tokio::test]
async fn without_a_dlq_a_pipe_stays_at_the_record_it_cannot_deliver_and_says_why() {
    let pipe = harness("filter_plugin = \"f\"\nretry = { attempts = 0 }");
    let records = pipe.records(&["o-1", "fail-2"]).await;
    let (stop, mut stopped) = watch::channel(false);
    let runner = pipe.runner.clone();
    let task = tokio::spawn(async move { runner.process(&shard(), &records, &mut stopped).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stuck = loop {
        if let Some(why) = pipe.runner.status.stuck.lock().unwrap().clone() {
            break why;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pipe never said it was stuck"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        stuck,
        "stopped at record 000000000000000000002: plugin `f` returned an error: try again later"
    );
    assert_eq!(
        pipe.on(OUT).await,
        [("o-1".to_string(), None)],
        "the half before it went on"
    );
    stop.send(true).unwrap();
    assert!(
        task.await.unwrap(),
        "shutting down, the pipe lets go of the record"
    );
    assert_eq!(
        pipe.checkpoint().await,
        Some(Position::After(SequenceNumber::from_u64(1))),
        "the checkpoint stays before the record"
    );
}

#[tokio::test]
async fn a_pipe_stopped_at_a_record_delivers_nothing_after_it_when_the_host_shuts_down() {
    let pipe = harness("filter_plugin = \"f\"\nretry = { attempts = 0 }");
    let records = pipe.records(&["o-1", "fail-2", "o-3", "o-4"]).await;
    let (stop, mut stopped) = watch::channel(false);
    let runner = pipe.runner.clone();
    let task = tokio::spawn(async move { runner.process(&shard(), &records, &mut stopped).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pipe.runner.status.stuck.lock().unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pipe never got stuck"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    assert!(task.await.unwrap());
    // The half after the stuck record is not delivered: its checkpoint would pass the record.
    assert_eq!(pipe.on(OUT).await, [("o-1".to_string(), None)]);
    assert_eq!(
        pipe.checkpoint().await,
        Some(Position::After(SequenceNumber::from_u64(1)))
    );
}

#[tokio::test]
async fn a_log_line_names_the_pipe_shard_and_event_it_is_about() {
    let (logs, _guard) = crate::captured_logs::Captured::start();
    let pipe = harness("filter_plugin = \"f\"\nretry = { attempts = -1 }\ndlq = \"dlq\"");
    let records = pipe.records(&["o-1", "invalid-2"]).await;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(pipe.runner.clone().run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pipe.on(DLQ).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "not dead-lettered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    // Logged once, by the batch: its spans name the pipe, the shard and the batch's first event.
    let line = logs.line("bisecting without retries");
    let (first, shard) = (&records[0].event_id, shard().0);
    for field in [
        "pipe{pipe=\"p\"}".to_string(),
        format!("shard{{shard=\"{shard}\"}}"),
        format!("batch{{event_id=\"{first}\" records=2}}"),
        "error=plugin `f` returned an error: not an order".to_string(),
    ] {
        assert!(line.contains(&field), "{field} is not in {line}");
    }
}

#[test]
fn an_event_id_is_the_same_for_the_same_pipe_record_and_place() {
    let id = event_id("orders", "rec-1", 0);
    assert_eq!(id, event_id("orders", "rec-1", 0));
    assert_eq!(id.len(), 36, "a UUID: {id}");
    for other in [
        event_id("audit", "rec-1", 0),
        event_id("orders", "rec-2", 0),
        event_id("orders", "rec-1", 1),
    ] {
        assert_ne!(id, other);
    }
}

#[tokio::test]
async fn a_pipe_reads_batches_of_its_batch_size_in_order() {
    let pipe = harness("enrichment = \"e\"\nbatch_size = 2");
    pipe.records(&["o-1", "o-2", "o-3", "o-4", "o-5"]).await;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(pipe.runner.clone().run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pipe.on(OUT).await.len() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(*pipe.fake.enriched.lock().unwrap(), [2, 2, 1]);
    let keys: Vec<String> = pipe.on(OUT).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["o-1", "o-2", "o-3", "o-4", "o-5"]);
}

#[tokio::test]
async fn a_batch_plans_a_message_per_event_both_filters_keep_and_plans_it_alike_again() {
    let pipe = harness(
        "filter = ['{\"dynamodb\": {\"Keys\": {\"orderId\": {\"S\": [{\"anything-but\": \"o-3\"}]}}}}']\nfilter_plugin = \"f\"",
    );
    let records = pipe.records(&["o-1", "drop-2", "o-3", "o-4"]).await;
    let planned = pipe.runner.plan(&records).await.unwrap();
    let again = pipe.runner.plan(&records).await.unwrap();
    assert_eq!((planned.filtered, planned.delivered), (2, 2));
    let bodies: Vec<&str> = planned
        .delivery
        .messages
        .iter()
        .map(|(queue, m)| {
            assert_eq!((*queue, m.origin.as_str()), (OUT, "pipe:p"));
            m.body.as_str()
        })
        .collect();
    assert!(bodies[0].contains("\"o-1\"") && bodies[1].contains("\"o-4\""));
    assert_eq!(
        planned.delivery.messages, again.delivery.messages,
        "planned again, the same messages"
    );
    assert_eq!(
        pipe.tries_of("o-3"),
        0,
        "the pattern drops it before the plugin"
    );
    assert!(planned.delivery.checkpoint.is_none(), "deliver adds it");
}

fn shard_of(id: &str, parent: Option<&str>) -> Shard {
    Shard {
        id: ShardId(id.into()),
        parent: parent.map(|p| ShardId(p.into())),
    }
}

fn ids(ids: &[&str]) -> HashSet<ShardId> {
    ids.iter().map(|id| ShardId((*id).into())).collect()
}

#[test]
fn a_child_shard_starts_only_after_its_parent_has_ended() {
    // A split: `a` closed into `b` and `c`; `d` is a root whose parent aged out.
    let shards = [
        shard_of("a", None),
        shard_of("b", Some("a")),
        shard_of("c", Some("a")),
        shard_of("d", Some("gone")),
    ];
    let start = |finished: &[&str]| -> Vec<String> {
        startable(&shards, &ids(finished))
            .into_iter()
            .map(|s| s.0)
            .collect()
    };
    assert_eq!(start(&[]), ["a", "d"]);
    assert_eq!(start(&["a"]), ["b", "c", "d"]);
    assert_eq!(start(&["a", "b", "c", "d"]), Vec::<String>::new());
}
