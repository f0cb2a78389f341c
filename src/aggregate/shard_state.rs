//! The series one shard owns: a table from key to aggregate and downsampler, with apply,
//! read and drain. The history side (ticks, history reads) is in `shard_history.rs`.

use super::downsample::{Bucket, Downsampler};
use super::series_table::SeriesTable;
use super::shard_history::{HistorySetup, ShardHistory};
use super::{AggregateSettings, SeriesState};
use crate::config::Tier;
use crate::model::PackedKey;
use crate::model::Selector;
use crate::model::{Event, Kind, Op, SeriesKey, ValueView};
use std::collections::HashSet;

/// One series: its live aggregate, its id in the history store and its downsampler.
pub(super) struct Series {
    pub(super) state: SeriesState,
    pub(super) id: u64,
    pub(super) down: Downsampler,
}

/// All series routed to one shard.
pub struct ShardState {
    pub(super) series: SeriesTable,
    settings: AggregateSettings,
    pub(super) history: ShardHistory,
}

impl ShardState {
    /// An empty shard with the default tiers and no history store.
    pub fn new(settings: AggregateSettings) -> Self {
        let tiers = Tier::defaults().iter().map(Tier::spec).collect();
        Self::with_history(settings, HistorySetup::detached(tiers))
    }

    /// An empty shard keeping history as `setup` says.
    pub fn with_history(settings: AggregateSettings, setup: HistorySetup) -> Self {
        ShardState {
            series: SeriesTable::default(),
            settings,
            history: ShardHistory::new(setup),
        }
    }

    /// Number of live series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when the shard holds no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every series' key (unpacked, one at a time) and live aggregate (its downsampled
    /// history is in the store).
    pub fn iter(&self) -> impl Iterator<Item = (SeriesKey, &SeriesState)> {
        self.series.iter().map(|(k, s)| (k.unpack(), &s.state))
    }

    /// Puts back a series restored from a snapshot (replacing one with the same key); its
    /// history continues under the id the store has for its key.
    pub fn insert(&mut self, key: SeriesKey, state: SeriesState) {
        let live = self.series.get(&key).map(|s| s.id);
        let (id, down) = self.history.start_series(&key, live);
        if let Some(old) = self.series.get(&key).filter(|old| old.id != id) {
            self.history
                .flushes
                .departed(old.id, &key, old.state.kind());
        }
        self.series.insert(&key, Series { state, id, down });
    }

    /// Removes the selected series (admin removal) from the live views; their downsampled
    /// history (open buckets included) stays in the store until its retention ends. Answers
    /// their keys.
    pub fn remove(&mut self, sel: &Selector) -> Vec<SeriesKey> {
        self.remove_where(|k| k.selected_by(sel))
    }

    /// Removes the series whose keys `leaves` picks, keeping their history; answers their keys.
    fn remove_where(&mut self, leaves: impl Fn(&PackedKey) -> bool) -> Vec<SeriesKey> {
        let gone = self.series.remove_where(leaves);
        let mut keys = Vec::with_capacity(gone.len());
        for (k, series) in gone {
            let k = k.unpack();
            self.history
                .flushes
                .departed(series.id, &k, series.state.kind());
            self.keep_history(series);
            keys.push(k);
        }
        keys
    }

    /// Hands what a series leaving the live views still holds open to the history store, so
    /// that its history keeps every sample recorded before it left, whenever it leaves.
    fn keep_history(&mut self, mut gone: Series) {
        let tiers = self.history.setup.tiers.clone();
        let pending = self.history.flushes.pending_mut();
        gone.down.close_due(gone.id, &tiers, i64::MAX, pending);
    }

    /// Removes the series whose [`stable_hash`](SeriesKey::stable_hash) is in `hashes` (idle
    /// expiry); answers their keys.
    pub fn forget(&mut self, hashes: &HashSet<u64>) -> Vec<SeriesKey> {
        self.remove_where(|k| hashes.contains(&k.stable_hash()))
    }

    /// Applies a batch in order; returns how many series it created. Without the wall-clock
    /// time every sample reaches history as a late one (see [`ShardState::apply_at`]).
    pub fn apply(&mut self, events: Vec<Event>, now_nanos: u64) -> usize {
        self.apply_at(events, now_nanos, i64::MIN)
    }

    /// Applies a batch in order at `now_nanos` (monotonic, for meters and timers) and
    /// `now_ms` (epoch, for the downsampler's windows); returns how many series it created.
    pub fn apply_at(&mut self, events: Vec<Event>, now_nanos: u64, now_ms: i64) -> usize {
        let mut created = 0;
        let tiers = self.history.setup.tiers.clone();
        for e in events {
            let series = match self.series.get_mut(&e.key) {
                Some(s) => s,
                None => {
                    created += 1;
                    let (id, down) = self.history.start_series(&e.key, None);
                    let fresh = Series {
                        state: SeriesState::new(e.kind, &self.settings, now_nanos),
                        id,
                        down,
                    };
                    self.series.get_or_insert_with(&e.key, || fresh)
                }
            };
            // A distribution reaches history as its count, sum, min and max.
            let summary = match &e.op {
                Op::Distribution(d) if d.is_consistent() => Some(Bucket::of_distribution(
                    d.count,
                    d.sum,
                    d.min,
                    d.max,
                    e.timestamp_ms,
                )),
                _ => None,
            };
            let gauge_op = matches!(e.op, Op::GaugeDelta | Op::SetMember(_));
            // A folded event is applied as the observations it stands for, one by one.
            let times = e.op.times();
            let op = match e.op {
                Op::Repeat(_) => Op::Observe,
                op => op,
            };
            for _ in 1..times {
                series.state.apply_bounded(
                    e.value,
                    Op::Observe,
                    e.timestamp_ms,
                    now_nanos,
                    self.settings.exact_members,
                );
                let pending = self.history.flushes.pending_mut();
                let samples = Bucket::of(e.value, e.timestamp_ms);
                series
                    .down
                    .record_bucket(series.id, &tiers, samples, now_ms, pending);
            }
            series.state.apply_bounded(
                e.value,
                op,
                e.timestamp_ms,
                now_nanos,
                self.settings.exact_members,
            );
            let samples = match (summary, &series.state) {
                (Some(bucket), _) => bucket,
                // Deltas and set members: history keeps the gauge's resulting value.
                (None, SeriesState::Gauge(g)) if gauge_op => {
                    Bucket::of(g.value().unwrap_or(0.0), e.timestamp_ms)
                }
                (None, _) => Bucket::of(e.value, e.timestamp_ms),
            };
            series.down.record_bucket(
                series.id,
                &tiers,
                samples,
                now_ms,
                self.history.flushes.pending_mut(),
            );
        }
        created
    }

    /// The kind of the live series `key`, if any.
    pub fn kind_of(&self, key: &SeriesKey) -> Option<Kind> {
        self.series.get(key).map(|s| s.state.kind())
    }

    /// Views of the selected series.
    pub fn collect(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        let q = &self.settings.quantiles;
        self.series
            .iter_mut()
            .filter(|(k, _)| k.selected_by(sel))
            .map(|(k, s)| (k.unpack(), s.state.view(now_nanos, q)))
            .collect()
    }

    /// Views of the selected series without quantiles: the cheap read of stream subscriptions,
    /// which need a histogram's mean, never its quantiles.
    pub fn measure(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        self.series
            .iter_mut()
            .filter(|(k, _)| k.selected_by(sel))
            .map(|(k, s)| (k.unpack(), s.state.view(now_nanos, &[])))
            .collect()
    }

    /// Views of the selected series, then resets them as if just created — in one step, so
    /// that every applied event is in exactly one drain or still live.
    pub fn drain(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        let q = &self.settings.quantiles;
        self.series
            .iter_mut()
            .filter(|(k, _)| k.selected_by(sel))
            .map(|(k, s)| {
                let view = s.state.view(now_nanos, q);
                s.state.reset(now_nanos);
                (k.unpack(), view)
            })
            .collect()
    }
}
