//! The aggregated state of one series, whatever its kind.

use super::{AggregateSettings, Counter, Gauge, Histogram, Meter, Timer};
use crate::model::{Kind, Op, ValueView};

/// The live state of one series: one aggregate per [`Kind`]. (Serde: snapshots.)
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum SeriesState {
    /// Total of increments.
    Counter(Counter),
    /// Latest sample, deltas or a set's size.
    Gauge(Gauge),
    /// Count and EWMA rates (boxed, like timers, to keep counters and gauges small).
    Meter(Box<Meter>),
    /// Distribution of values (boxed: a counter or gauge series should not pay for its size).
    Histogram(Box<Histogram>),
    /// Rates plus a distribution of durations.
    Timer(Box<Timer>),
}

impl SeriesState {
    /// An empty series of `kind`, created at `now_nanos` (monotonic).
    pub fn new(kind: Kind, settings: &AggregateSettings, now_nanos: u64) -> Self {
        match kind {
            Kind::Counter => SeriesState::Counter(Counter::new()),
            Kind::Gauge => SeriesState::Gauge(Gauge::new()),
            Kind::Meter => SeriesState::Meter(Box::new(Meter::new(settings.tick, now_nanos))),
            Kind::Histogram => SeriesState::Histogram(Box::new(Histogram::new(settings.histogram))),
            Kind::Timer => SeriesState::Timer(Box::new(Timer::new(
                settings.tick,
                settings.histogram,
                now_nanos,
            ))),
        }
    }

    /// The kind of this series.
    pub fn kind(&self) -> Kind {
        match self {
            SeriesState::Counter(_) => Kind::Counter,
            SeriesState::Gauge(_) => Kind::Gauge,
            SeriesState::Meter(_) => Kind::Meter,
            SeriesState::Histogram(_) => Kind::Histogram,
            SeriesState::Timer(_) => Kind::Timer,
        }
    }

    /// Applies one event: `value` stamped `timestamp_ms` (epoch ms, used by gauges) arriving at
    /// `now_nanos` (monotonic, used by meters and timers). `op` matters to gauges only; the
    /// other kinds take every event as a plain observation (ingest sends them no other op),
    /// except that histograms and timers record an [`Op::Distribution`] whole and an
    /// [`Op::Repeat`] is its observation applied as many times.
    pub fn apply(&mut self, value: f64, op: Op, timestamp_ms: i64, now_nanos: u64) {
        self.apply_bounded(
            value,
            op,
            timestamp_ms,
            now_nanos,
            super::DEFAULT_EXACT_MEMBERS,
        );
    }

    /// [`SeriesState::apply`] with StatsD sets counted exactly up to `exact_members` members.
    pub fn apply_bounded(
        &mut self,
        value: f64,
        op: Op,
        timestamp_ms: i64,
        now_nanos: u64,
        exact_members: usize,
    ) {
        if let Op::Repeat(n) = op {
            for _ in 0..n {
                self.apply_bounded(value, Op::Observe, timestamp_ms, now_nanos, exact_members);
            }
            return;
        }
        match (self, op) {
            (SeriesState::Counter(c), _) => c.add(value),
            (SeriesState::Gauge(g), op) => g.apply_bounded(value, op, timestamp_ms, exact_members),
            (SeriesState::Meter(m), _) => m.mark(value, now_nanos),
            (SeriesState::Histogram(h), Op::Distribution(d)) => h.record_distribution(&d),
            (SeriesState::Histogram(h), _) => h.record(value),
            (SeriesState::Timer(t), Op::Distribution(d)) => t.record_distribution(&d, now_nanos),
            (SeriesState::Timer(t), _) => t.record(value, now_nanos),
        }
    }

    /// The value at `now_nanos` (meters tick up to it, hence `&mut`), with the `quantiles`
    /// asked for; a gauge with no value reads 0.
    pub fn view(&mut self, now_nanos: u64, quantiles: &[f64]) -> ValueView {
        match self {
            SeriesState::Counter(c) => ValueView::Counter(c.total()),
            SeriesState::Gauge(g) => ValueView::Gauge(g.value().unwrap_or(0.0)),
            SeriesState::Meter(m) => ValueView::Meter(m.view(now_nanos)),
            SeriesState::Histogram(h) => ValueView::Histogram(h.view(quantiles)),
            SeriesState::Timer(t) => {
                let (meter, histogram) = t.view(now_nanos, quantiles);
                ValueView::Timer(meter, histogram)
            }
        }
    }

    /// Moves the monotonic readings of meters and timers by `shift` nanoseconds (see
    /// [`Meter::rebase`]); the other kinds hold none.
    pub fn rebase(&mut self, shift: i64) {
        match self {
            SeriesState::Meter(m) => m.rebase(shift),
            SeriesState::Timer(t) => t.rebase(shift),
            SeriesState::Counter(_) | SeriesState::Gauge(_) | SeriesState::Histogram(_) => {}
        }
    }

    /// Starts again as if just created at `now_nanos`, keeping the kind and settings (Orion's
    /// reset and get-and-reset).
    pub fn reset(&mut self, now_nanos: u64) {
        match self {
            SeriesState::Counter(c) => *c = Counter::new(),
            SeriesState::Gauge(g) => *g = Gauge::new(),
            SeriesState::Meter(m) => m.reset(now_nanos),
            SeriesState::Histogram(h) => h.reset(),
            SeriesState::Timer(t) => t.reset(now_nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn series(kind: Kind) -> SeriesState {
        SeriesState::new(kind, &AggregateSettings::default(), 0)
    }

    #[test]
    fn every_kind_is_created_and_viewed_as_itself() {
        for kind in Kind::ALL {
            let mut s = series(kind);
            assert_eq!(s.kind(), kind);
            s.apply(2.0, Op::Observe, 1000, SEC);
            assert_eq!(s.view(2 * SEC, &[0.5]).kind(), kind);
        }
    }

    #[test]
    fn values_apply_by_kind() {
        let mut counter = series(Kind::Counter);
        counter.apply(2.0, Op::Observe, 0, 0);
        counter.apply(3.0, Op::Observe, 0, 0);
        assert_eq!(counter.view(0, &[]), ValueView::Counter(5.0));

        let mut gauge = series(Kind::Gauge);
        assert_eq!(gauge.view(0, &[]), ValueView::Gauge(0.0));
        gauge.apply(4.0, Op::Observe, 10, 0);
        gauge.apply(-1.0, Op::GaugeDelta, 10, 0);
        assert_eq!(gauge.view(0, &[]), ValueView::Gauge(3.0));

        let mut meter = series(Kind::Meter);
        meter.apply(3.0, Op::Observe, 0, SEC);
        let ValueView::Meter(view) = meter.view(5 * SEC + 1, &[]) else {
            panic!("not a meter");
        };
        assert_eq!(view.count, 3.0);
        assert!((view.one_min_rate - 0.6).abs() < 1e-12);

        let mut timer = series(Kind::Timer);
        timer.apply(250.0, Op::Observe, 0, SEC);
        let ValueView::Timer(rates, hist) = timer.view(2 * SEC, &[0.99]) else {
            panic!("not a timer");
        };
        assert_eq!((rates.count, hist.count, hist.max), (1.0, 1, 250.0));
        assert_eq!(hist.quantiles, vec![(0.99, 250.0)]);
    }

    #[test]
    fn series_stay_small() {
        // A million counters should not pay for the largest kind.
        assert!(std::mem::size_of::<SeriesState>() <= 32);
    }

    #[test]
    fn reset_starts_again_as_if_just_created() {
        let settings = AggregateSettings::default();
        for kind in Kind::ALL {
            let mut s = SeriesState::new(kind, &settings, 0);
            s.apply(7.0, Op::Observe, 1000, SEC);
            s.view(60 * SEC, &settings.quantiles);
            s.reset(100 * SEC);
            let fresh = SeriesState::new(kind, &settings, 100 * SEC).view(130 * SEC, &[0.5]);
            assert_eq!(s.view(130 * SEC, &[0.5]), fresh, "{kind}");
            // And counting starts from the reset.
            s.apply(1.0, Op::Observe, 2000, 131 * SEC);
            assert_ne!(s.view(140 * SEC, &[0.5]), fresh, "{kind}");
        }
    }
}
