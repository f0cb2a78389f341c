//! Measures the figures of the downsampled history: bytes per closed bucket on disk for a few
//! workloads, and resident memory growth for 100,000 gauge series pushed over HTTP to a real
//! server with the default tiers.
//!
//! `cargo run --release --example history_figures -- disk|shard|server` (one figure per process,
//! so that memory freed by one measurement does not hide the growth of the next).

use meterd::aggregate::downsample::TierSpec;
use meterd::aggregate::{AggregateSettings, HistorySetup, ShardState};
use meterd::app::{spawn, Options};
use meterd::config::Tier;
use meterd::model::{Event, Kind, Op, Scope, SeriesKey};
use meterd::persist::history::HistoryStore;
use std::sync::Arc;

const NOW: i64 = 1_700_002_800_000;

fn tiers() -> Vec<TierSpec> {
    Tier::defaults().iter().map(Tier::spec).collect()
}

fn temp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("meterd-figures-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A small deterministic generator (no dependency needed for this).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

/// Pushes `samples(series, step)` for 1,000 series over the 6 hours before NOW, writes the
/// history and reports the store's size per bucket.
fn disk(name: &str, kind: Kind, every_ms: i64, value: impl Fn(&mut Lcg, i64) -> f64) {
    let dir = temp(name);
    let store = Arc::new(HistoryStore::open(&dir, &tiers()).expect("store"));
    let setup = HistorySetup {
        tiers: tiers().into(),
        store: Some(store.clone()),
        shard: 0,
        shards: 1,
        first_tier: Arc::new(|_| 0),
    };
    let mut shard = ShardState::with_history(AggregateSettings::default(), setup);
    let mut rng = Lcg(7);
    let span = 6 * 3_600_000 - 60_000;
    let mut step = 0;
    let mut t = NOW - span;
    while t < NOW {
        let events: Vec<Event> = (0..1000)
            .map(|i| Event {
                key: SeriesKey::simple(
                    Scope::Application,
                    name,
                    vec![("host".into(), format!("h{i}").into())],
                ),
                kind,
                value: value(&mut rng, step),
                op: Op::Observe,
                timestamp_ms: t,
                meta: None,
            })
            .collect();
        // Arriving as it happens: the clock follows the samples.
        shard.apply_at(events, 0, t);
        if step % 60 == 0 {
            if let Some(f) = shard.tick(t) {
                store.write(&f).expect("write");
            }
        }
        step += 1;
        t += every_ms;
    }
    // Close every open bucket (an hour later) and write it.
    if let Some(f) = shard.tick(NOW + 3_600_000) {
        store.write(&f).expect("write");
    }
    let s = store.stats().expect("stats");
    let per = |b: u64| b as f64 / s.buckets as f64;
    println!(
        "{name:<27} {:>8} buckets: encoded {:>5.2} B, stored (keys+values) {:>5.2} B, \
         file {:>5.2} B ({:>5.2} B of it free pages) per bucket",
        s.buckets,
        per(s.block_bytes),
        per(s.stored_bytes),
        per(s.file_bytes),
        per(s.fragmented_bytes),
    );
    drop(shard);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn memory() {
    let dir = temp("rss");
    let mut opts = Options::for_tests(dir.clone());
    opts.workers = 1;
    let running = spawn(opts).expect("server");
    let url = running.url("/api/v1/events");
    let push = |from: usize, to: usize, value: f64| {
        let batch: Vec<serde_json::Value> = (from..to)
            .map(|i| {
                serde_json::json!({"name": "mem.gauge", "type": "gauge", "value": value,
                "tags": {"id": i.to_string()}})
            })
            .collect();
        ureq::post(&url)
            .send_json(serde_json::Value::Array(batch))
            .expect("push");
    };
    // Warm up: one series, one flush, so that the baseline holds the server's own state.
    push(0, 1, 1.0);
    running.flush_history();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = rss_kib();
    for chunk in 0..20 {
        push(chunk * 5000, (chunk + 1) * 5000, 1.5);
    }
    // Every series is written to the store with its next flush.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    running.flush_history();
    let after = rss_kib();
    for chunk in 0..20 {
        push(chunk * 5000, (chunk + 1) * 5000, 2.5);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    running.flush_history();
    let again = rss_kib();
    println!(
        "100,000 gauge series: RSS {before} KiB -> {after} KiB (+{} KiB, {:.0} B/series); \
         after a second sample each: {again} KiB",
        after - before,
        (after - before) as f64 * 1024.0 / 100_000.0
    );
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same 100,000 series in one shard, in this process: the shard's own memory, then what
/// writing them to the store adds (redb's page cache, bounded by `CACHE_BYTES`).
fn shard_memory() {
    let dir = temp("shard");
    let store = Arc::new(HistoryStore::open(&dir, &tiers()).expect("store"));
    let setup = HistorySetup {
        tiers: tiers().into(),
        store: Some(store.clone()),
        shard: 0,
        shards: 1,
        first_tier: Arc::new(|_| 0),
    };
    let mut shard = ShardState::with_history(AggregateSettings::default(), setup);
    let before = rss_kib();
    for chunk in 0..20 {
        let events: Vec<Event> = (chunk * 5000..(chunk + 1) * 5000)
            .map(|i| Event {
                key: SeriesKey::simple(
                    Scope::Application,
                    "mem.gauge",
                    vec![("id".into(), i.to_string().into())],
                ),
                kind: Kind::Gauge,
                value: 1.5,
                op: Op::Observe,
                timestamp_ms: NOW,
                meta: None,
            })
            .collect();
        shard.apply_at(events, 0, NOW);
    }
    let live = rss_kib();
    if let Some(f) = shard.tick(NOW + 60_000) {
        store.write(&f).expect("write");
    }
    shard.tick(NOW + 60_000);
    let written = rss_kib();
    println!(
        "one shard, 100,000 gauge series: +{} KiB live ({:.0} B/series); after their first \
         buckets are written: +{} KiB more (store page cache, at most {} MiB)",
        live - before,
        (live - before) as f64 * 1024.0 / 100_000.0,
        written.saturating_sub(live),
        meterd::persist::history::CACHE_BYTES >> 20
    );
    drop(shard);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("disk") => {
            println!(
                "Bytes per closed bucket on disk (1,000 series, 6 h of samples, default tiers):"
            );
            disk("counter_int_every_10s", Kind::Counter, 10_000, |r, _| {
                (r.next() % 20) as f64
            });
            disk("gauge_decimal_every_10s", Kind::Gauge, 10_000, |r, s| {
                20.0 + (s % 100) as f64 / 10.0 + (r.next() % 10) as f64 / 10.0
            });
            disk("gauge_decimal_every_1s", Kind::Gauge, 1_000, |r, s| {
                20.0 + (s % 100) as f64 / 10.0 + (r.next() % 10) as f64 / 10.0
            });
            disk("timer_ms_3dp_every_1s", Kind::Timer, 1_000, |r, _| {
                (r.next() % 500_000) as f64 / 1000.0
            });
            disk("gauge_random_f64_every_10s", Kind::Gauge, 10_000, |r, _| {
                (r.next() as f64 / (1u64 << 53) as f64) * 100.0
            });
        }
        Some("shard") => shard_memory(),
        Some("server") => memory(),
        _ => eprintln!("usage: history_figures disk|shard|server"),
    }
}
