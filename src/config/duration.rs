//! Durations as pipeline files write them: a whole number and a unit, e.g. `500ms`, `5s`, `1m`,
//! `6h`, `7d`.

use std::time::Duration;

/// Why a string is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given: write a number and a unit, e.g. `5s`.
    #[error("empty duration: expected a whole number and a unit (ms, s, m, h, d), e.g. \"5s\"")]
    Empty,
    /// A minus sign: durations count forward; drop the sign.
    #[error("{0:?}: durations cannot be negative")]
    Negative(String),
    /// The unit came without a number before it, or the number has a sign or a fraction.
    #[error("{0:?}: expected a whole number before the unit, e.g. \"5s\" or \"500ms\"")]
    MissingNumber(String),
    /// A number without a unit: add one of ms, s, m, h, d.
    #[error("{0:?}: missing unit; add one of ms, s, m, h, d (e.g. \"{0}s\")")]
    MissingUnit(String),
    /// A unit other than ms, s, m, h, d.
    #[error("{input:?}: unknown unit {unit:?}; use ms, s, m, h or d")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The part after the number.
        unit: String,
    },
    /// More than about 584 million years: use a smaller number.
    #[error("{0:?}: too long a duration")]
    Overflow(String),
}

/// Parses `<whole number><unit>` with unit `ms`, `s`, `m` (minutes), `h` or `d` (24 h).
///
/// No spaces, signs, fractions or compound forms (`1h30m`): write `90m` instead.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    if input.starts_with('-') {
        return Err(DurationError::Negative(input.to_owned()));
    }
    let digits_end = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (digits, unit) = input.split_at(digits_end);
    if digits.is_empty() {
        return Err(DurationError::MissingNumber(input.to_owned()));
    }
    let millis_per_unit: u64 = match unit {
        "" => return Err(DurationError::MissingUnit(input.to_owned())),
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ if unit.starts_with('.') => return Err(DurationError::MissingNumber(input.to_owned())),
        _ => {
            return Err(DurationError::UnknownUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
            })
        }
    };
    let overflow = || DurationError::Overflow(input.to_owned());
    let number: u64 = digits.parse().map_err(|_| overflow())?;
    let millis = number.checked_mul(millis_per_unit).ok_or_else(overflow)?;
    Ok(Duration::from_millis(millis))
}

/// Writes `duration` the way [`parse_duration`] reads it, in the largest exact unit
/// (`7d`, `90m`, `500ms`); durations with a sub-millisecond part are written in Rust's debug
/// form (`1.5ms`), which is for messages only.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return format!("{duration:?}");
    }
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_every_unit() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("5s", Duration::from_secs(5)),
            ("1m", Duration::from_secs(60)),
            ("6h", Duration::from_secs(6 * 3600)),
            ("7d", Duration::from_secs(7 * 86_400)),
            ("0s", Duration::ZERO),
            ("0010s", Duration::from_secs(10)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        use DurationError::*;
        let unknown = |unit: &str| UnknownUnit {
            input: format!("5{unit}"),
            unit: unit.to_owned(),
        };
        assert_eq!(parse_duration(""), Err(Empty));
        assert_eq!(parse_duration("-5s"), Err(Negative("-5s".into())));
        assert_eq!(parse_duration("s"), Err(MissingNumber("s".into())));
        assert_eq!(parse_duration("+5s"), Err(MissingNumber("+5s".into())));
        assert_eq!(parse_duration("1.5s"), Err(MissingNumber("1.5s".into())));
        assert_eq!(parse_duration("5"), Err(MissingUnit("5".into())));
        assert_eq!(parse_duration("5x"), Err(unknown("x")));
        assert_eq!(parse_duration("5 s"), Err(unknown(" s")));
        assert_eq!(parse_duration("5sec"), Err(unknown("sec")));
        assert_eq!(parse_duration("5S"), Err(unknown("S")));
        let huge = "99999999999999999999s";
        assert_eq!(parse_duration(huge), Err(Overflow(huge.into())));
        let too_long = format!("{}d", u64::MAX / 86_400_000 + 1);
        assert_eq!(parse_duration(&too_long), Err(Overflow(too_long.clone())));
    }

    #[test]
    fn errors_say_what_to_write() {
        let message = parse_duration("5").unwrap_err().to_string();
        assert_eq!(
            message,
            "\"5\": missing unit; add one of ms, s, m, h, d (e.g. \"5s\")"
        );
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_duration(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,12}") {
            let _ = parse_duration(&input);
        }

        #[test]
        fn formatting_round_trips(millis in 0u64..u64::MAX / 1_000_000) {
            let duration = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }
}
