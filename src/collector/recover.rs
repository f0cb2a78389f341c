//! Recovery at start, on plain structs before any actor runs: load the last snapshot, then
//! re-apply the write-ahead log's records after its cut in order, exactly as the collector
//! applied them (batches through the same admission, resets, removals, expiries).

use super::admission::Admission;
use super::book::SeriesBook;
use super::checkpoint::{restore_registry, BOOK_SECTION, SERIES_SECTIONS};
use super::route::{route, shard_of};
use crate::aggregate::{decode_series, ShardState};
use crate::clock::SharedClock;
use crate::config::Pipeline;
use crate::persist::{
    delete_before, list_segments, read_segment, store_path, wal_dir, Image, Record, Store,
    StoreError,
};
use crate::registry::Registry;
use parking_lot::RwLock;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Why start-up could not recover the state (a torn log tail is not one of them).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The data directory cannot be read or written.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The snapshot store cannot be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A section of the snapshot does not decode: move `state.redb` away to start from the
    /// write-ahead log alone (only the log since that snapshot is left).
    #[error("snapshot section {0}: {1}")]
    Section(String, String),
}

/// A component that re-applies logged records on recovery. The shards' series are one; a
/// component fed from the collector's admissions (and saved in snapshots) adds itself here.
pub trait Replay {
    /// Re-applies `record`; `mono` maps an epoch-millisecond time of the log to the monotonic
    /// clock of this process (for meters and the like).
    fn replay(&mut self, record: &Record, mono: &dyn Fn(i64) -> u64);
}

/// What recovery rebuilt.
pub struct Recovered {
    /// Limits, types and the series book.
    pub admission: Admission,
    /// One state per shard, series routed as the collector routes them.
    pub shards: Vec<ShardState>,
    /// The snapshot loaded, for other components' sections.
    pub image: Option<Image>,
    /// The store, for later checkpoints.
    pub store: Arc<Store>,
    /// The segment the log writer starts with (after every existing one).
    pub next_segment: u64,
    /// Records replayed from the log.
    pub replayed: usize,
}

/// Rebuilds the state from `data_dir` for `shard_count` shards, each made empty by
/// `make_shard(index)`; `registry` holds meterd's own families already. `extra` are further
/// components to replay the log into.
pub fn recover(
    data_dir: &Path,
    pipeline: &Arc<Pipeline>,
    registry: Arc<RwLock<Registry>>,
    clock: &SharedClock,
    shard_count: usize,
    make_shard: &dyn Fn(usize) -> ShardState,
    extra: &mut [&mut dyn Replay],
) -> Result<Recovered, RecoverError> {
    std::fs::create_dir_all(data_dir)?;
    let store = Arc::new(Store::open(&store_path(data_dir))?);
    let image = store.load()?;
    let (now_mono, now_ms) = (clock.monotonic_nanos(), clock.epoch_millis());
    let mut shards: Vec<ShardState> = (0..shard_count.max(1)).map(make_shard).collect();
    let n = shards.len();

    let mut book_bytes = None;
    if let Some(image) = &image {
        let shift = image.cut.shift(now_mono, now_ms);
        for section in image.sections_starting(SERIES_SECTIONS) {
            let series = decode_series(&section.bytes, shift)
                .map_err(|e| RecoverError::Section(section.name.clone(), e.to_string()))?;
            for (key, state) in series {
                shards[shard_of(&key, n)].insert(key, state);
            }
        }
        let keys = shards.iter().flat_map(|s| s.iter().map(|(k, _)| k));
        restore_registry(&mut registry.write(), image, keys)
            .map_err(|(section, e)| RecoverError::Section(section, e))?;
        book_bytes = image.section(BOOK_SECTION);
    }
    let default_ms = image.as_ref().map_or(now_ms, |i| i.cut.taken_ms);
    let book = SeriesBook::restore(
        shards.iter().flat_map(|s| s.iter().map(|(k, _)| k)),
        book_bytes,
        default_ms,
        pipeline,
    );
    let mut admission = Admission::new(registry, book, pipeline.clone());

    let dir = wal_dir(data_dir);
    let first = image.as_ref().map_or(0, |i| i.cut.wal_segment);
    // Leftovers of a crash between storing a snapshot and deleting the log it covers.
    delete_before(&dir, first)?;
    let segments = list_segments(&dir)?;
    let mono = |ms: i64| -> u64 {
        let ago = i128::from(now_ms.saturating_sub(ms).max(0)) * 1_000_000;
        u64::try_from((i128::from(now_mono) - ago).max(0)).unwrap_or(0)
    };
    let mut replayed = 0;
    for &id in &segments {
        let read = read_segment(&dir, id)?;
        if let Some((tail, bytes)) = &read.cut {
            tracing::warn!(segment = id, bytes, reason = %tail, "cut off a torn write-ahead log tail");
        }
        for record in read.records {
            for component in extra.iter_mut() {
                component.replay(&record, &mono);
            }
            apply(record, &mut admission, &mut shards, &mono);
            replayed += 1;
        }
    }
    let next_segment = segments.last().map_or(first.max(1), |last| last + 1);
    Ok(Recovered {
        admission,
        shards,
        image,
        store,
        next_segment,
        replayed,
    })
}

/// Re-applies one record to the admission state and the shards.
fn apply(
    record: Record,
    admission: &mut Admission,
    shards: &mut [ShardState],
    mono: &dyn Fn(i64) -> u64,
) {
    match record {
        Record::Batch {
            admitted_ms,
            events,
        } => {
            if let Err(e) = admission.replay(&events, admitted_ms) {
                tracing::warn!(error = %e, "skipped a logged batch that no longer admits");
                return;
            }
            let at = mono(admitted_ms);
            let parts = route(events, shards.len());
            for (shard, batch) in shards.iter_mut().zip(parts) {
                shard.apply(batch, at);
            }
        }
        Record::Reset { at_ms, selector } => {
            for shard in shards.iter_mut() {
                shard.drain(&selector, mono(at_ms));
            }
        }
        Record::Remove { selector, .. } => {
            let gone: Vec<u64> = shards
                .iter_mut()
                .flat_map(|s| s.remove(&selector))
                .map(|k| k.stable_hash())
                .collect();
            admission.book_mut().remove(gone);
        }
        Record::Forget { hashes, .. } => {
            let set: HashSet<u64> = hashes.iter().copied().collect();
            for shard in shards.iter_mut() {
                shard.forget(&set);
            }
            admission.book_mut().remove(hashes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::model::{Event, Kind, Op, Scope, SeriesKey, ValueView};
    use crate::persist::{create_segment, frame, RecordRef};
    use crate::registry::Selector;
    use std::io::Write;

    fn counter(name: &str, value: f64) -> Event {
        Event {
            key: SeriesKey::simple(Scope::Application, name, vec![]),
            kind: Kind::Counter,
            value,
            op: Op::Observe,
            timestamp_ms: 0,
            meta: None,
        }
    }

    fn selector(name: &str) -> Selector {
        Selector {
            scope: Some(Scope::Application),
            name: Some(name.to_owned()),
            service: None,
        }
    }

    #[test]
    fn replay_applies_resets_removals_and_expiries_in_order() {
        let dir = std::env::temp_dir().join(format!("meterd-recover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let wal = wal_dir(&dir);
        std::fs::create_dir_all(&wal).unwrap();
        let mut seg = create_segment(&wal, 4).unwrap();
        let batch = |events: &[Event]| {
            frame(&RecordRef::Batch {
                admitted_ms: 1000,
                events,
            })
        };
        let reset = selector("reset.me");
        let removed = selector("remove.me");
        let forgotten = counter("forget.me", 1.0).key.stable_hash();
        for rec in [
            batch(&[
                counter("reset.me", 5.0),
                counter("remove.me", 1.0),
                counter("forget.me", 1.0),
            ]),
            frame(&RecordRef::Reset {
                at_ms: 1001,
                selector: &reset,
            }),
            batch(&[counter("reset.me", 2.0)]),
            frame(&RecordRef::Remove {
                at_ms: 1002,
                selector: &removed,
            }),
            frame(&RecordRef::Forget {
                at_ms: 1003,
                hashes: &[forgotten],
            }),
        ] {
            seg.write_all(&rec).unwrap();
        }
        drop(seg);

        let clock: SharedClock = ManualClock::starting_at(2000).shared();
        let pipeline = Arc::new(Pipeline::default());
        let registry = Arc::new(RwLock::new(Registry::default()));
        let settings = pipeline.aggregate_settings();
        let make = |_| crate::aggregate::ShardState::new(settings.clone());
        let r = recover(&dir, &pipeline, registry, &clock, 3, &make, &mut []).unwrap();
        assert_eq!((r.replayed, r.next_segment), (5, 5));
        let mut views: Vec<_> = r
            .shards
            .into_iter()
            .flat_map(|mut s| s.collect(&Selector::default(), 0))
            .collect();
        views.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(views.len(), 1, "removed and forgotten series stay gone");
        assert_eq!(
            views[0].1,
            ValueView::Counter(2.0),
            "the reset is not undone"
        );
        assert_eq!(r.admission.book().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
