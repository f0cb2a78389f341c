use super::*;
use crate::aggregate::AggregateSettings;
use crate::model::{Event, Op, Scope};
use crate::persist::history::HistoryStore;
use proptest::prelude::*;
use std::collections::VecDeque;

const NOW: i64 = 1_700_000_000_000;

fn tiers() -> Vec<TierSpec> {
    crate::config::Tier::defaults()
        .iter()
        .map(crate::config::Tier::spec)
        .collect()
}

fn event(name: &str, kind: Kind, value: f64, ts: i64) -> Event {
    Event {
        key: SeriesKey::simple(Scope::Application, name, vec![]),
        kind,
        value,
        op: Op::Observe,
        timestamp_ms: ts,
        meta: None,
    }
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    TempDir(std::env::temp_dir().join(format!("meterd-shard-{}-{n}", std::process::id())))
}

fn shard_with_store(dir: &TempDir) -> (ShardState, Arc<HistoryStore>) {
    let store = Arc::new(HistoryStore::open(&dir.0, &tiers()).unwrap());
    let setup = HistorySetup {
        tiers: tiers().into(),
        store: Some(store.clone()),
        shard: 0,
        shards: 1,
        first_tier: Arc::new(|_| 0),
    };
    (
        ShardState::with_history(AggregateSettings::default(), setup),
        store,
    )
}

fn totals(shard: &ShardState, name: &str, tier: usize, now: i64) -> (u64, f64) {
    let series = shard.match_series(name, &|_| true).unwrap();
    let read = shard
        .read_history(series, tier, (NOW - 86_400_000, NOW + 86_400_000), now)
        .unwrap();
    read.iter()
        .flat_map(|s| &s.points)
        .fold((0, 0.0), |(c, s), (_, b)| (c + b.count, s + b.sum))
}

#[test]
fn open_pending_and_stored_buckets_read_as_one() {
    let dir = temp_dir();
    let (mut shard, store) = shard_with_store(&dir);
    let mut now = NOW;
    shard.apply_at(vec![event("g", Kind::Gauge, 1.0, now)], 0, now);
    now += 10_000;
    // Closes the first 10 s bucket; the write is still "in flight".
    let flush = shard.tick(now).unwrap();
    shard.apply_at(vec![event("g", Kind::Gauge, 3.0, now)], 0, now);
    // Late sample for the first bucket: pending.
    shard.apply_at(vec![event("g", Kind::Gauge, 5.0, NOW + 1)], 0, now);
    assert_eq!(totals(&shard, "g", 0, now), (3, 9.0));
    store.write(&flush).unwrap();
    assert_eq!(totals(&shard, "g", 0, now), (3, 9.0));
    let second = shard.tick(now).unwrap();
    store.write(&second).unwrap();
    shard.tick(now);
    assert_eq!(totals(&shard, "g", 0, now), (3, 9.0));
    let series = shard.match_series("g", &|_| true).unwrap();
    let read = shard
        .read_history(series, 0, (NOW, NOW + 20_000), now)
        .unwrap();
    let points: Vec<(i64, u64, f64)> = read[0]
        .points
        .iter()
        .map(|(t, b)| (*t, b.count, b.mean()))
        .collect();
    assert_eq!(points, vec![(NOW, 2, 3.0), (NOW + 10_000, 1, 3.0)]);
    // The minute tier holds all three in one bucket.
    assert_eq!(totals(&shard, "g", 1, now), (3, 9.0));
}

#[test]
fn a_new_shard_finds_stored_series_and_their_ids() {
    let dir = temp_dir();
    let (mut shard, store) = shard_with_store(&dir);
    shard.apply_at(vec![event("c", Kind::Counter, 2.0, NOW)], 0, NOW);
    store.write(&shard.tick(NOW + 10_000).unwrap()).unwrap();
    drop(shard);
    let setup = HistorySetup {
        tiers: tiers().into(),
        store: Some(store.clone()),
        shard: 0,
        shards: 1,
        first_tier: Arc::new(|_| 0),
    };
    let mut fresh = ShardState::with_history(AggregateSettings::default(), setup);
    let before = fresh.match_series("c", &|_| true).unwrap();
    assert_eq!(before.len(), 1);
    fresh.apply_at(
        vec![event("c", Kind::Counter, 3.0, NOW + 10_000)],
        0,
        NOW + 10_000,
    );
    let after = fresh.match_series("c", &|_| true).unwrap();
    assert_eq!(after, before, "the live series keeps its stored id");
    assert_eq!(totals(&fresh, "c", 0, NOW + 10_000), (2, 5.0));
    assert_eq!(fresh.last_sample("c"), Some(NOW + 10_000));
    assert_eq!(fresh.last_sample("x"), None);
}

#[derive(Debug, Clone)]
enum Step {
    Push(Vec<(bool, i64, i64)>),
    Advance(u64),
    Tick,
    Write,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop::collection::vec((any::<bool>(), -5_000_000i64..600_000, -50i64..50), 1..8)
            .prop_map(Step::Push),
        2 => (1u64..120_000).prop_map(Step::Advance),
        2 => Just(Step::Tick),
        2 => Just(Step::Write),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the order of samples, ticks and writes, every tier sums to the same count and
    /// total as the samples pushed (all within every tier's retention).
    #[test]
    fn downsampling_preserves_count_and_sum_across_tiers(steps in prop::collection::vec(step(), 1..40)) {
        let dir = temp_dir();
        let (mut shard, store) = shard_with_store(&dir);
        let mut now = NOW;
        let mut queue: VecDeque<Flush> = VecDeque::new();
        let mut expected = [(0u64, 0.0f64), (0, 0.0)];
        for s in steps {
            match s {
                Step::Push(samples) => {
                    let events = samples
                        .iter()
                        .map(|&(counter, offset, v)| {
                            let (name, kind, v) = if counter {
                                ("c", Kind::Counter, v.abs() as f64)
                            } else {
                                ("g", Kind::Gauge, v as f64 / 2.0)
                            };
                            let e = &mut expected[usize::from(counter)];
                            e.0 += 1;
                            e.1 += v;
                            event(name, kind, v, now + offset)
                        })
                        .collect();
                    shard.apply_at(events, 0, now);
                }
                Step::Advance(ms) => now += ms as i64,
                Step::Tick => queue.extend(shard.tick(now)),
                Step::Write => {
                    if let Some(f) = queue.pop_front() {
                        store.write(&f).unwrap();
                    }
                }
            }
        }
        for tier in 0..3 {
            prop_assert_eq!(totals(&shard, "g", tier, now), expected[0], "gauge, tier {}", tier);
            prop_assert_eq!(totals(&shard, "c", tier, now), expected[1], "counter, tier {}", tier);
        }
    }
}

#[test]
fn a_removed_series_keeps_its_open_buckets_and_its_id_when_pushed_again() {
    let dir = temp_dir();
    let (mut shard, store) = shard_with_store(&dir);
    shard.apply_at(vec![event("gone", Kind::Counter, 2.0, NOW)], 0, NOW);
    let id = shard.match_series("gone", &|_| true).unwrap()[0].id;
    let sel = crate::model::Selector {
        scope: Some(Scope::Application),
        name: Some("gone".into()),
        service: None,
    };
    assert_eq!(shard.remove(&sel).len(), 1);
    // Pushed again before any flush: the same id, so the buckets of both lives add up.
    shard.apply_at(vec![event("gone", Kind::Counter, 3.0, NOW)], 0, NOW);
    assert_eq!(shard.match_series("gone", &|_| true).unwrap()[0].id, id);
    store.write(&shard.tick(NOW).unwrap()).unwrap();
    assert_eq!(totals(&shard, "gone", 0, NOW), (2, 5.0));
    shard.remove(&sel);
    // Gone from the live views; its open bucket went to the store with the next flush.
    store.write(&shard.tick(NOW).unwrap()).unwrap();
    assert_eq!(totals(&shard, "gone", 0, NOW), (2, 5.0));
}

#[test]
fn new_series_are_announced_once_with_their_keys_even_when_removed_before_the_flush() {
    let dir = temp_dir();
    let (mut shard, _store) = shard_with_store(&dir);
    let batch = vec![
        event("a", Kind::Counter, 1.0, NOW),
        event("b", Kind::Gauge, 2.0, NOW),
        event("c", Kind::Timer, 3.0, NOW),
    ];
    shard.apply_at(batch, 0, NOW);
    let sel = crate::model::Selector {
        scope: Some(Scope::Application),
        name: Some("b".into()),
        service: None,
    };
    assert_eq!(shard.remove(&sel).len(), 1);
    let flush = shard.tick(NOW).unwrap();
    let mut announced: Vec<(&str, Kind)> = flush
        .series
        .iter()
        .map(|s| (s.key.name.as_str(), s.kind))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [("a", Kind::Counter), ("b", Kind::Gauge), ("c", Kind::Timer)]
    );
    // Only once: the next flush announces nothing already announced.
    shard.apply_at(vec![event("a", Kind::Counter, 1.0, NOW)], 0, NOW);
    let next = shard.tick(NOW + 10_000).unwrap();
    assert!(next.series.is_empty(), "{:?}", next.series);
}

#[test]
fn a_repeated_event_is_applied_as_its_observations_one_by_one() {
    let (dir_a, dir_b) = (temp_dir(), temp_dir());
    let (mut folded, _a) = shard_with_store(&dir_a);
    let (mut plain, _b) = shard_with_store(&dir_b);
    for kind in [Kind::Counter, Kind::Gauge, Kind::Meter, Kind::Timer] {
        let name = kind.as_str();
        let repeated = Event {
            op: Op::Repeat(3),
            ..event(name, kind, 0.1, NOW)
        };
        folded.apply_at(vec![repeated], 1_000, NOW);
        plain.apply_at(vec![event(name, kind, 0.1, NOW); 3], 1_000, NOW);
        let sel = crate::model::Selector {
            scope: Some(Scope::Application),
            name: Some(name.into()),
            service: None,
        };
        assert_eq!(
            folded.collect(&sel, 2_000),
            plain.collect(&sel, 2_000),
            "{kind}"
        );
        for tier in 0..tiers().len() {
            let (count, sum) = totals(&folded, name, tier, NOW);
            assert_eq!((count, sum), totals(&plain, name, tier, NOW), "{kind}");
            assert_eq!(count, 3, "{kind}");
        }
    }
}
