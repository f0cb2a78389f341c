//! OTLP histogram points (explicit bounds and exponential) as lists of buckets, each with an id
//! that stays the same across exports (to subtract cumulative counts) and one representative
//! value (to record in meterd's histogram).

use opentelemetry_proto::tonic::metrics::v1::{ExponentialHistogramDataPoint, HistogramDataPoint};
use std::hash::{BuildHasher, Hash, Hasher};

/// One histogram point, in the terms meterd records and subtracts.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// A hash of the bucket layout (explicit bounds, or an exponential zero threshold):
    /// counts of two points subtract only when their layouts are equal.
    pub layout: u64,
    /// The scale of an exponential point (`None` for explicit bounds): a point of a lower
    /// scale subtracts a previous one of a higher scale by merging its buckets first.
    pub scale: Option<i32>,
    /// `(id, representative value, count)` of each non-empty bucket, sorted by id.
    pub buckets: Vec<(i64, f64, u64)>,
    /// Number of values.
    pub count: u64,
    /// Sum of the values (the sum of the representatives times their counts when the point
    /// has none).
    pub sum: f64,
    /// Smallest value (the smallest representative when the point has none).
    pub min: f64,
    /// Largest value (the largest representative when the point has none).
    pub max: f64,
}

/// An explicit-bounds point: bucket `i` holds `(bounds[i-1], bounds[i]]`; its representative
/// is the middle of that range narrowed to `[min, max]` (the open-ended first and last
/// buckets are closed by min and max, or else represented by their finite bound).
pub fn explicit(p: &HistogramDataPoint) -> Result<Buckets, String> {
    let bounds = &p.explicit_bounds;
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("explicit bounds must be finite and strictly increasing".into());
    }
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} explicit bounds (expected one more count than bounds)",
            p.bucket_counts.len(),
            bounds.len()
        ));
    }
    let (min, max) = (
        p.min.filter(|v| v.is_finite()),
        p.max.filter(|v| v.is_finite()),
    );
    let mut hasher = foldhash::fast::FixedState::with_seed(0x6f74_6c70).build_hasher();
    0u8.hash(&mut hasher);
    for b in bounds {
        b.to_bits().hash(&mut hasher);
    }
    let mean = p.sum.filter(|_| p.count > 0).map(|s| s / p.count as f64);
    let mut buckets = Vec::new();
    if p.bucket_counts.is_empty() {
        if p.count > 0 {
            let rep = mean.or(min).or(max).unwrap_or(0.0);
            buckets.push((0, rep, p.count));
        }
    } else {
        let last = bounds.len();
        for (i, &n) in p.bucket_counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let lower = if i == 0 { min } else { Some(bounds[i - 1]) };
            let upper = if i == last { max } else { Some(bounds[i]) };
            let rep = match (lower, upper) {
                (Some(lo), Some(hi)) => {
                    let lo = min.map_or(lo, |m| lo.max(m));
                    let hi = max.map_or(hi, |m| hi.min(m));
                    (lo + hi) / 2.0
                }
                (None, Some(hi)) => hi,
                (Some(lo), None) => lo,
                // No bounds and no min/max: the mean is the best guess.
                (None, None) => mean.unwrap_or(0.0),
            };
            buckets.push((i as i64, rep, n));
        }
    }
    finish(hasher.finish(), buckets, p.count, p.sum, min, max)
}

/// An exponential point: at scale `s` the base is `2^(2^-s)` and positive bucket `k` holds
/// `(base^k, base^(k+1)]`; its representative is the middle of that range (negative buckets
/// mirror it; the zero bucket is 0), narrowed to `[min, max]`.
pub fn exponential(p: &ExponentialHistogramDataPoint) -> Result<Buckets, String> {
    if !(-10..=20).contains(&p.scale) {
        return Err(format!("exponential scale {} is outside -10..=20", p.scale));
    }
    let (min, max) = (
        p.min.filter(|v| v.is_finite()),
        p.max.filter(|v| v.is_finite()),
    );
    let mut hasher = foldhash::fast::FixedState::with_seed(0x6f74_6c70).build_hasher();
    1u8.hash(&mut hasher);
    p.zero_threshold.to_bits().hash(&mut hasher);
    let per_doubling = f64::powi(2.0, p.scale);
    let mut buckets = Vec::new();
    if p.zero_count > 0 {
        buckets.push((0, 0.0, p.zero_count));
    }
    for (sign, side) in [(1.0, &p.positive), (-1.0, &p.negative)] {
        let Some(side) = side else { continue };
        for (i, &n) in side
            .bucket_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            let k = i64::from(side.offset) + i as i64;
            let lo = (k as f64 / per_doubling).exp2();
            let hi = ((k + 1) as f64 / per_doubling).exp2();
            let id = k * 4 + if sign > 0.0 { 1 } else { 2 };
            buckets.push((id, sign * (lo + hi) / 2.0, n));
        }
    }
    buckets.sort_by_key(|b| b.0);
    let mut narrowed = buckets;
    for b in &mut narrowed {
        if let Some(m) = min {
            b.1 = b.1.max(m);
        }
        if let Some(m) = max {
            b.1 = b.1.min(m);
        }
    }
    let mut b = finish(hasher.finish(), narrowed, p.count, p.sum, min, max)?;
    b.scale = Some(p.scale);
    Ok(b)
}

/// The id at scale `to` of the exponential bucket `id` of scale `from` (`from >= to`): bucket
/// `k` of scale `s` lies within bucket `k >> (s - t)` of scale `t`.
pub fn rescale(id: i64, from: i32, to: i32) -> i64 {
    let (k, side) = (id.div_euclid(4), id.rem_euclid(4));
    if side == 0 {
        return id;
    }
    let shift = u32::try_from(from - to).unwrap_or(0).min(63);
    (k >> shift) * 4 + side
}

/// Checks the counts and fills in what the point did not carry.
fn finish(
    layout: u64,
    mut buckets: Vec<(i64, f64, u64)>,
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Buckets, String> {
    let total = buckets
        .iter()
        .try_fold(0u64, |acc, b| acc.checked_add(b.2))
        .ok_or("bucket counts overflow")?;
    if total != count && !(buckets.is_empty() && count == 0) {
        return Err(format!(
            "count {count} is not the sum of the bucket counts ({total})"
        ));
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(format!("min {lo} is above max {hi}"));
        }
        for b in &mut buckets {
            b.1 = b.1.clamp(lo, hi);
        }
    }
    if buckets.iter().any(|b| !b.1.is_finite()) {
        return Err("a bucket lies beyond the range of finite values".into());
    }
    let reps = || buckets.iter().map(|b| b.1);
    let sum = match sum {
        Some(s) if !s.is_finite() => return Err(format!("sum {s} is not finite")),
        Some(s) => s,
        None => buckets.iter().map(|b| b.1 * b.2 as f64).sum(),
    };
    let min = min.unwrap_or_else(|| reps().fold(f64::INFINITY, f64::min));
    let max = max.unwrap_or_else(|| reps().fold(f64::NEG_INFINITY, f64::max));
    Ok(Buckets {
        layout,
        scale: None,
        buckets,
        count,
        sum,
        min: if count == 0 { 0.0 } else { min },
        max: if count == 0 { 0.0 } else { max },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets as ExpBuckets;

    #[test]
    fn explicit_buckets_take_their_middles_within_min_and_max() {
        let p = HistogramDataPoint {
            count: 6,
            sum: Some(66.0),
            bucket_counts: vec![1, 0, 3, 2],
            explicit_bounds: vec![5.0, 10.0, 20.0],
            min: Some(2.0),
            max: Some(30.0),
            ..Default::default()
        };
        let b = explicit(&p).unwrap();
        assert_eq!(b.buckets, vec![(0, 3.5, 1), (2, 15.0, 3), (3, 25.0, 2)]);
        assert_eq!((b.count, b.sum, b.min, b.max), (6, 66.0, 2.0, 30.0));
        let mut bad = p.clone();
        bad.count = 7;
        assert!(explicit(&bad).unwrap_err().contains("not the sum"));
        bad.bucket_counts.pop();
        assert!(explicit(&bad).is_err());
    }

    #[test]
    fn exponential_buckets_mirror_around_zero() {
        // scale 0: base 2; bucket 1 is (2, 4], bucket -1 of the negatives is [-1, -0.5).
        let p = ExponentialHistogramDataPoint {
            count: 4,
            sum: Some(5.0),
            scale: 0,
            zero_count: 1,
            positive: Some(ExpBuckets {
                offset: 1,
                bucket_counts: vec![2],
            }),
            negative: Some(ExpBuckets {
                offset: -1,
                bucket_counts: vec![1],
            }),
            min: None,
            max: None,
            ..Default::default()
        };
        let b = exponential(&p).unwrap();
        assert_eq!(b.buckets, vec![(-2, -0.75, 1), (0, 0.0, 1), (5, 3.0, 2)]);
        assert_eq!((b.min, b.max), (-0.75, 3.0));
        // At scale -1 (base 4) positive bucket 1 of scale 0, (2, 4], lies in bucket 0, (1, 4];
        // negative bucket -1, [-1, -0.5), in negative bucket -1, [-1, -0.25).
        assert_eq!(rescale(5, 0, -1), 1);
        assert_eq!(rescale(-2, 0, -1), -2);
        assert_eq!(rescale(4 * 7 + 1, 3, 1), 4 + 1);
        assert_eq!(rescale(0, 3, 1), 0);
        let mut far = p.clone();
        far.positive = Some(ExpBuckets {
            offset: i32::MAX,
            bucket_counts: vec![2],
        });
        assert!(exponential(&far).is_err());
    }
}
