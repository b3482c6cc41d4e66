//! What the routes of routes.toml do with one input, point by point, with the real plugins and
//! the same routing code the host runs: an item written to a table becomes its change record,
//! which each pipe of the table filters, enriches and delivers to its bus or queue; a bus's
//! rules send it to queues; each queue's consumer answers for its messages. `switchyard test`
//! holds these points to a test's expectations. Nothing listens on a socket, and nothing is
//! kept but in the temporary directory the item writes go through.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::backend::embedded::EmbeddedStore;
use crate::backend::{
    ChangeStream, Delivery, Item, NewMessage, Received, Store, StoreError, Write,
};
use crate::bus::Buses;
use crate::config::{BusId, Config, Key, PipeId, QueueId, TableId};
use crate::plugin::{Message, Outcome, Plugins};
use crate::record::StreamRecord;

/// What goes in.
#[derive(Debug, Clone)]
pub enum Input {
    /// An item created in a table, as `POST /{table}` creates it.
    Insert {
        table: TableId,
        item: Map<String, Value>,
    },
    /// An item replaced, as `PUT /{table}/{key}` replaces it.
    Modify {
        table: TableId,
        old: Map<String, Value>,
        new: Map<String, Value>,
    },
    /// An item deleted.
    Remove {
        table: TableId,
        old: Map<String, Value>,
    },
    /// A change record of a table, in the DynamoDB Streams shape.
    Record { table: TableId, record: Value },
    /// An event put on a bus (PutEvents): the fields it leaves out get their defaults.
    Event {
        bus: BusId,
        event: Map<String, Value>,
    },
    /// Messages sent to a queue: a body text, or `{"body", "id", "receiveCount", "attributes"}`.
    Messages {
        queue: QueueId,
        messages: Vec<Value>,
    },
}

/// What each point of the routes did with the input. A point the input never reached is absent.
#[derive(Debug, Default)]
pub struct Trace {
    /// By pipe name.
    pub pipes: BTreeMap<String, Result<PipeSeen, String>>,
    /// By bus name: the rules that matched, in the order they matched.
    pub rules: BTreeMap<String, Vec<String>>,
    /// By queue name: the message bodies sent to it, in order.
    pub queues: BTreeMap<String, Vec<String>>,
    /// By consumer name: its outcome for each message, or why the batch failed.
    pub consumers: BTreeMap<String, Result<Vec<(String, Outcome)>, String>>,
}

/// What one pipe did with the change record.
#[derive(Debug, Clone)]
pub struct PipeSeen {
    /// Whether the pipe's event patterns and its filter plugin kept the record.
    pub kept: bool,
    /// The events it delivered, as its enricher left them (before any `input_template`).
    pub events: Vec<Value>,
}

/// What a pipe did with records, what it delivers, and the rules that matched on the way.
type Piped = (PipeSeen, Delivery, Vec<(BusId, usize)>);

/// Runs inputs through the routes of one routes.toml.
pub struct Tracer {
    config: Arc<Config>,
    plugins: Plugins,
    buses: Buses,
}

impl Tracer {
    /// Loads every plugin of the routes, compiling in `cache` (a temporary directory).
    pub fn new(config: Arc<Config>, cache: &Path) -> Result<Tracer, String> {
        let plugins = Plugins::load(&config, Some(cache)).map_err(|errors| {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            problems.join("\n")
        })?;
        let buses = Buses::new(&config);
        Ok(Tracer {
            config,
            plugins,
            buses,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the routes do with `input`. Item writes go through a fresh embedded store in
    /// `scratch`, so that the change record is the one the host would stream. An input the
    /// routes refuse (an item its table's schema refuses, a record that is not one) is an error.
    pub async fn trace(&self, input: Input, scratch: &Path) -> Result<Trace, String> {
        let mut trace = Trace::default();
        let messages = match input {
            Input::Insert { .. } | Input::Modify { .. } | Input::Remove { .. } => {
                let (table, record) = self.written(input, scratch).await?;
                self.through_pipes(table, &[record], &mut trace)?
            }
            Input::Record { table, record } => {
                let record: StreamRecord = serde_json::from_value(record)
                    .map_err(|err| format!("the record is not a DynamoDB stream record: {err}"))?;
                self.through_pipes(table, &[record], &mut trace)?
            }
            Input::Event { bus, event } => {
                let event = self.put_event(event);
                let routed = self
                    .buses
                    .route(&self.config, bus, &event.to_string())
                    .map_err(|err| format!("the event cannot be routed: {err}"))?;
                self.note_rules(&routed.matched, &mut trace);
                routed.messages
            }
            Input::Messages {
                queue,
                messages: sent,
            } => {
                let name = &self.config[queue].name;
                let received: Vec<Message> = sent
                    .into_iter()
                    .enumerate()
                    .map(|(n, spec)| message_of(name, n, spec))
                    .collect();
                let bodies = received.iter().map(|m| m.body.clone()).collect();
                trace.queues.insert(name.clone(), bodies);
                self.consume(queue, received, &mut trace);
                return Ok(trace);
            }
        };
        self.deliver(messages, &mut trace);
        Ok(trace)
    }

    /// Commits the write to a fresh store and reads back its change record.
    async fn written(
        &self,
        input: Input,
        scratch: &Path,
    ) -> Result<(TableId, StreamRecord), String> {
        let store = EmbeddedStore::open_for(scratch, &self.config).map_err(|e| e.to_string())?;
        let failed = |err: StoreError| format!("the write failed: {err}");
        let (table, writes) = match input {
            Input::Insert { table, item } => (table, vec![self.created(table, item)?]),
            Input::Modify { table, old, new } => {
                let old = self.created(table, old)?;
                let new = self.replaced(table, &old, new)?;
                (table, vec![old, new])
            }
            Input::Remove { table, old } => {
                let old = self.created(table, old)?;
                let delete = Write::Delete {
                    key: old_key(&old),
                    expected_version: None,
                };
                (table, vec![old, delete])
            }
            _ => unreachable!("only writes are written"),
        };
        for write in writes {
            store.write(table, write).await.map_err(failed)?;
        }
        let shards = store.shards(table).await.map_err(failed)?;
        let shard = &shards.last().ok_or("the table has no stream shard")?.id;
        let records = store
            .read(table, shard, None, 10, Duration::ZERO)
            .await
            .map_err(failed)?;
        let record = records
            .into_iter()
            .last()
            .ok_or("the write made no record")?;
        Ok((table, record))
    }

    /// `POST /{table}`'s write: the item with its version and timestamps, if the schema takes it.
    fn created(&self, table: TableId, mut item: Map<String, Value>) -> Result<Write, String> {
        let now = crate::api::timestamp();
        // As the API writes it: `createdAt` is the time of the write, unless it is a key the
        // item gives.
        if !(self.config[table].key.is_key("createdAt") && item.contains_key("createdAt")) {
            item.insert("createdAt".into(), Value::String(now.clone()));
        }
        let key = self.key_of(table, &item)?;
        item.insert("version".into(), json!(1));
        item.insert("updatedAt".into(), Value::String(now));
        self.check_schema(table, &item)?;
        Ok(Write::Create {
            item: Item::from_plain(key, 1, &item).map_err(|e| e.to_string())?,
            idempotency: None,
        })
    }

    /// `PUT /{table}/{key}`'s write over the item `old` created.
    fn replaced(
        &self,
        table: TableId,
        old: &Write,
        mut item: Map<String, Value>,
    ) -> Result<Write, String> {
        let Write::Create { item: old, .. } = old else {
            unreachable!("replaces what `created` made")
        };
        let key = self.key_of(table, &item)?;
        if &key != old.key() {
            return Err(format!(
                "the new item's key `{key}` is not the old one's, `{}`",
                old.key()
            ));
        }
        item.insert("version".into(), json!(2));
        let created = old.plain().get("createdAt").cloned().unwrap_or(Value::Null);
        item.insert("createdAt".into(), created);
        item.insert("updatedAt".into(), Value::String(crate::api::timestamp()));
        self.check_schema(table, &item)?;
        Ok(Write::Replace {
            item: Item::from_plain(key, 2, &item).map_err(|e| e.to_string())?,
            expected_version: 1,
        })
    }

    fn key_of(&self, table: TableId, item: &Map<String, Value>) -> Result<Key, String> {
        let table = &self.config[table];
        table
            .key
            .key_of(item)
            .map_err(|why| format!("the item is not keyed as table `{}`: {why}", table.name))
    }

    fn check_schema(&self, table: TableId, item: &Map<String, Value>) -> Result<(), String> {
        let Some(schema) = &self.config[table].schema else {
            return Ok(());
        };
        let problems = schema.problems(&Value::Object(item.clone()));
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "table `{}`'s schema refuses the item: {}",
            self.config[table].name,
            problems.join("; ")
        ))
    }

    /// Every pipe of `table`, on `records`: the messages they send on.
    fn through_pipes(
        &self,
        table: TableId,
        records: &[StreamRecord],
        trace: &mut Trace,
    ) -> Result<Vec<(QueueId, NewMessage)>, String> {
        let mut messages = Vec::new();
        for (index, pipe) in self.config.pipes.iter().enumerate() {
            if pipe.source != table {
                continue;
            }
            let seen = self.through_pipe(PipeId(index), records);
            let seen = match seen {
                Ok((seen, delivery, matched)) => {
                    self.note_rules(&matched, trace);
                    messages.extend(delivery.messages);
                    Ok(seen)
                }
                Err(err) => Err(err),
            };
            trace.pipes.insert(pipe.name.clone(), seen);
        }
        Ok(messages)
    }

    /// What the pipe did, what it delivers, and the rules that matched on the way.
    fn through_pipe(&self, id: PipeId, records: &[StreamRecord]) -> Result<Piped, String> {
        let pipe = &self.config[id];
        let events = crate::pipe::admitted(pipe, records).map_err(|e| e.to_string())?;
        let admitted = !events.is_empty();
        let staged = crate::pipe::run_stages(
            &self.plugins,
            pipe.filter_plugin,
            pipe.enrichment,
            events,
            &Default::default(),
        )
        .map_err(|e| e.to_string())?;
        let seen = PipeSeen {
            kept: admitted && staged.kept > 0,
            events: staged
                .events
                .iter()
                .map(|e| {
                    serde_json::from_str(&e.payload).unwrap_or(Value::String(e.payload.clone()))
                })
                .collect(),
        };
        // Routed here whatever the backend: the host's bus code is EventBridge's rules.
        let capabilities = crate::backend::Capabilities {
            routes_events: false,
            atomic_handoff: true,
            keeps_archives: false,
            counts_lag: false,
            shared_leases: false,
            lists_in_key_order: false,
        };
        let (delivery, routed) = crate::pipe::route(
            &self.config,
            id,
            &self.buses,
            capabilities,
            records,
            staged.events,
            &Default::default(),
        )
        .map_err(|e| e.to_string())?;
        Ok((seen, delivery, routed.matched))
    }

    fn note_rules(&self, matched: &[(BusId, usize)], trace: &mut Trace) {
        for &(bus, rule) in matched {
            let bus = &self.config[bus];
            let rules = trace.rules.entry(bus.name.clone()).or_default();
            rules.push(bus.rules[rule].name.clone());
        }
    }

    /// PutEvents' event: the entry's fields, and the ones EventBridge adds.
    fn put_event(&self, mut event: Map<String, Value>) -> Value {
        let region = &self.config.aws.region;
        let defaults = [
            ("version", json!("0")),
            ("id", json!(uuid::Uuid::now_v7().to_string())),
            ("detail-type", json!("")),
            ("source", json!("")),
            ("account", json!("000000000000")),
            ("time", json!(crate::api::timestamp())),
            ("region", json!(region)),
            ("resources", json!([])),
            ("detail", json!({})),
        ];
        for (name, value) in defaults {
            event.entry(name).or_insert(value);
        }
        Value::Object(event)
    }

    /// Sends messages to their queues and hands each queue's to its consumers.
    fn deliver(&self, messages: Vec<(QueueId, NewMessage)>, trace: &mut Trace) {
        let mut by_queue: BTreeMap<QueueId, Vec<NewMessage>> = BTreeMap::new();
        for (queue, message) in messages {
            by_queue.entry(queue).or_default().push(message);
        }
        for (queue, sent) in by_queue {
            let name = self.config[queue].name.clone();
            let received: Vec<Message> = sent
                .into_iter()
                .enumerate()
                .map(|(n, message)| {
                    crate::consumer::message(&Received {
                        message_id: format!("{name}-{}", n + 1),
                        receipt_handle: String::new(),
                        body: message.body,
                        receive_count: 1,
                        sent_timestamp_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
                        group_id: message.group_id,
                        origin: message.origin,
                        error: None,
                        attributes: message.attributes,
                        first_received_ms: None,
                        trace: None,
                    })
                })
                .collect();
            let bodies = received.iter().map(|m| m.body.clone()).collect();
            trace.queues.insert(name, bodies);
            self.consume(queue, received, trace);
        }
    }

    /// Each consumer of `queue`, on the messages in batches of its size.
    fn consume(&self, queue: QueueId, messages: Vec<Message>, trace: &mut Trace) {
        for consumer in self.config.consumers.iter().filter(|c| c.queue == queue) {
            let mut answers = Vec::with_capacity(messages.len());
            let mut failed = None;
            for batch in messages.chunks(consumer.batch_size.max(1) as usize) {
                match crate::consumer::outcomes(&self.plugins, consumer.handler, batch) {
                    Ok(outcomes) => {
                        let ids = batch.iter().map(|m| m.id.clone());
                        answers.extend(ids.zip(outcomes));
                    }
                    Err(err) => {
                        failed = Some(err.to_string());
                        break;
                    }
                }
            }
            let result = match failed {
                Some(err) => Err(err),
                None => Ok(answers),
            };
            trace.consumers.insert(consumer.name.clone(), result);
        }
    }
}

fn old_key(write: &Write) -> Key {
    match write {
        Write::Create { item, .. } => item.key().clone(),
        _ => unreachable!("deletes what `created` made"),
    }
}

/// A message sent to a queue by hand: a body text, any other JSON as its text, or
/// `{"body": "...", "id", "receiveCount", "attributes": {...}}`.
pub fn message_of(queue: &str, n: usize, spec: Value) -> Message {
    let fields = match &spec {
        Value::Object(fields) if fields.get("body").is_some_and(Value::is_string) => Some(fields),
        _ => None,
    };
    let id = format!("{queue}-{}", n + 1);
    let Some(fields) = fields else {
        let body = match spec {
            Value::String(text) => text,
            other => other.to_string(),
        };
        return Message {
            id,
            body,
            receive_count: 1,
            attributes: Vec::new(),
        };
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    let attributes = fields
        .get("attributes")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    Message {
        id: text("id").unwrap_or(id),
        body: text("body").unwrap_or_default(),
        receive_count: fields
            .get("receiveCount")
            .and_then(Value::as_u64)
            .unwrap_or(1) as u32,
        attributes,
    }
}
