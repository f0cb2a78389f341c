use super::{Kind, SeriesKey};

/// Tags of a series: `(key, value)` pairs sorted by key, keys unique.
pub type Tags = Vec<(String, String)>;

/// Descriptive metadata of a metric; the first writer sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Unit, e.g. `bytes`, `nanoseconds`, `dollars`.
    pub unit: Option<String>,
    /// One-line description, rendered as `# HELP`.
    pub description: Option<String>,
    /// Human-readable name.
    pub display_name: Option<String>,
}

impl Metadata {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.unit.is_none() && self.description.is_none() && self.display_name.is_none()
    }
}

/// One validated metric event, ready to be aggregated.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The series it belongs to.
    pub key: SeriesKey,
    /// Its type (from the event or a pipeline rule).
    pub kind: Kind,
    /// Finite value; increments are ≥ 0 for counters and meters; a duration in the unit for timers.
    pub value: f64,
    /// Epoch milliseconds (arrival time when the event had none).
    pub timestamp_ms: i64,
    /// Metadata carried by the event, if any (boxed: most events carry none).
    pub meta: Option<Box<Metadata>>,
}
