use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The five metric types of MicroProfile Metrics 1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A monotonically increasing total; events carry increments (≥ 0).
    Counter,
    /// A sampled value; the sample with the latest timestamp wins.
    Gauge,
    /// Marks with a count and 1/5/15-minute exponentially-weighted rates.
    Meter,
    /// A distribution of recorded values (HdrHistogram).
    Histogram,
    /// A meter plus a histogram of durations.
    Timer,
}

impl Kind {
    /// All kinds, in the order they are documented.
    pub const ALL: [Kind; 5] = [
        Kind::Counter,
        Kind::Gauge,
        Kind::Meter,
        Kind::Histogram,
        Kind::Timer,
    ];

    /// The lowercase name used in JSON and in pipeline files.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Meter => "meter",
            Kind::Histogram => "histogram",
            Kind::Timer => "timer",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown type {s:?}: expected counter, gauge, meter, histogram or timer")
            })
    }
}
