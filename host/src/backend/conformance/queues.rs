//! The behaviour every queue backend must show: SQS's semantics, written once.

use std::time::Duration;

use crate::backend::{
    Checkpoint, Depth, Handoff, MessageAttribute, MessageAttributes, NewMessage, Position, Queues,
    ShardId, Stored,
};
use crate::config::{QueueConfig, QueueId, Redrive};
use crate::record::SequenceNumber;

const JOBS: QueueId = QueueId(0);
const JOBS_DLQ: QueueId = QueueId(1);
const PLAIN: QueueId = QueueId(2);
const ORDERED: QueueId = QueueId(3);
const DELAYED: QueueId = QueueId(4);

/// The queues every queue conformance test runs on: `jobs` (visibility 1 s, to `jobs-dlq`
/// after 2 receives), `jobs-dlq`, `plain` (no DLQ), `ordered.fifo` (content-based
/// deduplication) and `delayed` (1 s delay). A second is SQS's unit, so both backends wait
/// alike, and it leaves a loaded machine time to look before a hidden message shows again.
pub fn queues() -> Vec<QueueConfig> {
    let queue = |name: &str| QueueConfig {
        name: name.to_string(),
        visibility_timeout: Duration::from_secs(1),
        retention: Duration::from_secs(4 * 86400),
        delay: Duration::ZERO,
        redrive: None,
        fifo: false,
        content_based_deduplication: false,
    };
    vec![
        QueueConfig {
            redrive: Some(Redrive {
                dlq: JOBS_DLQ,
                max_receive_count: 2,
            }),
            ..queue("jobs")
        },
        queue("jobs-dlq"),
        queue("plain"),
        QueueConfig {
            fifo: true,
            content_based_deduplication: true,
            ..queue("ordered.fifo")
        },
        QueueConfig {
            delay: Duration::from_secs(1),
            ..queue("delayed")
        },
    ]
}

fn message(body: &str) -> NewMessage {
    NewMessage::new(body, "test")
}

fn grouped(body: &str, group: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        ..message(body)
    }
}

fn bodies(received: &[crate::backend::Received]) -> Vec<&str> {
    received.iter().map(|r| r.body.as_str()).collect()
}

pub async fn a_received_message_is_hidden_until_its_visibility_timeout(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues.send(JOBS, vec![message("a")]).await.unwrap();
    let received_at = std::time::Instant::now();
    let first = queues
        .receive(JOBS, 10, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a"]);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        queues
            .receive(JOBS, 10, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );
    assert_eq!(
        queues.depth(JOBS).await.unwrap(),
        Depth {
            visible: 0,
            in_flight: 1,
            delayed: 0
        }
    );
    let again = queues
        .receive(JOBS, 10, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        received_at.elapsed() >= Duration::from_millis(950),
        "not before the visibility timeout: {:?}",
        received_at.elapsed()
    );
    assert_eq!(bodies(&again), ["a"]);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(
        again[0].receipt_handle, first[0].receipt_handle,
        "each receive has its own receipt handle"
    );
    assert_eq!(again[0].message_id, first[0].message_id);
}

pub async fn a_deleted_message_is_gone(queues: &dyn Queues, _: &dyn Handoff) {
    queues
        .send(PLAIN, vec![message("a"), message("b")])
        .await
        .unwrap();
    let received = queues
        .receive(PLAIN, 10, Some(Duration::from_millis(100)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&received), ["a", "b"]);
    queues
        .delete(PLAIN, &[received[0].receipt_handle.clone()])
        .await
        .unwrap();
    // Waits for `b` to come back (SQS rounds the 100 ms up to a second); `a` would come with it.
    let again = queues
        .receive(PLAIN, 10, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        bodies(&again),
        ["b"],
        "only the undeleted message comes back"
    );
}

pub async fn after_max_receive_count_a_message_moves_to_the_dlq(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues.send(JOBS, vec![message("poison")]).await.unwrap();
    for count in 1..=2 {
        let received = queues
            .receive(JOBS, 1, Some(Duration::ZERO), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            (bodies(&received), received[0].receive_count),
            (vec!["poison"], count)
        );
    }
    assert!(
        queues
            .receive(JOBS, 1, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "the third receive moves it away"
    );
    let dead = queues
        .receive(JOBS_DLQ, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&dead), ["poison"]);
    assert_eq!(dead[0].origin, "queue:jobs");
    assert_eq!(
        dead[0].error.as_deref(),
        Some("received 2 times without being deleted (max_receive_count = 2)")
    );
}

pub async fn change_visibility_brings_a_message_back_when_asked(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues.send(PLAIN, vec![message("a")]).await.unwrap();
    let received = queues
        .receive(PLAIN, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    queues
        .change_visibility(PLAIN, &received[0].receipt_handle, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        bodies(
            &queues
                .receive(PLAIN, 1, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["a"]
    );
}

/// A receipt handle from an earlier receive neither changes visibility nor deletes.
pub async fn a_stale_receipt_changes_nothing(queues: &dyn Queues, _: &dyn Handoff) {
    queues.send(PLAIN, vec![message("a")]).await.unwrap();
    let first = queues
        .receive(PLAIN, 1, Some(Duration::ZERO), Duration::ZERO)
        .await
        .unwrap();
    let second = queues
        .receive(PLAIN, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(second[0].message_id, first[0].message_id);
    let stale = queues
        .change_visibility(PLAIN, &first[0].receipt_handle, Duration::ZERO)
        .await;
    assert!(stale.is_err(), "the first receipt is no longer current");
    queues
        .delete(PLAIN, &[first[0].receipt_handle.clone()])
        .await
        .unwrap();
    assert_eq!(
        queues.depth(PLAIN).await.unwrap().in_flight,
        1,
        "a stale receipt deletes nothing"
    );
}

pub async fn dead_letter_moves_a_message_now_with_its_reason(queues: &dyn Queues, _: &dyn Handoff) {
    queues.send(JOBS, vec![message("bad")]).await.unwrap();
    let received = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    queues
        .dead_letter(JOBS, &received[0], "the consumer refused it")
        .await
        .unwrap();
    assert_eq!(queues.depth(JOBS).await.unwrap(), Depth::default());
    let dead = queues
        .receive(JOBS_DLQ, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(dead[0].error.as_deref(), Some("the consumer refused it"));
    queues.send(PLAIN, vec![message("x")]).await.unwrap();
    let plain = queues
        .receive(PLAIN, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert!(
        queues.dead_letter(PLAIN, &plain[0], "no").await.is_err(),
        "a queue without a DLQ refuses"
    );
}

pub async fn a_delayed_message_stays_hidden_for_the_delay(queues: &dyn Queues, _: &dyn Handoff) {
    let started = std::time::Instant::now();
    queues.send(DELAYED, vec![message("later")]).await.unwrap();
    assert!(
        queues
            .receive(DELAYED, 1, None, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(queues.depth(DELAYED).await.unwrap().delayed, 1);
    let received = queues
        .receive(DELAYED, 1, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(bodies(&received), ["later"]);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

pub async fn a_long_poll_wakes_when_a_message_is_sent(queues: &dyn Queues, _: &dyn Handoff) {
    let started = std::time::Instant::now();
    let (received, ()) = tokio::join!(
        queues.receive(PLAIN, 10, None, Duration::from_secs(20)),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            queues.send(PLAIN, vec![message("hello")]).await.unwrap();
        }
    );
    assert_eq!(bodies(&received.unwrap()), ["hello"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the send, not the wait: {:?}",
        started.elapsed()
    );
}

pub async fn a_fifo_queue_keeps_order_per_group_and_holds_a_group_in_flight(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues
        .send(
            ORDERED,
            vec![
                grouped("a1", "a"),
                grouped("b1", "b"),
                grouped("a2", "a"),
                grouped("b2", "b"),
            ],
        )
        .await
        .unwrap();
    let first = queues
        .receive(ORDERED, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a1"]);
    // Group a is in flight: only group b can be received, in order.
    let next = queues
        .receive(ORDERED, 10, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&next), ["b1", "b2"]);
    queues
        .delete(ORDERED, &[first[0].receipt_handle.clone()])
        .await
        .unwrap();
    assert_eq!(
        bodies(
            &queues
                .receive(ORDERED, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["a2"]
    );
}

pub async fn a_long_poll_on_a_fifo_queue_wakes_when_the_message_ahead_is_deleted(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues
        .send(ORDERED, vec![grouped("a1", "a"), grouped("a2", "a")])
        .await
        .unwrap();
    let first = queues
        .receive(ORDERED, 1, Some(Duration::from_secs(60)), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(bodies(&first), ["a1"]);
    // a2 waits behind a1, which stays hidden for a minute unless it is deleted. The long poll
    // ends when a2 can be delivered, not when its 20 s run out.
    let started = std::time::Instant::now();
    let (woken, ()) = tokio::join!(
        queues.receive(ORDERED, 10, None, Duration::from_secs(20)),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            queues
                .delete(ORDERED, &[first[0].receipt_handle.clone()])
                .await
                .unwrap();
        }
    );
    assert_eq!(
        bodies(&woken.unwrap()),
        ["a2"],
        "the long poll returns the message the delete let through"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the long poll slept through the delete"
    );
}

pub async fn a_fifo_queue_drops_duplicates_within_five_minutes(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    // A duplicate is accepted but not delivered (the embedded backend also answers with the
    // first message's id; SQS does not say which id it gives).
    for _ in 0..2 {
        queues
            .send(ORDERED, vec![grouped("same", "g")])
            .await
            .unwrap();
    }
    assert_eq!(queues.depth(ORDERED).await.unwrap().visible, 1);
    let with_id = NewMessage {
        deduplication_id: Some("d-1".into()),
        ..grouped("other", "g")
    };
    queues
        .send(ORDERED, vec![with_id.clone(), with_id])
        .await
        .unwrap();
    assert_eq!(queues.depth(ORDERED).await.unwrap().visible, 2);
}

pub async fn a_fifo_duplicate_gets_the_first_message_id(queues: &dyn Queues, _: &dyn Handoff) {
    let first = queues
        .send(ORDERED, vec![grouped("same", "g")])
        .await
        .unwrap();
    let again = queues
        .send(ORDERED, vec![grouped("same", "g")])
        .await
        .unwrap();
    assert_eq!(
        first, again,
        "a duplicate is answered with the first message's id"
    );
}

pub async fn delivery_and_checkpoint_commit_together(
    queues: &dyn Queues,
    checkpoints: &dyn Handoff,
) {
    let shard = ShardId("s-1".into());
    assert_eq!(checkpoints.checkpoint("p", &shard).await.unwrap(), None);
    let checkpoint = Checkpoint {
        pipe: "p".into(),
        shard: shard.clone(),
        sequence: SequenceNumber::from_u64(7),
    };
    let delivery = crate::backend::Delivery {
        messages: vec![(PLAIN, message("x")), (JOBS, message("y"))],
        checkpoint: Some(checkpoint),
        ..Default::default()
    };
    checkpoints.deliver(delivery).await.unwrap();
    assert_eq!(
        checkpoints.checkpoint("p", &shard).await.unwrap(),
        Some(Position::After(SequenceNumber::from_u64(7)))
    );
    assert_eq!(
        bodies(
            &queues
                .receive(PLAIN, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["x"]
    );
    assert_eq!(
        bodies(
            &queues
                .receive(JOBS, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["y"]
    );
    assert_eq!(
        checkpoints.checkpoint("other", &shard).await.unwrap(),
        None,
        "checkpoints are per pipe"
    );
}

pub async fn a_pipes_start_position_is_recorded_once_and_deliveries_move_it_on(
    _: &dyn Queues,
    checkpoints: &dyn Handoff,
) {
    let shard = ShardId("s-start".into());
    let latest = Position::After(SequenceNumber::from_u64(41));
    assert_eq!(
        checkpoints
            .start("p", &shard, latest.clone())
            .await
            .unwrap(),
        latest
    );
    assert_eq!(
        checkpoints.checkpoint("p", &shard).await.unwrap(),
        Some(latest.clone())
    );
    // A second start (a restart, or another replica) keeps the first.
    assert_eq!(
        checkpoints
            .start("p", &shard, Position::Oldest)
            .await
            .unwrap(),
        latest,
        "the first start wins"
    );
    assert_eq!(
        checkpoints
            .start("q", &shard, Position::Oldest)
            .await
            .unwrap(),
        Position::Oldest,
        "each pipe has its own"
    );
    assert_eq!(
        checkpoints.checkpoint("q", &shard).await.unwrap(),
        Some(Position::Oldest)
    );
    let delivered = crate::backend::Delivery {
        checkpoint: Some(Checkpoint {
            pipe: "q".into(),
            shard: shard.clone(),
            sequence: SequenceNumber::from_u64(3),
        }),
        ..Default::default()
    };
    checkpoints.deliver(delivered).await.unwrap();
    assert_eq!(
        checkpoints.checkpoint("q", &shard).await.unwrap(),
        Some(Position::After(SequenceNumber::from_u64(3)))
    );
}

pub async fn a_message_can_be_removed_by_its_id(queues: &dyn Queues, _: &dyn Handoff) {
    let ids = queues
        .send(PLAIN, vec![message("handled"), message("kept")])
        .await
        .unwrap();
    assert!(queues.remove(PLAIN, &ids[0]).await.unwrap());
    assert!(
        !queues.remove(PLAIN, &ids[0]).await.unwrap(),
        "it is no longer there"
    );
    assert!(
        !queues.remove(JOBS, &ids[1]).await.unwrap(),
        "only from its own queue"
    );
    assert_eq!(
        bodies(
            &queues
                .receive(PLAIN, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["kept"],
        "the others stay visible"
    );
}

pub async fn a_dead_letter_can_be_inspected_and_moved_back(queues: &dyn Queues, _: &dyn Handoff) {
    queues.send(JOBS, vec![message("bad")]).await.unwrap();
    let received = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    queues
        .dead_letter(JOBS, &received[0], "refused")
        .await
        .unwrap();
    let dead = queues.peek(JOBS_DLQ, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].body.as_str(),
            dead[0].origin.as_str(),
            dead[0].error.as_deref()
        ),
        ("bad", "queue:jobs", Some("refused"))
    );
    // SQS counts looking at a message as a receive, so compare all but the count.
    let found = queues.find(JOBS_DLQ, &dead[0].message_id).await.unwrap();
    assert_eq!(
        found.map(|m| Stored {
            receive_count: dead[0].receive_count,
            ..m
        }),
        Some(dead[0].clone())
    );
    assert_eq!(queues.find(JOBS, &dead[0].message_id).await.unwrap(), None);
    assert!(
        queues
            .move_message(JOBS_DLQ, &dead[0].message_id, JOBS)
            .await
            .unwrap()
    );
    assert!(
        !queues
            .move_message(JOBS_DLQ, &dead[0].message_id, JOBS)
            .await
            .unwrap(),
        "it is no longer there"
    );
    let back = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    assert_eq!(
        (back[0].body.as_str(), back[0].receive_count),
        ("bad", 1),
        "back as new"
    );
}

fn attributes() -> MessageAttributes {
    let attribute = |data_type: &str, text: Option<&str>, bytes: Option<&[u8]>| MessageAttribute {
        data_type: data_type.into(),
        string_value: text.map(Into::into),
        binary_value: bytes.map(<[u8]>::to_vec),
    };
    MessageAttributes::from([
        ("kind".into(), attribute("String", Some("order"), None)),
        (
            "total".into(),
            attribute("Number.cents", Some("1250"), None),
        ),
        (
            "raw".into(),
            attribute("Binary", None, Some(&[0, 159, 255])),
        ),
    ])
}

pub async fn a_messages_attributes_travel_with_it_to_the_dlq_and_back(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    let sent = NewMessage {
        attributes: attributes(),
        ..message("with attributes")
    };
    queues.send(JOBS, vec![sent]).await.unwrap();
    let received = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    assert_eq!(received[0].attributes, attributes(), "as sent");
    queues
        .dead_letter(JOBS, &received[0], "refused")
        .await
        .unwrap();
    let dead = queues.peek(JOBS_DLQ, 10).await.unwrap();
    assert_eq!(dead[0].attributes, attributes(), "kept on the DLQ");
    assert!(
        queues
            .move_message(JOBS_DLQ, &dead[0].message_id, JOBS)
            .await
            .unwrap()
    );
    let back = queues.receive(JOBS, 1, None, Duration::ZERO).await.unwrap();
    assert_eq!(back[0].attributes, attributes(), "kept when moved back");
}

pub async fn a_receive_tells_when_the_message_was_first_received(
    queues: &dyn Queues,
    _: &dyn Handoff,
) {
    queues.send(PLAIN, vec![message("twice")]).await.unwrap();
    let first = queues
        .receive(PLAIN, 1, Some(Duration::ZERO), Duration::ZERO)
        .await
        .unwrap();
    let at = first[0].first_received_ms.expect("a first receive time");
    assert!(at >= first[0].sent_timestamp_ms, "not before it was sent");
    let second = queues
        .receive(PLAIN, 1, None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        (second[0].receive_count, second[0].first_received_ms),
        (2, Some(at)),
        "the second receive keeps the first's time"
    );
}

pub async fn a_purge_deletes_every_message_in_flight_or_not(queues: &dyn Queues, _: &dyn Handoff) {
    queues
        .send(PLAIN, vec![message("a"), message("b"), message("c")])
        .await
        .unwrap();
    queues.send(JOBS, vec![message("elsewhere")]).await.unwrap();
    let held = queues
        .receive(PLAIN, 1, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    queues.purge(PLAIN).await.unwrap();
    assert_eq!(queues.depth(PLAIN).await.unwrap(), Depth::default());
    assert_eq!(
        bodies(
            &queues
                .receive(JOBS, 10, None, Duration::ZERO)
                .await
                .unwrap()
        ),
        ["elsewhere"],
        "other queues keep theirs"
    );
}
