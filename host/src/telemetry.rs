//! OpenTelemetry traces, one per event: the write is the root span, and its context travels
//! with the change record, the bus event and the queue message (as X-Ray's trace header, the
//! text AWS carries in `AWSTraceHeader` and `TraceHeader`), so that every later span of the
//! event, also after a restart, joins the write's trace. Spans are `tracing` spans at TRACE
//! level with the target [`TARGET`]; only the OpenTelemetry layer sees them (never the log
//! lines), and with no OTLP endpoint configured nothing sees them, so they cost nothing.

use std::collections::{HashMap, HashSet};

use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::TracesConfig;

/// The `tracing` target of the spans exported as OpenTelemetry spans.
pub const TARGET: &str = "switchyard::otel";

/// OTLP/HTTP's path for traces, added to an endpoint given as the collector's base URL.
const TRACES_PATH: &str = "/v1/traces";

/// The exporter, while traces are exported; [`Traces::shutdown`] sends the spans still held.
#[derive(Debug, Default)]
pub struct Traces {
    provider: Option<SdkTracerProvider>,
}

impl Traces {
    /// Sends the spans not yet exported and stops the exporter. Call it outside the async
    /// runtime: the exporter's HTTP client blocks.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "cannot send the last traces");
        }
    }
}

/// Installs the logger (`RUST_LOG`, else `default_filter`, to stderr) and, where an OTLP
/// endpoint is configured (`traces`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_ENDPOINT`), the exporter of traces beside it.
pub fn init(default_filter: &str, traces: Option<&TracesConfig>) -> Traces {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into())
        // Trace spans are not log lines: they never appear in the log's span context.
        .add_directive(
            format!("{TARGET}=off")
                .parse()
                .expect("a target directive parses"),
        );
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    // Without a `[host.traces]` table, the standard environment alone may ask for traces.
    let defaults = TracesConfig::default();
    let traces = traces.unwrap_or(&defaults);
    let Some((config, url)) = endpoint(traces).map(|url| (traces, url)) else {
        tracing_subscriber::registry().with(logs).init();
        return Traces::default();
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(err) => {
            tracing_subscriber::registry().with(logs).init();
            tracing::error!(error = %err, endpoint = url, "cannot export traces; going on without");
            return Traces::default();
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    let spans = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("switchyard"))
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() == TARGET
        }));
    tracing_subscriber::registry().with(logs).with(spans).init();
    tracing::info!(endpoint = url, "exporting traces");
    Traces {
        provider: Some(provider),
    }
}

/// The URL spans are posted to: routes.toml's endpoint, else the standard environment's.
fn endpoint(config: &TracesConfig) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match &config.otlp_endpoint {
        Some(base) => Some(traces_url(base)),
        None => env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| traces_url(&base))),
    }
}

/// An OTLP base URL with the traces path added, unless it ends with it already.
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_string()
    } else {
        format!("{base}{TRACES_PATH}")
    }
}

/// A span context as X-Ray's trace header, as SQS's `AWSTraceHeader` and EventBridge's
/// `TraceHeader` carry it: `Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1}`. The root's
/// two parts are the W3C trace id's 32 hex digits.
pub fn xray_header(context: &SpanContext) -> String {
    let trace = format!("{:032x}", context.trace_id());
    format!(
        "Root=1-{}-{};Parent={:016x};Sampled={}",
        &trace[..8],
        &trace[8..],
        context.span_id(),
        u8::from(context.is_sampled()),
    )
}

/// The remote span context an X-Ray trace header names; `None` for a header that is not one
/// (no root or parent, wrong lengths, not hex, all zeros). Other keys (`Lineage`, `Self`) are
/// ignored; a header that leaves `Sampled` out, or says `?`, is taken as sampled.
pub fn parse_xray(header: &str) -> Option<SpanContext> {
    let (mut root, mut parent, mut sampled) = (None, None, true);
    for part in header.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=')?;
        match key.trim() {
            "Root" => root = Some(value.trim()),
            "Parent" => parent = Some(value.trim()),
            "Sampled" => sampled = value.trim() != "0",
            _ => {}
        }
    }
    let hex =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit());
    let (epoch, unique) = root?.strip_prefix("1-")?.split_once('-')?;
    let parent = parent?;
    if !(hex(epoch, 8) && hex(unique, 24) && hex(parent, 16)) {
        return None;
    }
    let trace = TraceId::from_hex(&format!("{epoch}{unique}")).ok()?;
    let span = SpanId::from_hex(parent).ok()?;
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let context = SpanContext::new(trace, span, flags, true, TraceState::default());
    context.is_valid().then_some(context)
}

/// The trace header of a span, to carry with what it sends on; `None` when traces are off.
pub fn header(span: &Span) -> Option<String> {
    let context = span.context();
    let span = context.span();
    let context = span.span_context();
    context.is_valid().then(|| xray_header(context))
}

/// Makes `span` a child of the span a trace header names, if it names one.
pub fn follow(span: &Span, header: Option<&str>) {
    follow_context(span, header.and_then(parse_xray));
}

fn follow_context(span: &Span, remote: Option<SpanContext>) {
    if span.is_disabled() {
        return;
    }
    if let Some(remote) = remote {
        let parent = opentelemetry::Context::new().with_remote_span_context(remote);
        // A span is started at its first use, so a fresh one always takes its parent.
        let _ = span.set_parent(parent);
    }
}

/// The remote span context a W3C `traceparent` header names (`00-{32 hex}-{16 hex}-{2 hex}`);
/// `None` for one that is not valid. A later version's extra fields are ignored, as the W3C
/// recommendation asks.
pub fn parse_traceparent(header: &str) -> Option<SpanContext> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !(hex(version, 2) && version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)) {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(parent).ok()?,
        TraceFlags::new(flags & 1),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

/// The span of a request that came with a trace context (`traceparent`, else X-Ray's
/// `X-Amzn-Trace-Id`), as that context's child: a write it makes joins the caller's trace.
/// `None` when it came with none (its write is then a trace's root) or traces are off.
pub fn request_span(
    method: &str,
    path: &str,
    traceparent: Option<&str>,
    amazon: Option<&str>,
) -> Option<Span> {
    let remote = traceparent
        .and_then(parse_traceparent)
        .or_else(|| amazon.and_then(parse_xray))?;
    let span = tracing::trace_span!(
        target: TARGET,
        "request",
        otel.name = format!("{method} {path}"),
        otel.kind = "server",
    );
    if span.is_disabled() {
        return None;
    }
    follow_context(&span, Some(remote));
    Some(span)
}

/// An event put on a bus through PutEvents, as the child of the entry's `TraceHeader`.
pub fn put_span(bus: &str, header: Option<&str>) -> Span {
    let span = tracing::trace_span!(
        target: TARGET,
        "put",
        otel.name = format!("put {bus}"),
        otel.kind = "server",
        bus,
    );
    follow(&span, header);
    span
}

/// Links `span` to the span a trace header names (a batch's other members).
pub fn link(span: &Span, header: Option<&str>) {
    if let Some(remote) = header.and_then(parse_xray) {
        span.add_link(remote);
    }
}

/// Records how a span's work ended: an outcome attribute, and an error status on failure.
pub fn outcome(span: &Span, outcome: Result<&str, &dyn std::fmt::Display>) {
    match outcome {
        Ok(text) => {
            span.record("outcome", text);
        }
        Err(err) => {
            span.record("outcome", "error");
            span.set_status(Status::error(err.to_string()));
        }
    }
}

/// The root of an event's trace: a write to a table, its item and change record committing.
pub fn write_span(table: &str, operation: &str) -> Span {
    tracing::trace_span!(
        target: TARGET,
        "write",
        otel.name = format!("write {table}"),
        otel.kind = "server",
        table,
        operation,
        outcome = Empty,
    )
}

/// A pipe's handling of one change record, from the filters to the commit of what it became.
pub fn record_span(pipe: &str, event_id: &str, trace: Option<&str>) -> Span {
    let span = tracing::trace_span!(
        target: TARGET,
        "pipe",
        otel.name = format!("pipe {pipe}"),
        otel.kind = "consumer",
        pipe,
        event_id,
        outcome = Empty,
    );
    follow(&span, trace);
    span
}

/// One call into a plugin, a child of the record or message it is for.
pub fn plugin_span(plugin: &str, world: &str) -> Span {
    tracing::trace_span!(
        target: TARGET,
        "plugin",
        otel.name = format!("{world} {plugin}"),
        plugin,
        world,
        outcome = Empty,
    )
}

/// A bus rule that matched an event.
pub fn rule_span(bus: &str, rule: &str) -> Span {
    tracing::trace_span!(
        target: TARGET,
        "rule",
        otel.name = format!("rule {bus}/{rule}"),
        bus,
        rule,
    )
}

/// A message put on a queue; returns the trace header the message carries, so that its
/// consumer's span is this one's child.
pub fn send(queue: &str) -> Option<String> {
    let span = tracing::trace_span!(
        target: TARGET,
        "send",
        otel.name = format!("send {queue}"),
        otel.kind = "producer",
        queue,
    );
    header(&span)
}

/// A pipe's commit of a batch's messages, events and checkpoint, for one of its records.
pub fn deliver_span(pipe: &str) -> Span {
    tracing::trace_span!(
        target: TARGET,
        "deliver",
        otel.name = format!("deliver {pipe}"),
        pipe,
        outcome = Empty,
    )
}

/// A consumer's handling of one message, down to the outcome it applies.
pub fn message_span(consumer: &str, queue: &str, message_id: &str, trace: Option<&str>) -> Span {
    let span = tracing::trace_span!(
        target: TARGET,
        "consume",
        otel.name = format!("consume {queue}"),
        otel.kind = "consumer",
        consumer,
        queue,
        message_id,
        outcome = Empty,
    );
    follow(&span, trace);
    span
}

/// The pipe spans of a batch's records, by event id; empty where nothing is traced.
#[derive(Debug, Default)]
pub struct RecordSpans {
    spans: HashMap<String, Span>,
    order: Vec<String>,
    /// Records the filters dropped: their spans say so, and nothing is delivered for them.
    filtered: HashSet<String>,
}

impl RecordSpans {
    /// A span per record, each a child of its record's write.
    pub fn new<'a>(
        pipe: &str,
        records: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> RecordSpans {
        let mut spans = RecordSpans::default();
        for (event_id, trace) in records {
            let span = record_span(pipe, event_id, trace);
            if span.is_disabled() {
                return RecordSpans::default();
            }
            spans.order.push(event_id.to_string());
            spans.spans.insert(event_id.to_string(), span);
        }
        spans
    }

    /// The span of the record an event came of.
    pub fn get(&self, event_id: &str) -> Option<&Span> {
        self.spans.get(event_id)
    }

    /// Runs `work` inside the span of the record an event came of.
    pub fn within<T>(&self, event_id: &str, work: impl FnOnce() -> T) -> T {
        match self.spans.get(event_id) {
            Some(span) => span.in_scope(work),
            None => work(),
        }
    }

    /// Records an outcome on the span of every record the filters kept.
    pub fn outcome(&self, outcome: Result<&str, &dyn std::fmt::Display>) {
        for span in self.kept() {
            self::outcome(span, outcome);
        }
    }

    /// A `deliver` span under the span of each record the filters kept, for the commit of
    /// the batch.
    pub fn delivering(&self, pipe: &str) -> Vec<Span> {
        self.kept()
            .map(|span| span.in_scope(|| deliver_span(pipe)))
            .collect()
    }

    /// Marks a record's span as dropped by the filters.
    pub fn filtered(&mut self, event_id: &str) {
        if let Some(span) = self.spans.get(event_id) {
            span.record("outcome", "filtered");
            self.filtered.insert(event_id.to_string());
        }
    }

    fn kept(&self) -> impl Iterator<Item = &Span> {
        self.order
            .iter()
            .filter(|id| !self.filtered.contains(*id))
            .filter_map(|id| self.spans.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_names_its_trace_and_parent_and_a_malformed_one_names_nothing() {
        let context =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            format!("{:032x}", context.trace_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(format!("{:016x}", context.span_id()), "00f067aa0ba902b7");
        assert!(context.is_sampled() && context.is_remote());
        let unsampled =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.is_sampled());
        // A later version may add fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
                .is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn an_xray_header_is_a_w3c_trace_id_and_parent_span_id() {
        let context = parse_xray(HEADER).unwrap();
        assert_eq!(
            format!("{:032x}", context.trace_id()),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(format!("{:016x}", context.span_id()), "53995c3f42cd8ad8");
        assert!(context.is_sampled() && context.is_remote());
        assert_eq!(xray_header(&context), HEADER, "and back, unchanged");
    }

    #[test]
    fn an_xray_header_keeps_its_sampling_decision_and_ignores_other_keys() {
        let unsampled = parse_xray(
            "Self=1-5759e988-bd862e3fe1be46a994272793; Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1",
        )
        .unwrap();
        assert!(!unsampled.is_sampled());
        assert!(xray_header(&unsampled).ends_with(";Sampled=0"));
        let undecided =
            parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8").unwrap();
        assert!(undecided.is_sampled(), "no decision upstream: recorded");
    }

    #[test]
    fn a_malformed_xray_header_is_ignored() {
        for header in [
            "",
            "garbage",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e98-bd862e3fe1be46a9942727930;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=+3995c3f42cd8ad8",
            "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent",
        ] {
            assert_eq!(parse_xray(header), None, "{header:?}");
        }
    }

    #[test]
    fn an_endpoint_gets_the_traces_path_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector/v1/traces"),
            "http://collector/v1/traces"
        );
    }

    #[test]
    fn without_an_exporter_spans_carry_no_header() {
        assert_eq!(header(&write_span("orders", "create")), None);
        let spans = RecordSpans::new("p", [("e", Some(HEADER))]);
        assert!(spans.get("e").is_none_or(|span| header(span).is_none()));
    }
}
