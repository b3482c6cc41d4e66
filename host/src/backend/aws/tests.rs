//! The AWS backend against the same conformance suite as the embedded one, on a real moto
//! server (PyPI `moto[server]`) that each test starts on 127.0.0.1 and stops when it ends.

use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

use super::AwsStore;
use super::deploy::Plan;
use crate::backend::{Delivery, Handoff, Queues, conformance};
use crate::config::{Config, QueueId, StreamViewType};

#[path = "../../../../tests/common/moto.rs"]
mod moto;
use moto::Moto;

impl Moto {
    fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "tests",
            )))
            .build()
    }

    async fn store(&self, view: StreamViewType) -> AwsStore {
        let sdk = self.sdk();
        let queues = conformance::queues();
        let store = AwsStore::new(
            &sdk,
            &conformance::tables(view),
            &queues,
            &conformance::buses(),
            "conformance-",
        );
        store
            .deploy(&queues, &[], false)
            .await
            .expect("the tables and queues are created");
        store
    }
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let moto = Moto::start();
            let store = moto.store(StreamViewType::NewAndOldImages).await;
            conformance::$name(&store, &store).await;
        }
    )*};
}

// The store and stream suite.
conformance::store_cases!(conformance_tests);

#[tokio::test]
async fn keys_only_stream_records_carry_no_images() {
    let moto = Moto::start();
    let store = moto.store(StreamViewType::KeysOnly).await;
    conformance::stream_view_type_keys_only_carries_no_images(&store, &store).await;
}

// The queue suite on SQS.
conformance::queue_cases!(conformance_tests);

/// Where moto does its own way what SQS does as the suite checks: each test runs and must fail
/// at the assertion named, so a moto that comes into line with SQS fails here, and the test
/// moves up to the list above.
macro_rules! moto_differs {
    ($($name:ident => $assertion:literal),* $(,)?) => {$(
        #[tokio::test]
        #[should_panic(expected = $assertion)]
        async fn $name() {
            let moto = Moto::start();
            let store = moto.store(StreamViewType::NewAndOldImages).await;
            conformance::$name(&store, &store).await;
        }
    )*};
}

moto_differs!(
    // SQS: with a stale receipt handle "the request succeeds, but the message will not be
    // deleted"; moto still changes its visibility and deletes it.
    a_stale_receipt_changes_nothing => "the first receipt is no longer current",
    // SQS answers a FIFO duplicate with the first message's id; moto makes a new one.
    a_fifo_duplicate_gets_the_first_message_id => "a duplicate is answered with the first message's id",
    // moto's long poll on a FIFO queue does not see a group that a delete during the wait
    // unblocked; it returns empty when the wait runs out.
    a_long_poll_on_a_fifo_queue_wakes_when_the_message_ahead_is_deleted =>
        "the long poll returns the message the delete let through",
);

/// A store for a whole routes.toml, as `switchyard up` opens it.
fn routed(moto: &Moto, routes: &str) -> (Config, AwsStore) {
    let config = crate::config::compile(routes, Path::new("routes.toml"))
        .unwrap_or_else(|err| panic!("{err}"));
    let store = AwsStore::new(
        &moto.sdk(),
        &config.tables,
        &config.queues,
        &config.buses,
        "t-",
    );
    (config, store)
}

const ROUTES: &str = r#"
[tables.orders]
key = "orderId"

[tables.events]
key = "id"
sort_key = { name = "at", type = "N" }

[buses.orders.rules.big]
pattern = '{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}'
targets = [
  { queue = "big", input_transformer = { input_paths = { id = "$.detail.orderId" }, input_template = '{"big": "<id>"}' }, retry = { attempts = 3 }, dlq = "failed" },
  { queue = "audit.fifo" },
]

[buses.orders.rules.all]
pattern = '{"source": ["shop"]}'
targets = [{ queue = "all" }]

[queues.big]
visibility_timeout = "45s"
max_receive_count = 3
dlq = "failed"

[queues.failed]
[queues.all]
[queues."audit.fifo"]
fifo = true
content_based_deduplication = true
"#;

#[tokio::test]
async fn deploy_creates_everything_once_and_a_second_run_changes_nothing() {
    let moto = Moto::start();
    let (config, store) = routed(&moto, ROUTES);
    let planned = store
        .deploy(&config.queues, &config.buses, true)
        .await
        .unwrap();
    for table in [
        "create table `t-orders` keyed by `orderId` (S) with a NEW_AND_OLD_IMAGES stream",
        "create table `t-events` keyed by `id` (S) and `at` (N) with a NEW_AND_OLD_IMAGES stream",
    ] {
        assert!(planned.contains(&table.to_string()), "{planned:#?}");
    }
    assert!(
        planned.contains(&"create bus `t-orders`".to_string()),
        "{planned:#?}"
    );
    let after_dry_run = store
        .deploy(&config.queues, &config.buses, true)
        .await
        .unwrap();
    assert_eq!(planned, after_dry_run, "a dry run changes nothing");

    let first = store
        .deploy(&config.queues, &config.buses, false)
        .await
        .unwrap();
    for expected in [
        "create queue `t-audit.fifo`",
        "set Policy, RedrivePolicy of queue `t-big`",
        "set Policy of queue `t-failed`",
        "create rule `big` on bus `t-orders`",
        "set target `target-1` of rule `big` on bus `t-orders` to arn:aws:sqs:us-east-1:123456789012:t-big",
    ] {
        assert!(
            first.contains(&expected.to_string()),
            "{expected}\nnot in {first:#?}"
        );
    }
    let second = store
        .deploy(&config.queues, &config.buses, false)
        .await
        .unwrap();
    assert_eq!(second, Plan::new(), "the second run changes nothing");

    // A table with a sort key is a HASH + RANGE table.
    let events = store
        .client
        .describe_table()
        .table_name("t-events")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let schema: Vec<_> = events
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(schema, [("id", "HASH"), ("at", "RANGE")]);
    let types: Vec<_> = events
        .attribute_definitions()
        .iter()
        .map(|d| (d.attribute_name(), d.attribute_type().as_str()))
        .collect();
    assert!(types.contains(&("at", "N")), "{types:?}");

    // The rule target's retry policy and DLQ are EventBridge's to apply.
    let targets = store
        .events
        .list_targets_by_rule()
        .rule("big")
        .event_bus_name("t-orders")
        .send()
        .await
        .unwrap()
        .targets
        .unwrap();
    let big = targets.iter().find(|t| t.id() == "target-1").unwrap();
    assert_eq!(
        big.retry_policy().and_then(|r| r.maximum_retry_attempts()),
        Some(3)
    );
    assert_eq!(
        big.dead_letter_config().and_then(|d| d.arn()),
        Some("arn:aws:sqs:us-east-1:123456789012:t-failed")
    );
    let fifo = targets.iter().find(|t| t.id() == "target-2").unwrap();
    assert_eq!(
        fifo.sqs_parameters().and_then(|p| p.message_group_id()),
        Some("t-orders/big")
    );

    // A changed routes.toml changes only what differs.
    let changed = ROUTES.replace(
        r#"visibility_timeout = "45s""#,
        r#"visibility_timeout = "50s""#,
    );
    let (config, store) = routed(&moto, &changed);
    let third = store
        .deploy(&config.queues, &config.buses, false)
        .await
        .unwrap();
    assert_eq!(third, ["set VisibilityTimeout of queue `t-big`"]);
}

#[tokio::test]
async fn events_put_on_a_bus_reach_the_queues_its_rules_target() {
    let moto = Moto::start();
    let (config, store) = routed(&moto, ROUTES);
    store
        .deploy(&config.queues, &config.buses, false)
        .await
        .unwrap();
    let event = |id: &str, total: u32| serde_json::json!({"source": "shop", "detail-type": "OrderCreated", "detail": {"orderId": id, "total": total}});
    let bus = config.bus_id("orders").unwrap();
    store
        .deliver(Delivery {
            events: vec![(bus, event("o-1", 500)), (bus, event("o-2", 5))],
            ..Delivery::default()
        })
        .await
        .unwrap();
    let receive = |name: &str| {
        let queue = config.queue_id(name).unwrap();
        let store = &store;
        async move {
            let got = store
                .receive(queue, 10, None, Duration::ZERO)
                .await
                .unwrap();
            let mut bodies: Vec<String> = got.into_iter().map(|m| m.body).collect();
            bodies.sort();
            bodies
        }
    };
    assert_eq!(receive("big").await, [r#"{"big": "o-1"}"#]);
    let all = receive("all").await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter().any(|m| m.contains(r#""orderId": "o-1""#)),
        "{all:?}"
    );
    assert_eq!(receive("audit.fifo").await.len(), 1, "only the big order");
}

#[tokio::test]
async fn a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released() {
    let moto = Moto::start();
    let one = moto.store(StreamViewType::NewAndOldImages).await;
    let two = moto.store(StreamViewType::NewAndOldImages).await;
    conformance::a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released(&one, &two)
        .await;
}

#[tokio::test]
async fn a_bus_archive_keeps_delivered_events_in_order() {
    let moto = Moto::start();
    let store = moto.store(StreamViewType::NewAndOldImages).await;
    conformance::a_bus_archive_keeps_delivered_events_in_order(&store).await;
}

#[tokio::test]
async fn list_pages_through_items_in_key_order() {
    let moto = Moto::start();
    let store = moto.store(StreamViewType::NewAndOldImages).await;
    conformance::list_pages_through_items_in_key_order(&store).await;
}

#[tokio::test]
async fn without_start_message_move_task_a_redrive_falls_back_to_moving_one_by_one() {
    // moto does not implement StartMessageMoveTask; on AWS it returns a task handle.
    let moto = Moto::start();
    let store = moto.store(StreamViewType::NewAndOldImages).await;
    let (jobs, dlq) = (QueueId(0), QueueId(1));
    assert_eq!(
        store
            .start_move_task(dlq, Some(jobs), Some(10))
            .await
            .unwrap(),
        None
    );
}

/// SQS has no way to take one message by its id: a redrive of named messages receives until it
/// holds each, then sends it on and deletes it.
#[tokio::test]
async fn a_redrive_of_named_messages_moves_only_those_on_sqs() {
    let moto = Moto::start();
    let routes = "[queues.jobs]\nmax_receive_count = 1\ndlq = \"jobs-dlq\"\n\n[queues.jobs-dlq]\n";
    let config = crate::config::compile(routes, Path::new("routes.toml")).expect("valid routes");
    let store = AwsStore::new(
        &moto.sdk(),
        &config.tables,
        &config.queues,
        &config.buses,
        "named-",
    );
    store
        .deploy(&config.queues, &config.buses, false)
        .await
        .expect("the queues are created");
    let (jobs, dlq) = (
        config.queue_id("jobs").expect("declared"),
        config.queue_id("jobs-dlq").expect("declared"),
    );
    let dead = (0..3)
        .map(|i| crate::backend::NewMessage::new(format!("job {i}"), "queue:jobs"))
        .collect();
    let ids = store.send(dlq, dead).await.expect("sent");
    let config = std::sync::Arc::new(config);
    let buses = std::sync::Arc::new(crate::bus::Buses::new(&config));
    let runtime = crate::runtime::Runtime::new(
        config,
        std::sync::Arc::new(store),
        vec![],
        vec![],
        buses,
        None,
    );

    let named = [ids[2].clone(), "not-there".to_string()];
    let redriven = runtime
        .redrive(dlq, None, None, Some(&named))
        .await
        .expect("redriven");
    assert_eq!(redriven.moved, 1);
    assert_eq!(redriven.task_handle, None);
    assert_eq!(redriven.skipped.len(), 1);
    assert_eq!(
        (
            &*redriven.skipped[0].message_id,
            &*redriven.skipped[0].reason
        ),
        ("not-there", "not on the DLQ")
    );
    let bodies = |queue| {
        let runtime = &runtime;
        async move {
            let mut bodies: Vec<String> = (runtime.queues.peek(queue, 10).await)
                .expect("peeked")
                .into_iter()
                .map(|m| m.body)
                .collect();
            bodies.sort();
            bodies
        }
    };
    assert_eq!(bodies(jobs).await, ["job 2"]);
    assert_eq!(bodies(dlq).await, ["job 0", "job 1"]);
    let task = runtime.tasks.get(&redriven.task_id).expect("a task");
    assert_eq!((task.done, task.total), (1, Some(2)));
}
