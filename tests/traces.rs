//! Traces through the real binary: with `[host.traces]` in routes.toml the host exports one
//! OpenTelemetry trace per event, from the write through the pipe, its plugins, the bus rule
//! and the queue to the consumer's outcome, to an OTLP/HTTP receiver this test runs. The
//! trace context is stored with the change record and the message, so the spans of a later
//! run of the host join the write's trace.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::Host;
use common::pipeline::{post, wasm};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::json;

/// A span as the receiver got it, ids in hex.
#[derive(Debug, Clone)]
struct Span {
    trace: String,
    id: String,
    parent: String,
    name: String,
    attributes: BTreeMap<String, String>,
    error: Option<String>,
    service: String,
}

/// An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1, stopped when dropped.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    kept.lock().unwrap().extend(spans_of(request));
                    (
                        [("content-type", "application/x-protobuf")],
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            url,
            spans,
            stop: Some(stop),
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (at most 60 s) for a span that `found` accepts.
    async fn wait_for(&self, what: &str, host: &Host, found: impl Fn(&Span) -> bool) -> Span {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(span) = self.spans().into_iter().find(|s| found(s)) {
                return span;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} span within 60s; spans: {:#?}\nhost log:\n{}",
                self.spans(),
                host.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn spans_of(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut spans = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                let status = span.status.unwrap_or_default();
                spans.push(Span {
                    trace: hex(&span.trace_id),
                    id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| {
                            Some((kv.key.clone(), text(kv.value.as_ref()?.value.as_ref()?)?))
                        })
                        .collect(),
                    // Status code 2 is ERROR.
                    error: (status.code == 2).then_some(status.message),
                    service: service.clone(),
                });
            }
        }
    }
    spans
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(n) => Some(n.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spans from `span` up to its trace's root, by name.
fn ancestry(spans: &[Span], span: &Span) -> Vec<String> {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut chain = vec![span.name.clone()];
    let mut at = span;
    while let Some(parent) = by_id.get(at.parent.as_str()) {
        chain.push(parent.name.clone());
        at = parent;
    }
    chain
}

/// The trace as an indented tree, for people to read.
fn tree(spans: &[Span], trace: &str) -> String {
    fn walk(spans: &[&Span], at: &Span, depth: usize, out: &mut String) {
        let keys = ["event_id", "plugin", "outcome", "message_id"];
        let attributes: Vec<String> = keys
            .iter()
            .filter_map(|k| at.attributes.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        out.push_str(&format!(
            "{}{} [{}]\n",
            "  ".repeat(depth),
            at.name,
            attributes.join(" ")
        ));
        for child in spans.iter().filter(|s| s.parent == at.id) {
            walk(spans, child, depth + 1, out);
        }
    }
    let in_trace: Vec<&Span> = spans.iter().filter(|s| s.trace == trace).collect();
    let ids: Vec<&str> = in_trace.iter().map(|s| s.id.as_str()).collect();
    let mut out = String::new();
    for root in in_trace
        .iter()
        .filter(|s| !ids.contains(&s.parent.as_str()))
    {
        walk(&in_trace, root, 0, &mut out);
    }
    out
}

const TABLE: &str = r#"
[tables.orders]
key = "orderId"
"#;

/// The pipe, its plugins, the bus and the queue; `consumer` adds the queue's consumer.
fn pipeline(consumer: bool) -> String {
    let consumer = if consumer {
        r#"
[consumers.notify]
queue = "notifications"
handler = "notify"
"#
    } else {
        ""
    };
    format!(
        r#"
[plugins.high-value]
world = "filter"
wasm = "{high_value}"
config = {{ threshold = 100 }}

[plugins.customer-tier]
world = "enricher"
wasm = "{tier}"
config = {{ "tier.c-1" = "gold", default = "standard" }}

[plugins.notify]
world = "consumer"
wasm = "{notify}"

[pipes.orders]
source = "orders"
filter = ['{{"eventName": ["INSERT"]}}']
filter_plugin = "high-value"
enrichment = "customer-tier"
target = {{ bus = "orders", detail_type = "OrderCreated", source = "switchyard.orders" }}

[buses.orders.rules.new-orders]
pattern = '{{"source": ["switchyard.orders"]}}'
targets = [{{ queue = "notifications" }}]

[queues.notifications]
{consumer}"#,
        high_value = wasm("high_value.wasm"),
        tier = wasm("customer_tier.wasm"),
        notify = wasm("notify.wasm"),
    )
}

fn traced(receiver: &Receiver, routes: &str) -> String {
    format!(
        "[host.traces]\notlp_endpoint = \"{}\"\nservice_name = \"orders-test\"\n{routes}",
        receiver.url
    )
}

/// Spans leave the host within 100 ms rather than the default 5 s.
const QUICK_EXPORT: [(&str, &str); 1] = [("OTEL_BSP_SCHEDULE_DELAY", "100")];

/// The names of the spans that make one order's trace, in the order the order meets them.
const PATH: [&str; 9] = [
    "write orders",
    "pipe orders",
    "filter high-value",
    "enricher customer-tier",
    "rule orders/new-orders",
    "send notifications",
    "deliver orders",
    "consume notifications",
    "consumer notify",
];

fn assert_one_trace(spans: &[Span], write: &Span) {
    for name in PATH {
        let span = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no `{name}` span in {spans:#?}"));
        assert_eq!(span.trace, write.trace, "`{name}` is in the write's trace");
        assert_eq!(span.error, None, "`{name}` did not fail");
        assert_eq!(span.service, "orders-test");
    }
    let named = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        ancestry(spans, named("consumer notify")),
        [
            "consumer notify",
            "consume notifications",
            "send notifications",
            "rule orders/new-orders",
            "pipe orders",
            "write orders"
        ],
        "the consumer's plugin call reaches the write through the message, the rule and the pipe"
    );
    for (child, parent) in [
        ("filter high-value", "pipe orders"),
        ("enricher customer-tier", "pipe orders"),
        ("deliver orders", "pipe orders"),
    ] {
        assert_eq!(
            named(child).parent,
            named(parent).id,
            "`{child}` is under `{parent}`"
        );
    }
    assert_eq!(write.parent, "", "the write is the trace's root");
    assert_eq!(named("filter high-value").attributes["outcome"], "keep");
    assert_eq!(named("pipe orders").attributes["outcome"], "delivered");
    assert_eq!(named("consume notifications").attributes["outcome"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_one_trace_from_its_write_to_the_consumers_outcome() {
    common::build_rust_plugins();
    let receiver = Receiver::start().await;
    let routes = traced(&receiver, &format!("{TABLE}{}", pipeline(true)));
    let mut host = Host::start_env(&routes, &[], &QUICK_EXPORT);
    let client = Host::client();
    post(
        &client,
        &host,
        json!({"orderId": "o-1", "customerId": "c-1", "total": 250}),
    )
    .await;
    receiver
        .wait_for("consumer outcome", &host, |s| {
            s.name == "consume notifications" && s.attributes.contains_key("outcome")
        })
        .await;
    assert!(host.terminate().success());
    let spans = receiver.spans();
    let write = spans.iter().find(|s| s.name == "write orders").unwrap();
    println!("{}", tree(&spans, &write.trace));
    assert_one_trace(&spans, write);
    assert_eq!(
        spans.iter().filter(|s| s.trace == write.trace).count(),
        PATH.len(),
        "one span per step: {}",
        tree(&spans, &write.trace)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_after_a_restart_join_the_trace_of_the_write_before_it() {
    common::build_rust_plugins();
    let receiver = Receiver::start().await;
    // First the table alone: the change record waits in the stream with the write's context.
    let mut host = Host::start_env(&traced(&receiver, TABLE), &[], &QUICK_EXPORT);
    let client = Host::client();
    post(
        &client,
        &host,
        json!({"orderId": "o-2", "customerId": "c-1", "total": 300}),
    )
    .await;
    assert!(host.terminate().success());
    let write = receiver
        .wait_for("write", &host, |s| s.name == "write orders")
        .await;
    // Then the pipe, with no consumer: the message waits on the queue with its context.
    let routes = traced(&receiver, &format!("{TABLE}{}", pipeline(false)));
    std::fs::write(host.routes_path(), routes).unwrap();
    host.restart();
    receiver
        .wait_for("send", &host, |s| s.name == "send notifications")
        .await;
    assert!(host.terminate().success());
    // Then the consumer.
    let routes = traced(&receiver, &format!("{TABLE}{}", pipeline(true)));
    std::fs::write(host.routes_path(), routes).unwrap();
    host.restart();
    receiver
        .wait_for("consumer outcome", &host, |s| {
            s.name == "consume notifications" && s.attributes.contains_key("outcome")
        })
        .await;
    assert!(host.terminate().success());
    let spans = receiver.spans();
    println!("{}", tree(&spans, &write.trace));
    assert_one_trace(&spans, &write);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_or_an_event_that_comes_with_a_trace_context_joins_the_callers_trace() {
    common::build_rust_plugins();
    let receiver = Receiver::start().await;
    let routes = traced(&receiver, &format!("{TABLE}{}", pipeline(true)));
    let mut host = Host::start_env(&routes, &[], &QUICK_EXPORT);
    let client = Host::client();

    // A W3C traceparent on the order API's write.
    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let reply = client
        .post(format!("{}/orders", host.url))
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .json(&json!({"orderId": "o-3", "customerId": "c-1", "total": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    // Handled before the next, so that the two are not one consumer batch (whose plugin call
    // is a span of its first message's trace only).
    receiver
        .wait_for("the consumer's outcome in the caller's trace", &host, |s| {
            s.trace == trace && s.name == "consumer notify"
        })
        .await;
    // X-Ray's header, as PutEvents' TraceHeader, on an event put straight on the bus.
    let (root, parent) = ("5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8");
    let put = client
        .post(format!("{}/", host.url))
        .header("x-amz-target", "AWSEvents.PutEvents")
        .header("content-type", "application/x-amz-json-1.1")
        .body(
            json!({"Entries": [{
                "EventBusName": "orders",
                "Source": "switchyard.orders",
                "DetailType": "OrderCreated",
                "Detail": "{\"orderId\": \"o-4\"}",
                "TraceHeader": format!("Root=1-{root};Parent={parent};Sampled=1"),
            }]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let xray_trace = root.replace('-', "");
    receiver
        .wait_for(
            "the consumer's outcome in the TraceHeader's trace",
            &host,
            |s| s.trace == xray_trace && s.name == "consumer notify",
        )
        .await;
    assert!(host.terminate().success());
    let spans = receiver.spans();
    let named = |trace: &str, name: &str| {
        let found = spans.iter().find(|s| s.trace == trace && s.name == name);
        found.unwrap_or_else(|| panic!("no `{name}` span in:\n{}", tree(&spans, trace)))
    };
    let the_consumer = [
        "consumer notify",
        "consume notifications",
        "send notifications",
        "rule orders/new-orders",
    ];
    assert_eq!(
        named(trace, "POST /orders").parent,
        caller,
        "the request is the caller's span's child"
    );
    let from_the_write = ["pipe orders", "write orders", "POST /orders"];
    assert_eq!(
        ancestry(&spans, named(trace, "consumer notify")),
        [&the_consumer[..], &from_the_write].concat()
    );
    assert_eq!(
        named(&xray_trace, "put orders").parent,
        parent,
        "the put is the TraceHeader's span's child"
    );
    assert_eq!(
        ancestry(&spans, named(&xray_trace, "consumer notify")),
        [&the_consumer[..], &["put orders"]].concat()
    );
}
