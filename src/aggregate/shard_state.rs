//! The series one shard owns: a plain map from key to aggregate, with apply, read and drain.

use super::{AggregateSettings, SeriesState};
use crate::model::{Event, SeriesKey, ValueView};
use crate::registry::Selector;
use std::collections::{HashMap, HashSet};

/// All series routed to one shard.
pub struct ShardState {
    series: HashMap<SeriesKey, SeriesState>,
    settings: AggregateSettings,
}

impl ShardState {
    /// An empty shard.
    pub fn new(settings: AggregateSettings) -> Self {
        ShardState {
            series: HashMap::new(),
            settings,
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

    /// Every series, for snapshots.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &SeriesState)> {
        self.series.iter()
    }

    /// Puts back a series restored from a snapshot (replacing one with the same key).
    pub fn insert(&mut self, key: SeriesKey, state: SeriesState) {
        self.series.insert(key, state);
    }

    /// Removes the selected series (admin removal); answers their keys.
    pub fn remove(&mut self, sel: &Selector) -> Vec<SeriesKey> {
        let keys: Vec<SeriesKey> = self
            .series
            .keys()
            .filter(|k| sel.matches(k))
            .cloned()
            .collect();
        for k in &keys {
            self.series.remove(k);
        }
        keys
    }

    /// Removes the series whose [`stable_hash`](SeriesKey::stable_hash) is in `hashes` (idle
    /// expiry); answers their keys.
    pub fn forget(&mut self, hashes: &HashSet<u64>) -> Vec<SeriesKey> {
        let mut gone = Vec::new();
        self.series.retain(|k, _| {
            let keep = !hashes.contains(&k.stable_hash());
            if !keep {
                gone.push(k.clone());
            }
            keep
        });
        gone
    }

    /// Applies a batch in order; returns how many series it created.
    pub fn apply(&mut self, events: Vec<Event>, now_nanos: u64) -> usize {
        let mut created = 0;
        for e in events {
            let state = match self.series.get_mut(&e.key) {
                Some(s) => s,
                None => {
                    created += 1;
                    let fresh = SeriesState::new(e.kind, &self.settings, now_nanos);
                    self.series.entry(e.key).or_insert(fresh)
                }
            };
            state.apply(e.value, e.op, e.timestamp_ms, now_nanos);
        }
        created
    }

    /// Views of the selected series.
    pub fn collect(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        let q = &self.settings.quantiles;
        self.series
            .iter_mut()
            .filter(|(k, _)| sel.matches(k))
            .map(|(k, s)| (k.clone(), s.view(now_nanos, q)))
            .collect()
    }

    /// Views of the selected series without quantiles: the cheap read of stream subscriptions,
    /// which need a histogram's mean, never its quantiles.
    pub fn measure(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        self.series
            .iter_mut()
            .filter(|(k, _)| sel.matches(k))
            .map(|(k, s)| (k.clone(), s.view(now_nanos, &[])))
            .collect()
    }

    /// Views of the selected series, then resets them as if just created — in one step, so
    /// that every applied event is in exactly one drain or still live.
    pub fn drain(&mut self, sel: &Selector, now_nanos: u64) -> Vec<(SeriesKey, ValueView)> {
        let q = &self.settings.quantiles;
        self.series
            .iter_mut()
            .filter(|(k, _)| sel.matches(k))
            .map(|(k, s)| {
                let view = s.view(now_nanos, q);
                s.reset(now_nanos);
                (k.clone(), view)
            })
            .collect()
    }
}
