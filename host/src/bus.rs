//! The bus: EventBridge rules. An event is read once and matched against every rule of its bus
//! together (a pattern `RuleSet`); each matching rule sends it to each of its targets, shaped by
//! the target's input (the whole event, an `input_path`, or an input transformer). The event is
//! the [`Envelope`] EventBridge puts around a detail, whether a pipe or PutEvents puts it.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::backend::NewMessage;
use crate::config::{BusId, Config, Destination, QueueId, TargetInput};
use crate::origin::Origin;
use crate::pattern::{EventError, Pattern, RuleSet};
use crate::tap::{self, Point, Tap};
use crate::transform;

/// Most buses an event may cross (a rule may target another bus).
const MAX_HOPS: usize = 4;

/// The account in the events and ARNs the host makes up (EventBridge's own events carry the
/// real account).
pub const ACCOUNT: &str = "000000000000";

/// An EventBridge event, as a bus carries it. Its detail is JSON text written out as it is
/// rather than parsed and written again.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub version: &'a str,
    pub id: &'a str,
    #[serde(rename = "detail-type")]
    pub detail_type: &'a str,
    pub source: &'a str,
    pub account: &'a str,
    /// As [`event_time`] writes it.
    pub time: String,
    pub region: &'a str,
    pub resources: Vec<String>,
    pub detail: &'a RawValue,
}

/// An event's `time` as EventBridge writes it: RFC 3339 in UTC, to the second.
pub fn event_time(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The rules of every bus, compiled.
pub struct Buses {
    buses: Vec<RuleSet>,
    /// Per bus with an archive: which events it keeps (`None` in the inner option: all).
    archives: Vec<Option<Option<Pattern>>>,
    /// Per bus, per rule: events matched.
    pub matched: Vec<Vec<Counter>>,
    /// Per bus: events no rule matched.
    pub unmatched: Vec<Counter>,
    /// Shows what passes the pipes and the rules to whoever taps them.
    pub tap: Arc<Tap>,
}

/// Where one event goes: a message per queue target of each matching rule.
#[derive(Debug, Default)]
pub struct Routed {
    pub messages: Vec<(QueueId, NewMessage)>,
    /// The rules that matched, by bus and index in it.
    pub matched: Vec<(BusId, usize)>,
    /// The buses the event crossed where no rule matched it.
    pub unmatched: Vec<BusId>,
    /// The event, for each bus whose archive keeps it.
    pub archived: Vec<(BusId, String)>,
    /// What the tap points on the way show once the delivery commits (only tapped points').
    pub tapped: Vec<(Point, String)>,
}

impl Routed {
    /// Adds where another event goes.
    pub fn append(&mut self, other: Routed) {
        self.messages.extend(other.messages);
        self.matched.extend(other.matched);
        self.unmatched.extend(other.unmatched);
        self.archived.extend(other.archived);
        self.tapped.extend(other.tapped);
    }
}

impl Buses {
    pub fn new(config: &Config) -> Buses {
        let buses = config
            .buses
            .iter()
            .map(|bus| {
                RuleSet::new(bus.rules.iter().map(|rule| rule.pattern.text.as_str()))
                    .unwrap_or_else(|(_, err)| {
                        unreachable!("routes.toml validation compiled every rule pattern: {err}")
                    })
            })
            .collect();
        let matched = config
            .buses
            .iter()
            .map(|bus| bus.rules.iter().map(|_| Counter::default()).collect())
            .collect();
        let unmatched = config.buses.iter().map(|_| Counter::default()).collect();
        let archives = config
            .buses
            .iter()
            .map(|bus| {
                bus.archive
                    .as_ref()
                    .map(|archive| archive.pattern.as_ref().map(|p| p.pattern.clone()))
            })
            .collect();
        Buses {
            buses,
            archives,
            matched,
            unmatched,
            tap: Arc::new(Tap::new(config)),
        }
    }

    /// These buses, showing what passes on `tap`.
    pub fn with_tap(self, tap: Arc<Tap>) -> Buses {
        Buses { tap, ..self }
    }

    /// Counts what events did on the buses, and shows it on the tap, once the deliveries
    /// `routed` plans have committed (a batch that fails and is routed again is counted once).
    pub fn count(&self, routed: &Routed) {
        self.tap.show_held(&routed.tapped);
        for (bus, rule) in &routed.matched {
            self.matched[bus.index()][*rule].inc();
        }
        for bus in &routed.unmatched {
            self.unmatched[bus.index()].inc();
        }
    }

    /// Routes an EventBridge event (JSON text) through `bus`; nothing is counted until
    /// [`Buses::count`].
    pub fn route(&self, config: &Config, bus: BusId, event: &str) -> Result<Routed, EventError> {
        let mut routed = Routed::default();
        self.route_into(config, bus, event, 0, &mut routed)?;
        Ok(routed)
    }

    fn route_into(
        &self,
        config: &Config,
        bus: BusId,
        event: &str,
        hops: usize,
        routed: &mut Routed,
    ) -> Result<(), EventError> {
        let rules = &self.buses[bus.index()];
        let matching = rules.matching_json(event)?;
        if let Some(archive) = &self.archives[bus.index()]
            && archive
                .as_ref()
                .is_none_or(|pattern| pattern.matches_json(event).unwrap_or(false))
        {
            routed.archived.push((bus, event.to_string()));
        }
        if matching.is_empty() {
            routed.unmatched.push(bus);
            return Ok(());
        }
        // Most targets take the event as it is; parse it only for those that look inside.
        let mut json = None;
        for index in matching {
            let rule = &config[bus].rules[index];
            // Inside the pipe's batch span (and its event id), so a log line names both.
            let _rule =
                tracing::info_span!("rule", bus = config[bus].name, rule = rule.name).entered();
            let _traced = crate::telemetry::rule_span(&config[bus].name, &rule.name).entered();
            routed.matched.push((bus, index));
            self.tap
                .hold(&mut routed.tapped, Point::Rule(bus, index), || event.into());
            for target in &rule.targets {
                let input = match &target.input {
                    TargetInput::Event => event.to_string(),
                    TargetInput::Path(path) => transform::select(parsed(&mut json, event)?, path)
                        .map_or("null".into(), Value::to_string),
                    TargetInput::Transformer { paths, template } => {
                        transform::transform(parsed(&mut json, event)?, paths, template, &rule.name)
                    }
                };
                match target.destination {
                    Destination::Queue(queue) => {
                        let origin = Origin::Rule(bus, index).text(config);
                        let mut message = NewMessage::new(input, origin);
                        if config[queue].fifo {
                            // One group per rule keeps the bus's order; the event id de-duplicates.
                            message.group_id = Some(format!("{}/{}", config[bus].name, rule.name));
                            let id = parsed(&mut json, event)?.get("id").and_then(Value::as_str);
                            message.deduplication_id = Some(id.unwrap_or_default().to_string());
                        }
                        message.trace = crate::telemetry::send(&config[queue].name);
                        self.tap.hold(&mut routed.tapped, Point::Queue(queue), || {
                            tap::message(&message, None)
                        });
                        routed.messages.push((queue, message));
                    }
                    Destination::Bus(next) if hops + 1 < MAX_HOPS => {
                        self.route_into(config, next, &input, hops + 1, routed)?
                    }
                    Destination::Bus(next) => {
                        // Not worth retrying: it would loop again. Dead-letter it if the target can.
                        let reason = format!(
                            "the event crossed more than {MAX_HOPS} buses; do rules send it round in a loop?"
                        );
                        match target.dlq {
                            Some(dlq) => {
                                let origin = Origin::Rule(bus, index).text(config);
                                routed.messages.push((
                                    dlq,
                                    NewMessage {
                                        error: Some(reason),
                                        ..NewMessage::new(input, origin)
                                    },
                                ));
                            }
                            None => {
                                tracing::warn!(next = config[next].name, "event dropped: {reason}")
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The event as JSON, parsed on first use.
fn parsed<'a>(json: &'a mut Option<Value>, event: &str) -> Result<&'a Value, EventError> {
    if json.is_none() {
        *json = Some(serde_json::from_str(event).map_err(|err| EventError(err.to_string()))?);
    }
    Ok(json.as_ref().expect("parsed just above"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        crate::config::compile(text, Path::new("routes.toml")).unwrap_or_else(|err| panic!("{err}"))
    }

    const ROUTES: &str = r#"
[buses.orders.rules.all]
pattern = '{"source": ["shop"]}'
targets = [{ queue = "everything" }, { queue = "ids", input_path = "$.detail.orderId" }]

[buses.orders.rules.big]
pattern = '{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}'
targets = [{ queue = "big", input_transformer = { input_paths = { id = "$.detail.orderId" }, input_template = '{"big": "<id>"}' } }, { bus = "audit" }]

[buses.audit.rules.log]
pattern = '{"detail": {"orderId": [{"exists": true}]}}'
targets = [{ queue = "audit.fifo" }]

[queues.everything]
[queues.ids]
[queues.big]
[queues."audit.fifo"]
fifo = true
"#;

    #[test]
    fn every_matching_rule_sends_to_each_of_its_targets_shaped_by_its_input() {
        let config = config(ROUTES);
        let buses = Buses::new(&config);
        let event =
            r#"{"id": "e-1", "source": "shop", "detail": {"orderId": "o-1", "total": 500}}"#;
        let routed = buses.route(&config, BusId(1), event).unwrap();
        assert_eq!(
            rules(&config, &routed),
            ["orders/all", "orders/big", "audit/log"]
        );
        let delivered: Vec<(&str, &str)> = routed
            .messages
            .iter()
            .map(|(q, m)| (config[*q].name.as_str(), m.body.as_str()))
            .collect();
        assert_eq!(
            delivered,
            [
                ("everything", event),
                ("ids", "\"o-1\""),
                ("big", r#"{"big": "o-1"}"#),
                ("audit.fifo", event)
            ]
        );
        let fifo = &routed.messages[3].1;
        assert_eq!(
            (fifo.group_id.as_deref(), fifo.deduplication_id.as_deref()),
            (Some("audit/log"), Some("e-1"))
        );
        assert_eq!(routed.messages[0].1.origin, "rule:orders/all");
    }

    #[test]
    fn an_event_caught_in_a_loop_of_buses_goes_to_the_target_dlq() {
        let config = config(
            r#"
[buses.a.rules.to-b]
pattern = '{"source": ["shop"]}'
targets = [{ bus = "b", dlq = "looped" }]

[buses.b.rules.to-a]
pattern = '{"source": ["shop"]}'
targets = [{ bus = "a", dlq = "looped" }]

[queues.looped]
"#,
        );
        let routed = Buses::new(&config)
            .route(&config, BusId(0), r#"{"source": "shop"}"#)
            .unwrap();
        assert_eq!(routed.messages.len(), 1);
        let (queue, message) = &routed.messages[0];
        assert_eq!(config[*queue].name, "looped");
        assert_eq!(
            message.error.as_deref(),
            Some("the event crossed more than 4 buses; do rules send it round in a loop?")
        );
    }

    #[test]
    fn an_event_dropped_in_a_loop_is_logged_in_the_span_of_the_rule_that_dropped_it() {
        let config = config(
            r#"
[buses.a.rules.to-b]
pattern = '{"source": ["shop"]}'
targets = [{ bus = "b" }]

[buses.b.rules.to-a]
pattern = '{"source": ["shop"]}'
targets = [{ bus = "a" }]
"#,
        );
        let (logs, _guard) = crate::captured_logs::Captured::start();
        let routed = Buses::new(&config)
            .route(&config, BusId(0), r#"{"source": "shop"}"#)
            .unwrap();
        assert!(routed.messages.is_empty());
        let line = logs.line("event dropped");
        // a, b, a, b: the fourth bus's rule would send it to a fifth.
        let spans = r#"rule{bus="a" rule="to-b"}:rule{bus="b" rule="to-a"}:rule{bus="a" rule="to-b"}:rule{bus="b" rule="to-a"}: "#;
        assert!(line.contains(spans), "{line}");
        assert!(line.contains(r#"next="a""#), "{line}");
    }

    #[test]
    fn an_event_no_rule_matches_goes_nowhere() {
        let config = config(ROUTES);
        let routed = Buses::new(&config)
            .route(&config, BusId(1), r#"{"source": "other"}"#)
            .unwrap();
        assert!(routed.messages.is_empty() && routed.matched.is_empty());
    }

    fn rules(config: &Config, routed: &Routed) -> Vec<String> {
        routed
            .matched
            .iter()
            .map(|(bus, rule)| format!("{}/{}", config[*bus].name, config[*bus].rules[*rule].name))
            .collect()
    }

    #[test]
    fn rule_counters_count_routed_events_once_they_are_counted() {
        let config = config(ROUTES);
        let buses = Buses::new(&config);
        let event = r#"{"id": "e-1", "source": "shop", "detail": {"orderId": "o-1", "total": 5}}"#;
        let routed = buses.route(&config, BusId(1), event).unwrap();
        let missed = buses
            .route(&config, BusId(1), r#"{"source": "other"}"#)
            .unwrap();
        let counts = |buses: &Buses| {
            let (orders, audit) = (&buses.matched[1], &buses.matched[0]);
            (
                orders.iter().map(Counter::get).collect::<Vec<_>>(),
                audit.iter().map(Counter::get).collect::<Vec<_>>(),
                buses.unmatched[1].get(),
            )
        };
        assert_eq!(
            counts(&buses),
            (vec![0, 0], vec![0], 0),
            "routing alone counts nothing"
        );
        buses.count(&routed);
        buses.count(&missed);
        // `all` matched and sent to `audit`'s rule `log`; `big` did not match a total of 5.
        assert_eq!(counts(&buses), (vec![1, 0], vec![0], 1));
    }
}
