//! The HdrHistogram under a [`Histogram`](super::Histogram): counts of non-negative integer
//! magnitudes, in `u32` counters that widen to `u64` before any of them could overflow.

use super::HistogramSettings;
use hdrhistogram::{Counter, Histogram as Hdr};

/// Counts of magnitudes in `[0, highest_trackable]`; larger magnitudes are clamped to it.
///
/// Counters start as `u32` (half the memory of `u64`). A `u32` counter can only overflow once
/// the histogram holds `u32::MAX` samples in all, so just before that the counts are copied
/// into `u64` counters; no count is ever saturated.
#[derive(Debug, Clone)]
pub(super) enum Magnitudes {
    /// Fewer than `u32::MAX` samples.
    Narrow(Hdr<u32>),
    /// `u32::MAX` samples or more.
    Wide(Hdr<u64>),
}

impl Magnitudes {
    /// Empty counts. With `auto_resize` the counts array starts tiny and grows to the largest
    /// magnitude recorded (never past `highest_trackable`); without it the whole range is
    /// allocated now.
    pub(super) fn new(settings: &HistogramSettings) -> Self {
        let sigfig = settings.significant_digits.min(5);
        let highest = settings.highest_trackable.max(2);
        let hdr = if settings.auto_resize {
            Hdr::new_with_bounds(1, 2, sigfig).map(|mut h| {
                h.auto(true);
                h
            })
        } else {
            Hdr::new_with_bounds(1, highest, sigfig)
        };
        // The bounds were clamped into the ranges HdrHistogram accepts just above.
        Magnitudes::Narrow(hdr.expect("valid HdrHistogram bounds"))
    }

    /// Counts `magnitude` (clamped to `highest`) `n` times.
    pub(super) fn record_n(&mut self, magnitude: u64, n: u64, highest: u64) {
        let magnitude = magnitude.min(highest.max(2));
        if let Magnitudes::Narrow(narrow) = self {
            if narrow.len().saturating_add(n) > u64::from(u32::MAX) {
                *self = Magnitudes::Wide(widen(narrow));
            }
        }
        match self {
            // Below u32::MAX samples in all (checked just above), so `n` fits a u32.
            Magnitudes::Narrow(h) => record_into(h, magnitude, n as u32),
            Magnitudes::Wide(h) => record_into(h, magnitude, n),
        }
    }

    /// Samples counted.
    pub(super) fn len(&self) -> u64 {
        match self {
            Magnitudes::Narrow(h) => h.len(),
            Magnitudes::Wide(h) => h.len(),
        }
    }

    /// The `rank`-th smallest magnitude (1-based, `1..=len`), read as the `end` of the
    /// HdrHistogram bucket that holds it.
    pub(super) fn at_rank(&self, rank: u64, end: End) -> u64 {
        let n = self.len();
        if n == 0 {
            return 0;
        }
        // ceil((rank - ½) / n · n) = rank, robust to rounding in the quantile arithmetic.
        let quantile = (rank.clamp(1, n) as f64 - 0.5) / n as f64;
        match self {
            Magnitudes::Narrow(h) => end.of(h, h.value_at_quantile(quantile)),
            Magnitudes::Wide(h) => end.of(h, h.value_at_quantile(quantile)),
        }
    }

    /// The magnitudes at several ranks in one pass over the counts: for each `(rank, slot)`
    /// (ranks 1-based), `(slot, value)` with the same value [`at_rank`](Self::at_rank) gives.
    pub(super) fn at_ranks(&self, ranks: &mut [(u64, usize)], end: End) -> Vec<(usize, u64)> {
        ranks.sort_unstable();
        match self {
            Magnitudes::Narrow(h) => walk_ranks(h, ranks, end),
            Magnitudes::Wide(h) => walk_ranks(h, ranks, end),
        }
    }

    /// Bytes held by the counts array.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Magnitudes::Narrow(h) => h.distinct_values() * std::mem::size_of::<u32>(),
            Magnitudes::Wide(h) => h.distinct_values() * std::mem::size_of::<u64>(),
        }
    }
}

/// Which end of its HdrHistogram bucket a magnitude is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The smallest magnitude the bucket holds.
    Lowest,
    /// The largest magnitude the bucket holds.
    Highest,
}

impl End {
    /// This end of the bucket that holds `magnitude`.
    fn of<T: Counter>(self, h: &Hdr<T>, magnitude: u64) -> u64 {
        match self {
            End::Lowest => h.lowest_equivalent(magnitude),
            End::Highest => h.highest_equivalent(magnitude),
        }
    }
}

/// One ascending walk over the recorded buckets, answering every rank (sorted) on the way.
fn walk_ranks<T: Counter>(h: &Hdr<T>, ranks: &[(u64, usize)], end: End) -> Vec<(usize, u64)> {
    let mut out = Vec::with_capacity(ranks.len());
    let mut next = 0;
    let mut seen = 0u64;
    for bucket in h.iter_recorded() {
        seen += bucket.count_at_value().as_u64();
        while next < ranks.len() && ranks[next].0 <= seen {
            out.push((ranks[next].1, end.of(h, bucket.value_iterated_to())));
            next += 1;
        }
        if next == ranks.len() {
            break;
        }
    }
    out.extend(
        ranks[next..]
            .iter()
            .map(|&(_, slot)| (slot, end.of(h, h.max()))),
    );
    out
}

/// Counts `magnitude` in `h`. With auto-resize the counts grow to fit; without it (or if growing
/// failed) the magnitude is clamped into the range, which the caller's clamp already ensures.
fn record_into<T: Counter>(h: &mut Hdr<T>, magnitude: u64, n: T) {
    if h.record_n(magnitude, n).is_err() {
        h.saturating_record_n(magnitude, n);
    }
}

/// The same counts in `u64` counters.
fn widen(narrow: &Hdr<u32>) -> Hdr<u64> {
    let mut wide = Hdr::<u64>::new_from(narrow);
    for bucket in narrow.iter_recorded() {
        wide.saturating_record_n(
            bucket.value_iterated_to(),
            u64::from(bucket.count_at_value()),
        );
    }
    wide
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_keeps_every_count() {
        let settings = HistogramSettings::default();
        let mut narrow = Hdr::<u32>::new_with_bounds(1, 2, 2).unwrap();
        narrow.auto(true);
        narrow.record_n(7, 3).unwrap();
        narrow.record_n(1_000_000, u32::MAX - 3).unwrap();
        let mut counts = Magnitudes::Narrow(narrow);
        counts.record_n(7, 1, settings.highest_trackable);
        assert!(matches!(counts, Magnitudes::Wide(_)));
        assert_eq!(counts.len(), u64::from(u32::MAX) + 1);
        assert_eq!(counts.at_rank(4, End::Lowest), 7);
        assert!(counts.at_rank(5, End::Highest) >= 1_000_000);
        assert!(counts.at_rank(5, End::Lowest) <= 1_000_000);
    }

    #[test]
    fn magnitudes_above_highest_are_clamped() {
        for auto_resize in [true, false] {
            let settings = HistogramSettings {
                highest_trackable: 1000,
                auto_resize,
                ..HistogramSettings::default()
            };
            let mut counts = Magnitudes::new(&settings);
            counts.record_n(u64::MAX, 1, settings.highest_trackable);
            assert_eq!(counts.len(), 1);
            let top = counts.at_rank(1, End::Highest);
            assert!((1000..=1010).contains(&top), "{top}");
        }
    }
}
