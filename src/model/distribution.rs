//! A pre-aggregated distribution: what one OTLP histogram data point carries.

use serde::{Deserialize, Serialize};

/// Values already summarised by their producer: exact count, sum, min and max, and bucket
/// counts, each bucket given by one representative value. A histogram records it as `count`
/// values whose statistics are exact and whose quantiles come from the buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Number of values; equals the sum of the bucket counts.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// `(representative value, count)` per non-empty bucket, the values within `[min, max]`.
    pub buckets: Vec<(f64, u64)>,
}

impl Distribution {
    /// True when the distribution is usable: at least one value, finite statistics,
    /// `min <= max`, and bucket counts that add up to `count`.
    pub fn is_consistent(&self) -> bool {
        let total = self
            .buckets
            .iter()
            .try_fold(0u64, |acc, &(_, n)| acc.checked_add(n));
        self.count > 0
            && self.sum.is_finite()
            && self.min.is_finite()
            && self.max.is_finite()
            && self.min <= self.max
            && self.buckets.iter().all(|(v, _)| v.is_finite())
            && total == Some(self.count)
    }
}
