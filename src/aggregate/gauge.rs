//! A gauge: the sample with the latest timestamp, StatsD deltas on it, or a StatsD set's size.

use crate::model::Op;
use std::collections::HashSet;

/// A sampled value.
///
/// - A sample replaces the current one unless its timestamp is older; on equal timestamps the
///   later arrival wins.
/// - A delta ([`Op::GaugeDelta`]) adds to the current value (from 0 when there is none); the
///   gauge's timestamp becomes the later of the two.
/// - A set member ([`Op::SetMember`]) makes the gauge read as the number of distinct members.
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
    Set(HashSet<u64>),
}

impl Gauge {
    /// A gauge with no value yet.
    pub fn new() -> Self {
        Gauge::default()
    }

    /// Applies an event: a sample, a delta or a set member, as `op` says.
    pub fn apply(&mut self, value: f64, op: Op, timestamp_ms: i64) {
        match op {
            // A distribution (never sent to a gauge) reads as its value, its sum.
            Op::Observe | Op::Distribution(_) => self.set(value, timestamp_ms),
            Op::GaugeDelta => self.add(value, timestamp_ms),
            Op::SetMember(hash) => self.insert_member(hash),
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
        };
        self.state = State::Sample {
            value: current + delta,
            timestamp_ms: latest,
        };
    }

    /// Counts a set member, given by its hash.
    pub fn insert_member(&mut self, hash: u64) {
        match &mut self.state {
            State::Set(members) => {
                members.insert(hash);
            }
            _ => self.state = State::Set(HashSet::from([hash])),
        }
    }

    /// The current value; `None` before the first event.
    pub fn value(&self) -> Option<f64> {
        match &self.state {
            State::Empty => None,
            State::Sample { value, .. } => Some(*value),
            State::Set(members) => Some(members.len() as f64),
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
}
