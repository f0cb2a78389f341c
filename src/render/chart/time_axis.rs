//! A time axis for plotters whose ticks fall on round UTC times (every 10 s, 5 min, 1 h,
//! 1 day, ...) rather than on round numbers of milliseconds.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use std::ops::Range;

const S: i64 = 1000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;

/// Tick steps, finest first.
const STEPS: [i64; 24] = [
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    M,
    2 * M,
    5 * M,
    10 * M,
    15 * M,
    30 * M,
    H,
    2 * H,
    3 * H,
    6 * H,
    12 * H,
    D,
    2 * D,
    7 * D,
    14 * D,
    30 * D,
    90 * D,
    365 * D,
];

/// Epoch milliseconds from `start` to `end`, both drawn, with at most `max_ticks` labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeAxis {
    /// First instant, epoch ms.
    pub start: i64,
    /// Last instant, epoch ms (more than `start`).
    pub end: i64,
    /// The most ticks (and labels) drawn.
    pub max_ticks: usize,
}

impl TimeAxis {
    /// The axis over `[start, end]` with at most `max_ticks` ticks; an empty range is widened
    /// to one second.
    pub fn new(start: i64, end: i64, max_ticks: usize) -> Self {
        TimeAxis {
            start,
            end: end.max(start + S),
            max_ticks: max_ticks.max(1),
        }
    }

    /// The finest round step that gives at most `max` ticks.
    pub fn step(&self, max: usize) -> i64 {
        let span = self.end - self.start;
        let max = max.max(1) as i64;
        STEPS
            .iter()
            .copied()
            .find(|step| span / step < max)
            .unwrap_or(STEPS[STEPS.len() - 1])
    }

    /// The ticks of `step` within the axis.
    pub fn ticks(&self, step: i64) -> Vec<i64> {
        let first = self.start + (step - self.start.rem_euclid(step)) % step;
        (0..)
            .map(|i| first + i * step)
            .take_while(|t| *t <= self.end)
            .collect()
    }
}

impl Ranged for TimeAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = i64;

    fn map(&self, value: &i64, limit: (i32, i32)) -> i32 {
        let span = (self.end - self.start) as f64;
        let at = (*value - self.start) as f64 / span;
        limit.0 + (at * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<i64> {
        self.ticks(self.step(hint.max_num_points().min(self.max_ticks)))
    }

    fn range(&self) -> Range<i64> {
        self.start..self.end
    }
}

impl ValueFormatter<i64> for TimeAxis {
    fn format_ext(&self, value: &i64) -> String {
        super::format_time(*value, self.step(self.max_ticks), self.end - self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_round_times() {
        // 14:03:20 to 15:03:20 UTC: every 10 minutes from 14:10.
        let start = 1_714_572_200_000;
        let axis = TimeAxis::new(start, start + H, 8);
        assert_eq!(axis.step(8), 10 * M);
        let ticks = axis.ticks(10 * M);
        assert_eq!(ticks.len(), 6);
        assert_eq!(ticks[0] % (10 * M), 0);
        assert!(ticks[0] >= start && ticks[0] - start < 10 * M);
        assert_eq!(axis.map(&start, (0, 100)), 0);
        assert_eq!(axis.map(&(start + H), (0, 100)), 100);
    }

    #[test]
    fn a_tick_on_the_start_is_kept() {
        let axis = TimeAxis::new(0, 60 * S, 8);
        assert_eq!(axis.ticks(30 * S), vec![0, 30 * S, 60 * S]);
    }
}
