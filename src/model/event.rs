use super::{Distribution, Kind, SeriesKey};
use serde::{Deserialize, Serialize};

/// A series key's string (its service, name, tag keys and values): up to 24 bytes held inline,
/// without a heap block of its own; it hashes, orders and serializes as the `str` it holds.
pub type KeyString = compact_str::CompactString;

/// Tags of a series: `(key, value)` pairs sorted by key, keys unique.
pub type Tags = Vec<(KeyString, KeyString)>;

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
    /// The same plain observation `n` times (at least 2): identical StatsD lines of one series
    /// that the UDP reader folded into one event, so that admission and the log handle them
    /// once. Applying it is applying the observation `n` times; nothing else differs. An `n`
    /// below 2 (a record decoded from elsewhere) stands for one observation everywhere (see
    /// [`Op::times`]).
    Repeat(u32),
}

impl Op {
    /// How many times the op's observation is applied: `n` for [`Op::Repeat`] (at least 1),
    /// else 1. The one reading of a repeat's count for weights and every apply.
    pub fn times(&self) -> u32 {
        match self {
            Op::Repeat(n) => (*n).max(1),
            _ => 1,
        }
    }
}

impl Event {
    /// One plain observation (`Op::Observe`, no metadata) of `value` into series `key`.
    pub fn observe(key: SeriesKey, kind: Kind, value: f64, timestamp_ms: i64) -> Event {
        Event {
            key,
            kind,
            value,
            op: Op::Observe,
            timestamp_ms,
            meta: None,
        }
    }

    /// How many observations the event stands for: [`Op::times`].
    pub fn weight(&self) -> usize {
        self.op.times() as usize
    }
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

/// The largest magnitude of a value meterd takes. Totals, sums, means, standard deviations,
/// unit conversions and rates of values this small stay finite for any number of events one
/// server can see (a sum of 10^19 of them is below 10^120, a square below 10^240; `f64` ends
/// near 1.8·10^308), so nothing meterd renders is ever `+Inf` or `null`.
pub const MAX_MAGNITUDE: f64 = 1e100;

/// Checks a value: finite, and at most [`MAX_MAGNITUDE`] in magnitude.
pub fn check_value(value: f64) -> Result<(), String> {
    if !value.is_finite() {
        Err(format!("value {value} is not finite"))
    } else if value.abs() > MAX_MAGNITUDE {
        Err(format!(
            "value {value:e} is too large: meterd takes values up to ±1e100, so that no total, \
             sum or mean can overflow"
        ))
    } else {
        Ok(())
    }
}

/// True when `k` has the shape of a tag key: tags become Prometheus labels, so
/// `[A-Za-z_][A-Za-z0-9_]*`. [`check_tag`] also refuses reserved keys and long keys or values.
pub fn valid_tag_key(k: &str) -> bool {
    let b = k.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Label names meterd writes itself, so that no tag may take them: `service` and `servicePath`
/// carry the tenancy of a series, `quantile` the quantiles of a summary.
pub const RESERVED_TAG_KEYS: [&str; 3] = ["service", "servicePath", "quantile"];

/// Checks one tag: the key has the shape of a label name (see [`valid_tag_key`]), is at most
/// `max_key_bytes` long, does not start with `__` (Prometheus keeps those label names for
/// itself: `__name__`, ...) and is none of [`RESERVED_TAG_KEYS`]; the value is not empty and
/// at most `max_value_bytes` long. The error names the key (cut short) and never repeats the
/// value.
pub fn check_tag(
    key: &str,
    value: &str,
    max_key_bytes: usize,
    max_value_bytes: usize,
) -> Result<(), String> {
    if key.len() > max_key_bytes {
        return Err(format!(
            "tag key {:?}... is {} bytes long; the limit is {max_key_bytes} (limits.max_name_bytes)",
            cut(key, 32),
            key.len()
        ));
    }
    if !valid_tag_key(key) {
        return Err(format!(
            "tag key {key:?} must match [A-Za-z_][A-Za-z0-9_]* (tags become labels)"
        ));
    }
    if key.starts_with("__") {
        return Err(format!(
            "tag key {key:?} is reserved: label names starting with \"__\" belong to Prometheus"
        ));
    }
    if RESERVED_TAG_KEYS.contains(&key) {
        return Err(format!(
            "tag key {key:?} is reserved: meterd writes the labels service, servicePath and \
             quantile itself (give the service as the event's service or the Fiware-Service header)"
        ));
    }
    if value.is_empty() {
        return Err(format!("tag {key:?} has an empty value"));
    }
    if value.len() > max_value_bytes {
        return Err(format!(
            "tag {key:?} has a value of {} bytes; the limit is {max_value_bytes} \
             (limits.max_tag_value_bytes)",
            value.len()
        ));
    }
    Ok(())
}

/// The first at most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_keep_to_label_names_that_meterd_does_not_write() {
        assert!(check_tag("route", "/orders", 255, 1024).is_ok());
        assert!(check_tag("_private", "x", 255, 1024).is_ok());
        assert!(
            check_tag("Service", "x", 255, 1024).is_ok(),
            "labels are case-sensitive"
        );
        for key in ["__name__", "__x", "service", "servicePath", "quantile"] {
            let e = check_tag(key, "x", 255, 1024).unwrap_err();
            assert!(e.contains(&format!("{key:?} is reserved")), "{e}");
        }
        for key in ["", "1st", "a-b", "a.b", "ä"] {
            assert!(check_tag(key, "x", 255, 1024)
                .unwrap_err()
                .contains("must match"));
        }
        let long_key = "k".repeat(300);
        let e = check_tag(&long_key, "x", 255, 1024).unwrap_err();
        assert!(e.contains("300 bytes") && e.len() < 200, "{e}");
        assert!(check_tag("k", "", 255, 1024)
            .unwrap_err()
            .contains("empty value"));
        let e = check_tag("k", &"v".repeat(1025), 255, 1024).unwrap_err();
        assert!(e.contains("1025 bytes") && !e.contains("vvvv"), "{e}");
        assert!(check_tag("k", &"ü".repeat(512), 255, 1024).is_ok());
    }

    #[test]
    fn values_stay_where_no_sum_can_overflow() {
        assert!(check_value(1e100).is_ok() && check_value(-1e100).is_ok());
        assert!(check_value(f64::MIN_POSITIVE).is_ok());
        assert!(check_value(1.0000001e100)
            .unwrap_err()
            .contains("too large"));
        assert!(check_value(f64::MAX).unwrap_err().contains("too large"));
        assert!(check_value(f64::NAN).unwrap_err().contains("not finite"));
        // The margin the bound promises: 10^19 of the largest values, squared, stay finite.
        assert!((MAX_MAGNITUDE * 1e19 * 1e9).is_finite());
        assert!(((2.0 * MAX_MAGNITUDE).powi(2) * 1e19).is_finite());
    }
}
