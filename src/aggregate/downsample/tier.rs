//! A tier of downsampled history: a bucket width and how long buckets are kept.

use std::time::Duration;

/// One tier in epoch milliseconds, as the downsampler uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierSpec {
    /// Width of a bucket (ms, at least 1).
    pub resolution_ms: i64,
    /// How long a bucket is kept after its end (ms).
    pub retention_ms: i64,
}

impl TierSpec {
    /// A tier of `resolution` kept for `retention` (both at least 1 ms).
    pub fn new(resolution: Duration, retention: Duration) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1);
        TierSpec {
            resolution_ms: ms(resolution),
            retention_ms: ms(retention),
        }
    }

    /// The start of the bucket holding `timestamp_ms` (`ts - ts % resolution`, floored).
    pub fn start_of(&self, timestamp_ms: i64) -> i64 {
        // Saturating: `i64::MIN` stands for "no wall-clock time" (replay), never a real bucket.
        timestamp_ms.saturating_sub(timestamp_ms.rem_euclid(self.resolution_ms))
    }

    /// The oldest timestamp this tier still keeps at `now_ms`.
    pub fn horizon(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.retention_ms)
    }

    /// True when a sample at `timestamp_ms` is within this tier's retention at `now_ms`.
    pub fn covers(&self, timestamp_ms: i64, now_ms: i64) -> bool {
        timestamp_ms >= self.horizon(now_ms)
    }

    /// True when the bucket starting at `start` has aged out at `now_ms` (it ends before the
    /// horizon): it is deleted and never read.
    pub fn expired(&self, start: i64, now_ms: i64) -> bool {
        start.saturating_add(self.resolution_ms) <= self.horizon(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_and_retention() {
        let t = TierSpec::new(Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(t.start_of(12_345), 10_000);
        assert_eq!(t.start_of(-1), -10_000);
        assert!(t.covers(40_000, 100_000));
        assert!(!t.covers(39_999, 100_000));
        // The bucket [30 s, 40 s) ends at the horizon: gone. [40 s, 50 s) is kept.
        assert!(t.expired(30_000, 100_000));
        assert!(!t.expired(39_000, 100_000));
    }
}
