//! ODSL metric entities: what capturing them costs the ingest path, and how long the metric
//! service takes over a full ring of 1,000,000 entities.
//!
//! `odsl_capture`: the collector-and-shard path of a 100-event batch (admit, route, apply to
//! the shard state) without and with entity capture (encode on the collector plus the ring
//! push on the keeper), interleaved in the same run; their ratio is the cost of capture on
//! ingest. `encode_100` and `push_100_full_ring` are its two parts.
//! `odsl_query`: a `P1D` summed aggregation, an hourly averaged one with a tag filter, and a
//! newest-first page, each over 1,000,000 entities of 100 series spread over one day.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use meterd::aggregate::ShardState;
use meterd::collector::route;
use meterd::config::Pipeline;
use meterd::model::{Event, Kind, Scope, SeriesKey};
use meterd::query::odsl::{answer, parse, OdslRequest};
use meterd::registry::entities::{Encoder, EntityStore, Interner, Pending, SeriesEntry};
use meterd::registry::Registry;
use std::time::{Duration, Instant};

#[path = "common/batch.rs"]
mod common_batch;

/// The 100-event batch of the ingest bench.
fn batch(pipeline: &Pipeline) -> Vec<Event> {
    common_batch::events(pipeline)
}

/// The collector-and-shard path of one batch, with or without entity capture.
struct Path {
    registry: Registry,
    state: ShardState,
    encoder: Encoder,
    interner: Interner,
    store: EntityStore,
    now: u64,
}

impl Path {
    fn new(pipeline: &Pipeline) -> Self {
        Path {
            registry: Registry::default(),
            state: ShardState::new(pipeline.aggregate_settings()),
            encoder: Encoder::new(&pipeline.rules),
            interner: Interner::default(),
            store: EntityStore::new(pipeline.entities.retention, pipeline.entities.max),
            now: 0,
        }
    }

    /// Admit, (capture,) route to two shards, apply, (push into the ring); the time taken.
    fn run(&mut self, batch: Vec<Event>, capture: bool) -> Duration {
        let started = Instant::now();
        self.registry.admit(&batch).unwrap();
        let pending = capture.then(|| self.encoder.encode(&mut self.interner, &batch));
        self.now += 1_000;
        for part in route(batch, 2) {
            black_box(self.state.apply(part, self.now));
        }
        if let Some(pending) = pending {
            black_box(self.store.push(pending, 1_700_000_000_000));
        }
        started.elapsed()
    }
}

fn capture(c: &mut Criterion) {
    let pipeline = Pipeline::default();
    let events = batch(&pipeline);
    let mut group = c.benchmark_group("odsl_capture");
    group.throughput(Throughput::Elements(events.len() as u64));

    // Both variants run in every iteration, alternately, each on its own state; each bench
    // times only its own variant. So both see the same machine load and cache pressure (the
    // bench machine is shared), and their ratio is the cost of capture.
    let mut without = Path::new(&pipeline);
    let mut with = Path::new(&pipeline);
    for (name, timed_capture) in [
        ("admit_route_apply_100", false),
        ("admit_capture_route_apply_100", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let a = without.run(events.clone(), false);
                    let b = with.run(events.clone(), true);
                    timed += if timed_capture { b } else { a };
                }
                timed
            })
        });
    }

    let mut encoder = Encoder::new(&pipeline.rules);
    let mut interner = Interner::default();
    group.bench_function("encode_100", |b| {
        b.iter(|| black_box(encoder.encode(&mut interner, &events)))
    });
    let pending = encoder.encode(&mut interner, &events);
    let mut store = with.store;
    group.bench_function("push_100_full_ring", |b| {
        b.iter_batched(
            || pending.clone(),
            |batch| black_box(store.push(batch, 1_700_000_000_000)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

const ENTITIES: usize = 1_000_000;
/// 2024-11-20T00:00:00Z.
const DAY: i64 = 1_732_060_800_000;

/// A full ring: 1,000,000 entities of 100 series (10 applications × 10 hosts), one day.
fn full_store() -> EntityStore {
    let mut interner = Interner::default();
    let mut store = EntityStore::new(Duration::from_secs(86_400), ENTITIES);
    let entries: Vec<_> = (0..100)
        .map(|i| {
            let mut key = SeriesKey::simple(
                Scope::Application,
                "ReadRequests",
                vec![
                    ("application".into(), format!("app{}", i % 10).into()),
                    ("host".into(), format!("host{}", i / 10).into()),
                ],
            );
            key.service = "shop".into();
            interner.intern(&key, Kind::Counter)
        })
        .collect();
    let step = 86_400_000 / ENTITIES as i64;
    for chunk in 0..ENTITIES / 1000 {
        let batch = (0..1000)
            .map(|j| {
                let i = chunk * 1000 + j;
                Pending {
                    entry: entries[i % 100].clone(),
                    value: (i % 7) as f64,
                    timestamp_ms: DAY + i as i64 * step,
                }
            })
            .collect();
        store.push(batch, DAY);
    }
    store
}

fn request(query: &[(&str, &str)]) -> OdslRequest {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse(&pairs, DAY).unwrap()
}

fn no_units(_: &SeriesEntry) -> Option<String> {
    None
}

fn query(c: &mut Criterion) {
    let store = full_store();
    let mut group = c.benchmark_group("odsl_query");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ENTITIES as u64));
    let cases = [
        (
            "p1d_summed_1m",
            request(&[
                ("_metric", "shop/ReadRequests"),
                ("_calendar", "#P1D"),
                ("_observed", "summed"),
            ]),
        ),
        (
            "pt1h_averaged_filtered_1m",
            request(&[
                ("_metric", "shop/ReadRequests"),
                ("_calendar", "#PT1H"),
                ("_observed", "averaged"),
                ("_filter", r#"{"application":"app3"}"#),
                ("_range", "2024-11-20"),
            ]),
        ),
        ("list_newest_100_of_1m", request(&[("provider", "shop")])),
    ];
    for (name, req) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(answer(&store, req, &no_units)))
        });
    }
    group.finish();
}

criterion_group!(benches, capture, query);
criterion_main!(benches);
