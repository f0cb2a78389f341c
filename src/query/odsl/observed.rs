//! `_observed`: how the values in one calendar bucket become one value.

use std::fmt;

/// An aggregation method of ODSL's metric time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// `summed` (or `sum`): the sum of the values.
    Summed,
    /// `averaged` (or `average`): their arithmetic mean.
    Averaged,
    /// `high`: the largest value.
    High,
    /// `low`: the smallest value.
    Low,
    /// `beginning`: the value with the earliest timestamp (the first captured on a tie).
    Beginning,
    /// `end`: the value with the latest timestamp (the last captured on a tie).
    End,
}

impl Observed {
    /// Parses an `_observed` value.
    pub fn parse(text: &str) -> Result<Observed, String> {
        Ok(match text {
            "summed" | "sum" => Observed::Summed,
            "averaged" | "average" => Observed::Averaged,
            "high" => Observed::High,
            "low" => Observed::Low,
            "beginning" => Observed::Beginning,
            "end" => Observed::End,
            _ => {
                return Err(format!(
                    "{text:?} is not an aggregation: expected summed (sum), averaged (average), \
                     high, low, beginning or end"
                ))
            }
        })
    }

    /// The canonical name, as the answer echoes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Summed => "summed",
            Observed::Averaged => "averaged",
            Observed::High => "high",
            Observed::Low => "low",
            Observed::Beginning => "beginning",
            Observed::End => "end",
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything any method needs about the values of one bucket, in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulator {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// (timestamp, capture sequence, value) of the earliest value.
    first: (i64, u64, f64),
    /// (timestamp, capture sequence, value) of the latest value.
    last: (i64, u64, f64),
}

impl Accumulator {
    /// A bucket holding one value, stamped `timestamp_ms` and captured as number `seq`.
    pub fn new(timestamp_ms: i64, seq: u64, value: f64) -> Self {
        let at = (timestamp_ms, seq, value);
        Accumulator {
            count: 1,
            sum: value,
            min: value,
            max: value,
            first: at,
            last: at,
        }
    }

    /// Adds one value.
    pub fn add(&mut self, timestamp_ms: i64, seq: u64, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if (timestamp_ms, seq) < (self.first.0, self.first.1) {
            self.first = (timestamp_ms, seq, value);
        }
        if (timestamp_ms, seq) > (self.last.0, self.last.1) {
            self.last = (timestamp_ms, seq, value);
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The bucket's value by `method`.
    pub fn value(&self, method: Observed) -> f64 {
        match method {
            Observed::Summed => self.sum,
            Observed::Averaged => self.sum / self.count as f64,
            Observed::High => self.max,
            Observed::Low => self.min,
            Observed::Beginning => self.first.2,
            Observed::End => self.last.2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(Observed::parse("sum"), Ok(Observed::Summed));
        assert_eq!(Observed::parse("average"), Ok(Observed::Averaged));
        for m in ["summed", "averaged", "high", "low", "beginning", "end"] {
            assert_eq!(Observed::parse(m).unwrap().as_str(), m);
        }
        assert!(Observed::parse("median").is_err());
        assert!(Observed::parse("Summed").is_err());
    }

    #[test]
    fn every_method_over_out_of_order_values() {
        // Captured in this order; timestamps out of order, with a tie at 10.
        let mut acc = Accumulator::new(30, 0, 5.0);
        acc.add(10, 1, 2.0);
        acc.add(20, 2, 9.0);
        acc.add(10, 3, 4.0);
        acc.add(30, 4, 1.0);
        assert_eq!(acc.count(), 5);
        assert_eq!(acc.value(Observed::Summed), 21.0);
        assert_eq!(acc.value(Observed::Averaged), 4.2);
        assert_eq!(acc.value(Observed::High), 9.0);
        assert_eq!(acc.value(Observed::Low), 1.0);
        assert_eq!(
            acc.value(Observed::Beginning),
            2.0,
            "earliest, first captured"
        );
        assert_eq!(acc.value(Observed::End), 1.0, "latest, last captured");
    }
}
