//! A distribution of recorded values: HdrHistogram counts for quantiles, with count, sum, min,
//! max, mean and standard deviation kept exactly beside them.

use super::hdr::{End, Magnitudes};
use crate::model::{Distribution, HistogramView};

/// How a [`Histogram`] sizes its HdrHistogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistogramSettings {
    /// Decimal digits of precision of the quantiles (HdrHistogram accepts 0..=5; pipelines
    /// allow 1..=5). 2 means quantiles within 1 %.
    pub significant_digits: u8,
    /// Largest magnitude told apart in quantiles; larger values are counted as this one
    /// (count, sum, min, max, mean and stddev stay exact). Default: one hour in nanoseconds.
    pub highest_trackable: u64,
    /// Allocate counts only up to the largest value seen so far (growing on demand) rather
    /// than for the whole range at once.
    pub auto_resize: bool,
}

impl Default for HistogramSettings {
    fn default() -> Self {
        HistogramSettings {
            significant_digits: 2,
            highest_trackable: 3_600_000_000_000,
            auto_resize: true,
        }
    }
}

/// A histogram of `f64` values, as MicroProfile (Dropwizard) histograms and timers report them.
///
/// Values are rounded to integers for the HdrHistogram (MicroProfile histograms hold longs);
/// negative values go, as magnitudes, into a second HdrHistogram allocated on the first one.
/// Count, sum, min and max are kept exactly, the mean is `sum / count` and the population
/// standard deviation comes from Welford's running sum of squared deviations.
///
/// Quantiles are nearest-rank: `q` reads the value of rank `⌈q·n⌉` among the `n` sorted values
/// (rank 1 for `q = 0`; a `q·n` that is an integer up to floating-point rounding counts as that
/// integer). This is what the MicroProfile Metrics TCK expects of its 200-value data sets
/// (`HistogramTest`, `TimerTest`: p50 = 48 and 480, p75 = 75, p99 = 98, ...), and what its
/// reference's weighted snapshot answers for them: that snapshot returns the last value whose
/// running sum of weights before it is at most `q`, and its 200 equal weights (the double
/// nearest 1/200, slightly above it) sum past `q` just before rank `q·n + 1`. The highest rank
/// reads the exact maximum; any other reads the lowest value of its HdrHistogram bucket
/// (negative values: the lowest value, i.e. the largest magnitude), clamped into `[min, max]`,
/// so a value HdrHistogram holds exactly (every integer below 256 with the default two
/// significant digits, every even one below 512, ...) comes back as it went in, and any other
/// at most 1 % below it.
///
/// Memory, with the default settings (`u32` counters, widened to `u64` only past 2³² samples):
/// nothing before the first value; 512 counters (2 KiB) once values up to 1 000 were seen;
/// at most 4 608 counters (18 KiB) for values up to the highest trackable one (1 h in ns),
/// plus as much again only if negative values of that size were recorded too.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    settings: HistogramSettings,
    /// Zero and positive values (boxed, like `negative`, to keep empty series small).
    positive: Option<Box<Magnitudes>>,
    /// Magnitudes of negative values.
    negative: Option<Box<Magnitudes>>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Welford's running mean, used only for `m2`.
    welford_mean: f64,
    /// Welford's sum of squared deviations from the mean.
    m2: f64,
}

impl Histogram {
    /// An empty histogram; its counts are allocated on the first value.
    pub fn new(settings: HistogramSettings) -> Self {
        Histogram {
            settings,
            positive: None,
            negative: None,
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            welford_mean: 0.0,
            m2: 0.0,
        }
    }

    /// Records one value. Callers pass finite values (ingest rejects the others); a non-finite
    /// value is ignored so that it cannot poison the statistics.
    pub fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        let delta = value - self.welford_mean;
        self.welford_mean += delta / self.count as f64;
        self.m2 += delta * (value - self.welford_mean);

        self.record_magnitude(value, 1);
    }

    /// Counts `value`, rounded, `n` times in the counts of its sign.
    fn record_magnitude(&mut self, value: f64, n: u64) {
        let rounded = value.round();
        let side = if rounded < 0.0 {
            &mut self.negative
        } else {
            &mut self.positive
        };
        // `as` saturates: magnitudes beyond u64 become u64::MAX, then the highest trackable.
        side.get_or_insert_with(|| Box::new(Magnitudes::new(&self.settings)))
            .record_n(rounded.abs() as u64, n, self.settings.highest_trackable);
    }

    /// Records a pre-aggregated distribution (an OTLP histogram point) as `d.count` values:
    /// count, sum, min and max exactly; each bucket's count at its representative value, so a
    /// quantile is off by at most the distance from the true value to that representative
    /// (half a bucket's width for explicit bounds) on top of the usual precision. The standard
    /// deviation merges the buckets' spread (Chan et al.), so it is approximate too. An
    /// inconsistent distribution (see [`Distribution::is_consistent`]) is ignored.
    pub fn record_distribution(&mut self, d: &Distribution) {
        if !d.is_consistent() {
            return;
        }
        if self.count == 0 {
            self.min = d.min;
            self.max = d.max;
        } else {
            self.min = self.min.min(d.min);
            self.max = self.max.max(d.max);
        }
        let (na, nb) = (self.count as f64, d.count as f64);
        let mean_b = d.sum / nb;
        let m2_b: f64 = d
            .buckets
            .iter()
            .map(|&(v, n)| n as f64 * (v - mean_b) * (v - mean_b))
            .sum();
        let delta = mean_b - self.welford_mean;
        self.m2 += m2_b + delta * delta * na * nb / (na + nb);
        self.welford_mean += delta * nb / (na + nb);
        self.count += d.count;
        self.sum += d.sum;
        for &(value, n) in &d.buckets {
            self.record_magnitude(value, n);
        }
    }

    /// Empties the histogram (releasing its counts), keeping its settings.
    pub fn reset(&mut self) {
        *self = Histogram::new(self.settings);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the values recorded.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Mean; 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// Population standard deviation; 0 when empty.
    pub fn stddev(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2 / self.count as f64).max(0.0).sqrt()
        }
    }

    /// The value at quantile `q` (clamped into `[0, 1]`); 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = nearest_rank(q, self.count);
        if rank == self.count {
            return self.max;
        }
        let negatives = self.negative.as_ref().map_or(0, |neg| neg.len());
        let value = match (&self.negative, &self.positive) {
            (Some(neg), _) if rank <= negatives => {
                // Ascending values are descending magnitudes.
                -(neg.at_rank(negatives - rank + 1, End::Highest) as f64)
            }
            (_, Some(pos)) => pos.at_rank(rank - negatives, End::Lowest) as f64,
            // Unreachable: every value recorded went to one side or the other.
            _ => 0.0,
        };
        value.clamp(self.min, self.max)
    }

    /// Summary statistics and the `quantiles` asked for, in their order.
    pub fn view(&self, quantiles: &[f64]) -> HistogramView {
        HistogramView {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            mean: self.mean(),
            stddev: self.stddev(),
            quantiles: quantiles
                .iter()
                .copied()
                .zip(self.quantiles(quantiles))
                .collect(),
        }
    }

    /// The values at several quantiles, in their order: the same as [`quantile`](Self::quantile)
    /// for each, in one pass over each side's counts instead of one pass per quantile.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; qs.len()];
        if self.count == 0 {
            return out;
        }
        let negatives = self.negative.as_ref().map_or(0, |neg| neg.len());
        let (mut neg_ranks, mut pos_ranks) = (Vec::new(), Vec::new());
        let mut highest = Vec::new();
        for (slot, &q) in qs.iter().enumerate() {
            let rank = nearest_rank(q, self.count);
            if rank == self.count {
                highest.push(slot);
            } else if rank <= negatives {
                // Ascending values are descending magnitudes.
                neg_ranks.push((negatives - rank + 1, slot));
            } else {
                pos_ranks.push((rank - negatives, slot));
            }
        }
        if let Some(neg) = &self.negative {
            for (slot, magnitude) in neg.at_ranks(&mut neg_ranks, End::Highest) {
                out[slot] = -(magnitude as f64);
            }
        }
        if let Some(pos) = &self.positive {
            for (slot, magnitude) in pos.at_ranks(&mut pos_ranks, End::Lowest) {
                out[slot] = magnitude as f64;
            }
        }
        for v in &mut out {
            *v = v.clamp(self.min, self.max);
        }
        for slot in highest {
            out[slot] = self.max;
        }
        out
    }

    /// Bytes held by the HdrHistogram counts (the struct itself aside).
    pub fn heap_bytes(&self) -> usize {
        [&self.positive, &self.negative]
            .into_iter()
            .flatten()
            .map(|side| side.heap_bytes())
            .sum()
    }
}

/// The nearest rank of quantile `q` (clamped into `[0, 1]`; NaN reads as 0) among `n ≥ 1`
/// values: `⌈q·n⌉`, at least 1. A product within a few ulps of an integer is that integer, so
/// `0.07 · 100` (7.000000000000001 in floating point) is rank 7, not 8.
fn nearest_rank(q: f64, n: u64) -> u64 {
    let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
    let product = q * n as f64;
    let integer = product.round();
    let rank = if (product - integer).abs() <= product * 4.0 * f64::EPSILON {
        integer
    } else {
        product.ceil()
    };
    (rank as u64).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QUANTILES: [f64; 6] = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999];

    fn one_to_thousand() -> Histogram {
        let mut h = Histogram::new(HistogramSettings::default());
        for v in 1..=1000 {
            h.record(f64::from(v));
        }
        h
    }

    #[test]
    fn quantiles_of_one_to_thousand_are_within_one_percent() {
        let view = one_to_thousand().view(&QUANTILES);
        for (q, got) in view.quantiles {
            let want = q * 1000.0;
            assert!((got - want).abs() <= want * 0.01, "p{q}: {got} vs {want}");
        }
    }

    proptest! {
        #[test]
        fn one_pass_quantiles_equal_one_by_one(values in proptest::collection::vec(-1e7..1e7f64, 1..300)) {
            let mut h = Histogram::new(HistogramSettings::default());
            for v in &values {
                h.record(*v);
            }
            let qs = [0.0, 0.1, 0.5, 0.75, 0.95, 0.98, 0.99, 0.999, 1.0];
            let one_by_one: Vec<f64> = qs.iter().map(|&q| h.quantile(q)).collect();
            prop_assert_eq!(h.quantiles(&qs), one_by_one);
        }
    }

    #[test]
    fn a_distribution_keeps_its_statistics_exact_and_quantiles_within_its_buckets() {
        // 1..=1000 in buckets of 100 represented by their midpoints, recorded in two halves
        // over a histogram that already holds one value.
        let mut h = Histogram::new(HistogramSettings::default());
        h.record(500.5);
        for half in [0..5, 5..10] {
            let buckets: Vec<(f64, u64)> =
                half.map(|b| (f64::from(b) * 100.0 + 50.5, 100)).collect();
            let lo = buckets[0].0 - 49.5;
            let hi = buckets[4].0 + 49.5;
            let sum = (lo as u64..=hi as u64).sum::<u64>() as f64;
            h.record_distribution(&Distribution {
                count: 500,
                sum,
                min: lo,
                max: hi,
                buckets,
            });
        }
        let view = h.view(&[0.5, 0.9]);
        assert_eq!(view.count, 1001);
        assert_eq!(view.sum, 500_500.0 + 500.5);
        assert_eq!((view.min, view.max), (1.0, 1000.0));
        assert!(
            (view.stddev - 288.674_990_257_210_6).abs() < 2.0,
            "{}",
            view.stddev
        );
        for (q, got) in view.quantiles {
            let want = q * 1000.0;
            assert!(
                (got - want).abs() <= 50.0 + want * 0.01,
                "p{q}: {got} vs {want}"
            );
        }
        let before = h.count();
        h.record_distribution(&Distribution {
            count: 3,
            sum: 1.0,
            min: 0.0,
            max: 1.0,
            buckets: vec![(0.5, 2)],
        });
        assert_eq!(h.count(), before, "inconsistent counts are ignored");
    }

    #[test]
    fn statistics_of_one_to_thousand_are_exact() {
        let view = one_to_thousand().view(&[]);
        assert_eq!(view.count, 1000);
        assert_eq!(view.sum, 500_500.0);
        assert_eq!((view.min, view.max), (1.0, 1000.0));
        assert_eq!(view.mean, 500.5);
        // sqrt((n² - 1) / 12)
        assert!(
            (view.stddev - 288.674_990_257_210_6).abs() < 1e-9,
            "{}",
            view.stddev
        );
    }

    #[test]
    fn the_seed_example_with_a_negative_value() {
        let mut h = Histogram::new(HistogramSettings::default());
        h.record(-1624.0);
        h.record(26.0);
        let view = h.view(&QUANTILES);
        assert_eq!((view.count, view.min, view.max), (2, -1624.0, 26.0));
        assert_eq!((view.mean, view.stddev), (-799.0, 825.0));
        // p50 is rank ⌈0.5 · 2⌉ = 1 (the seed's 26 is rank 2: its snapshot's weights 1/2 are
        // exact, so its running sum reaches 0.5 exactly and it takes the next value; with the
        // TCK's 200 values it does not, and meterd follows the TCK).
        assert_eq!(view.quantiles[0], (0.5, -1624.0));
        assert!(view.quantiles[1..].iter().all(|&(_, v)| v == 26.0));
        assert_eq!(h.quantile(0.0), -1624.0);
    }

    /// `HistogramTest.SAMPLE_INT_DATA` of the MicroProfile Metrics TCK (1.1).
    const TCK_INT_DATA: [u16; 200] = [
        0, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 5, 5, 6, 7, 7, 7, 8, 9, 9, 10, 11, 11, 12, 12, 12, 12, 13,
        13, 13, 13, 14, 14, 15, 15, 17, 18, 18, 20, 20, 20, 21, 22, 22, 22, 24, 24, 25, 25, 27, 27,
        27, 27, 27, 27, 27, 28, 28, 29, 30, 31, 31, 32, 32, 33, 33, 36, 36, 36, 36, 37, 38, 38, 38,
        39, 40, 40, 41, 42, 42, 42, 43, 44, 44, 44, 45, 45, 45, 46, 46, 46, 46, 47, 47, 47, 47, 47,
        47, 48, 48, 49, 49, 50, 51, 52, 52, 52, 53, 54, 54, 55, 56, 56, 57, 57, 59, 59, 60, 61, 61,
        62, 62, 63, 64, 64, 64, 65, 66, 66, 66, 67, 67, 68, 68, 70, 71, 71, 71, 71, 72, 72, 72, 72,
        73, 73, 74, 74, 74, 75, 75, 76, 76, 76, 77, 78, 78, 78, 80, 80, 81, 82, 82, 82, 83, 83, 84,
        84, 85, 87, 87, 88, 88, 88, 89, 89, 89, 89, 90, 91, 92, 92, 92, 93, 94, 95, 95, 95, 96, 96,
        96, 96, 97, 97, 97, 97, 98, 98, 98, 99, 99,
    ];

    #[test]
    fn the_tck_data_sets_read_the_tck_quantiles() {
        for scale in [1.0, 10.0] {
            let mut h = Histogram::new(HistogramSettings::default());
            for v in TCK_INT_DATA {
                h.record(f64::from(v) * scale);
            }
            let got = h.quantiles(&QUANTILES);
            // 750 falls in HdrHistogram's bucket 748..=751 (two significant digits).
            let want = if scale == 1.0 {
                [48.0, 75.0, 96.0, 98.0, 98.0, 99.0]
            } else {
                [480.0, 748.0, 960.0, 980.0, 980.0, 990.0]
            };
            assert_eq!(got, want, "scale {scale}");
        }
    }

    #[test]
    fn nearest_rank_is_the_ceiling_robust_to_rounding() {
        assert_eq!(nearest_rank(0.5, 200), 100);
        assert_eq!(nearest_rank(0.999, 200), 200);
        assert_eq!(nearest_rank(0.07, 100), 7);
        assert_eq!(nearest_rank(0.0, 5), 1);
        assert_eq!(nearest_rank(1.0, 5), 5);
        assert_eq!(nearest_rank(f64::NAN, 5), 1);
        assert_eq!(nearest_rank(0.5, 3), 2);
    }

    #[test]
    fn quantiles_span_negative_and_positive_values() {
        let mut h = Histogram::new(HistogramSettings::default());
        for v in -500..500 {
            h.record(f64::from(v));
        }
        assert_eq!(h.quantile(0.0), -500.0);
        assert!((h.quantile(0.1) - -400.0).abs() <= 4.0);
        assert_eq!(h.quantile(0.5), -1.0, "rank 500 of -500..=499");
        assert!((h.quantile(0.9) - 400.0).abs() <= 4.0);
        assert_eq!(h.quantile(1.0), 499.0);
        assert_eq!(h.mean(), -0.5);
    }

    #[test]
    fn memory_stays_within_budget() {
        assert_eq!(one_to_thousand().heap_bytes(), 512 * 4);
        let mut full = Histogram::new(HistogramSettings::default());
        full.record(1e300);
        assert_eq!(full.heap_bytes(), 4608 * 4);
        full.record(-1e300);
        assert!(full.heap_bytes() <= 2 * 18 * 1024);
        let eager = Histogram::new(HistogramSettings {
            auto_resize: false,
            ..HistogramSettings::default()
        });
        assert_eq!(
            eager.heap_bytes(),
            0,
            "nothing is allocated before the first value"
        );
    }

    #[test]
    fn empty_reads_zero() {
        let view = Histogram::new(HistogramSettings::default()).view(&[0.5]);
        assert_eq!(
            view,
            HistogramView {
                quantiles: vec![(0.5, 0.0)],
                ..HistogramView::default()
            }
        );
    }

    #[test]
    fn fractions_round_for_quantiles_but_not_for_statistics() {
        let mut h = Histogram::new(HistogramSettings::default());
        h.record(0.25);
        h.record(2.5);
        assert_eq!(h.sum(), 2.75);
        assert_eq!(h.view(&[]).min, 0.25);
        assert_eq!(h.quantile(0.5), 0.25, "0 clamped to the exact minimum");
        assert_eq!(
            h.quantile(0.75),
            2.5,
            "the highest rank reads the exact maximum"
        );
    }

    proptest! {
        #[test]
        fn count_sum_min_max_are_exact(values in prop::collection::vec(
            prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL, 0..200,
        )) {
            let mut h = Histogram::new(HistogramSettings::default());
            for &v in &values {
                h.record(v);
            }
            let view = h.view(&QUANTILES);
            prop_assert_eq!(view.count, values.len() as u64);
            let sum = values.iter().fold(0.0, |a, v| a + v);
            prop_assert!(view.sum == sum || (view.sum.is_nan() && sum.is_nan()));
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if values.is_empty() {
                prop_assert_eq!((view.min, view.max), (0.0, 0.0));
            } else {
                prop_assert_eq!((view.min, view.max), (min, max));
                for (_, v) in view.quantiles {
                    prop_assert!(v >= min && v <= max);
                }
            }
        }
    }
}
