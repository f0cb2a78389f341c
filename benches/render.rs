//! Reads: a Prometheus render of 10,000 series, and a get-and-reset (drain) of 10,000 series.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::aggregate::{AggregateSettings, ShardState};
use meterd::model::Selector;
use meterd::model::{Event, Kind, Op, Scope, SeriesKey};
use meterd::registry::{assemble, Registry};
use meterd::render;

/// 10,000 series over 100 families of every kind, 10 events each.
fn events() -> Vec<Event> {
    let kinds = [
        Kind::Counter,
        Kind::Gauge,
        Kind::Meter,
        Kind::Histogram,
        Kind::Timer,
    ];
    let mut out = Vec::new();
    for f in 0..100 {
        for s in 0..100 {
            for v in 0..10 {
                out.push(Event {
                    key: SeriesKey::simple(
                        Scope::Application,
                        &format!("family.m{f}"),
                        vec![
                            ("host".into(), format!("h{s}").into()),
                            ("zone".into(), "eu".into()),
                        ],
                    ),
                    kind: kinds[f % 5],
                    value: (v * 100 + s) as f64,
                    op: Op::Observe,
                    timestamp_ms: 1_700_000_000_000,
                    meta: None,
                });
            }
        }
    }
    out
}

fn reads(c: &mut Criterion) {
    let events = events();
    let mut registry = Registry::default();
    registry.admit(&events).unwrap();
    let mut state = ShardState::new(AggregateSettings::default());
    state.apply(events.clone(), 1);
    let sel = Selector::default();

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(20);
    group.bench_function("prometheus_render_10k_series", |b| {
        let snapshot = assemble(state.collect(&sel, 10_000_000_000), &registry, vec![]);
        let mut out = String::with_capacity(4 << 20);
        b.iter(|| {
            out.clear();
            render::prometheus(black_box(&snapshot), &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("collect_assemble_render_10k_series", |b| {
        let mut out = String::with_capacity(4 << 20);
        b.iter(|| {
            out.clear();
            let snapshot = assemble(state.collect(&sel, 10_000_000_000), &registry, vec![]);
            render::prometheus(&snapshot, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("drain_10k_series", |b| {
        b.iter_batched(
            || {
                let mut s = ShardState::new(AggregateSettings::default());
                s.apply(events.clone(), 1);
                s
            },
            |mut s| black_box(s.drain(&sel, 10_000_000_000).len()),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
