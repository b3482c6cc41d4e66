//! Event-pattern matching: one 5-field pattern against a 1 KiB order event (already read, and
//! from JSON text), and a bus of 100 such rules. Run: `cargo bench -p switchyard --bench patterns`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use switchyard::pattern::{Pattern, RuleSet};

mod fixtures;
use fixtures::{bus_sources, order_event, rule};

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
    let sources = bus_sources();
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
