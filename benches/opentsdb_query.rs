//! A one-day OpenTSDB query over 1,000 gauge series: reading the minute tier from the history
//! store through a shard (stored blocks merged with what is in flight) and evaluating
//! `sum:1h-avg` over it.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::aggregate::downsample::TierSpec;
use meterd::aggregate::{AggregateSettings, HistorySetup, ShardState};
use meterd::config::Tier;
use meterd::model::{Event, Kind, Op, Scope, SeriesKey};
use meterd::persist::history::HistoryStore;
use meterd::query::opentsdb::{choose_tier, evaluate, parse_m, TsQuery};
use std::sync::Arc;

const SERIES: usize = 1_000;
const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 1_700_002_800_000;

fn tiers() -> Vec<TierSpec> {
    Tier::defaults().iter().map(Tier::spec).collect()
}

/// A shard whose store holds one day of one sample a minute for each series.
fn loaded(dir: &std::path::Path) -> ShardState {
    let store = Arc::new(HistoryStore::open(dir, &tiers()).expect("store"));
    let setup = HistorySetup {
        tiers: tiers().into(),
        store: Some(store.clone()),
        shard: 0,
        shards: 1,
        first_tier: Arc::new(|_| 0),
    };
    let mut shard = ShardState::with_history(AggregateSettings::default(), setup);
    for minute in 0..1440i64 {
        let at = NOW - DAY_MS + minute * 60_000;
        let events: Vec<Event> = (0..SERIES)
            .map(|i| Event {
                key: SeriesKey::simple(
                    Scope::Application,
                    "sys.cpu.user",
                    vec![("host".into(), format!("web{i:04}").into())],
                ),
                kind: Kind::Gauge,
                value: ((i as i64 * 7 + minute) % 1000) as f64 / 10.0,
                op: Op::Observe,
                timestamp_ms: at,
                meta: None,
            })
            .collect();
        shard.apply_at(events, 0, NOW);
        if minute % 60 == 59 {
            if let Some(flush) = shard.tick(NOW) {
                store.write(&flush).expect("write");
            }
        }
    }
    if let Some(flush) = shard.tick(NOW) {
        store.write(&flush).expect("write");
    }
    shard.tick(NOW);
    shard
}

fn query(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("meterd-bench-query-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shard = loaded(&dir);
    let q = TsQuery {
        start: NOW - DAY_MS + 60_000,
        end: NOW,
        queries: vec![parse_m("sum:1h-avg:sys.cpu.user").expect("m")],
        ms_resolution: false,
    };
    let sub = &q.queries[0];
    let tier = choose_tier(&tiers(), NOW, q.start, Some(3_600_000));
    assert_eq!(tier, 1, "one day is read from the minute tier");
    let spec = tiers()[tier];
    let read = || {
        let series = shard
            .match_series(&sub.metric, &|k| sub.keeps(k))
            .expect("match");
        shard
            .read_history(series, tier, (q.start, q.end), NOW)
            .expect("read")
    };
    let data = read();
    assert_eq!(data.len(), SERIES);
    assert!(data.iter().all(|s| s.points.len() >= 1439));

    let mut group = c.benchmark_group("opentsdb_query");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("read_1d_1000_series", |b| b.iter(|| black_box(read())));
    group.bench_function("evaluate_sum_1h_avg", |b| {
        b.iter(|| black_box(evaluate(&q, sub, &spec, data.clone()).expect("evaluate")))
    });
    group.bench_function("read_and_evaluate_1d_1000_series", |b| {
        b.iter(|| black_box(evaluate(&q, sub, &spec, read()).expect("evaluate")))
    });
    group.finish();
    drop(shard);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, query);
criterion_main!(benches);
