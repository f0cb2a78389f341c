//! How series aggregate: the meter tick, the histogram sizing and the quantiles rendered.

use super::{HistogramSettings, DEFAULT_TICK};
use std::time::Duration;

/// The quantiles MicroProfile renders: p50, p75, p95, p98, p99 and p999.
pub const DEFAULT_QUANTILES: [f64; 6] = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999];

/// Settings shared by every series of a shard (built from the pipeline file).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSettings {
    /// Meter (and timer) EWMA tick interval; Dropwizard's is 5 s.
    pub tick: Duration,
    /// Sizing of histograms (and the histogram half of timers).
    pub histogram: HistogramSettings,
    /// Quantiles reported by histogram and timer views, ascending.
    pub quantiles: Vec<f64>,
    /// Members a StatsD set counts exactly before it becomes a sketch.
    pub exact_members: usize,
}

impl Default for AggregateSettings {
    fn default() -> Self {
        AggregateSettings {
            tick: DEFAULT_TICK,
            histogram: HistogramSettings::default(),
            quantiles: DEFAULT_QUANTILES.to_vec(),
            exact_members: super::DEFAULT_EXACT_MEMBERS,
        }
    }
}
