//! Storage behind small traits, each owning one job: the item [`Store`] and its
//! [`ChangeStream`], [`Queues`], shard [`Leases`], the [`Handoff`] of a pipe's batch with its
//! checkpoint, and bus [`Archives`]. Each box of the data path talks to storage only through
//! these; `embedded` (SQLite) and `aws` implement them, every implementation passes the
//! `conformance` suites, and what a backend does its own way is a declared [`Capabilities`]
//! flag that the routing code and the suites read, never a test of the backend's kind.

pub mod aws;
pub mod embedded;

#[cfg(test)]
pub mod conformance;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::{BusId, Key, KeySchema, KeyValue, QueueId, TableId};
use crate::record::{SequenceNumber, StreamRecord};
use crate::value::{self, AttributeValue, Image, ValueError};

/// Everything a backend provides, so that the host holds one backend of either kind.
pub trait Storage: Store + ChangeStream + Queues + Archives + Leases + Handoff {
    /// What this backend does its own way.
    fn capabilities(&self) -> Capabilities;
}

/// What a backend does itself or cannot do, declared once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The backend's buses match rules and deliver events themselves (EventBridge): a pipe
    /// hands [`Delivery::events`] over whole. Otherwise the host routes each event through its
    /// bus's rules into queue messages.
    pub routes_events: bool,
    /// [`Handoff::deliver`] commits messages and checkpoint in one transaction, so the hand-off
    /// from stream to queues is exactly once; otherwise the checkpoint follows the messages, at
    /// least once.
    pub atomic_handoff: bool,
    /// The host keeps bus archives ([`Delivery::archived`], [`Archives`]); otherwise the bus
    /// service archives its events itself, and replays them.
    pub keeps_archives: bool,
    /// The change stream can count the records after a checkpoint (a pipe's lag) cheaply.
    pub counts_lag: bool,
    /// Several host replicas may share the streams, through [`Leases`]; otherwise one host owns
    /// the store and holds every lease.
    pub shared_leases: bool,
    /// [`Store::list`] pages in key order (a DynamoDB Scan does not).
    pub lists_in_key_order: bool,
}

/// An item as stored: its key, its version, and its image, DynamoDB's typed attributes (which
/// repeat both). An item is read-only once made, so the JSON text of its image, made at most
/// once, always says what the image holds.
#[derive(Debug, Clone)]
pub struct Item {
    key: Key,
    version: u64,
    image: Image,
    /// `image` as DynamoDB JSON text: as the store read it, or as first asked for.
    text: OnceLock<String>,
}

/// Items are equal by what they hold; `text` only repeats `image`.
impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        (&self.key, self.version, &self.image) == (&other.key, other.version, &other.image)
    }
}

impl Item {
    pub fn new(key: Key, version: u64, image: Image) -> Item {
        Item {
            key,
            version,
            image,
            text: OnceLock::new(),
        }
    }

    /// An item of plain JSON attributes (see [`AttributeValue::from_plain`]).
    pub fn from_plain(
        key: Key,
        version: u64,
        attributes: &Map<String, Value>,
    ) -> Result<Item, ValueError> {
        Ok(Item::new(key, version, value::image_of(attributes)?))
    }

    /// An item rebuilt from its image alone: the key and the version are attributes of it.
    pub fn from_image(schema: &KeySchema, image: Image) -> Item {
        let key = schema
            .key_of_image(&image)
            .unwrap_or_else(|_| Key::simple(String::new()));
        let version = image
            .get("version")
            .and_then(AttributeValue::number)
            .and_then(|n| n.to_text().parse().ok())
            .unwrap_or_default();
        Item::new(key, version, image)
    }

    /// An item whose image the store keeps as DynamoDB JSON text: the text is kept too, so a
    /// change record sends it on as stored instead of serializing the image again.
    pub fn from_text(key: Key, version: u64, text: String) -> serde_json::Result<Item> {
        let item = Item::new(key, version, serde_json::from_str(&text)?);
        item.text.get_or_init(|| text);
        Ok(item)
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn image(&self) -> &Image {
        &self.image
    }

    pub fn into_image(self) -> Image {
        self.image
    }

    /// The item as plain JSON, as the HTTP API shows it (see [`AttributeValue::to_plain`]).
    pub fn plain(&self) -> Map<String, Value> {
        value::plain_of(&self.image)
    }

    /// The image as DynamoDB JSON text, serialized on first use.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| serialize(&self.image))
    }
}

fn serialize(image: &Image) -> String {
    // A map with string keys always serializes.
    serde_json::to_string(image).unwrap_or_default()
}

/// A conditional write, as DynamoDB's condition expressions would make it.
#[derive(Debug, Clone)]
pub enum Write {
    /// Stores a new item; fails with [`StoreError::Exists`] when the key is taken. With an
    /// idempotency key seen before, nothing is written and the first result is returned.
    Create {
        item: Item,
        idempotency: Option<Idempotency>,
    },
    /// Stores an item whether or not its key is taken (DynamoDB's PutItem without a
    /// condition); its version is one past the stored one's, or 1.
    Put { item: Item },
    /// Replaces an item whose stored version is `expected_version`.
    Replace { item: Item, expected_version: u64 },
    /// Deletes an item, if given only when its stored version is `expected_version`.
    Delete {
        key: Key,
        expected_version: Option<u64>,
    },
}

/// A client's `Idempotency-Key` and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

/// How long idempotency keys are remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// What a committed [`Write`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Created(Item),
    Replaced(Item),
    /// The item as stored (at its new version), and the one it replaced, if any.
    Put {
        item: Item,
        old: Option<Item>,
    },
    /// The item as it was before it was deleted.
    Deleted(Item),
    /// The idempotency key was used before: nothing was written; this is the first result.
    Replayed {
        fingerprint: String,
        item: Item,
    },
}

/// Why a store operation did not happen. Conditions are the caller's to report; `Unavailable`
/// is the store's own trouble and its text is for logs, not for clients.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("item `{key}` already exists")]
    Exists { key: String },
    #[error("item `{key}` does not exist")]
    NotFound { key: String },
    #[error("item `{key}` is at version {actual}, not {expected}")]
    VersionMismatch {
        key: String,
        expected: u64,
        actual: u64,
    },
    /// A request the store will not carry out, e.g. a stale receipt handle.
    #[error("{0}")]
    Refused(String),
    /// Another replica took the lease on the shard: stop working on it.
    #[error("{0}")]
    LeaseLost(String),
    /// The shard is closed and every record of it was read: go on with its children.
    #[error("shard `{0}` has ended")]
    ShardEnded(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// One page of a table's items, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// The last key of this page when more items follow.
    pub next_after: Option<Key>,
}

/// Items of the tables declared in routes.toml, with conditional writes. Every committed write
/// appends its change record to the table's stream in the same transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, table: TableId, key: &Key) -> Result<Option<Item>, StoreError>;
    /// A page of items after the key `after`: in key order on the embedded backend, in
    /// DynamoDB's scan order on AWS (the conformance suite checks key order where kept).
    async fn list(
        &self,
        table: TableId,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// A page of one partition's items after the key `after`, in sort-key order (DynamoDB's
    /// Query), on a table with a sort key.
    async fn query(
        &self,
        table: TableId,
        partition: &KeyValue,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    async fn write(&self, table: TableId, write: Write) -> Result<Written, StoreError>;
    /// Writes that commit together or not at all (DynamoDB's TransactWriteItems): when one's
    /// condition fails, nothing is written and the error names that write by its index.
    async fn transact(
        &self,
        writes: Vec<(TableId, Write)>,
    ) -> Result<Vec<Written>, (usize, StoreError)>;
    /// Answers when the store can serve reads and writes.
    async fn ready(&self) -> Result<(), StoreError>;
    /// Drops change records past their table's retention and expired idempotency keys; returns
    /// how many rows went. A backend whose service expires them itself does nothing.
    async fn trim_expired(&self) -> Result<u64, StoreError>;
}

/// A shard of a table's change stream; the embedded backend has one per table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub String);

/// A shard and the shard it split from: a child is read only after its parent has ended, so
/// that records stay in order per item key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: ShardId,
    pub parent: Option<ShardId>,
}

/// A table's change records, ordered per shard, as DynamoDB Streams serves them.
#[async_trait]
pub trait ChangeStream: Send + Sync + 'static {
    /// The stream's shards, open and closed, parents before their children.
    async fn shards(&self, table: TableId) -> Result<Vec<Shard>, StoreError>;
    /// The sequence number of the newest record of a shard, for readers that start at `latest`.
    async fn latest(
        &self,
        table: TableId,
        shard: &ShardId,
    ) -> Result<Option<SequenceNumber>, StoreError>;
    /// Records after `after` (from the oldest retained when `None`), at most `limit`. When there
    /// are none, waits up to `wait` for the next commit instead of returning empty at once.
    /// A closed shard read to its end answers [`StoreError::ShardEnded`].
    async fn read(
        &self,
        table: TableId,
        shard: &ShardId,
        after: Option<&SequenceNumber>,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<StreamRecord>, StoreError>;
    /// Whether `seq` can be a sequence number of this stream, for readers to refuse any other
    /// up front. DynamoDB Streams' have up to 40 digits.
    fn holds(&self, seq: &SequenceNumber) -> bool {
        (1..=40).contains(&seq.0.len()) && seq.0.bytes().all(|b| b.is_ascii_digit())
    }
}

/// A message to put on a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub body: String,
    /// FIFO queues: the group whose messages stay in order.
    pub group_id: Option<String>,
    /// FIFO queues: messages with the same id within 5 minutes are sent once.
    pub deduplication_id: Option<String>,
    /// Overrides the queue's delay.
    pub delay: Option<Duration>,
    /// Where the message comes from (a pipe, a rule or a queue), kept with it into a DLQ.
    pub origin: String,
    /// Why it was dead-lettered, for messages put on a DLQ.
    pub error: Option<String>,
    /// The sender's message attributes (SQS's `MessageAttributes`), kept with the message.
    pub attributes: MessageAttributes,
    /// The sender's trace header, in X-Ray's format (SQS's `AWSTraceHeader`).
    pub trace: Option<String>,
}

impl NewMessage {
    pub fn new(body: impl Into<String>, origin: impl Into<String>) -> NewMessage {
        NewMessage {
            body: body.into(),
            group_id: None,
            deduplication_id: None,
            delay: None,
            origin: origin.into(),
            error: None,
            attributes: MessageAttributes::new(),
            trace: None,
        }
    }
}

/// A message's attributes by name, in name order (the order SQS's MD5 of them takes).
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// One message attribute, as SQS's `MessageAttributeValue` and in its JSON form: a data type
/// (`String`, `Number` or `Binary`, perhaps with a `.label`) and a text or a binary value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageAttribute {
    #[serde(rename = "DataType")]
    pub data_type: String,
    #[serde(
        rename = "StringValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub string_value: Option<String>,
    /// Base64 in JSON.
    #[serde(
        rename = "BinaryValue",
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub binary_value: Option<Vec<u8>>,
}

/// Bytes as base64 text, as AWS's JSON protocols carry blobs.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A message as a receive returns it, in SQS's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub message_id: String,
    /// Names this receive of the message; deleting or changing visibility needs it.
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_timestamp_ms: i64,
    pub group_id: Option<String>,
    pub origin: String,
    pub error: Option<String>,
    pub attributes: MessageAttributes,
    /// When the message was first received (SQS's `ApproximateFirstReceiveTimestamp`).
    pub first_received_ms: Option<i64>,
    /// The sender's trace header (SQS's `AWSTraceHeader`).
    pub trace: Option<String>,
}

/// How many messages a queue holds, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// Durable queues with SQS's semantics: visibility timeout, receive count, redrive to a DLQ
/// after `max_receive_count`, delay, retention, and FIFO order per message group.
#[async_trait]
pub trait Queues: Send + Sync + 'static {
    /// Sends messages; returns their ids. A FIFO duplicate within 5 minutes gets the first id.
    async fn send(
        &self,
        queue: QueueId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<String>, StoreError>;
    /// Receives up to `max` visible messages, hiding them for `visibility` (the queue's when
    /// `None`). Waits up to `wait` for one when none is visible (long polling).
    async fn receive(
        &self,
        queue: QueueId,
        max: usize,
        visibility: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<Received>, StoreError>;
    /// Deletes received messages; a receipt handle that is no longer current is ignored.
    async fn delete(&self, queue: QueueId, receipts: &[String]) -> Result<(), StoreError>;
    /// Makes a received message visible again after `timeout`.
    async fn change_visibility(
        &self,
        queue: QueueId,
        receipt: &str,
        timeout: Duration,
    ) -> Result<(), StoreError>;
    /// Moves a received message to the queue's DLQ now, with `reason`.
    async fn dead_letter(
        &self,
        queue: QueueId,
        message: &Received,
        reason: &str,
    ) -> Result<(), StoreError>;
    async fn depth(&self, queue: QueueId) -> Result<Depth, StoreError>;
    /// Up to `limit` messages of a queue, oldest first, without receiving them.
    async fn peek(&self, queue: QueueId, limit: usize) -> Result<Vec<Stored>, StoreError>;
    async fn find(&self, queue: QueueId, message_id: &str) -> Result<Option<Stored>, StoreError>;
    /// Moves a message to `to` as if sent anew (visible now, receive count 0); false when it is
    /// not on `from`. This is how a DLQ redrive returns messages.
    async fn move_message(
        &self,
        from: QueueId,
        message_id: &str,
        to: QueueId,
    ) -> Result<bool, StoreError>;
    /// Deletes a message by its id, without a receipt, as an operator does once a redrive has
    /// handled it elsewhere; false when it is not on `queue`.
    async fn remove(&self, queue: QueueId, message_id: &str) -> Result<bool, StoreError>;
    /// Deletes every message of a queue, in flight or not (SQS's PurgeQueue); returns how many
    /// went, where the backend counts them.
    async fn purge(&self, queue: QueueId) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let batch = self.peek(queue, 100).await?;
            if batch.is_empty() {
                return Ok(removed);
            }
            let before = removed;
            for message in batch {
                removed += u64::from(self.remove(queue, &message.message_id).await?);
            }
            if removed == before {
                return Ok(removed);
            }
        }
    }
    /// Starts the service's own redrive of `dlq` (SQS's StartMessageMoveTask) to `to`, or to
    /// each message's source queue; returns the task's handle, or `None` where the backend has
    /// no such task and the caller moves messages one by one.
    async fn start_move_task(
        &self,
        _dlq: QueueId,
        _to: Option<QueueId>,
        _rate: Option<u32>,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    /// How far the move task `handle` that [`Queues::start_move_task`] started on `dlq` has
    /// got (SQS's ListMessageMoveTasks); `None` where the backend cannot tell.
    async fn move_task_progress(
        &self,
        _dlq: QueueId,
        _handle: &str,
    ) -> Result<Option<MoveProgress>, StoreError> {
        Ok(None)
    }
}

/// How far a service's own move task has got, as the service counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveProgress {
    pub moved: u64,
    pub to_move: Option<u64>,
    /// `None` while it runs; then `Ok` when it completed, or why it did not.
    pub ended: Option<Result<(), String>>,
}

/// A message as it sits on a queue, for operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_timestamp_ms: i64,
    pub group_id: Option<String>,
    /// `pipe:NAME`, `rule:BUS/RULE` or `queue:NAME`.
    pub origin: String,
    /// Why it was dead-lettered.
    pub error: Option<String>,
    #[serde(skip_serializing_if = "MessageAttributes::is_empty")]
    pub attributes: MessageAttributes,
    /// The sender's trace header (SQS's `AWSTraceHeader`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Where a pipe goes on reading a shard, as its checkpoint records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// At the shard's oldest retained record (DynamoDB Streams' `TRIM_HORIZON`).
    Oldest,
    /// After this record.
    After(SequenceNumber),
}

impl Position {
    /// How a checkpoint stores [`Position::Oldest`]: no sequence number looks like it.
    pub const OLDEST: &str = "TRIM_HORIZON";

    /// The record to read after; `None` reads from the oldest.
    pub fn after(&self) -> Option<&SequenceNumber> {
        match self {
            Position::Oldest => None,
            Position::After(sequence) => Some(sequence),
        }
    }

    /// The position a stored checkpoint names.
    pub fn stored(text: String) -> Position {
        if text == Position::OLDEST {
            Position::Oldest
        } else {
            Position::After(SequenceNumber(text))
        }
    }

    /// The text a checkpoint stores for this position.
    pub fn as_stored(&self) -> &str {
        match self {
            Position::Oldest => Position::OLDEST,
            Position::After(sequence) => sequence.as_str(),
        }
    }
}

/// How far a pipe has delivered one shard of its source stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub pipe: String,
    pub shard: ShardId,
    pub sequence: SequenceNumber,
}

/// What one pipe batch (or one replay batch) hands on, committed together.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub messages: Vec<(QueueId, NewMessage)>,
    /// EventBridge envelopes, for a backend whose buses route events themselves
    /// ([`Capabilities::routes_events`]); the host routes them into `messages` otherwise.
    pub events: Vec<(BusId, Value)>,
    /// Events to keep in their bus's archive, where the host keeps archives
    /// ([`Capabilities::keeps_archives`]).
    pub archived: Vec<(BusId, String)>,
    pub checkpoint: Option<Checkpoint>,
}

/// The leases that let one host replica at a time work on a shard of a pipe's source, as the
/// Kinesis Client Library's leases do.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease on a pipe's shard for this replica, or renews it, until `duration` from
    /// now; false when another replica holds it and its lease has not expired.
    async fn lease(
        &self,
        pipe: &str,
        shard: &ShardId,
        duration: Duration,
    ) -> Result<bool, StoreError>;
    /// Gives a lease up, so that another replica may take the shard at once.
    async fn release(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError>;
}

/// The hand-off of a pipe's batch to its targets with the checkpoint that follows it, and the
/// checkpoints themselves: where a pipe starts a shard, how far it has delivered it, and
/// whether it has read it to its end.
#[async_trait]
pub trait Handoff: Send + Sync + 'static {
    /// Marks a shard read to its end, so that its children may start.
    async fn finish(&self, pipe: &str, shard: &ShardId) -> Result<(), StoreError>;
    async fn finished(&self, pipe: &str, shard: &ShardId) -> Result<bool, StoreError>;
    /// Where the pipe goes on reading the shard; `None` before it first started on it.
    async fn checkpoint(&self, pipe: &str, shard: &ShardId)
    -> Result<Option<Position>, StoreError>;
    /// Records where a pipe starts a shard it has never read, before it reads anything, so that
    /// a restart goes on from there whatever the starting position (a `latest` pipe does not
    /// jump past records that came after it first started). A checkpoint recorded first, by
    /// this or another replica, wins; returns the position in force.
    async fn start(
        &self,
        pipe: &str,
        shard: &ShardId,
        at: Position,
    ) -> Result<Position, StoreError>;
    /// Puts messages on queues, events on buses, archives events and advances the checkpoint.
    /// The embedded backend does all of it in one transaction, so the hand-off from stream to
    /// queues is exactly once; on AWS the checkpoint is written last, and only while this
    /// replica holds the shard's lease.
    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError>;
}

/// An event kept in a bus's archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Archived {
    /// Position in the archive: events replay in this order.
    pub position: i64,
    pub archived_ms: i64,
    pub event: String,
}

/// Bus archives, for replay.
#[async_trait]
pub trait Archives: Send + Sync + 'static {
    /// Events archived on `bus` from `from_ms` up to `to_ms`, after `after`, in archive order.
    async fn archived(
        &self,
        bus: BusId,
        from_ms: i64,
        to_ms: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Archived>, StoreError>;
    /// How many events are archived on `bus` from `from_ms` up to `to_ms`, where the backend
    /// counts them cheaply; `None` where it does not.
    async fn count(
        &self,
        _bus: BusId,
        _from_ms: i64,
        _to_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}
