//! Event-pattern matching: one 5-field pattern against a 1 KiB order event (already read, and
//! from JSON text), and a bus of 100 such rules. Run: `cargo bench -p switchyard --bench patterns`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use switchyard::pattern::{Pattern, RuleSet};

/// An EventBridge envelope around an order, about 1 KiB of JSON.
fn order_event() -> String {
    let lines: Vec<String> = (0..6)
        .map(|i| {
            format!(
                r#"{{"sku": "SKU-{i:04}", "name": "Item number {i}", "qty": {}, "price": {}.95}}"#,
                i + 1,
                10 + i
            )
        })
        .collect();
    let event = format!(
        r#"{{"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "OrderCreated",
  "source": "shop.orders", "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": "us-east-1",
  "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/orders"],
  "detail": {{"orderId": "01a20e39-403a-7352-9153-af7af93bf26c", "customerId": "c-1042", "status": "paid",
    "total": 412.5, "currency": "EUR", "createdAt": "2026-11-24T10:00:00.000Z", "version": 1,
    "shipping": {{"street": "1 Long Street", "city": "Lisbon", "country": "PT", "postcode": "1100-001"}},
    "lines": [{}]}}}}"#,
        lines.join(", ")
    );
    assert!(
        (900..1300).contains(&event.len()),
        "about 1 KiB: {}",
        event.len()
    );
    event
}

/// Five fields: exact, prefix, numeric range, anything-but, exists.
fn rule(source: &str) -> String {
    format!(
        r#"{{"source": ["{source}"], "detail-type": [{{"prefix": "Order"}}],
  "detail": {{"total": [{{"numeric": [">", 100, "<=", 10000]}}], "status": [{{"anything-but": ["cancelled", "failed"]}}],
  "customerId": [{{"exists": true}}]}}}}"#
    )
}

fn patterns(c: &mut Criterion) {
    let text = order_event();
    let pattern = Pattern::compile(&rule("shop.orders")).expect("the pattern compiles");
    let event = pattern.read(&text).expect("the event reads");
    assert!(pattern.matches(&event));

    c.bench_function("pattern/5 fields, event already read", |b| {
        b.iter(|| pattern.matches(black_box(&event)))
    });
    c.bench_function("pattern/5 fields, from JSON text", |b| {
        b.iter(|| {
            pattern
                .matches_json(black_box(&text))
                .expect("the event reads")
        })
    });

    // A bus: 100 rules for 100 sources, 3 of them this event's.
    let sources: Vec<String> = (0..100)
        .map(|i| {
            if i % 40 == 0 {
                "shop.orders".to_string()
            } else {
                format!("shop.service-{i}")
            }
        })
        .collect();
    let bus = RuleSet::new(sources.iter().map(|s| rule(s))).expect("the rules compile");
    assert_eq!(bus.matching_json(&text).expect("the event reads").len(), 3);
    c.bench_function("bus/100 rules, from JSON text", |b| {
        b.iter(|| {
            bus.matching_json(black_box(&text))
                .expect("the event reads")
        })
    });

    // The worst case for the index: every rule names this event's source, so all 100 are tested.
    let same = RuleSet::new((0..100).map(|_| rule("shop.orders"))).expect("the rules compile");
    assert_eq!(
        same.matching_json(&text).expect("the event reads").len(),
        100
    );
    c.bench_function("bus/100 rules all for this source, from JSON text", |b| {
        b.iter(|| {
            same.matching_json(black_box(&text))
                .expect("the event reads")
        })
    });
}

criterion_group!(benches, patterns);
criterion_main!(benches);
