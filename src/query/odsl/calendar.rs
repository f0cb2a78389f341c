//! `_calendar`: ISO-8601 durations of one component (`PT1M`, `PT15M`, `PT1H`, `P1D`, `P1W`,
//! `P1M`, `P1Y`, with or without ODSL's leading `#`) and the UTC buckets they cut time into.
//!
//! Alignment, all in UTC: seconds, minutes, hours and days are counted from the Unix epoch
//! (so `PT15M` starts at :00, :15, :30, :45 and `P1D` at midnight); weeks start on Monday
//! 00:00 as ISO-8601 weeks do (`P2W` counts pairs of weeks from Monday 1969-12-29); months
//! start on the 1st at 00:00 (`P3M` gives quarters starting in January, April, July and
//! October); years start on January 1st (`P10Y` gives decades).

use super::civil::{
    from_month_index, month_index, month_start, Civil, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS,
};
use std::fmt;

/// The largest count a calendar may have (`P10000D`).
pub const MAX_COUNT: u32 = 10_000;

/// The unit of a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `PTnS`.
    Second,
    /// `PTnM`.
    Minute,
    /// `PTnH`.
    Hour,
    /// `PnD`.
    Day,
    /// `PnW`, weeks starting on Monday.
    Week,
    /// `PnM`, calendar months.
    Month,
    /// `PnY`, calendar years.
    Year,
}

/// A calendar: `count` units per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// Units per bucket, 1 to `MAX_COUNT`.
    pub count: u32,
    /// The unit.
    pub unit: Unit,
}

/// Monday 1969-12-29 00:00 UTC, the start of the ISO week holding the epoch.
const WEEK_ORIGIN_MS: i64 = -3 * DAY_MS;

impl Calendar {
    /// Parses a calendar code such as `#PT1H` or `P1D`.
    pub fn parse(code: &str) -> Result<Calendar, String> {
        let explain = || {
            format!(
                "{code:?} is not a calendar: expected an ISO-8601 duration of one component, \
                 e.g. #PT1M, #PT15M, #PT1H, #P1D, #P1W, #P1M or #P1Y"
            )
        };
        let body = code.strip_prefix('#').unwrap_or(code);
        let body = body.strip_prefix('P').ok_or_else(explain)?;
        let (time_part, body) = match body.strip_prefix('T') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        let (number, designator) = body.split_at(digits);
        let unit = match (time_part, designator) {
            (true, "S") => Unit::Second,
            (true, "M") => Unit::Minute,
            (true, "H") => Unit::Hour,
            (false, "D") => Unit::Day,
            (false, "W") => Unit::Week,
            (false, "M") => Unit::Month,
            (false, "Y") => Unit::Year,
            _ => return Err(explain()),
        };
        let count: u32 = number.parse().map_err(|_| explain())?;
        if count == 0 || count > MAX_COUNT {
            return Err(format!("{code:?}: the count must be 1 to {MAX_COUNT}"));
        }
        Ok(Calendar { count, unit })
    }

    /// The bucket width in milliseconds for fixed-width units; `None` for months and years.
    fn fixed_width(self) -> Option<(i64, i64)> {
        let unit_ms = match self.unit {
            Unit::Second => SECOND_MS,
            Unit::Minute => MINUTE_MS,
            Unit::Hour => HOUR_MS,
            Unit::Day => DAY_MS,
            Unit::Week => 7 * DAY_MS,
            Unit::Month | Unit::Year => return None,
        };
        let origin = if self.unit == Unit::Week {
            WEEK_ORIGIN_MS
        } else {
            0
        };
        Some((i64::from(self.count) * unit_ms, origin))
    }

    /// The start of the bucket holding `ms`; `None` only for months and years outside the
    /// years -9999 to 9999.
    pub fn bucket_start(self, ms: i64) -> Option<i64> {
        if let Some((width, origin)) = self.fixed_width() {
            let offset = ms.checked_sub(origin)?;
            return origin.checked_add(offset.div_euclid(width) * width);
        }
        let c = Civil::from_millis(ms)?;
        let count = i64::from(self.count);
        match self.unit {
            Unit::Month => month_start(month_index(c.year, c.month).div_euclid(count) * count),
            _ => {
                let year = i64::from(c.year).div_euclid(count) * count;
                month_start(year.checked_mul(12)?)
            }
        }
    }

    /// The start of the bucket after the one starting at `start` (its exclusive end).
    pub fn next_start(self, start: i64) -> Option<i64> {
        if let Some((width, _)) = self.fixed_width() {
            return start.checked_add(width);
        }
        let c = Civil::from_millis(start)?;
        let months = match self.unit {
            Unit::Month => i64::from(self.count),
            _ => 12 * i64::from(self.count),
        };
        let index = month_index(c.year, c.month) + months;
        from_month_index(index)?;
        month_start(index)
    }
}

impl fmt::Display for Calendar {
    /// The ODSL code, e.g. `#PT1H`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, d) = match self.unit {
            Unit::Second => ("T", 'S'),
            Unit::Minute => ("T", 'M'),
            Unit::Hour => ("T", 'H'),
            Unit::Day => ("", 'D'),
            Unit::Week => ("", 'W'),
            Unit::Month => ("", 'M'),
            Unit::Year => ("", 'Y'),
        };
        write!(f, "#P{t}{}{d}", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::super::civil::format_iso;
    use super::*;
    use proptest::prelude::*;

    fn start(code: &str, ms: i64) -> String {
        format_iso(Calendar::parse(code).unwrap().bucket_start(ms).unwrap())
    }

    #[test]
    fn codes_parse_with_or_without_hash() {
        for code in [
            "#PT1M", "PT15M", "#PT1H", "P1D", "#P1W", "#P1M", "P1Y", "PT30S",
        ] {
            let cal = Calendar::parse(code).unwrap();
            let expected = if code.starts_with('#') {
                code.to_owned()
            } else {
                format!("#{code}")
            };
            assert_eq!(cal.to_string(), expected);
        }
        for bad in [
            "",
            "#",
            "P",
            "PT",
            "P1",
            "1D",
            "P0D",
            "PT1D",
            "P1H",
            "P1DT1H",
            "P-1D",
            "P1.5D",
            "#P10001D",
            "p1d",
            "PT99999999999999999999M",
        ] {
            assert!(Calendar::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets_align_in_utc() {
        // 2024-11-20T10:37:12.345Z, a Wednesday.
        let t = 1_732_099_032_345;
        assert_eq!(start("PT1M", t), "2024-11-20T10:37:00.000Z");
        assert_eq!(start("PT15M", t), "2024-11-20T10:30:00.000Z");
        assert_eq!(start("PT1H", t), "2024-11-20T10:00:00.000Z");
        assert_eq!(start("P1D", t), "2024-11-20T00:00:00.000Z");
        assert_eq!(start("P1W", t), "2024-11-18T00:00:00.000Z");
        assert_eq!(start("P1M", t), "2024-11-01T00:00:00.000Z");
        assert_eq!(start("P3M", t), "2024-10-01T00:00:00.000Z");
        assert_eq!(start("P1Y", t), "2024-01-01T00:00:00.000Z");
        assert_eq!(start("P1W", 0), "1969-12-29T00:00:00.000Z");
        assert_eq!(start("P1D", -1), "1969-12-31T00:00:00.000Z");
        let feb = Calendar::parse("P1M").unwrap();
        let s = feb.bucket_start(1_709_251_199_999).unwrap(); // 2024-02-29T23:59:59.999Z
        assert_eq!(
            format_iso(feb.next_start(s).unwrap()),
            "2024-03-01T00:00:00.000Z"
        );
    }

    fn calendar() -> impl Strategy<Value = Calendar> {
        let unit = prop_oneof![
            Just(Unit::Second),
            Just(Unit::Minute),
            Just(Unit::Hour),
            Just(Unit::Day),
            Just(Unit::Week),
            Just(Unit::Month),
            Just(Unit::Year),
        ];
        (1u32..50, unit).prop_map(|(count, unit)| Calendar { count, unit })
    }

    proptest! {
        /// Every instant falls in exactly one bucket: its bucket starts at or before it, the
        /// next one starts after it, and the bucket of the start is the bucket itself.
        #[test]
        fn every_instant_in_exactly_one_bucket(cal in calendar(), ms in -5_000_000_000_000i64..10_000_000_000_000) {
            let s = cal.bucket_start(ms).unwrap();
            let e = cal.next_start(s).unwrap();
            prop_assert!(s <= ms && ms < e, "{s} <= {ms} < {e}");
            prop_assert_eq!(cal.bucket_start(s), Some(s));
            prop_assert_eq!(cal.bucket_start(e - 1), Some(s));
            prop_assert_eq!(cal.bucket_start(e), Some(e));
        }

        /// The parser never panics and what it accepts prints back as itself.
        #[test]
        fn parse_never_panics(code in "#?P(T)?[0-9]{0,6}[SMHDWY]{0,2}") {
            if let Ok(cal) = Calendar::parse(&code) {
                prop_assert_eq!(Calendar::parse(&cal.to_string()), Ok(cal));
            }
        }
    }
}
