//! Downsample specifications: `<n><unit>-<aggregator>[-<fill>]` and `0all-<aggregator>`.

use super::time::parse_interval;
use super::{Aggregator, QueryError};

/// What to put in an interval without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillPolicy {
    /// Nothing: the interval is left out (the default).
    None,
    /// `NaN` (written `"NaN"`); ignored by aggregators unless every value is NaN.
    Nan,
    /// `null`; ignored by aggregators unless every value is null.
    Null,
    /// `0`, which aggregators count like any value.
    Zero,
}

/// The width of downsample intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Fixed intervals of this many ms, aligned to `ts - ts % ms`.
    Millis(i64),
    /// One interval over the whole query, stamped with its start.
    All,
}

/// A parsed downsample specification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Downsample {
    /// The interval width.
    pub interval: Interval,
    /// How values in an interval merge.
    pub aggregator: Aggregator,
    /// What empty intervals become.
    pub fill: FillPolicy,
}

impl Downsample {
    /// Parses `1m-avg`, `30s-sum-zero`, `0all-max`, ...
    pub fn parse(spec: &str) -> Result<Downsample, QueryError> {
        let mut parts = spec.split('-');
        let (Some(interval), Some(agg)) = (parts.next(), parts.next()) else {
            return Err(QueryError::bad(format!(
                "downsample {spec:?} must be <interval>-<aggregator>[-<fill>]"
            )));
        };
        let fill = match parts.next() {
            None => FillPolicy::None,
            Some("none") => FillPolicy::None,
            Some("nan") => FillPolicy::Nan,
            Some("null") => FillPolicy::Null,
            Some("zero") => FillPolicy::Zero,
            Some(other) => {
                return Err(QueryError::bad(format!(
                    "fill policy {other:?} in {spec:?}: use none, nan, null or zero"
                )))
            }
        };
        if parts.next().is_some() {
            return Err(QueryError::bad(format!(
                "downsample {spec:?} has too many parts: <interval>-<aggregator>[-<fill>]"
            )));
        }
        let interval = match interval.strip_suffix("all") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Interval::All,
            _ => match parse_interval(interval)? {
                0 => {
                    return Err(QueryError::bad(format!(
                        "downsample interval in {spec:?} must be more than 0 (or 0all)"
                    )))
                }
                ms => Interval::Millis(ms),
            },
        };
        Ok(Downsample {
            interval,
            aggregator: agg.parse()?,
            fill,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn specs() {
        let d = Downsample::parse("1m-avg").unwrap();
        assert_eq!(d.interval, Interval::Millis(60_000));
        assert_eq!((d.aggregator, d.fill), (Aggregator::Avg, FillPolicy::None));
        assert_eq!(
            Downsample::parse("10s-sum-zero").unwrap().fill,
            FillPolicy::Zero
        );
        assert_eq!(
            Downsample::parse("1h-max-nan").unwrap().fill,
            FillPolicy::Nan
        );
        assert_eq!(
            Downsample::parse("1h-max-null").unwrap().fill,
            FillPolicy::Null
        );
        assert_eq!(
            Downsample::parse("0all-count").unwrap().interval,
            Interval::All
        );
        assert_eq!(
            Downsample::parse("500ms-p99").unwrap().interval,
            Interval::Millis(500)
        );
        for bad in [
            "",
            "1m",
            "1m-",
            "1m-avg-zero-x",
            "0s-sum",
            "1q-sum",
            "1m-avg-linear",
            "all-sum",
            "1m-median",
        ] {
            assert!(Downsample::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn downsample_specs_never_panic(spec in "\\PC{0,24}") {
            let _ = Downsample::parse(&spec);
        }

        #[test]
        fn valid_specs_parse(n in 1i64..100_000, unit in "(ms|s|m|h|d|w|n|y)", agg in "(sum|avg|p99|last)", fill in "(|-none|-nan|-null|-zero)") {
            let spec = format!("{n}{unit}-{agg}{fill}");
            prop_assert!(Downsample::parse(&spec).is_ok(), "{}", spec);
        }
    }
}
