//! The history side of a shard: feeding each series' downsampler, closing due buckets into
//! flushes for the history writer, and answering history reads by merging what the store
//! holds with what the shard has not yet seen written (in-flight flushes, pending and open
//! buckets). Reads run on the shard's thread, so they and the bookkeeping never race.

use super::downsample::{Bucket, Downsampler, Flush, History, NewSeries, TierSpec};
use super::shard_state::Series;
use super::{SeriesState, ShardState};
use crate::model::{Kind, SeriesKey};
use crate::persist::history::{HistoryError, HistoryStore};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Which tier a metric name starts at (a pipeline rule's `tier`; 0 for most).
pub type FirstTier = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// How a shard keeps history.
#[derive(Clone)]
pub struct HistorySetup {
    /// The tiers, finest first.
    pub tiers: Arc<[TierSpec]>,
    /// The store; without one (unit tests, benches) flushes are produced and dropped by the
    /// caller and reads see only what the shard holds.
    pub store: Option<Arc<HistoryStore>>,
    /// This shard's index.
    pub shard: usize,
    /// How many shards there are (a stored series belongs to `route_hash % shards`).
    pub shards: usize,
    /// The first tier of a metric name.
    pub first_tier: FirstTier,
}

impl HistorySetup {
    /// History with these tiers and no store, for a lone shard.
    pub fn detached(tiers: Vec<TierSpec>) -> Self {
        HistorySetup {
            tiers: tiers.into(),
            store: None,
            shard: 0,
            shards: 1,
            first_tier: Arc::new(|_| 0),
        }
    }
}

/// The shard's history state.
pub(super) struct ShardHistory {
    pub(super) setup: HistorySetup,
    /// Closed buckets not yet handed to the writer and flushes not known written.
    pub(super) flushes: History,
    next_local_id: u64,
}

impl ShardHistory {
    pub(super) fn new(setup: HistorySetup) -> Self {
        let last = setup.store.as_ref().map_or(0, |s| s.covered());
        ShardHistory {
            setup,
            flushes: History::new(last),
            next_local_id: 1,
        }
    }

    /// A fresh downsampler and id for a series just created; a series the store knows keeps
    /// its id, a new one is announced to the store with its next flush. `live` is the id of
    /// the series live in the shard as `key`, if any (see [`History::unstored_id`]).
    pub(super) fn start_series(
        &mut self,
        key: &SeriesKey,
        live: Option<u64>,
    ) -> (u64, Downsampler) {
        let first = (self.setup.first_tier)(&key.name);
        let down = Downsampler::new(first);
        let Some(store) = &self.setup.store else {
            self.next_local_id += 1;
            return (self.next_local_id - 1, down);
        };
        if let Some(id) = self.flushes.unstored_id(key, live) {
            return (id, down);
        }
        match store.lookup(key) {
            Ok(Some(id)) => (id, down),
            other => {
                if let Err(e) = other {
                    tracing::error!(error = %e, "history: series lookup failed; new id");
                }
                let id = store.allocate_id();
                self.flushes.created_live(id);
                (id, down)
            }
        }
    }
}

/// A series a history query selected: where to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMatch {
    /// Its id.
    pub id: u64,
    /// Its key.
    pub key: SeriesKey,
    /// Its kind.
    pub kind: Kind,
}

/// The buckets of one series in a range of one tier, sorted by start.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesBuckets {
    /// The series.
    pub series: SeriesMatch,
    /// (bucket start, bucket), ascending.
    pub points: Vec<(i64, Bucket)>,
}

impl ShardState {
    /// Closes the buckets whose window has ended by `now_ms` and answers the flush to hand to
    /// the history writer, if there is anything to write, at the position after the last
    /// flush (tests and benches; the server flushes at checkpoints, see
    /// [`ShardState::take_flush`]).
    pub fn tick(&mut self, now_ms: i64) -> Option<Flush> {
        self.close_due(now_ms);
        let seq = self.history.flushes.next_seq();
        self.take_flush(seq).0
    }

    /// Moves every open bucket whose window has ended by `now_ms` to the pending ones.
    pub fn close_due(&mut self, now_ms: i64) {
        let h = &mut self.history;
        let tiers = h.setup.tiers.clone();
        for (_, s) in self.series.iter_mut() {
            s.down
                .close_due(s.id, &tiers, now_ms, h.flushes.pending_mut());
        }
    }

    /// The pending buckets and new series as a flush numbered `seq` (a checkpoint's, see
    /// [`Flush::seq`]), if there is anything to write; forgets flushes the store holds.
    /// Answers also how many flushes never confirmed by the store were given up (their
    /// buckets are lost to history).
    pub fn take_flush(&mut self, seq: u64) -> (Option<Flush>, usize) {
        self.name_new_series();
        let h = &mut self.history;
        if let Some(store) = &h.setup.store {
            h.flushes.committed(store.covered());
        }
        let (flush, dropped) = h.flushes.take_flush(h.setup.shard, seq);
        if dropped > 0 {
            tracing::error!(
                batches = dropped,
                "history: flushes never confirmed by the store were given up"
            );
        }
        (flush, dropped)
    }

    /// Copies the keys of the new live series into the next flush (one pass over the series).
    fn name_new_series(&mut self) {
        let unnamed = self.history.flushes.take_unnamed();
        if unnamed.is_empty() {
            return;
        }
        let mut named: Vec<NewSeries> = self
            .series
            .iter()
            .filter(|(_, s)| unnamed.contains(s.id))
            .map(|(key, s)| NewSeries {
                id: s.id,
                key: key.unpack(),
                kind: s.state.kind(),
            })
            .collect();
        // In the order they were created.
        named.sort_unstable_by_key(|s| s.id);
        self.history.flushes.named(named);
    }

    /// The flushes sent (or about to be) and not known written, oldest first.
    pub fn unconfirmed(&self) -> Vec<Flush> {
        self.history.flushes.in_flight_flushes()
    }

    /// Puts back a series restored from a snapshot, with its history id and downsampler
    /// (open buckets, last sample time), replacing one with the same key.
    pub fn restore(&mut self, key: SeriesKey, state: SeriesState, id: u64, down: Downsampler) {
        if let Some(store) = &self.history.setup.store {
            store.reserve_id(id);
        }
        if let Some(old) = self.series.get(&key).filter(|old| old.id != id) {
            self.history
                .flushes
                .departed(old.id, &key, old.state.kind());
        }
        self.series.insert(&key, Series { state, id, down });
    }

    fn owns(&self, key: &SeriesKey) -> bool {
        let setup = &self.history.setup;
        setup.shards <= 1 || key.route_hash() % setup.shards as u64 == setup.shard as u64
    }

    /// The series named `name` that `keep` accepts: the live ones and the stored ones that
    /// belong to this shard.
    pub fn match_series(
        &self,
        name: &str,
        keep: &dyn Fn(&SeriesKey) -> bool,
    ) -> Result<Vec<SeriesMatch>, HistoryError> {
        let mut out: Vec<SeriesMatch> = self
            .series
            .iter()
            .filter(|(k, _)| k.name() == name)
            .map(|(k, s)| SeriesMatch {
                id: s.id,
                key: k.unpack(),
                kind: s.state.kind(),
            })
            .filter(|m| keep(&m.key))
            .collect();
        if let Some(store) = &self.history.setup.store {
            for s in store.series_named(name)? {
                if !self.series.contains_key(&s.key) && self.owns(&s.key) && keep(&s.key) {
                    out.push(SeriesMatch {
                        id: s.id,
                        key: s.key,
                        kind: s.kind,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every series key this shard answers for (live, and stored ones it owns).
    pub fn series_keys(&self) -> Result<Vec<SeriesKey>, HistoryError> {
        let mut out: Vec<SeriesKey> = self.series.iter().map(|(k, _)| k.unpack()).collect();
        if let Some(store) = &self.history.setup.store {
            for s in store.all_series()? {
                if !self.series.contains_key(&s.key) && self.owns(&s.key) {
                    out.push(s.key);
                }
            }
        }
        Ok(out)
    }

    /// The buckets of tier `tier` starting in `[from, to]` of the given series (as
    /// [`ShardState::match_series`] answered them), not aged out at `now_ms`: what the store
    /// holds merged with what is still on its way there.
    pub fn read_history(
        &self,
        series: Vec<SeriesMatch>,
        tier: usize,
        (from, to): (i64, i64),
        now_ms: i64,
    ) -> Result<Vec<SeriesBuckets>, HistoryError> {
        let setup = &self.history.setup;
        let Some(spec) = setup.tiers.get(tier).copied() else {
            return Ok(Vec::new());
        };
        let ids: Vec<u64> = series.iter().map(|s| s.id).collect();
        let (stored_seq, stored) = match &setup.store {
            Some(store) => store.read(tier, &ids, (from, to), now_ms)?,
            None => (0, Vec::new()),
        };
        let mut stored: HashMap<u64, Vec<(i64, Bucket)>> = stored.into_iter().collect();
        // What has not reached the store, in the order it happened: flushes in flight, then
        // pending buckets, then the open one.
        let wanted = |start: i64| start >= from && start <= to && !spec.expired(start, now_ms);
        let mut extra: HashMap<u64, Vec<(i64, Bucket)>> = HashMap::new();
        if !self.history.flushes.is_idle() {
            let want: HashSet<u64> = ids.iter().copied().collect();
            for c in self.history.flushes.unwritten(stored_seq) {
                if usize::from(c.tier) == tier && wanted(c.start) && want.contains(&c.series) {
                    extra.entry(c.series).or_default().push((c.start, c.bucket));
                }
            }
        }
        for s in &series {
            if let Some(live) = self.series.get(&s.key) {
                if let Some((start, b)) = live.down.open(&setup.tiers, tier) {
                    if wanted(start) {
                        extra.entry(s.id).or_default().push((start, b));
                    }
                }
            }
        }
        Ok(series
            .into_iter()
            .map(|s| {
                let base = stored.remove(&s.id).unwrap_or_default();
                let points = match extra.remove(&s.id) {
                    Some(more) => merge_sorted(base, more),
                    None => base,
                };
                SeriesBuckets { series: s, points }
            })
            .collect())
    }

    /// The latest sample time (epoch ms) among live series whose name starts with `prefix`.
    pub fn last_sample(&self, prefix: &str) -> Option<i64> {
        self.series
            .iter()
            .filter(|(k, _)| k.name().starts_with(prefix))
            .map(|(_, s)| s.down.last_ms())
            .max()
    }
}

/// Merges `more` (in the order it happened) into `base` (sorted by start, one bucket per
/// start): buckets of the same start merge, the result stays sorted.
fn merge_sorted(base: Vec<(i64, Bucket)>, mut more: Vec<(i64, Bucket)>) -> Vec<(i64, Bucket)> {
    more.sort_by_key(|(t, _)| *t); // stable: same-start buckets keep their order
    let mut out: Vec<(i64, Bucket)> = Vec::with_capacity(base.len() + more.len());
    let mut base = base.into_iter().peekable();
    for (t, b) in more {
        while let Some(next) = base.next_if(|(bt, _)| *bt < t) {
            out.push(next);
        }
        if let Some(same) = base.next_if(|(bt, _)| *bt == t) {
            out.push(same);
        }
        match out.last_mut() {
            Some((lt, lb)) if *lt == t => lb.merge(&b),
            _ => out.push((t, b)),
        }
    }
    out.extend(base);
    out
}

#[cfg(test)]
mod tests;
