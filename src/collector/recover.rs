//! Recovery at start, on plain structs before any actor runs: load the last snapshot (its
//! position P), write to the history store the flushes the snapshot carries that the store
//! does not cover yet, then re-apply the log's records after P in order, exactly as the
//! collector applied them (batches through the same admission, resets, removals, expiries).
//!
//! Each part starts from its own position: the live aggregates, the series book, the
//! registry, the open buckets and last sample times all come from the snapshot (P); the
//! history store holds the flushes numbered up to its own H (see
//! [`crate::aggregate::downsample::Flush::seq`]), and those after H cut at or before P are in
//! the snapshot; so replaying after P adds every logged record to every part exactly once.

use super::admission::Admission;
use super::book::SeriesBook;
use super::checkpoint::{restore_registry, BOOK_SECTION, SERIES_SECTIONS};
use super::route::{route, shard_of};
use crate::aggregate::{decode_series, ShardState};
use crate::clock::SharedClock;
use crate::config::Pipeline;
use crate::persist::history::HistoryStore;
use crate::persist::{store_path, Image, Log, Position, Record, ReplayReport, Store, StoreError};
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
    /// The flushes the snapshot carries cannot be written to the history store: see the
    /// message (disk full?).
    #[error("history store: {0}")]
    History(String),
}

/// A part of the state that re-applies logged records on recovery, from its own position.
/// The snapshot's parts (series, book, registry) are applied by [`recover`] itself; another
/// part fed from the collector's admissions (the ODSL entities) adds itself here.
pub trait Replay {
    /// The last log position this part holds already: it is handed only later records.
    fn covered(&self) -> Position;

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
    /// What the replay read (damage skipped, last position).
    pub report: ReplayReport,
    /// Records re-applied to the snapshot's parts (after its position).
    pub replayed: usize,
}

/// Rebuilds the state from `data_dir` and `log` for `shard_count` shards, each made empty by
/// `make_shard(index)`; `registry` holds meterd's own families already; `history` is the
/// history store the shards write to. `extra` are further components to replay the log into.
#[allow(clippy::too_many_arguments)]
pub fn recover(
    data_dir: &Path,
    log: &dyn Log,
    pipeline: &Arc<Pipeline>,
    registry: Arc<RwLock<Registry>>,
    clock: &SharedClock,
    shard_count: usize,
    make_shard: &dyn Fn(usize) -> ShardState,
    history: Option<&HistoryStore>,
    extra: &mut [&mut dyn Replay],
) -> Result<Recovered, RecoverError> {
    std::fs::create_dir_all(data_dir)?;
    let store = Arc::new(Store::open(&store_path(data_dir))?);
    let image = store.load()?;
    let (now_mono, now_ms) = (clock.monotonic_nanos(), clock.epoch_millis());
    let mut shards: Vec<ShardState> = (0..shard_count.max(1)).map(make_shard).collect();
    let n = shards.len();

    let mut book_bytes = None;
    let mut unconfirmed = Vec::new();
    if let Some(image) = &image {
        let shift = image.cut.shift(now_mono, now_ms);
        for section in image.sections_starting(SERIES_SECTIONS) {
            let saved = decode_series(&section.bytes, shift)
                .map_err(|e| RecoverError::Section(section.name.clone(), e.to_string()))?;
            let index: usize = section.name[SERIES_SECTIONS.len()..].parse().unwrap_or(0);
            for (key, state, id, down) in saved.series {
                shards[shard_of(&key, n)].restore(key, state, id, down);
            }
            unconfirmed.extend(saved.unconfirmed.into_iter().map(|f| f.into_flush(index)));
        }
        // Keys are unpacked one at a time: a copy of them all would stay resident.
        let keys = shards.iter().flat_map(|s| s.iter().map(|(k, _)| k));
        restore_registry(&mut registry.write(), image, keys)
            .map_err(|(section, e)| RecoverError::Section(section, e))?;
        book_bytes = image.section(BOOK_SECTION);
    }
    if let Some(history) = history {
        // What the store does not cover yet is skipped by it otherwise.
        history
            .write_all(&unconfirmed)
            .map_err(|e| RecoverError::History(e.to_string()))?;
    }
    let default_ms = image.as_ref().map_or(now_ms, |i| i.cut.taken_ms);
    let keys = shards.iter().flat_map(|s| s.iter().map(|(k, _)| k));
    let book = SeriesBook::restore(keys, book_bytes, default_ms, pipeline);
    let mut admission = Admission::new(registry, book, pipeline.clone());

    let covered: Position = image.as_ref().map_or(0, |i| i.cut.position);
    let mono = |ms: i64| -> u64 {
        let ago = i128::from(now_ms.saturating_sub(ms).max(0)) * 1_000_000;
        u64::try_from((i128::from(now_mono) - ago).max(0)).unwrap_or(0)
    };
    // Each part from its own position: the log holds everything after the smallest.
    let from = extra
        .iter()
        .map(|c| c.covered())
        .fold(covered, Position::min);
    let mut replayed = 0;
    let report = log.replay_after(from, &mut |position, record| {
        for component in extra.iter_mut() {
            if position > component.covered() {
                component.replay(&record, &mono);
            }
        }
        if position > covered {
            apply(record, &mut admission, &mut shards, &mono);
            replayed += 1;
        }
    })?;
    if report.skipped_bytes > 0 {
        tracing::error!(
            bytes = report.skipped_bytes,
            records = report.skipped_records,
            "skipped damaged records in the middle of the write-ahead log; what they held is lost"
        );
    }
    Ok(Recovered {
        admission,
        shards,
        image,
        store,
        report,
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
                // The wall time of admission places samples in open or closed buckets as
                // they were placed then.
                shard.apply_at(batch, at, admitted_ms);
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
    use crate::model::Selector;
    use crate::model::{Event, Kind, Op, Scope, SeriesKey, ValueView};
    use crate::persist::{create_segment, frame, wal_dir, RecordRef};
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
        let batch = |p, events: &[Event]| {
            frame(
                p,
                &RecordRef::Batch {
                    admitted_ms: 1000,
                    events,
                },
            )
        };
        let reset = selector("reset.me");
        let removed = selector("remove.me");
        let forgotten = counter("forget.me", 1.0).key.stable_hash();
        for rec in [
            batch(
                4,
                &[
                    counter("reset.me", 5.0),
                    counter("remove.me", 1.0),
                    counter("forget.me", 1.0),
                ],
            ),
            frame(
                5,
                &RecordRef::Reset {
                    at_ms: 1001,
                    selector: &reset,
                },
            ),
            batch(6, &[counter("reset.me", 2.0)]),
            frame(
                7,
                &RecordRef::Remove {
                    at_ms: 1002,
                    selector: &removed,
                },
            ),
            frame(
                8,
                &RecordRef::Forget {
                    at_ms: 1003,
                    hashes: &[forgotten],
                },
            ),
        ] {
            seg.write_all(&rec).unwrap();
        }
        drop(seg);

        let clock: SharedClock = ManualClock::starting_at(2000).shared();
        let pipeline = Arc::new(Pipeline::default());
        let registry = Arc::new(RwLock::new(Registry::default()));
        let settings = pipeline.aggregate_settings();
        let make = |_| crate::aggregate::ShardState::new(settings.clone());
        let log = crate::persist::Wal::start(
            &wal,
            pipeline.durability,
            16,
            Arc::new(crate::telemetry::Counters::default()),
            Arc::new(|_| {}),
        )
        .unwrap();
        let r = recover(
            &dir,
            &log,
            &pipeline,
            registry,
            &clock,
            3,
            &make,
            None,
            &mut [],
        )
        .unwrap();
        assert_eq!((r.replayed, log.last_position()), (5, 8));
        log.close();
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
