//! What ODSL entities cost, measured outside criterion so that a busy machine does not blur
//! the figures:
//!
//! 1. memory: fills a ring with 1,000,000 entities of 1,000 series (as the collector would)
//!    and reads the resident set size before and after (Linux `/proc/self/status`);
//! 2. ingest: runs the collector-and-shard path of a 100-event batch (admit, route, apply)
//!    without and with capture (encode + ring push), interleaved 20,000 times, and compares
//!    the medians of the per-batch times (medians ignore the moments the thread was preempted).
//!
//! `cargo run --release --example entity_costs` (add `unique` to give every entity a tag
//! value of its own, as an `invocationId` would: then each entity carries a whole series).

use meterd::aggregate::ShardState;
use meterd::collector::route;
use meterd::config::Pipeline;
use meterd::model::{Event, Kind, Scope, SeriesKey};
use meterd::registry::entities::{Encoder, EntityStore, Interner, Pending, RECORD_BYTES};
use meterd::registry::Registry;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../common/batch.rs"]
mod common_batch;

const ENTITIES: usize = 1_000_000;
const SERIES: usize = 1_000;
const ROUNDS: usize = 20_000;

/// Resident set size in bytes (0 where `/proc` is missing).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

fn memory(unique: bool) {
    let before = rss();
    let mut interner = Interner::default();
    let mut store = EntityStore::new(Duration::from_secs(86_400), ENTITIES);
    for chunk in 0..ENTITIES / 1000 {
        let batch: Vec<Pending> = (0..1000)
            .map(|j| {
                let i = chunk * 1000 + j;
                let key = SeriesKey::simple(
                    Scope::Application,
                    &format!("app.metric{}", i % SERIES / 10),
                    vec![
                        ("host".into(), format!("web{}", i % 10).into()),
                        (
                            "invocationId".into(),
                            if unique {
                                format!("{i:016x}").into()
                            } else {
                                "-".into()
                            },
                        ),
                        ("route".into(), "/api/v1/orders".into()),
                    ],
                );
                Pending {
                    entry: interner.intern(&key, Kind::Counter),
                    value: i as f64,
                    timestamp_ms: 1_732_060_800_000 + i as i64,
                }
            })
            .collect();
        store.push(batch, 1_732_060_800_000);
    }
    let after = rss();
    let per = after.saturating_sub(before) as f64 / ENTITIES as f64;
    println!(
        "memory: {} entities of {} series: resident set {:.1} MiB -> {:.1} MiB = {per:.1} bytes \
         per entity (a record is {RECORD_BYTES} bytes; the ring's capacity is a power of two)",
        store.len(),
        interner.len(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
    );
}

/// The 100-event batch of the ingest bench.
fn batch(pipeline: &Pipeline) -> Vec<Event> {
    common_batch::events(pipeline)
}

/// One collector-and-shard path with its own state.
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

    /// (whole path, capture part) in nanoseconds.
    fn run(&mut self, batch: Vec<Event>, capture: bool) -> (u64, u64) {
        let started = Instant::now();
        self.registry.admit(&batch).unwrap();
        let t = Instant::now();
        let pending = capture.then(|| self.encoder.encode(&mut self.interner, &batch));
        let mut captured = t.elapsed();
        self.now += 1_000;
        for part in route(batch, 2) {
            black_box(self.state.apply(part, self.now));
        }
        if let Some(pending) = pending {
            let t = Instant::now();
            black_box(self.store.push(pending, 1_700_000_000_000));
            captured += t.elapsed();
        }
        (
            started.elapsed().as_nanos() as u64,
            captured.as_nanos() as u64,
        )
    }
}

fn median(mut v: Vec<u64>) -> f64 {
    v.sort_unstable();
    v[v.len() / 2] as f64 / 1000.0
}

fn ingest() {
    let pipeline = Pipeline::default();
    let events = batch(&pipeline);
    let (mut without, mut with) = (Path::new(&pipeline), Path::new(&pipeline));
    // Fill the ring first: the steady state drops the oldest entity for each new one.
    while with.store.len() < pipeline.entities.max {
        with.run(events.clone(), true);
        without.run(events.clone(), false);
    }
    let (mut a, mut b, mut part) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(without.run(events.clone(), false).0);
        let (total, captured) = with.run(events.clone(), true);
        b.push(total);
        part.push(captured);
    }
    let (a, b, part) = (median(a), median(b), median(part));
    println!(
        "ingest: 100-event batch, median of {ROUNDS}: admit+route+apply {a:.1} µs, with capture \
         {b:.1} µs (capture itself {part:.1} µs) = {:.3}x the time, {:.1}% fewer events/s per core",
        b / a,
        (1.0 - a / b) * 100.0
    );
}

fn main() {
    if std::env::args().any(|a| a == "unique") {
        memory(true);
    } else {
        memory(false);
        ingest();
    }
}
