use super::{Distribution, Kind, SeriesKey};
use serde::{Deserialize, Serialize};

/// Tags of a series: `(key, value)` pairs sorted by key, keys unique.
pub type Tags = Vec<(String, String)>;

/// Descriptive metadata of a metric; the first writer sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// One validated metric event, ready to be aggregated. (Serde: the write-ahead log's records.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The series it belongs to.
    pub key: SeriesKey,
    /// Its type (from the event or a pipeline rule).
    pub kind: Kind,
    /// Finite value; increments are ≥ 0 for counters and meters; a duration in the unit for timers.
    pub value: f64,
    /// How `value` applies to the series (plain observation for everything but StatsD extras).
    pub op: Op,
    /// Epoch milliseconds (arrival time when the event had none).
    pub timestamp_ms: i64,
    /// Metadata carried by the event, if any (boxed: most events carry none).
    pub meta: Option<Box<Metadata>>,
}

/// How an event's value applies to its series.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Op {
    /// The kind's ordinary meaning: increment, sample, mark or recorded value.
    #[default]
    Observe,
    /// Gauge only: add `value` (may be negative) to the current value (StatsD `+n` / `-n`).
    GaugeDelta,
    /// Gauge only: a member of a set (StatsD `|s`), given by a hash of the member; the gauge
    /// reads as the number of distinct members since the last reset. `value` is ignored.
    SetMember(u64),
    /// Histogram only: record a whole pre-aggregated distribution (an OTLP histogram point);
    /// `value` is its sum.
    Distribution(Box<Distribution>),
}

/// True when `name` is a valid metric name: `[A-Za-z_:][A-Za-z0-9_:.\-]*`, 1 to `max_bytes` bytes.
pub fn valid_name(name: &str, max_bytes: usize) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    bytes.len() <= max_bytes
        && bytes[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'-'))
}

/// True when `k` may be a tag key: tags become Prometheus labels, so `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_tag_key(k: &str) -> bool {
    let b = k.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}
