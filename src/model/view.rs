//! Immutable views of aggregated state, taken in one scrape and handed to pure renderers.

use super::{Kind, Metadata, Scope, Tags};

/// Rates and count of a meter (also the meter half of a timer). (Serde: a cluster's owners
/// answer reads with views.)
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct MeterView {
    /// Total marks.
    pub count: f64,
    /// `count / seconds since creation`.
    pub mean_rate: f64,
    /// One-minute EWMA rate, per second.
    pub one_min_rate: f64,
    /// Five-minute EWMA rate, per second.
    pub five_min_rate: f64,
    /// Fifteen-minute EWMA rate, per second.
    pub fifteen_min_rate: f64,
}

/// Summary statistics of a histogram (also the histogram half of a timer), in the metric's unit.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct HistogramView {
    /// Number of recorded values (exact).
    pub count: u64,
    /// Sum of recorded values (exact).
    pub sum: f64,
    /// Smallest recorded value (exact); 0 when empty.
    pub min: f64,
    /// Largest recorded value (exact); 0 when empty.
    pub max: f64,
    /// Mean (exact); 0 when empty.
    pub mean: f64,
    /// Population standard deviation (exact); 0 when empty.
    pub stddev: f64,
    /// `(quantile, value)` pairs in the pipeline's order, e.g. `(0.5, 4201.0)`.
    pub quantiles: Vec<(f64, f64)>,
}

/// The current value of one series.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ValueView {
    /// Total of increments.
    Counter(f64),
    /// Latest sample.
    Gauge(f64),
    /// Meter rates.
    Meter(MeterView),
    /// Distribution.
    Histogram(HistogramView),
    /// Meter rates plus a distribution of durations (in the metric's unit).
    Timer(MeterView, HistogramView),
}

impl ValueView {
    /// The kind this value belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            ValueView::Counter(_) => Kind::Counter,
            ValueView::Gauge(_) => Kind::Gauge,
            ValueView::Meter(_) => Kind::Meter,
            ValueView::Histogram(_) => Kind::Histogram,
            ValueView::Timer(..) => Kind::Timer,
        }
    }
}

/// One series of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView {
    /// Orion service; renderers add a `service` label unless it is `default-service`.
    pub service: String,
    /// Orion service path; rendered as a `servicePath` label together with `service`.
    pub service_path: String,
    /// The series' own tags, sorted by key.
    pub tags: Tags,
    /// Its value.
    pub value: ValueView,
}

/// All series sharing a scope and name in one service (types and metadata are per service),
/// with the metric's metadata; or all series of one of meterd's own metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Scope.
    pub scope: Scope,
    /// Metric name as pushed (dots and camelCase kept).
    pub name: String,
    /// The service whose family this is; `None` for meterd's own families, which are one for
    /// every service (their series may be in any).
    pub service: Option<String>,
    /// Type.
    pub kind: Kind,
    /// Metadata (unit, description, displayName).
    pub meta: Metadata,
    /// Series sorted by (service, servicePath, tags).
    pub series: Vec<SeriesView>,
}

/// One scrape: a consistent picture of every family selected, read at one moment (the word
/// "snapshot" is kept for the durable state in `state.redb`), sorted by (scope, name), the families of one name in
/// several services by their registration order (the oldest first): what renderers consume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrape {
    /// Families sorted by scope then name.
    pub families: Vec<Family>,
}
