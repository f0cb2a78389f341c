//! Dropwizard's `Meter`: a count, a mean rate and 1-, 5- and 15-minute exponentially weighted
//! moving averages, ticked lazily ("tickIfNecessary") from the caller's monotonic nanoseconds.

use crate::model::MeterView;
use std::time::Duration;

/// Dropwizard's tick interval.
pub const DEFAULT_TICK: Duration = Duration::from_secs(5);

/// Rates below this read as 0 (decay alone never reaches 0.0 exactly).
const NEGLIGIBLE_RATE: f64 = 1e-300;

/// Idle ticks that a catch-up runs one by one, as Dropwizard does; beyond this (≈ 2.8 hours at
/// 5 s) the remaining pure-decay ticks are applied at once as `rate · (1 - α)^k`, which agrees
/// with ticking one by one to a few ulps and keeps a catch-up after a long idle time O(1).
const EXACT_CATCH_UP_TICKS: u64 = 2048;

/// One exponentially weighted moving average of a rate, Dropwizard's `EWMA`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ewma {
    alpha: f64,
    tick_secs: f64,
    uncounted: f64,
    /// Events per second.
    rate: f64,
    initialized: bool,
}

impl Ewma {
    /// An average over `minutes`, ticked every `tick`: `α = 1 - exp(-tick_secs / 60 / minutes)`.
    pub fn new(minutes: f64, tick: Duration) -> Self {
        let tick_secs = tick.as_secs_f64();
        Ewma {
            alpha: 1.0 - (-tick_secs / 60.0 / minutes).exp(),
            tick_secs,
            uncounted: 0.0,
            rate: 0.0,
            initialized: false,
        }
    }

    /// The smoothing factor α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Adds `n` events to the current tick interval.
    pub fn update(&mut self, n: f64) {
        self.uncounted += n;
    }

    /// Closes a tick interval: the first tick sets the rate to the interval's instant rate, later
    /// ones move it by `α · (instant - rate)`.
    pub fn tick(&mut self) {
        let instant = self.uncounted / self.tick_secs;
        self.uncounted = 0.0;
        if self.initialized {
            self.rate += self.alpha * (instant - self.rate);
        } else {
            self.rate = instant;
            self.initialized = true;
        }
    }

    /// Runs `ticks` ticks, the same as calling [`tick`](Ewma::tick) that many times: the first
    /// 2048 one by one, the pure-decay rest at once as `rate · (1 - α)^k` (equal to a few ulps).
    pub fn tick_many(&mut self, ticks: u64) {
        let exact = ticks.min(EXACT_CATCH_UP_TICKS);
        for _ in 0..exact {
            self.tick();
        }
        let idle = ticks - exact;
        if idle > 0 {
            // Every tick after the first one above saw no events: pure decay.
            self.rate *= (1.0 - self.alpha).powf(idle as f64);
            if self.rate.abs() < NEGLIGIBLE_RATE {
                self.rate = 0.0;
            }
        }
    }

    /// The rate in events per second; rates below 1e-300 read as 0.
    pub fn rate(&self) -> f64 {
        if self.rate.abs() < NEGLIGIBLE_RATE {
            0.0
        } else {
            self.rate
        }
    }
}

/// Dropwizard's `Meter`: marks counted with a mean rate and 1/5/15-minute EWMA rates.
///
/// Time comes from the caller as monotonic nanoseconds (see [`crate::clock::Clock`]); the
/// averages tick lazily on every mark and view, catching up on the ticks that elapsed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Meter {
    count: f64,
    start: u64,
    last_tick: u64,
    tick_nanos: u64,
    m1: Ewma,
    m5: Ewma,
    m15: Ewma,
}

impl Meter {
    /// A meter created at `now_nanos`, ticking every `tick` (at least 1 ns).
    pub fn new(tick: Duration, now_nanos: u64) -> Self {
        let tick_nanos = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        let tick = Duration::from_nanos(tick_nanos);
        Meter {
            count: 0.0,
            start: now_nanos,
            last_tick: now_nanos,
            tick_nanos,
            m1: Ewma::new(1.0, tick),
            m5: Ewma::new(5.0, tick),
            m15: Ewma::new(15.0, tick),
        }
    }

    /// Records `n` events at `now_nanos` (ticking first, as Dropwizard does).
    pub fn mark(&mut self, n: f64, now_nanos: u64) {
        self.tick_if_necessary(now_nanos);
        self.count += n;
        self.m1.update(n);
        self.m5.update(n);
        self.m15.update(n);
    }

    /// Starts again as if created at `now_nanos`, with the same tick interval.
    pub fn reset(&mut self, now_nanos: u64) {
        *self = Meter::new(Duration::from_nanos(self.tick_nanos), now_nanos);
    }

    /// Moves this meter's monotonic readings by `shift` nanoseconds (saturating at 0): a meter
    /// restored from a snapshot taken in another process, whose monotonic clock had another
    /// origin, keeps its ages and rates.
    pub fn rebase(&mut self, shift: i64) {
        let move_by =
            |t: u64| u64::try_from((i128::from(t) + i128::from(shift)).max(0)).unwrap_or(u64::MAX);
        self.start = move_by(self.start);
        self.last_tick = move_by(self.last_tick);
    }

    /// Total events marked.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// `count / seconds since creation`; 0 when nothing was marked or no time has passed.
    pub fn mean_rate(&self, now_nanos: u64) -> f64 {
        let elapsed = now_nanos.saturating_sub(self.start);
        if self.count == 0.0 || elapsed == 0 {
            0.0
        } else {
            self.count / (elapsed as f64 / 1e9)
        }
    }

    /// Count and rates at `now_nanos`, after ticking to it.
    pub fn view(&mut self, now_nanos: u64) -> MeterView {
        self.tick_if_necessary(now_nanos);
        MeterView {
            count: self.count,
            mean_rate: self.mean_rate(now_nanos),
            one_min_rate: self.m1.rate(),
            five_min_rate: self.m5.rate(),
            fifteen_min_rate: self.m15.rate(),
        }
    }

    /// Dropwizard's `tickIfNecessary`: when more than one interval passed since the last tick,
    /// run one tick per whole interval and keep the remainder for the next one.
    fn tick_if_necessary(&mut self, now_nanos: u64) {
        let age = now_nanos.saturating_sub(self.last_tick);
        if age > self.tick_nanos {
            self.last_tick = now_nanos - age % self.tick_nanos;
            let ticks = age / self.tick_nanos;
            self.m1.tick_many(ticks);
            self.m5.tick_many(ticks);
            self.m15.tick_many(ticks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    /// Dropwizard's EWMATest: the rate after each further idle minute (12 ticks).
    fn assert_decay(minutes: f64, expected: &[f64]) {
        let mut ewma = Ewma::new(minutes, DEFAULT_TICK);
        ewma.update(3.0);
        ewma.tick();
        for (minute, want) in expected.iter().enumerate() {
            let got = ewma.rate();
            assert!(
                (got - want).abs() < 1e-8,
                "{minutes}-minute rate after {minute} min: {got}"
            );
            for _ in 0..12 {
                let before = ewma.rate;
                ewma.tick();
                assert_eq!(ewma.rate, before + ewma.alpha() * (0.0 - before));
            }
        }
    }

    #[test]
    fn one_minute_ewma_matches_dropwizard() {
        assert_decay(
            1.0,
            &[
                0.6, 0.22072766, 0.08120117, 0.02987224, 0.01098938, 0.00404277,
            ],
        );
    }

    #[test]
    fn five_minute_ewma_matches_dropwizard() {
        assert_decay(
            5.0,
            &[
                0.6, 0.49123845, 0.40219203, 0.32928698, 0.26959738, 0.22072766,
            ],
        );
    }

    #[test]
    fn fifteen_minute_ewma_matches_dropwizard() {
        assert_decay(
            15.0,
            &[
                0.6, 0.56130419, 0.52510399, 0.49123845, 0.45955700, 0.42991879,
            ],
        );
    }

    #[test]
    fn alpha_follows_the_tick_interval() {
        let five = Ewma::new(1.0, DEFAULT_TICK);
        assert_eq!(five.alpha(), 1.0 - (-5.0f64 / 60.0).exp());
        let one = Ewma::new(15.0, Duration::from_secs(1));
        assert_eq!(one.alpha(), 1.0 - (-1.0f64 / 60.0 / 15.0).exp());
    }

    #[test]
    fn three_marks_then_one_tick_read_point_six() {
        let mut meter = Meter::new(DEFAULT_TICK, 0);
        for _ in 0..3 {
            meter.mark(1.0, SEC);
        }
        // Exactly one interval is not "more than" one: no tick yet.
        assert_eq!(meter.view(5 * SEC).one_min_rate, 0.0);
        let view = meter.view(5 * SEC + 1);
        assert!((view.one_min_rate - 0.6).abs() < 1e-12);
        assert!((view.five_min_rate - 0.6).abs() < 1e-12);
        assert!((view.fifteen_min_rate - 0.6).abs() < 1e-12);
        assert_eq!(view.count, 3.0);
    }

    #[test]
    fn lazy_catch_up_equals_ticking_one_by_one() {
        let start = 7 * SEC;
        let mut lazy = Meter::new(DEFAULT_TICK, start);
        let mut eager = lazy.clone();
        lazy.mark(42.0, start + SEC);
        eager.mark(42.0, start + SEC);
        // 500 intervals and a bit, seen once by `lazy` and at every interval by `eager`.
        let end = start + 500 * 5 * SEC + 3 * SEC;
        for i in 1..=500 {
            eager.view(start + i * 5 * SEC + 1);
        }
        assert_eq!(lazy.view(end), eager.view(end));
        assert_eq!(lazy.last_tick, eager.last_tick);
    }

    #[test]
    fn very_long_idle_catch_up_is_close_to_ticking_one_by_one() {
        let mut exact = Ewma::new(15.0, DEFAULT_TICK);
        exact.update(1000.0);
        let mut fast = exact.clone();
        for _ in 0..5000 {
            exact.tick();
        }
        fast.tick_many(5000);
        assert!(exact.rate() > 0.0);
        assert!((fast.rate() - exact.rate()).abs() <= exact.rate() * 1e-12);
    }

    #[test]
    fn rates_read_zero_after_a_year_idle() {
        let mut meter = Meter::new(DEFAULT_TICK, 0);
        meter.mark(1e12, 0);
        let year = 365 * 24 * 3600 * SEC;
        let view = meter.view(year);
        assert_eq!(
            (view.one_min_rate, view.five_min_rate, view.fifteen_min_rate),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(view.count, 1e12);
    }

    #[test]
    fn mean_rate_is_count_over_seconds_since_creation() {
        let mut meter = Meter::new(DEFAULT_TICK, 10 * SEC);
        assert_eq!(meter.view(20 * SEC).mean_rate, 0.0);
        meter.mark(3.0, 11 * SEC);
        meter.mark(2.0, 12 * SEC);
        assert_eq!(meter.view(10 * SEC).mean_rate, 0.0);
        assert_eq!(meter.view(20 * SEC).mean_rate, 0.5);
        assert_eq!(meter.view(14 * SEC).mean_rate, 0.5 * 10.0 / 4.0);
    }
}
