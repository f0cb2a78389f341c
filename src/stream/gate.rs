//! The bound on open subscribers (`[streams] max_subscribers`): a WebSocket connection or an
//! SSE stream holds a [`Permit`] from its start to its end.

use crate::telemetry::Counters;
use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::sync::Arc;

/// Admits at most `max` subscribers at once; the count lives in the vendor-scope counters.
#[derive(Debug, Clone)]
pub struct Gate {
    max: u64,
    counters: Arc<Counters>,
}

/// One open subscriber; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    counters: Arc<Counters>,
}

impl Gate {
    /// A gate for `max` subscribers (0 admits none).
    pub fn new(max: usize, counters: Arc<Counters>) -> Self {
        Gate {
            max: max as u64,
            counters,
        }
    }

    /// The most subscribers admitted at once.
    pub fn max(&self) -> usize {
        self.max as usize
    }

    /// A permit, or `None` (counted as refused) when `max` subscribers are open.
    pub fn enter(&self) -> Option<Permit> {
        let open = &self.counters.stream_subscribers;
        let admitted = open
            .fetch_update(AcqRel, Relaxed, |n| (n < self.max).then_some(n + 1))
            .is_ok();
        if admitted {
            Some(Permit {
                counters: self.counters.clone(),
            })
        } else {
            self.counters.stream_refused.fetch_add(1, Relaxed);
            None
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.counters.stream_subscribers.fetch_sub(1, AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_max() {
        let counters = Arc::new(Counters::default());
        let gate = Gate::new(2, counters.clone());
        let a = gate.enter().unwrap();
        let _b = gate.enter().unwrap();
        assert!(gate.enter().is_none());
        drop(a);
        assert!(gate.enter().is_some());
        assert_eq!(counters.stream_refused.load(Relaxed), 1);
        assert!(Gate::new(0, counters).enter().is_none());
    }
}
