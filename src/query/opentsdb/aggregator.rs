//! OpenTSDB's aggregation functions, across series (group-by) and within a downsample bucket.
//!
//! meterd never interpolates: a series without a point at a timestamp contributes nothing to
//! it. So `zimsum` equals `sum`, `mimmin` equals `min` and `mimmax` equals `max` (in OpenTSDB
//! they differ from those only by not interpolating).

use super::QueryError;
use crate::aggregate::downsample::Bucket;
use std::fmt;
use std::str::FromStr;

/// An aggregation function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregator {
    /// Sum of the values.
    Sum,
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Number of values.
    Count,
    /// Population standard deviation (0 for one value).
    Dev,
    /// The earliest value (across series: the first series in tag order).
    First,
    /// The latest value (across series: the last series in tag order).
    Last,
    /// Sum, missing values counting as zero.
    ZimSum,
    /// Minimum, ignoring missing values.
    MimMin,
    /// Maximum, ignoring missing values.
    MimMax,
    /// A percentile (0 < p ≤ 100), estimated as Apache Commons Math's default does.
    Percentile(f64),
}

/// The names `GET /api/aggregators` lists, sorted.
pub const NAMES: [&str; 17] = [
    "avg", "count", "dev", "first", "last", "max", "mimmax", "mimmin", "min", "p50", "p75", "p90",
    "p95", "p99", "p999", "sum", "zimsum",
];

impl FromStr for Aggregator {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, QueryError> {
        Ok(match s {
            "sum" => Aggregator::Sum,
            "avg" => Aggregator::Avg,
            "min" => Aggregator::Min,
            "max" => Aggregator::Max,
            "count" => Aggregator::Count,
            "dev" => Aggregator::Dev,
            "first" => Aggregator::First,
            "last" => Aggregator::Last,
            "zimsum" => Aggregator::ZimSum,
            "mimmin" => Aggregator::MimMin,
            "mimmax" => Aggregator::MimMax,
            "p50" => Aggregator::Percentile(50.0),
            "p75" => Aggregator::Percentile(75.0),
            "p90" => Aggregator::Percentile(90.0),
            "p95" => Aggregator::Percentile(95.0),
            "p99" => Aggregator::Percentile(99.0),
            "p999" => Aggregator::Percentile(99.9),
            _ => {
                return Err(QueryError::bad(format!(
                    "unknown aggregator {s:?}; GET /api/aggregators lists them"
                )))
            }
        })
    }
}

impl fmt::Display for Aggregator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Aggregator::Sum => "sum",
            Aggregator::Avg => "avg",
            Aggregator::Min => "min",
            Aggregator::Max => "max",
            Aggregator::Count => "count",
            Aggregator::Dev => "dev",
            Aggregator::First => "first",
            Aggregator::Last => "last",
            Aggregator::ZimSum => "zimsum",
            Aggregator::MimMin => "mimmin",
            Aggregator::MimMax => "mimmax",
            Aggregator::Percentile(p) if *p == 99.9 => "p999",
            Aggregator::Percentile(p) => return write!(f, "p{p}"),
        };
        f.write_str(name)
    }
}

impl Aggregator {
    /// Aggregates `values` (in series or time order, at least one).
    pub fn apply(&self, values: &[f64]) -> f64 {
        let Some(&first) = values.first() else {
            return f64::NAN;
        };
        match self {
            Aggregator::Sum | Aggregator::ZimSum => values.iter().sum(),
            Aggregator::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Aggregator::Min | Aggregator::MimMin => values.iter().copied().fold(first, f64::min),
            Aggregator::Max | Aggregator::MimMax => values.iter().copied().fold(first, f64::max),
            Aggregator::Count => values.len() as f64,
            Aggregator::Dev => dev(values),
            Aggregator::First => first,
            Aggregator::Last => values[values.len() - 1],
            Aggregator::Percentile(p) => percentile(values, *p),
        }
    }

    /// Downsamples the buckets of one series that fall into one interval. Sums, counts,
    /// means, extremes, first and last are exact over the samples the buckets summarise; `dev`
    /// and percentiles, which summaries cannot give, are taken over the buckets' values
    /// (`value` gives a bucket's value: its mean, or its sum for counters and meters).
    pub fn downsample(&self, buckets: &[Bucket], value: impl Fn(&Bucket) -> f64) -> f64 {
        let total = |f: fn(&Bucket) -> f64| buckets.iter().map(f).sum::<f64>();
        match self {
            Aggregator::Sum | Aggregator::ZimSum => total(|b| b.sum),
            Aggregator::Count => buckets.iter().map(|b| b.count).sum::<u64>() as f64,
            Aggregator::Avg => {
                total(|b| b.sum) / buckets.iter().map(|b| b.count).sum::<u64>().max(1) as f64
            }
            Aggregator::Min | Aggregator::MimMin => {
                buckets.iter().map(|b| b.min).fold(f64::INFINITY, f64::min)
            }
            Aggregator::Max | Aggregator::MimMax => buckets
                .iter()
                .map(|b| b.max)
                .fold(f64::NEG_INFINITY, f64::max),
            Aggregator::First => buckets
                .iter()
                .min_by_key(|b| b.first_ms)
                .map_or(f64::NAN, |b| b.first),
            Aggregator::Last => buckets
                .iter()
                .rev()
                .max_by_key(|b| b.last_ms)
                .map_or(f64::NAN, |b| b.last),
            Aggregator::Dev | Aggregator::Percentile(_) => {
                let values: Vec<f64> = buckets.iter().map(value).collect();
                self.apply(&values)
            }
        }
    }
}

/// Population standard deviation by Welford's method.
fn dev(values: &[f64]) -> f64 {
    let (mut mean, mut m2) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let n = (i + 1) as f64;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    (m2 / values.len() as f64).sqrt()
}

/// The `p`th percentile: position `p (n + 1) / 100`, interpolated between neighbours and
/// clamped to the smallest and largest value (Apache Commons Math's default estimation,
/// which OpenTSDB uses).
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let pos = p * (n as f64 + 1.0) / 100.0;
    if pos < 1.0 {
        return sorted[0];
    }
    if pos >= n as f64 {
        return sorted[n - 1];
    }
    let lower = pos.floor();
    let d = pos - lower;
    let i = lower as usize;
    sorted[i - 1] + d * (sorted[i] - sorted[i - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(name: &str) -> Aggregator {
        name.parse().unwrap()
    }

    #[test]
    fn every_name_parses_and_prints_back() {
        for name in NAMES {
            assert_eq!(agg(name).to_string(), name);
        }
        assert!("median".parse::<Aggregator>().is_err());
        let mut sorted = NAMES;
        sorted.sort_unstable();
        assert_eq!(sorted, NAMES);
    }

    #[test]
    fn across_values() {
        let v = [4.0, 1.0, 3.0, 2.0];
        let r = |n: &str| agg(n).apply(&v);
        assert_eq!(
            (r("sum"), r("zimsum"), r("avg"), r("count")),
            (10.0, 10.0, 2.5, 4.0)
        );
        assert_eq!(
            (r("min"), r("mimmin"), r("max"), r("mimmax")),
            (1.0, 1.0, 4.0, 4.0)
        );
        assert_eq!((r("first"), r("last")), (4.0, 2.0));
        assert!((r("dev") - 1.118_033_988_749_895).abs() < 1e-12);
        // n = 4: p50 at position 2.5 → 2.5; p75 at 3.75 → 3.75; p99 clamps to the max.
        assert_eq!((r("p50"), r("p75"), r("p99")), (2.5, 3.75, 4.0));
        assert_eq!(agg("p50").apply(&[7.0]), 7.0);
        assert_eq!(agg("dev").apply(&[7.0]), 0.0);
    }

    #[test]
    fn downsampling_buckets() {
        let mut a = Bucket::of(1.0, 10);
        a.record(5.0, 20);
        let b = Bucket::of(3.0, 5);
        let buckets = [a, b];
        let d = |n: &str| agg(n).downsample(&buckets, Bucket::mean);
        assert_eq!((d("sum"), d("count"), d("avg")), (9.0, 3.0, 3.0));
        assert_eq!(
            (d("min"), d("max"), d("first"), d("last")),
            (1.0, 5.0, 3.0, 5.0)
        );
        // Over bucket means 3 and 3.
        assert_eq!((d("dev"), d("p50")), (0.0, 3.0));
    }
}
