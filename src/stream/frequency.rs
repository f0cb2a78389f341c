//! How often a subscriber wants data: a Go-style duration string (`500ms`, `2s`, `1m30s`, as
//! Kanto's Go side writes them) or a number of seconds. Zero or less stops the reports.

use super::StreamError;
use std::time::Duration;

/// The shortest period served; a request for less is refused.
pub const MIN_PERIOD: Duration = Duration::from_millis(100);

/// The longest period served (one day); a request for more is refused.
pub const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// What a request's `frequency` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    /// Zero or less: stop sending data.
    Stop,
    /// Send a data message every this long (between [`MIN_PERIOD`] and [`MAX_PERIOD`]).
    Every(Duration),
}

impl Frequency {
    /// A JSON `frequency`: a number of seconds or a duration string.
    pub fn from_json(value: &serde_json::Value) -> Result<Frequency, StreamError> {
        match value {
            serde_json::Value::Number(n) => {
                let secs = n.as_f64().unwrap_or(f64::NAN);
                Frequency::from_seconds(secs, &n.to_string())
            }
            serde_json::Value::String(s) => Frequency::parse(s),
            serde_json::Value::Null => Err(StreamError::MissingFrequency),
            other => Err(StreamError::BadFrequency {
                input: other.to_string(),
                reason: "expected a duration string such as \"2s\" or a number of seconds".into(),
            }),
        }
    }

    /// A textual `frequency` (a query parameter or a JSON string): a number of seconds
    /// (`2`, `0.5`) or a duration (`500ms`, `2s`, `1m30s`, `-1s`).
    pub fn parse(text: &str) -> Result<Frequency, StreamError> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<f64>() {
            if secs.is_finite() {
                return Frequency::from_seconds(secs, text);
            }
        }
        let nanos = parse_go_duration(text).map_err(|reason| StreamError::BadFrequency {
            input: text.to_owned(),
            reason,
        })?;
        if nanos <= 0 {
            return Ok(Frequency::Stop);
        }
        Frequency::checked(Duration::from_nanos(nanos as u64), text)
    }

    fn from_seconds(secs: f64, input: &str) -> Result<Frequency, StreamError> {
        if secs.is_nan() {
            return Err(StreamError::BadFrequency {
                input: input.to_owned(),
                reason: "not a number".into(),
            });
        }
        if secs <= 0.0 {
            return Ok(Frequency::Stop);
        }
        if secs > MAX_PERIOD.as_secs_f64() {
            return Err(StreamError::FrequencyOutOfRange(input.to_owned()));
        }
        Frequency::checked(Duration::from_secs_f64(secs), input)
    }

    fn checked(period: Duration, input: &str) -> Result<Frequency, StreamError> {
        if (MIN_PERIOD..=MAX_PERIOD).contains(&period) {
            Ok(Frequency::Every(period))
        } else {
            Err(StreamError::FrequencyOutOfRange(input.to_owned()))
        }
    }
}

/// Parses Go's `time.ParseDuration` syntax into signed nanoseconds: an optional sign, then one
/// or more `<decimal number><unit>` with unit `ns`, `us` (`µs`), `ms`, `s`, `m` or `h`; `0` alone
/// is allowed without a unit. Saturates at ±`i64::MAX` nanoseconds (about 292 years).
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration; write e.g. \"2s\" or \"500ms\"".into());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("expected a number at {rest:?}"))?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit after {number:?}; use ms, s, m or h")),
            other => return Err(format!("unknown unit {other:?}; use ns, us, ms, s, m or h")),
        };
        total += value * nanos_per_unit;
        rest = next;
    }
    let total = total.min(i64::MAX as f64) as i64;
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn every(ms: u64) -> Frequency {
        Frequency::Every(Duration::from_millis(ms))
    }

    #[test]
    fn duration_strings() {
        assert_eq!(Frequency::parse("500ms").unwrap(), every(500));
        assert_eq!(Frequency::parse("2s").unwrap(), every(2000));
        assert_eq!(Frequency::parse("1m").unwrap(), every(60_000));
        assert_eq!(Frequency::parse("1m30s").unwrap(), every(90_000));
        assert_eq!(Frequency::parse("1.5s").unwrap(), every(1500));
        assert_eq!(Frequency::parse("100ms").unwrap(), every(100));
        assert_eq!(Frequency::parse("24h").unwrap(), every(86_400_000));
    }

    #[test]
    fn numbers_are_seconds() {
        assert_eq!(Frequency::parse("2").unwrap(), every(2000));
        assert_eq!(Frequency::parse("0.25").unwrap(), every(250));
        assert_eq!(Frequency::from_json(&json!(5)).unwrap(), every(5000));
        assert_eq!(Frequency::from_json(&json!(0.1)).unwrap(), every(100));
        assert_eq!(Frequency::from_json(&json!("2s")).unwrap(), every(2000));
    }

    #[test]
    fn zero_or_less_stops() {
        for text in ["0", "0s", "-1s", "-5", "0ms", "-0.5"] {
            assert_eq!(Frequency::parse(text).unwrap(), Frequency::Stop, "{text}");
        }
        assert_eq!(Frequency::from_json(&json!(0)).unwrap(), Frequency::Stop);
        assert_eq!(Frequency::from_json(&json!(-3)).unwrap(), Frequency::Stop);
    }

    #[test]
    fn too_short_or_too_long_is_refused() {
        for text in ["99ms", "50ms", "0.05", "1ns", "25h", "100000"] {
            assert!(
                matches!(
                    Frequency::parse(text),
                    Err(StreamError::FrequencyOutOfRange(_))
                ),
                "{text}"
            );
        }
        assert!(Frequency::from_json(&json!(1e300)).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for text in [
            "", "s", "2x", "abc", "1..5s", ".s", "2 s", "1e3s", "--1s", "inf", "NaN",
        ] {
            assert!(
                matches!(
                    Frequency::parse(text),
                    Err(StreamError::BadFrequency { .. })
                ),
                "{text}: {:?}",
                Frequency::parse(text)
            );
        }
        assert!(matches!(
            Frequency::from_json(&json!(null)),
            Err(StreamError::MissingFrequency)
        ));
        assert!(Frequency::from_json(&json!(true)).is_err());
        assert!(Frequency::from_json(&json!({"s": 1})).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,24}") {
            let _ = Frequency::parse(&text);
        }

        #[test]
        fn millis_round_trip(ms in 100u64..86_400_000) {
            prop_assert_eq!(Frequency::parse(&format!("{ms}ms")).unwrap(), every(ms));
        }

        #[test]
        fn huge_numbers_never_panic(digits in "[0-9]{1,40}(\\.[0-9]{0,5})?(ns|us|ms|s|m|h)") {
            let _ = Frequency::parse(&digits);
        }
    }
}
