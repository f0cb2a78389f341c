//! A counter: the total of its increments.

/// A monotonically increasing total of increments (ingest ensures they are ≥ 0).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    total: f64,
}

impl Counter {
    /// A counter at 0.
    pub fn new() -> Self {
        Counter::default()
    }

    /// Adds `increment`.
    pub fn add(&mut self, increment: f64) {
        self.total += increment;
    }

    /// The total so far.
    pub fn total(&self) -> f64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_increments() {
        let mut c = Counter::new();
        c.add(1.0);
        c.add(2.5);
        assert_eq!(c.total(), 3.5);
    }
}
