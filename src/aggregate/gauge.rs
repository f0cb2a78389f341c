//! A gauge: the sample with the latest timestamp, StatsD deltas on it, or a StatsD set's size.

use crate::model::Op;
use hyperloglog::HyperLogLog;
use std::collections::HashSet;

/// Members a StatsD set counts exactly by default (`[sets] exact_members`).
pub const DEFAULT_EXACT_MEMBERS: usize = 1000;

/// The sketch's requested error: the crate sizes it at 2^10 one-byte registers (1 KiB), whose
/// standard error is 1.04 / √1024 ≈ 3.3 % (see README, "StatsD sets").
const SKETCH_ERROR: f64 = 0.01;

/// A fixed seed: the same members give the same estimate in every process (replay, snapshots
/// and a second server fed the same events agree).
const SKETCH_SEED: u128 = 0x6d65_7465_7264_5f73_6574_735f_686c_6c31;

/// A sampled value.
///
/// - A sample replaces the current one unless its timestamp is older; on equal timestamps the
///   later arrival wins.
/// - A delta ([`Op::GaugeDelta`]) adds to the current value (from 0 when there is none); the
///   gauge's timestamp becomes the later of the two.
/// - A set member ([`Op::SetMember`]) makes the gauge read as the number of distinct members:
///   exact up to a bound (`[sets] exact_members`), then estimated by a HyperLogLog sketch of
///   fixed size, so that a set's memory is bounded whatever its members.
///
/// A series is normally used in one of these modes. When they mix, the latest event decides: a
/// sample or delta after set members continues from the set's size, and a member after a
/// sample starts a new, empty set.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Gauge {
    state: State,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
enum State {
    #[default]
    Empty,
    Sample {
        value: f64,
        timestamp_ms: i64,
    },
    /// (Boxed, like the sketch, so that every gauge and counter stays small: an empty
    /// `HashSet` is 48 bytes, a box 8.)
    #[allow(clippy::box_collection)]
    Set(Box<HashSet<u64>>),
    /// A set grown past its exact bound.
    Sketch(Sketch),
}

/// The sketch of a large set (boxed: 1 KiB of registers).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Sketch(Box<HyperLogLog>);

impl PartialEq for Sketch {
    /// The same registers (and seed): the sketch has no equality of its own.
    fn eq(&self, other: &Self) -> bool {
        postcard::to_allocvec(&self.0).ok() == postcard::to_allocvec(&other.0).ok()
    }
}

impl Gauge {
    /// A gauge with no value yet.
    pub fn new() -> Self {
        Gauge::default()
    }

    /// Applies an event: a sample, a delta or a set member, as `op` says.
    pub fn apply(&mut self, value: f64, op: Op, timestamp_ms: i64) {
        self.apply_bounded(value, op, timestamp_ms, DEFAULT_EXACT_MEMBERS);
    }

    /// [`Gauge::apply`] with sets counted exactly up to `exact_members` members.
    pub fn apply_bounded(&mut self, value: f64, op: Op, timestamp_ms: i64, exact_members: usize) {
        match op {
            // A distribution (never sent to a gauge) reads as its value, its sum; a repeated
            // sample is that sample.
            Op::Observe | Op::Distribution(_) | Op::Repeat(_) => self.set(value, timestamp_ms),
            Op::GaugeDelta => self.add(value, timestamp_ms),
            Op::SetMember(hash) => self.insert_bounded(hash, exact_members),
        }
    }

    /// A sample taken at `timestamp_ms` (epoch ms).
    pub fn set(&mut self, value: f64, timestamp_ms: i64) {
        if let State::Sample {
            timestamp_ms: current,
            ..
        } = self.state
        {
            if timestamp_ms < current {
                return;
            }
        }
        self.state = State::Sample {
            value,
            timestamp_ms,
        };
    }

    /// Adds `delta` (possibly negative) to the current value.
    pub fn add(&mut self, delta: f64, timestamp_ms: i64) {
        let (current, latest) = match &self.state {
            State::Empty => (0.0, timestamp_ms),
            State::Sample {
                value,
                timestamp_ms: at,
            } => (*value, timestamp_ms.max(*at)),
            State::Set(members) => (members.len() as f64, timestamp_ms),
            State::Sketch(sketch) => (sketch.0.len().round(), timestamp_ms),
        };
        self.state = State::Sample {
            value: current + delta,
            timestamp_ms: latest,
        };
    }

    /// Counts a set member, given by its hash (exact up to [`DEFAULT_EXACT_MEMBERS`]).
    pub fn insert_member(&mut self, hash: u64) {
        self.insert_bounded(hash, DEFAULT_EXACT_MEMBERS);
    }

    /// Counts a set member, exactly while the set holds fewer than `exact_members`; the
    /// member beyond moves the set into a sketch.
    pub fn insert_bounded(&mut self, hash: u64, exact_members: usize) {
        match &mut self.state {
            State::Set(members) => {
                if members.len() < exact_members || members.contains(&hash) {
                    members.insert(hash);
                    return;
                }
                let mut sketch = HyperLogLog::new_deterministic(SKETCH_ERROR, SKETCH_SEED);
                for m in members.iter() {
                    sketch.insert(m);
                }
                sketch.insert(&hash);
                self.state = State::Sketch(Sketch(Box::new(sketch)));
            }
            State::Sketch(sketch) => sketch.0.insert(&hash),
            _ => self.state = State::Set(Box::new(HashSet::from([hash]))),
        }
    }

    /// The current value; `None` before the first event.
    pub fn value(&self) -> Option<f64> {
        match &self.state {
            State::Empty => None,
            State::Sample { value, .. } => Some(*value),
            State::Set(members) => Some(members.len() as f64),
            State::Sketch(sketch) => Some(sketch.0.len().round()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_timestamp_wins_whatever_the_arrival_order() {
        let mut g = Gauge::new();
        assert_eq!(g.value(), None);
        g.apply(5.0, Op::Observe, 2000);
        g.apply(3.0, Op::Observe, 1000);
        assert_eq!(g.value(), Some(5.0));
        g.apply(7.0, Op::Observe, 3000);
        assert_eq!(g.value(), Some(7.0));
    }

    #[test]
    fn on_equal_timestamps_the_later_arrival_wins() {
        let mut g = Gauge::new();
        g.apply(1.0, Op::Observe, 1000);
        g.apply(2.0, Op::Observe, 1000);
        assert_eq!(g.value(), Some(2.0));
    }

    #[test]
    fn deltas_add_to_the_current_value_or_to_zero() {
        let mut g = Gauge::new();
        g.apply(-4.0, Op::GaugeDelta, 1000);
        assert_eq!(g.value(), Some(-4.0));
        g.apply(10.0, Op::Observe, 2000);
        g.apply(2.5, Op::GaugeDelta, 1500);
        assert_eq!(g.value(), Some(12.5));
        // The delta kept the later timestamp, so an older sample is still ignored.
        g.apply(0.0, Op::Observe, 1800);
        assert_eq!(g.value(), Some(12.5));
    }

    #[test]
    fn sets_count_distinct_members() {
        let mut g = Gauge::new();
        for hash in [1, 2, 2, 3, 1] {
            g.apply(99.0, Op::SetMember(hash), 1000);
        }
        assert_eq!(g.value(), Some(3.0));
        g.apply(1.0, Op::GaugeDelta, 1000);
        assert_eq!(g.value(), Some(4.0));
        g.apply(0.0, Op::SetMember(9), 1000);
        assert_eq!(g.value(), Some(1.0));
    }

    #[test]
    fn a_set_is_exact_up_to_its_bound_then_a_sketch_within_its_error() {
        let mut g = Gauge::new();
        for hash in 0..1000u64 {
            g.apply_bounded(0.0, Op::SetMember(hash * 7919), 0, 1000);
        }
        assert_eq!(g.value(), Some(1000.0));
        assert!(matches!(g.state, State::Set(_)));
        for hash in 0..200_000u64 {
            g.apply_bounded(0.0, Op::SetMember(hash * 7919), 0, 1000);
        }
        assert!(matches!(g.state, State::Sketch(_)));
        let estimate = g.value().unwrap();
        let error = (estimate - 200_000.0).abs() / 200_000.0;
        // Three standard errors (3 × 3.3 %).
        assert!(error < 0.1, "estimate {estimate}");
        // The sketch is a fixed 1 KiB whatever the members; snapshots keep it.
        let bytes = postcard::to_allocvec(&g).unwrap();
        assert!(bytes.len() < 2_000, "{} bytes", bytes.len());
        let back: Gauge = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.value(), g.value());
        // A member seen again changes nothing; a reset starts an exact set again.
        let mut again = back.clone();
        again.apply_bounded(0.0, Op::SetMember(7919), 0, 1000);
        assert_eq!(again.value(), g.value());
        let mut fresh = Gauge::new();
        fresh.apply_bounded(0.0, Op::SetMember(1), 0, 1000);
        assert_eq!(fresh.value(), Some(1.0));
    }
}
