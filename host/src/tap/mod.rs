//! Taps: copies of what passes one point of the running host (a pipe's input or output, a
//! rule's matches, a queue's sends, a consumer's outcomes), for `switchyard tap` and
//! `GET /admin/tap`. A point nobody taps costs one atomic load. A reader has a bounded buffer
//! of lines; when it is full the line is dropped and counted for that reader: a tap never
//! blocks the data path and never changes what flows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};

use crate::backend::{MessageAttributes, NewMessage, Received};
use crate::config::{BusId, Config, ConsumerId, PipeId, QueueId};
use crate::pattern::Pattern;
use crate::plugin::Outcome;

/// How many lines a reader's buffer holds unless it asks for another size.
pub const BUFFER: usize = 1000;
/// The largest buffer a reader may ask for.
pub const MAX_BUFFER: usize = 100_000;

/// A place in the data path that can be tapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// `pipe/NAME/in`: the change records a pipe reads, in the DynamoDB Streams record shape.
    PipeIn(PipeId),
    /// `pipe/NAME/out`: what a pipe delivers once committed: the EventBridge event it puts on
    /// its bus, or the input its queue target gets, after enrichment and its input template.
    PipeOut(PipeId),
    /// `rule/BUS/RULE`: each event the rule matched (before its targets' input transforms),
    /// once the delivery that routed it committed.
    Rule(BusId, usize),
    /// `queue/NAME`: the messages the host sends to a queue (from pipes, rules, PutEvents,
    /// replays and SQS's SendMessage), once committed.
    Queue(QueueId),
    /// `consumer/NAME`: the outcome of each message a consumer handled.
    Consumer(ConsumerId),
}

/// Why a tap cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    #[error(
        "`{0}` is not a tap point; points are `pipe/NAME/in`, `pipe/NAME/out`, `rule/BUS/RULE`, `queue/NAME` and `consumer/NAME`"
    )]
    Syntax(String),
    #[error("this host has no {kind} `{name}`; its tap points are: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
}

/// The readers of one point.
#[derive(Default)]
struct Slot {
    name: String,
    /// How many readers there are: the only thing the data path reads when there are none.
    listening: AtomicUsize,
    readers: Mutex<Vec<Reader>>,
}

struct Reader {
    id: u64,
    pattern: Option<Pattern>,
    lines: mpsc::Sender<Arc<str>>,
    counts: Arc<Counts>,
}

/// What happened to one reader's lines.
#[derive(Debug, Default)]
struct Counts {
    /// Lines put in its buffer.
    sent: AtomicU64,
    /// Whether `drops.pending` is not zero: the reader's cheap check.
    dropping: AtomicBool,
    drops: Mutex<Drops>,
}

/// Lines dropped for a reader whose buffer was full.
#[derive(Debug, Default)]
struct Drops {
    /// Dropped and not yet reported to the reader.
    pending: u64,
    /// How many lines had been put in the buffer when the first of `pending` was dropped: the
    /// reader reports the drop once it has read that many.
    after: u64,
    total: u64,
}

/// Every point of a host's routes, and who taps each.
pub struct Tap {
    pipes_in: Vec<Slot>,
    pipes_out: Vec<Slot>,
    rules: Vec<Vec<Slot>>,
    queues: Vec<Slot>,
    consumers: Vec<Slot>,
    next_reader: AtomicU64,
    /// Turns true when the host stops: every tap then ends.
    stopping: watch::Sender<bool>,
}

/// One line of a tap, as a reader gets it.
#[derive(Serialize)]
struct Line<'a> {
    point: &'a str,
    time: String,
    data: &'a RawValue,
}

impl Tap {
    /// The points of `config`, none of them tapped.
    pub fn new(config: &Config) -> Tap {
        let slot = |name: String| Slot {
            name,
            ..Slot::default()
        };
        Tap {
            pipes_in: config
                .pipes
                .iter()
                .map(|p| slot(format!("pipe/{}/in", p.name)))
                .collect(),
            pipes_out: config
                .pipes
                .iter()
                .map(|p| slot(format!("pipe/{}/out", p.name)))
                .collect(),
            rules: config
                .buses
                .iter()
                .map(|b| {
                    b.rules
                        .iter()
                        .map(|r| slot(format!("rule/{}/{}", b.name, r.name)))
                        .collect()
                })
                .collect(),
            queues: config
                .queues
                .iter()
                .map(|q| slot(format!("queue/{}", q.name)))
                .collect(),
            consumers: config
                .consumers
                .iter()
                .map(|c| slot(format!("consumer/{}", c.name)))
                .collect(),
            next_reader: AtomicU64::new(0),
            stopping: watch::Sender::new(false),
        }
    }

    fn slot(&self, point: Point) -> &Slot {
        match point {
            Point::PipeIn(pipe) => &self.pipes_in[pipe.index()],
            Point::PipeOut(pipe) => &self.pipes_out[pipe.index()],
            Point::Rule(bus, rule) => &self.rules[bus.index()][rule],
            Point::Queue(queue) => &self.queues[queue.index()],
            Point::Consumer(consumer) => &self.consumers[consumer.index()],
        }
    }

    fn slots(&self) -> impl Iterator<Item = (Point, &Slot)> {
        let pipes = (0..self.pipes_in.len()).flat_map(|i| {
            [
                (Point::PipeIn(PipeId(i)), &self.pipes_in[i]),
                (Point::PipeOut(PipeId(i)), &self.pipes_out[i]),
            ]
        });
        let rules = self.rules.iter().enumerate().flat_map(|(b, rules)| {
            rules
                .iter()
                .enumerate()
                .map(move |(r, slot)| (Point::Rule(BusId(b), r), slot))
        });
        let queues = self.queues.iter().enumerate();
        let consumers = self.consumers.iter().enumerate();
        pipes
            .chain(rules)
            .chain(queues.map(|(i, s)| (Point::Queue(QueueId(i)), s)))
            .chain(consumers.map(|(i, s)| (Point::Consumer(ConsumerId(i)), s)))
    }

    /// The point a name like `pipe/orders/out` names.
    pub fn point(&self, name: &str) -> Result<Point, TapError> {
        if let Some((point, _)) = self.slots().find(|(_, slot)| slot.name == name) {
            return Ok(point);
        }
        let kind = match name.split('/').collect::<Vec<_>>()[..] {
            ["pipe", pipe, "in" | "out"] if !pipe.is_empty() => ("pipe", pipe.to_string()),
            ["rule", bus, rule] if !bus.is_empty() && !rule.is_empty() => {
                let known_bus = self.rules.iter().flatten().any(|slot| {
                    slot.name
                        .strip_prefix("rule/")
                        .and_then(|rest| rest.split_once('/'))
                        .is_some_and(|(b, _)| b == bus)
                });
                match known_bus {
                    true => ("rule", format!("{bus}/{rule}")),
                    false => ("bus", bus.to_string()),
                }
            }
            ["queue", queue] if !queue.is_empty() => ("queue", queue.to_string()),
            ["consumer", consumer] if !consumer.is_empty() => ("consumer", consumer.to_string()),
            _ => return Err(TapError::Syntax(name.to_string())),
        };
        let known: Vec<String> = self
            .slots()
            .map(|(_, slot)| format!("`{}`", slot.name))
            .collect();
        Err(TapError::Unknown {
            kind: kind.0,
            name: kind.1,
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        })
    }

    /// The name of a point, as [`Tap::point`] reads it.
    pub fn name(&self, point: Point) -> &str {
        &self.slot(point).name
    }

    /// Whether anyone taps `point`: one atomic load, for the data path to check before it
    /// makes anything to show.
    pub fn listening(&self, point: Point) -> bool {
        self.slot(point).listening.load(Ordering::Relaxed) > 0
    }

    /// Shows each item on `point`, as the JSON `data` makes of it; `data` runs only when
    /// someone taps the point.
    pub fn show<T>(
        &self,
        point: Point,
        items: impl IntoIterator<Item = T>,
        data: impl Fn(T) -> String,
    ) {
        if !self.listening(point) {
            return;
        }
        for item in items {
            self.send(point, &data(item));
        }
    }

    /// Keeps what `point` would show in `held`, to show once the work it belongs to commits
    /// (see [`Tap::show_held`]); `data` runs only when someone taps the point.
    pub fn hold(
        &self,
        held: &mut Vec<(Point, String)>,
        point: Point,
        data: impl FnOnce() -> String,
    ) {
        if self.listening(point) {
            held.push((point, data()));
        }
    }

    /// Shows what [`Tap::hold`] kept.
    pub fn show_held(&self, held: &[(Point, String)]) {
        for (point, data) in held {
            if self.listening(*point) {
                self.send(*point, data);
            }
        }
    }

    /// Copies one line to every reader of `point` whose pattern it matches, without waiting:
    /// a reader whose buffer is full loses the line, and it is counted.
    fn send(&self, point: Point, data: &str) {
        let slot = self.slot(point);
        let readers = slot.readers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut line: Option<Arc<str>> = None;
        let mut view: Option<String> = None;
        for reader in readers.iter() {
            if let Some(pattern) = &reader.pattern {
                let view = view.get_or_insert_with(|| pattern_view(data));
                if !pattern.matches_json(view).unwrap_or(false) {
                    continue;
                }
            }
            let line = line.get_or_insert_with(|| {
                let null = RawValue::NULL;
                let line = Line {
                    point: &slot.name,
                    time: now(),
                    // The data path makes JSON text; should it not be, the line still is.
                    data: serde_json::from_str(data).unwrap_or(null),
                };
                let mut text = serde_json::to_string(&line).unwrap_or_default();
                text.push('\n');
                text.into()
            });
            match reader.lines.try_send(line.clone()) {
                Ok(()) => {
                    reader.counts.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let counts = &reader.counts;
                    let mut drops = counts.drops.lock().unwrap_or_else(PoisonError::into_inner);
                    if drops.pending == 0 {
                        drops.after = counts.sent.load(Ordering::Relaxed);
                    }
                    drops.pending += 1;
                    drops.total += 1;
                    counts.dropping.store(true, Ordering::Release);
                }
                // The reader is going: its subscription removes it.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Starts tapping `point`: the lines matching `pattern` (all without one), up to `buffer`
    /// of them held while the reader is behind.
    pub fn subscribe(
        self: &Arc<Self>,
        point: Point,
        pattern: Option<Pattern>,
        buffer: usize,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(buffer.clamp(1, MAX_BUFFER));
        let id = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let counts = Arc::new(Counts::default());
        let slot = self.slot(point);
        let mut readers = slot.readers.lock().unwrap_or_else(PoisonError::into_inner);
        readers.push(Reader {
            id,
            pattern,
            lines: tx,
            counts: counts.clone(),
        });
        slot.listening.store(readers.len(), Ordering::Relaxed);
        Subscription {
            tap: self.clone(),
            point,
            id,
            lines: rx,
            read: 0,
            counts,
            stopping: self.stopping.subscribe(),
        }
    }

    /// Every tap now, for `GET /admin/taps`.
    pub fn readers(&self) -> Vec<Value> {
        let mut all = Vec::new();
        for (_, slot) in self.slots() {
            let readers = slot.readers.lock().unwrap_or_else(PoisonError::into_inner);
            for reader in readers.iter() {
                all.push(serde_json::json!({
                    "point": slot.name,
                    "filtered": reader.pattern.is_some(),
                    "lines": reader.counts.sent.load(Ordering::Relaxed),
                    "dropped": reader.counts.total_dropped(),
                }));
            }
        }
        all
    }

    /// Ends every tap: the host is stopping, and a tap must not hold its shutdown up.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

/// A message sent to a queue as `queue/NAME` shows it, in the shape of a record of Lambda's SQS
/// event: its id (when the sender knows it: the backend gives the id as it commits a pipe's
/// delivery), body, attributes and message attributes.
pub fn message(message: &NewMessage, id: Option<&str>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sent<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<&'a str>,
        body: &'a str,
        attributes: BTreeMap<&'static str, &'a str>,
        #[serde(skip_serializing_if = "MessageAttributes::is_empty")]
        message_attributes: &'a MessageAttributes,
        #[serde(skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u64>,
    }
    let mut attributes = BTreeMap::from([("SenderId", message.origin.as_str())]);
    if let Some(group) = &message.group_id {
        attributes.insert("MessageGroupId", group);
    }
    if let Some(dedup) = &message.deduplication_id {
        attributes.insert("MessageDeduplicationId", dedup);
    }
    json(&Sent {
        message_id: id,
        body: &message.body,
        attributes,
        message_attributes: &message.attributes,
        delay_seconds: message.delay.map(|d| d.as_secs()),
    })
}

/// A consumer's outcome for one message as `consumer/NAME` shows it: `ok`, `retry` (with its
/// delay, if any), `dead-letter` (with the plugin's reason) or `batch-failed` (with the error
/// that failed the whole batch; the message comes back after its visibility timeout).
pub fn outcome(received: &Received, outcome: Result<&Outcome, &str>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Handled<'a> {
        message_id: &'a str,
        outcome: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u32>,
        receive_count: u32,
        body: &'a str,
    }
    let (name, reason, delay_seconds) = match outcome {
        Ok(Outcome::Ok) => ("ok", None, None),
        Ok(Outcome::Retry(delay)) => ("retry", None, *delay),
        Ok(Outcome::DeadLetter(reason)) => ("dead-letter", Some(reason.as_str()), None),
        Err(error) => ("batch-failed", Some(error), None),
    };
    json(&Handled {
        message_id: &received.message_id,
        outcome: name,
        reason,
        delay_seconds,
        receive_count: received.receive_count,
        body: &received.body,
    })
}

/// JSON text of a value made of plain data, which always serializes.
pub fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// The JSON a pattern is matched against: the data, with a `body` that is JSON text read as
/// JSON, as EventBridge Pipes filters an SQS message.
fn pattern_view(data: &str) -> String {
    let Ok(mut view) = serde_json::from_str::<Value>(data) else {
        return data.to_string();
    };
    if let Some(body) = view.get("body").and_then(Value::as_str)
        && let Ok(parsed @ (Value::Object(_) | Value::Array(_))) =
            serde_json::from_str::<Value>(body)
    {
        view["body"] = parsed;
        return view.to_string();
    }
    data.to_string()
}

/// Now, in RFC 3339 (UTC, to the millisecond).
fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// What a tap's stream holds next.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// A line of the point, ending in a newline.
    Line(Arc<str>),
    /// This many lines were dropped since the last report, while the reader was behind.
    Dropped(u64),
    /// The host is stopping.
    Stopping,
}

impl Counts {
    fn total_dropped(&self) -> u64 {
        self.drops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One reader of a point; dropping it stops the tap.
pub struct Subscription {
    tap: Arc<Tap>,
    point: Point,
    id: u64,
    lines: mpsc::Receiver<Arc<str>>,
    /// Lines read so far.
    read: u64,
    counts: Arc<Counts>,
    stopping: watch::Receiver<bool>,
}

impl Subscription {
    /// The next line, waiting for one. Lines dropped while the reader was behind are reported
    /// where they were lost: after the lines that came before them.
    pub async fn next(&mut self) -> Next {
        if self.counts.dropping.load(Ordering::Acquire) {
            let mut drops = self
                .counts
                .drops
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if drops.pending > 0 && self.read >= drops.after {
                let dropped = std::mem::take(&mut drops.pending);
                self.counts.dropping.store(false, Ordering::Release);
                return Next::Dropped(dropped);
            }
        }
        tokio::select! {
            biased;
            _ = self.stopping.wait_for(|stopping| *stopping) => Next::Stopping,
            line = self.lines.recv() => match line {
                Some(line) => {
                    self.read += 1;
                    Next::Line(line)
                }
                // The tap itself went away: the host is stopping.
                None => Next::Stopping,
            },
        }
    }

    /// Lines dropped for this reader in all.
    pub fn dropped(&self) -> u64 {
        self.counts.total_dropped()
    }

    /// The point tapped.
    pub fn point(&self) -> Point {
        self.point
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let slot = self.tap.slot(self.point);
        let mut readers = slot.readers.lock().unwrap_or_else(PoisonError::into_inner);
        readers.retain(|reader| reader.id != self.id);
        slot.listening.store(readers.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
