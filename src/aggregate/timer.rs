//! A timer: a meter of how often something happened plus a histogram of how long it took.

use super::{Histogram, HistogramSettings, Meter};
use crate::model::{Distribution, HistogramView, MeterView};
use std::time::Duration;

/// A [`Meter`] and a [`Histogram`] of durations in the metric's unit: each event marks 1 and
/// records its value.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Timer {
    meter: Meter,
    histogram: Histogram,
}

impl Timer {
    /// A timer created at `now_nanos`.
    pub fn new(tick: Duration, histogram: HistogramSettings, now_nanos: u64) -> Self {
        Timer {
            meter: Meter::new(tick, now_nanos),
            histogram: Histogram::new(histogram),
        }
    }

    /// Records one timed event lasting `duration` (in the metric's unit).
    pub fn record(&mut self, duration: f64, now_nanos: u64) {
        self.meter.mark(1.0, now_nanos);
        self.histogram.record(duration);
    }

    /// Records a pre-aggregated distribution of `d.count` timed events.
    pub fn record_distribution(&mut self, d: &Distribution, now_nanos: u64) {
        if d.is_consistent() {
            self.meter.mark(d.count as f64, now_nanos);
            self.histogram.record_distribution(d);
        }
    }

    /// Moves the meter's monotonic readings by `shift` nanoseconds (see [`Meter::rebase`]).
    pub fn rebase(&mut self, shift: i64) {
        self.meter.rebase(shift);
    }

    /// Starts again as if created at `now_nanos`.
    pub fn reset(&mut self, now_nanos: u64) {
        self.meter.reset(now_nanos);
        self.histogram.reset();
    }

    /// Rates at `now_nanos` and the distribution of durations with the `quantiles` asked for.
    pub fn view(&mut self, now_nanos: u64, quantiles: &[f64]) -> (MeterView, HistogramView) {
        (self.meter.view(now_nanos), self.histogram.view(quantiles))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::DEFAULT_TICK;

    #[test]
    fn each_event_marks_one_and_records_its_duration() {
        let mut t = Timer::new(DEFAULT_TICK, HistogramSettings::default(), 0);
        t.record(120.0, 1_000_000_000);
        t.record(80.0, 2_000_000_000);
        let (meter, hist) = t.view(4_000_000_000, &[0.5]);
        assert_eq!(meter.count, 2.0);
        assert_eq!(meter.mean_rate, 0.5);
        assert_eq!((hist.count, hist.sum, hist.mean), (2, 200.0, 100.0));
        assert_eq!(hist.quantiles, vec![(0.5, 80.0)], "rank ⌈0.5 · 2⌉ = 1");
    }
}
