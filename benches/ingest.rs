//! Hot paths of native ingest: decode + validate + route a 100-event JSON batch, the registry's
//! type check of it (the collector's admission), and apply it to a shard's state.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::aggregate::ShardState;
use meterd::collector::route;
use meterd::config::Pipeline;
use meterd::ingest::{json::decode_json, IngestContext};
use meterd::model::ServicePath;
use meterd::registry::Registry;

#[path = "common/batch.rs"]
mod common_batch;

fn ingest(c: &mut Criterion) {
    let body = common_batch::body();
    let pipeline = Pipeline::default();
    let path = ServicePath::root();
    let ctx = IngestContext {
        service: "default-service",
        service_path: &path,
        now_ms: 1_700_000_000_000,
        pipeline: &pipeline,
    };
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(100));
    group.bench_function("decode_validate_route_100", |b| {
        b.iter(|| {
            let events = decode_json(black_box(body.as_bytes()), &ctx).unwrap();
            black_box(route(events, 2))
        })
    });
    let events = decode_json(body.as_bytes(), &ctx).unwrap();
    let mut registry = Registry::default();
    registry.admit(&events).unwrap();
    group.bench_function("registry_admit_100", |b| {
        b.iter(|| registry.admit(black_box(&events)).unwrap())
    });
    let mut state = ShardState::new(pipeline.aggregate_settings());
    let mut now = 0u64;
    group.bench_function("apply_100", |b| {
        b.iter_batched(
            || events.clone(),
            |batch| {
                now += 1_000;
                state.apply(batch, now)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    // At the wall-clock time of the events (as the server applies them): every sample lands
    // in its tiers' open buckets.
    let mut state = ShardState::new(pipeline.aggregate_settings());
    group.bench_function("apply_at_now_100", |b| {
        b.iter_batched(
            || events.clone(),
            |batch| {
                now += 1_000;
                state.apply_at(batch, now, 1_700_000_000_000)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
