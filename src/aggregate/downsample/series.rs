//! The downsampler of one series: the open bucket of each tier, nothing more. Closed buckets
//! leave for [`Pending`] at once, so memory per series does not grow with retention.

use super::{Bucket, Pending, TierSpec};
use serde::{Deserialize, Serialize};

/// The open buckets of one series, one slot per tier.
///
/// A tier's open bucket is the one of the window the clock is in. A sample for that window
/// goes into it; a sample for any other window that the tier still keeps (a late or a future
/// timestamp) becomes a partial bucket in [`Pending`], merged with what is stored when it is
/// written. [`Downsampler::close_due`] moves open buckets whose window has passed to
/// [`Pending`].
///
/// Snapshots keep it whole (open buckets and the last sample's time), so that what an open
/// bucket held before a checkpoint is neither lost nor counted twice after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Downsampler {
    open: Box<[Open]>,
    first_tier: u8,
    last_ms: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Open {
    start: i64,
    bucket: Bucket,
}

const EMPTY: Open = Open {
    start: 0,
    bucket: Bucket {
        count: 0,
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        first: 0.0,
        first_ms: 0,
        last: 0.0,
        last_ms: 0,
    },
};

impl Downsampler {
    /// A downsampler over `tiers` tiers that skips the ones before `first_tier` (a pipeline
    /// rule's `tier`).
    pub fn new(tiers: usize, first_tier: usize) -> Self {
        Downsampler {
            open: vec![EMPTY; tiers].into_boxed_slice(),
            first_tier: u8::try_from(first_tier).unwrap_or(u8::MAX),
            last_ms: i64::MIN,
        }
    }

    /// Epoch ms of the latest sample seen (`i64::MIN` before the first).
    pub fn last_ms(&self) -> i64 {
        self.last_ms
    }

    /// The first tier this series is downsampled into.
    pub fn first_tier(&self) -> usize {
        usize::from(self.first_tier)
    }

    /// Records `value` at `timestamp_ms` for series `id` in every tier that still keeps that
    /// time at `now_ms`; samples outside a tier's open window go to `pending`.
    pub fn record(
        &mut self,
        id: u64,
        tiers: &[TierSpec],
        value: f64,
        timestamp_ms: i64,
        now_ms: i64,
        pending: &mut Pending,
    ) {
        self.record_bucket(id, tiers, Bucket::of(value, timestamp_ms), now_ms, pending);
    }

    /// Records the samples summarised by `samples` (all stamped `samples.last_ms`), as
    /// [`record`](Self::record) records one.
    pub fn record_bucket(
        &mut self,
        id: u64,
        tiers: &[TierSpec],
        samples: Bucket,
        now_ms: i64,
        pending: &mut Pending,
    ) {
        let timestamp_ms = samples.last_ms;
        self.last_ms = self.last_ms.max(timestamp_ms);
        let first = self.first_tier();
        for (i, (tier, open)) in tiers.iter().zip(self.open.iter_mut()).enumerate() {
            if i < first || !tier.covers(timestamp_ms, now_ms) {
                continue;
            }
            let start = tier.start_of(timestamp_ms);
            if open.bucket.count > 0 && open.start == start {
                open.bucket.merge(&samples);
            } else if start == tier.start_of(now_ms) {
                if open.bucket.count > 0 {
                    pending.add(id, i, open.start, &open.bucket);
                }
                *open = Open {
                    start,
                    bucket: samples,
                };
            } else {
                pending.add(id, i, start, &samples);
            }
        }
    }

    /// Moves every open bucket whose window has ended by `now_ms` to `pending`.
    pub fn close_due(&mut self, id: u64, tiers: &[TierSpec], now_ms: i64, pending: &mut Pending) {
        for (i, (tier, open)) in tiers.iter().zip(self.open.iter_mut()).enumerate() {
            if open.bucket.count > 0 && open.start + tier.resolution_ms <= now_ms {
                pending.add(id, i, open.start, &open.bucket);
                *open = EMPTY;
            }
        }
    }

    /// The open bucket of `tier`, with its start.
    pub fn open(&self, tier: usize) -> Option<(i64, &Bucket)> {
        self.open
            .get(tier)
            .filter(|o| o.bucket.count > 0)
            .map(|o| (o.start, &o.bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tiers() -> Vec<TierSpec> {
        vec![
            TierSpec::new(Duration::from_secs(10), Duration::from_secs(60)),
            TierSpec::new(Duration::from_secs(60), Duration::from_secs(3600)),
        ]
    }

    #[test]
    fn current_window_stays_open_others_go_pending() {
        let tiers = tiers();
        let mut d = Downsampler::new(2, 0);
        let mut p = Pending::default();
        let now = 1_000_005_000;
        d.record(1, &tiers, 2.0, now, now, &mut p);
        d.record(1, &tiers, 4.0, now + 1_000, now, &mut p);
        assert_eq!(d.open(0).unwrap().1.count, 2);
        assert!(p.is_empty());
        // 30 s late: outside the 10 s window, inside the 1 m one.
        d.record(1, &tiers, 8.0, now - 30_000, now, &mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(d.open(1).unwrap().1.count, 3);
        // 2 h late: kept by no tier.
        d.record(1, &tiers, 8.0, now - 7_200_000, now, &mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(d.last_ms(), now + 1_000);
        d.close_due(1, &tiers, now + 10_000, &mut p);
        assert!(d.open(0).is_none());
        assert!(d.open(1).is_some());
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn a_rule_skips_fine_tiers() {
        let tiers = tiers();
        let mut d = Downsampler::new(2, 1);
        let mut p = Pending::default();
        d.record(1, &tiers, 1.0, 5_000, 5_000, &mut p);
        assert!(d.open(0).is_none());
        assert!(d.open(1).is_some());
    }
}
