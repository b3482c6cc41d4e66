//! What a batch of records becomes: the pattern filter, the filter plugin and the enricher,
//! then an event per kept record, with a stable id, routed to the pipe's target (a bus's rules,
//! or a queue). No I/O but the plugin calls; the pipe's loop delivers the plan.

use super::*;
use crate::config::{PipeConfig, PluginId};
use crate::tap::Point;
use crate::telemetry::RecordSpans;

/// The id of the `n`th event (counting from 0) an enricher made of a record: derived from the
/// pipe and the record, so that an event delivered again carries the same id and consumers
/// can de-duplicate on it.
pub fn event_id(pipe: &str, record_id: &str, n: u32) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{pipe}/{record_id}/{n}").as_bytes(),
    )
    .to_string()
}

/// What a batch becomes, and what to count once it is delivered.
pub(super) struct Planned {
    pub(super) delivery: Delivery,
    pub(super) counts: Routed,
    pub(super) filtered: usize,
    pub(super) delivered: usize,
    /// The records' spans, open until the delivery commits.
    pub(super) spans: RecordSpans,
}

impl PipeRunner {
    /// What records become: filtered, enriched, and routed to the target.
    pub(super) async fn plan(&self, records: &[StreamRecord]) -> Result<Planned, PipeError> {
        let pipe = &self.config[self.id];
        let spans = RecordSpans::new(
            &pipe.name,
            records
                .iter()
                .map(|r| (r.event_id.as_str(), r.trace.as_deref())),
        );
        let planned = self.plan_within(records, spans).await;
        if let Err((err, spans)) = &planned {
            spans.outcome(Err(err));
        }
        planned.map_err(|(err, _)| err)
    }

    async fn plan_within(
        &self,
        records: &[StreamRecord],
        spans: RecordSpans,
    ) -> Result<Planned, (PipeError, RecordSpans)> {
        let pipe = &self.config[self.id];
        let events = match admitted(pipe, records) {
            Ok(events) => events,
            Err(err) => return Err((err, spans)),
        };
        let (plugins, filter, enrichment) =
            (self.plugins.clone(), pipe.filter_plugin, pipe.enrichment);
        let span = tracing::Span::current();
        let staged = tokio::task::spawn_blocking(move || {
            let _in_batch = span.enter();
            let staged = run_stages(&*plugins, filter, enrichment, events, &spans);
            (staged, spans)
        })
        .await;
        let (staged, mut spans) = match staged {
            Ok((Ok(staged), spans)) => (staged, spans),
            Ok((Err(err), spans)) => return Err((err.into(), spans)),
            Err(err) => {
                let err = PipeError::Event(format!("the plugin task failed: {err}"));
                return Err((err, RecordSpans::default()));
            }
        };
        let filtered = records.len() - staged.kept;
        let delivered = staged.events.len();
        for record in records {
            if !staged.events.iter().any(|e| e.id == record.event_id) {
                spans.filtered(&record.event_id);
            }
        }
        let routed = route(
            &self.config,
            self.id,
            &self.buses,
            self.capabilities,
            records,
            staged.events,
            &spans,
        );
        let (delivery, counts) = match routed {
            Ok(routed) => routed,
            Err(err) => return Err((err, spans)),
        };
        Ok(Planned {
            delivery,
            counts,
            filtered,
            delivered,
            spans,
        })
    }
}

/// The records a pipe's event patterns let through, as events: each the record's JSON text.
pub(crate) fn admitted(
    pipe: &PipeConfig,
    records: &[StreamRecord],
) -> Result<Vec<Event>, PipeError> {
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        let payload =
            serde_json::to_string(record).map_err(|err| PipeError::Event(err.to_string()))?;
        if !pipe.filter.is_empty() {
            let unmarshalled = pipe.unmarshal.then(|| record.unmarshalled().to_string());
            let seen = unmarshalled.as_deref().unwrap_or(&payload);
            if !pipe
                .filter
                .iter()
                .any(|p| p.pattern.matches_json(seen).unwrap_or(false))
            {
                continue;
            }
        }
        events.push(Event {
            id: record.event_id.clone(),
            payload,
        });
    }
    Ok(events)
}

/// What a pipe's plugin stages made of its events.
pub(crate) struct Staged {
    /// How many events the filter plugin kept.
    pub kept: usize,
    /// The events to deliver: the kept ones as the enricher returned them.
    pub events: Vec<Event>,
}

/// The filter plugin's verdict on each event, then the enricher on those kept. Blocks: the
/// plugins run on the caller's thread.
pub(crate) fn run_stages(
    stages: &dyn Stages,
    filter: Option<PluginId>,
    enrichment: Option<PluginId>,
    events: Vec<Event>,
    spans: &RecordSpans,
) -> Result<Staged, PluginError> {
    let mut kept = Vec::with_capacity(events.len());
    for event in events {
        // A filter's error fails the batch; a plain "no" drops the event.
        match filter {
            None => kept.push(event),
            Some(f) => {
                if spans.within(&event.id, || stages.keep(f, &event))? {
                    kept.push(event);
                }
            }
        }
    }
    // Counted before enrichment, which may add or drop events of its own.
    let count = kept.len();
    let events = match enrichment {
        // One call for the batch: its span is a child of the first record's.
        Some(e) if !kept.is_empty() => spans.within(&kept[0].id, || stages.enrich(e, &kept))?,
        _ => kept,
    };
    Ok(Staged {
        kept: count,
        events,
    })
}

/// Where a pipe's events go: an envelope per event onto its bus (routed through the bus's
/// rules here, unless the backend's buses route events themselves), or a message per event
/// onto its queue. `records` are the batch the events came of.
pub(crate) fn route(
    config: &Config,
    id: PipeId,
    buses: &Buses,
    capabilities: Capabilities,
    records: &[StreamRecord],
    events: Vec<Event>,
    spans: &RecordSpans,
) -> Result<(Delivery, Routed), PipeError> {
    let pipe = &config[id];
    let mut messages = Vec::new();
    let mut bus_events = Vec::new();
    let mut archived = Vec::new();
    // What the bus's rules did, counted once the delivery has committed.
    let mut counts = Routed::default();
    let mut seen = std::collections::HashMap::new();
    for Event {
        id: record_id,
        payload,
    } in events
    {
        // What the event becomes is traced under its record's span.
        let _record = spans.get(&record_id).map(tracing::Span::enter);
        let n = seen.entry(record_id.clone()).or_insert(0u32);
        let event_id = event_id(&pipe.name, &record_id, *n);
        *n += 1;
        let input = target_input(payload, pipe.target.input_template.as_deref())?;
        match pipe.target.destination {
            Destination::Bus(bus) => {
                let envelope = Envelope {
                    version: "0",
                    id: &event_id,
                    detail_type: &pipe.target.detail_type,
                    source: &pipe.target.source,
                    account: crate::bus::ACCOUNT,
                    time: crate::bus::event_time(time::OffsetDateTime::now_utc()),
                    region: &config.aws.region,
                    resources: vec![format!(
                        "arn:aws:pipes:{}:000000000000:pipe/{}",
                        config.aws.region, pipe.name
                    )],
                    detail: &input,
                };
                buses.tap.hold(&mut counts.tapped, Point::PipeOut(id), || {
                    crate::tap::json(&envelope)
                });
                if capabilities.routes_events {
                    // EventBridge routes it, by the rules `switchyard deploy` put there.
                    let envelope = serde_json::to_value(&envelope)
                        .map_err(|err| PipeError::Event(err.to_string()))?;
                    bus_events.push((bus, envelope));
                    continue;
                }
                let envelope = serde_json::to_string(&envelope)
                    .map_err(|err| PipeError::Event(err.to_string()))?;
                let routed = buses
                    .route(config, bus, &envelope)
                    .map_err(|err| PipeError::Event(err.to_string()))?;
                if routed.matched.is_empty() {
                    tracing::debug!(event = event_id, "no rule of the bus matched");
                }
                messages.extend(routed.messages);
                if capabilities.keeps_archives {
                    archived.extend(routed.archived);
                }
                counts.matched.extend(routed.matched);
                counts.unmatched.extend(routed.unmatched);
                counts.tapped.extend(routed.tapped);
            }
            Destination::Queue(queue) => {
                let mut message =
                    NewMessage::new(queue_body(&input), Origin::Pipe(id).text(config));
                if config[queue].fifo {
                    // FIFO targets keep order per item key, as DynamoDB Streams does.
                    let record = records.iter().find(|r| r.event_id == record_id);
                    let group =
                        record.map(|r| serde_json::to_string(&r.dynamodb.keys).unwrap_or_default());
                    message.group_id = Some(group.unwrap_or_else(|| pipe.name.clone()));
                    message.deduplication_id = Some(event_id);
                }
                message.trace = crate::telemetry::send(&config[queue].name);
                buses.tap.hold(&mut counts.tapped, Point::PipeOut(id), || {
                    input.get().to_string()
                });
                buses.tap.hold(&mut counts.tapped, Point::Queue(queue), || {
                    crate::tap::message(&message, None)
                });
                messages.push((queue, message));
            }
        }
    }
    let delivery = Delivery {
        messages,
        events: bus_events,
        archived,
        checkpoint: None,
    };
    Ok((delivery, counts))
}
