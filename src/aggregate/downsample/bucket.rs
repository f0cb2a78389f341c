//! One time bucket of a tier: count, sum, min, max, first and last (with their timestamps).

use crate::model::Kind;
use serde::{Deserialize, Serialize};

/// The summary of the samples that fell into one time bucket. Buckets merge associatively
/// (except for floating-point rounding of `sum`), so a bucket built from late events and the
/// bucket already on disk combine into the bucket of all of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Number of samples (increments, marks, recorded values).
    pub count: u64,
    /// Sum of the samples.
    pub sum: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// The sample with the earliest timestamp (the first to arrive among equals).
    pub first: f64,
    /// Epoch ms of `first`.
    pub first_ms: i64,
    /// The sample with the latest timestamp (the last to arrive among equals).
    pub last: f64,
    /// Epoch ms of `last`.
    pub last_ms: i64,
}

impl Bucket {
    /// A bucket holding one sample.
    pub fn of(value: f64, timestamp_ms: i64) -> Self {
        Bucket {
            count: 1,
            sum: value,
            min: value,
            max: value,
            first: value,
            first_ms: timestamp_ms,
            last: value,
            last_ms: timestamp_ms,
        }
    }

    /// A bucket holding `count` samples summarised by their sum, min and max, all stamped
    /// `timestamp_ms` (first and last are their mean).
    pub fn of_distribution(count: u64, sum: f64, min: f64, max: f64, timestamp_ms: i64) -> Self {
        let mean = if count == 0 { 0.0 } else { sum / count as f64 };
        Bucket {
            count,
            sum,
            min,
            max,
            first: mean,
            first_ms: timestamp_ms,
            last: mean,
            last_ms: timestamp_ms,
        }
    }

    /// Adds one sample.
    pub fn record(&mut self, value: f64, timestamp_ms: i64) {
        self.merge(&Bucket::of(value, timestamp_ms));
    }

    /// Adds the samples of `later` (a bucket of the same window built after this one).
    pub fn merge(&mut self, later: &Bucket) {
        if later.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *later;
            return;
        }
        self.count += later.count;
        self.sum += later.sum;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        if later.first_ms < self.first_ms {
            self.first = later.first;
            self.first_ms = later.first_ms;
        }
        if later.last_ms >= self.last_ms {
            self.last = later.last;
            self.last_ms = later.last_ms;
        }
    }

    /// Mean of the samples.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The bucket's value as one data point of a series of `kind`: the sum of the increments
    /// of counters and meters, the mean of the samples of gauges, histograms and timers.
    pub fn value(&self, kind: Kind) -> f64 {
        if sums(kind) {
            self.sum
        } else {
            self.mean()
        }
    }
}

/// True for kinds whose samples are increments (a bucket is worth their sum).
pub fn sums(kind: Kind) -> bool {
    matches!(kind, Kind::Counter | Kind::Meter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_merge_keep_order_statistics() {
        let mut a = Bucket::of(5.0, 1_000);
        a.record(1.0, 3_000);
        a.record(9.0, 500);
        assert_eq!((a.count, a.sum, a.min, a.max), (3, 15.0, 1.0, 9.0));
        assert_eq!(
            (a.first, a.first_ms, a.last, a.last_ms),
            (9.0, 500, 1.0, 3_000)
        );

        let mut late = Bucket::of(-2.0, 3_000);
        late.record(7.0, 100);
        a.merge(&late);
        assert_eq!((a.count, a.sum, a.min, a.max), (5, 20.0, -2.0, 9.0));
        // Equal last timestamps: the later arrival wins; the earliest first wins.
        assert_eq!((a.first, a.last), (7.0, -2.0));
        assert_eq!(a.mean(), 4.0);
        assert_eq!(a.value(Kind::Counter), 20.0);
        assert_eq!(a.value(Kind::Gauge), 4.0);
    }

    #[test]
    fn merging_into_empty_copies() {
        let mut empty = Bucket {
            count: 0,
            ..Bucket::of(0.0, 0)
        };
        let b = Bucket::of(3.0, 7);
        empty.merge(&b);
        assert_eq!(empty, b);
    }
}
