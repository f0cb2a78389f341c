use super::*;
use crate::aggregate::downsample::NewSeries;
use crate::model::Scope;
use std::sync::Arc;
use std::time::Duration;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("meterd-store-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tiers() -> Vec<TierSpec> {
    vec![
        TierSpec::new(Duration::from_secs(10), Duration::from_secs(3600)),
        TierSpec::new(Duration::from_secs(60), Duration::from_secs(86_400)),
    ]
}

fn key(name: &str, host: &str) -> SeriesKey {
    SeriesKey::simple(Scope::Application, name, vec![("host".into(), host.into())])
}

fn closed(series: u64, tier: u8, start: i64, v: f64) -> ClosedBucket {
    ClosedBucket {
        series,
        tier,
        start,
        bucket: Bucket::of(v, start + 1),
    }
}

const T0: i64 = 1_700_000_000_000;
/// T0 aligned to the minute tier.
const T1: i64 = T0 - T0 % 60_000;

#[test]
fn write_read_merge_and_reopen() {
    let dir = Dir::new("rw");
    let store = HistoryStore::open(&dir.0, &tiers()).unwrap();
    let id = store.allocate_id();
    let flush = Flush {
        shard: 1,
        seq: 5,
        buckets: Arc::from(vec![
            closed(id, 0, T0, 1.0),
            closed(id, 0, T0 + 10_000, 2.0),
            closed(id, 1, T1, 3.0),
        ]),
        series: vec![NewSeries {
            id,
            key: key("cpu", "a"),
            kind: Kind::Gauge,
        }],
    };
    store.write(&flush).unwrap();
    assert_eq!(store.covered(), 5);
    // A replay of what the store covers is skipped: nothing is merged twice.
    assert!(!store.write(&flush).unwrap());
    assert_eq!(store.lookup(&key("cpu", "a")).unwrap(), Some(id));
    assert_eq!(store.lookup(&key("cpu", "b")).unwrap(), None);

    // A late partial for the first bucket, and a bucket appended after the others.
    let late = Flush {
        shard: 1,
        seq: 6,
        buckets: Arc::from(vec![
            closed(id, 0, T0, 5.0),
            closed(id, 0, T0 + 30_000, 7.0),
        ]),
        series: vec![],
    };
    store.write(&late).unwrap();
    let (flushed, rows) = store.read(0, &[id], (T0, T0 + 60_000), T0).unwrap();
    assert_eq!(flushed, 6);
    let points = &rows[0].1;
    let starts: Vec<i64> = points.iter().map(|p| p.0).collect();
    assert_eq!(starts, vec![T0, T0 + 10_000, T0 + 30_000]);
    assert_eq!((points[0].1.count, points[0].1.sum), (2, 6.0));

    let named = store.series_named("cpu").unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!((named[0].id, named[0].kind), (id, Kind::Gauge));
    assert!(store.series_named("cp").unwrap().is_empty());
    drop(store);

    let store = HistoryStore::open(&dir.0, &tiers()).unwrap();
    assert_eq!(store.covered(), 6);
    assert!(store.allocate_id() > id);
    let (_, rows) = store.read(1, &[id], (T1, T1), T0).unwrap();
    assert_eq!(rows[0].1.len(), 1);
}

#[test]
fn retention_hides_then_deletes() {
    let dir = Dir::new("ret");
    let store = HistoryStore::open(&dir.0, &tiers()).unwrap();
    let id = store.allocate_id();
    let buckets: Vec<ClosedBucket> = (0..200)
        .map(|i| closed(id, 0, T0 + i * 10_000, 1.0))
        .collect();
    store
        .write(&Flush {
            shard: 0,
            seq: 1,
            buckets: Arc::from(buckets),
            series: vec![],
        })
        .unwrap();
    let all = (T0, T0 + 10_000_000);
    assert_eq!(
        store.read(0, &[id], all, T0 + 2_000_000).unwrap().1[0]
            .1
            .len(),
        200
    );
    // One hour later than the 100th bucket's end: the first 100 are gone from reads.
    let now = T0 + 100 * 10_000 + 3_600_000;
    let (_, rows) = store.read(0, &[id], all, now).unwrap();
    assert_eq!(rows[0].1.len(), 100);
    assert_eq!(rows[0].1[0].0, T0 + 1_000_000);
    let before = store.stats().unwrap();
    let deleted = store.sweep(now).unwrap();
    assert!(deleted >= 1);
    let after = store.stats().unwrap();
    assert!(after.buckets < before.buckets && after.buckets >= 100);
    assert_eq!(store.read(0, &[id], all, now).unwrap().1[0].1.len(), 100);
}
