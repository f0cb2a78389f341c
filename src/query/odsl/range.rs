//! `_range`: which timestamps a query covers. The grammar (also in the README):
//!
//! ```text
//! range    = point | "from(" point ")" | "between(" point "," point ")"
//! point    = date | datetime | relative
//! date     = YYYY "-" MM "-" DD                                  the whole UTC day
//! datetime = date "T" hh [":" mm [":" ss ["." fraction]]] [zone] the hour, minute, second
//!                                                                or millisecond written
//! zone     = "Z" | ("+" | "-") hh [":"] mm                       default UTC
//! relative = "T" (offset | setter)*                              now, then each step in order
//! offset   = ("+" | "-") digits ("Y" | "M" | "W" | "D" | "H" | "MI" | "S")
//!                                          years, months, weeks, days, hours, minutes, seconds
//! setter   = ("d" | "h" | "m" | "s") digits
//!            set the day of the month, hour, minute or second, zero every finer field
//! ```
//!
//! A point covers a span: the unit of its last written field (a day, an hour, ... a
//! millisecond); a relative point covers the unit of its last setter (a millisecond without
//! one). A point alone selects its span; `from(a)` everything from the start of `a` on;
//! `between(a,b)` from the start of `a` to the end of `b`, both included. So
//! `between(T-1Dh0m0s0,T-1Dh23m59s59)` is all of yesterday, 00:00:00.000 to 23:59:59.999, and
//! `2024-11-20` is that UTC day. Months added to the 31st land on the month's last day.

use super::civil::{
    add_months, days_in_month, format_iso, Civil, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS,
};

/// Epoch-millisecond bounds, both included; `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// First instant included.
    pub from: Option<i64>,
    /// Last instant included.
    pub to: Option<i64>,
}

impl TimeRange {
    /// True when `ms` is inside.
    pub fn contains(&self, ms: i64) -> bool {
        self.from.is_none_or(|f| ms >= f) && self.to.is_none_or(|t| ms <= t)
    }

    /// Parses a `_range` value; relative points count from `now_ms`.
    pub fn parse(text: &str, now_ms: i64) -> Result<TimeRange, String> {
        let text = text.trim();
        if let Some(inner) = call(text, "from") {
            let a = Point::parse(inner, now_ms)?;
            return Ok(TimeRange {
                from: Some(a.start),
                to: None,
            });
        }
        if let Some(inner) = call(text, "between") {
            let (a, b) = inner
                .split_once(',')
                .ok_or_else(|| format!("{text:?}: between takes two points, between(a,b)"))?;
            let (a, b) = (Point::parse(a, now_ms)?, Point::parse(b, now_ms)?);
            if a.start > b.end {
                return Err(format!(
                    "{text:?}: the first point ({}) is after the second ({})",
                    format_iso(a.start),
                    format_iso(b.end)
                ));
            }
            return Ok(TimeRange {
                from: Some(a.start),
                to: Some(b.end),
            });
        }
        let p = Point::parse(text, now_ms)?;
        Ok(TimeRange {
            from: Some(p.start),
            to: Some(p.end),
        })
    }
}

/// The argument text of `name(...)`, if `text` has that shape.
fn call<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// An instant and the span it covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// First millisecond.
    pub start: i64,
    /// Last millisecond.
    pub end: i64,
}

impl Point {
    /// Parses one point; relative points count from `now_ms`.
    pub fn parse(text: &str, now_ms: i64) -> Result<Point, String> {
        let text = text.trim();
        let (start, span) = if let Some(steps) = text.strip_prefix('T') {
            relative(steps, now_ms).map_err(|why| format!("{text:?}: {why}"))?
        } else {
            absolute(text).ok_or_else(|| {
                format!(
                    "{text:?} is not a time: expected a date (2024-11-20), a date-time \
                     (2024-11-20T10:00:00Z) or a relative time (T, T-1D, T-1Dh0m0s0)"
                )
            })?
        };
        Civil::from_millis(start)
            .and_then(|_| Civil::from_millis(start + span))
            .ok_or_else(|| format!("{text:?} is outside the years -9999 to 9999"))?;
        Ok(Point {
            start,
            end: start + span - 1,
        })
    }
}

/// A cursor over ASCII text.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn eat(&mut self, c: u8) -> bool {
        if self.rest.first() == Some(&c) {
            self.rest = &self.rest[1..];
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<i64> {
        let digits = self.rest.get(..n)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = &self.rest[n..];
        Some(
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    }

    /// One to six digits.
    fn number(&mut self) -> Option<i64> {
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 6 {
            return None;
        }
        self.fixed(n)
    }
}

/// An absolute date or date-time: (start, span in ms).
fn absolute(text: &str) -> Option<(i64, i64)> {
    let mut c = Cursor {
        rest: text.as_bytes(),
    };
    let year = c.fixed(4)?;
    c.eat(b'-').then_some(())?;
    let month = c.fixed(2)?;
    c.eat(b'-').then_some(())?;
    let day = c.fixed(2)?;
    let date = Civil {
        year: i32::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        ms_of_day: 0,
    }
    .to_millis()?;
    if c.rest.is_empty() {
        return Some((date, DAY_MS));
    }
    c.eat(b'T').then_some(())?;
    let hour = c.fixed(2).filter(|h| *h < 24)?;
    let mut ms = hour * HOUR_MS;
    let mut span = HOUR_MS;
    if c.eat(b':') {
        ms += c.fixed(2).filter(|m| *m < 60)? * MINUTE_MS;
        span = MINUTE_MS;
        if c.eat(b':') {
            ms += c.fixed(2).filter(|s| *s < 60)? * SECOND_MS;
            span = SECOND_MS;
            if c.eat(b'.') {
                let n = c.rest.iter().take_while(|d| d.is_ascii_digit()).count();
                if n == 0 || n > 9 {
                    return None;
                }
                let fraction = c.fixed(n)?;
                // Truncate to milliseconds.
                ms += fraction * 1000 / 10i64.pow(n as u32);
                span = 1;
            }
        }
    }
    let offset = zone(&mut c)?;
    c.rest.is_empty().then_some((date + ms - offset, span))
}

/// A zone designator: its offset from UTC in ms (0 when absent).
fn zone(c: &mut Cursor) -> Option<i64> {
    if c.rest.is_empty() || c.eat(b'Z') {
        return Some(0);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let hours = c.fixed(2).filter(|h| *h < 24)?;
    c.eat(b':');
    let minutes = c.fixed(2).filter(|m| *m < 60)?;
    Some(sign * (hours * HOUR_MS + minutes * MINUTE_MS))
}

/// The steps after `T`, applied to `now_ms` in order: (start, span in ms).
fn relative(steps: &str, now_ms: i64) -> Result<(i64, i64), String> {
    let mut c = Cursor {
        rest: steps.as_bytes(),
    };
    let mut t = now_ms;
    let mut span = 1;
    let out_of_range = || "outside the years -9999 to 9999".to_owned();
    while let Some(&step) = c.rest.first() {
        c.rest = &c.rest[1..];
        match step {
            b'+' | b'-' => {
                let n = c
                    .number()
                    .ok_or("an offset needs 1 to 6 digits, as in -1D")?;
                let n = if step == b'-' { -n } else { n };
                t = if c.eat(b'Y') {
                    add_months(t, n * 12).ok_or_else(out_of_range)?
                } else if c.eat(b'M') {
                    if c.eat(b'I') {
                        t + n * MINUTE_MS
                    } else {
                        add_months(t, n).ok_or_else(out_of_range)?
                    }
                } else {
                    let unit = match c.rest.first() {
                        Some(b'W') => 7 * DAY_MS,
                        Some(b'D') => DAY_MS,
                        Some(b'H') => HOUR_MS,
                        Some(b'S') => SECOND_MS,
                        _ => {
                            return Err("an offset unit is one of Y, M, W, D, H, MI or S".to_owned())
                        }
                    };
                    c.rest = &c.rest[1..];
                    t + n * unit
                };
                Civil::from_millis(t).ok_or_else(out_of_range)?;
            }
            b'd' | b'h' | b'm' | b's' => {
                let n = c.number().ok_or("a setter needs digits, as in h0 or m30")?;
                let mut civil = Civil::from_millis(t).ok_or_else(out_of_range)?;
                let (field, limit, unit) = match step {
                    b'd' => (
                        "day",
                        i64::from(days_in_month(civil.year, civil.month)),
                        DAY_MS,
                    ),
                    b'h' => ("hour", 23, HOUR_MS),
                    b'm' => ("minute", 59, MINUTE_MS),
                    _ => ("second", 59, SECOND_MS),
                };
                let low = i64::from(step == b'd');
                if n < low || n > limit {
                    return Err(format!("the {field} must be {low} to {limit}, not {n}"));
                }
                if step == b'd' {
                    civil.day = n as u8;
                    civil.ms_of_day = 0;
                } else {
                    let above = civil.ms_of_day
                        - civil.ms_of_day % (unit * if unit == HOUR_MS { 24 } else { 60 });
                    civil.ms_of_day = above + n * unit;
                }
                t = civil.to_millis().ok_or_else(out_of_range)?;
                span = unit;
            }
            other => {
                return Err(format!(
                    "unexpected {:?}: after T come offsets (-1D, +3H) and setters (h0, m0, s0)",
                    other as char
                ))
            }
        }
    }
    Ok((t, span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2024-11-21T15:42:07.250Z.
    const NOW: i64 = 1_732_203_727_250;

    fn bounds(text: &str) -> (String, String) {
        let r = TimeRange::parse(text, NOW).unwrap_or_else(|e| panic!("{text}: {e}"));
        let f = |v: Option<i64>| v.map_or("open".to_owned(), format_iso);
        (f(r.from), f(r.to))
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn absolute_points_cover_their_precision() {
        assert_eq!(
            bounds("2024-11-20"),
            pair("2024-11-20T00:00:00.000Z", "2024-11-20T23:59:59.999Z")
        );
        assert_eq!(
            bounds("2024-11-20T10"),
            pair("2024-11-20T10:00:00.000Z", "2024-11-20T10:59:59.999Z")
        );
        assert_eq!(
            bounds("2024-11-20T10:15Z"),
            pair("2024-11-20T10:15:00.000Z", "2024-11-20T10:15:59.999Z")
        );
        assert_eq!(
            bounds("2024-11-20T10:15:30"),
            pair("2024-11-20T10:15:30.000Z", "2024-11-20T10:15:30.999Z")
        );
        assert_eq!(
            bounds("2024-11-20T10:15:30.5Z"),
            pair("2024-11-20T10:15:30.500Z", "2024-11-20T10:15:30.500Z")
        );
        assert_eq!(
            bounds("2024-11-20T10:15:30+01:00"),
            pair("2024-11-20T09:15:30.000Z", "2024-11-20T09:15:30.999Z")
        );
    }

    #[test]
    fn from_and_between() {
        assert_eq!(
            bounds("from(2024-11-20)"),
            pair("2024-11-20T00:00:00.000Z", "open")
        );
        assert_eq!(
            bounds("between(2024-11-20, 2024-11-21)"),
            pair("2024-11-20T00:00:00.000Z", "2024-11-21T23:59:59.999Z")
        );
        assert!(TimeRange::parse("between(2024-11-21,2024-11-20)", NOW).is_err());
    }

    #[test]
    fn relative_times() {
        assert_eq!(
            bounds("T"),
            pair("2024-11-21T15:42:07.250Z", "2024-11-21T15:42:07.250Z")
        );
        assert_eq!(
            bounds("from(T-1D)"),
            pair("2024-11-20T15:42:07.250Z", "open")
        );
        assert_eq!(
            bounds("from(T-3H)"),
            pair("2024-11-21T12:42:07.250Z", "open")
        );
        assert_eq!(
            bounds("between(T-1Dh0m0s0,T-1Dh23m59s59)"),
            pair("2024-11-20T00:00:00.000Z", "2024-11-20T23:59:59.999Z")
        );
        assert_eq!(
            bounds("T-1Dh0"),
            pair("2024-11-20T00:00:00.000Z", "2024-11-20T00:59:59.999Z")
        );
        assert_eq!(
            bounds("T-1Md1"),
            pair("2024-10-01T00:00:00.000Z", "2024-10-01T23:59:59.999Z")
        );
        assert_eq!(
            bounds("from(T+1Y-2W-30MI-5S)"),
            pair("2025-11-07T15:12:02.250Z", "open")
        );
        assert_eq!(
            bounds("Tm5"),
            pair("2024-11-21T15:05:00.000Z", "2024-11-21T15:05:59.999Z")
        );
    }

    #[test]
    fn malformed_ranges() {
        for bad in [
            "",
            "yesterday",
            "2024-11",
            "2024-13-01",
            "2024-02-30",
            "2024-11-20T24",
            "2024-11-20T10:60",
            "2024-11-20 10:00",
            "2024-11-20T10:00:00.",
            "2024-11-20Tx",
            "from(2024-11-20",
            "from()",
            "between(2024-11-20)",
            "between(a,b)",
            "T-1",
            "T-1X",
            "T1D",
            "Th24",
            "Tm60",
            "Td0",
            "Td32",
            "Th",
            "T-9999999D",
            "T+8000Y",
            "2024-11-20Z",
            "between(T,T-1D)",
        ] {
            assert!(TimeRange::parse(bad, NOW).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        /// The parser never panics on any input, and whatever it accepts is a non-empty span.
        #[test]
        fn never_panics(text in "(from\\(|between\\()?[T0-9:+\\-.,ZYMWDHSIdhms ]{0,24}\\)?", now in -1_000_000_000_000i64..5_000_000_000_000) {
            if let Ok(r) = TimeRange::parse(&text, now) {
                if let (Some(f), Some(t)) = (r.from, r.to) {
                    prop_assert!(f <= t);
                }
            }
        }

        /// Every relative setter form stays in the day it names.
        #[test]
        fn yesterday_is_one_whole_day(now in 0i64..5_000_000_000_000) {
            let r = TimeRange::parse("between(T-1Dh0m0s0,T-1Dh23m59s59)", now).unwrap();
            let (f, t) = (r.from.unwrap(), r.to.unwrap());
            prop_assert_eq!(t - f + 1, DAY_MS);
            prop_assert_eq!(f.rem_euclid(DAY_MS), 0);
            prop_assert_eq!(f, (now.div_euclid(DAY_MS) - 1) * DAY_MS);
        }
    }
}
