//! OpenTSDB's dates and durations: epoch seconds or milliseconds, `yyyy/MM/dd[-HH:mm[:ss]]`
//! (UTC), `now`, relative `<n><unit>-ago`, and intervals `<n><unit>` with units `ms s m h d w
//! n y` (a month `n` is 30 days, a year 365).

use super::QueryError;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Milliseconds in one `unit`.
fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "ms" => 1,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        "n" => 30 * DAY,
        "y" => 365 * DAY,
        _ => return None,
    })
}

/// Splits `<digits><unit>` into its number and unit.
fn split_amount(text: &str) -> Option<(i64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 12 {
        return None;
    }
    let n = text[..digits].parse().ok()?;
    Some((n, &text[digits..]))
}

/// An interval `<n><unit>` in ms (`n` may be 0; the caller decides whether that is allowed).
pub fn parse_interval(text: &str) -> Result<i64, QueryError> {
    let bad = || {
        QueryError::bad(format!(
            "interval {text:?} must be <number><unit> with unit ms, s, m, h, d, w, n or y"
        ))
    };
    let (n, unit) = split_amount(text).ok_or_else(bad)?;
    let ms = unit_ms(unit).ok_or_else(bad)?;
    n.checked_mul(ms).ok_or_else(bad)
}

/// A point in time as OpenTSDB writes them, in epoch ms, relative to `now_ms`.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, QueryError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(QueryError::bad("an empty time was given"));
    }
    if text.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Some(amount) = text.strip_suffix("-ago") {
        let ago = parse_interval(amount)?;
        return Ok(now_ms.saturating_sub(ago));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(text);
    }
    parse_date(text).ok_or_else(|| {
        QueryError::bad(format!(
            "time {text:?} is not epoch seconds or ms, yyyy/MM/dd[-HH:mm[:ss]] (UTC), now, \
             or <n><unit>-ago"
        ))
    })
}

/// Epoch seconds (up to 10 digits, with an optional `.mmm`) or milliseconds (13 digits).
pub fn parse_epoch(text: &str) -> Result<i64, QueryError> {
    let bad = || QueryError::bad(format!("time {text:?} is not an epoch time in s or ms"));
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 13 {
        return Err(bad());
    }
    let n: i64 = whole.parse().map_err(|_| bad())?;
    match frac {
        None if whole.len() <= 10 => Ok(n * SECOND),
        None => Ok(n),
        Some(f) if whole.len() <= 10 && !f.is_empty() && f.len() <= 3 => {
            let digits: i64 = f.parse().map_err(|_| bad())?;
            Ok(n * SECOND + digits * 10i64.pow(3 - f.len() as u32))
        }
        Some(_) => Err(bad()),
    }
}

/// A JSON time: a number (epoch s or ms) or a string.
pub fn json_time(value: &serde_json::Value, now_ms: i64) -> Result<i64, QueryError> {
    match value {
        serde_json::Value::String(s) => parse_time(s, now_ms),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(v) if v >= 0 => parse_epoch(&v.to_string()),
            _ => Err(QueryError::bad(format!(
                "time {n} must be a non-negative integer epoch time"
            ))),
        },
        other => Err(QueryError::bad(format!(
            "time {other} must be a number or a string"
        ))),
    }
}

/// `yyyy/MM/dd`, `yyyy/MM/dd-HH:mm`, `yyyy/MM/dd-HH:mm:ss` (or a space for the `-`), UTC.
fn parse_date(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['-', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('/');
    let year: i64 = fixed(parts.next()?, 4)?;
    let month: i64 = fixed(parts.next()?, 2)?;
    let day: i64 = fixed(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let (mut h, mut m, mut s) = (0, 0, 0);
    if let Some(time) = time {
        let mut t = time.split(':');
        h = fixed(t.next()?, 2)?;
        m = fixed(t.next()?, 2)?;
        if let Some(sec) = t.next() {
            s = fixed(sec, 2)?;
        }
        if t.next().is_some() || h > 23 || m > 59 || s > 59 {
            return None;
        }
    }
    Some(days_from_civil(year, month, day) * DAY + h * HOUR + m * MINUTE + s * SECOND)
}

fn fixed(text: &str, width: usize) -> Option<i64> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn absolute_relative_and_epoch() {
        assert_eq!(parse_time("2013/01/01", NOW).unwrap(), 1_356_998_400_000);
        assert_eq!(
            parse_time("2013/01/01-01:02", NOW).unwrap(),
            1_357_002_120_000
        );
        assert_eq!(
            parse_time("2013/01/01 01:02:03", NOW).unwrap(),
            1_357_002_123_000
        );
        assert_eq!(
            parse_time("2024/02/29-23:59:59", NOW).unwrap(),
            1_709_251_199_000
        );
        assert!(parse_time("2023/02/29", NOW).is_err());
        assert!(parse_time("2013/1/01", NOW).is_err());
        assert!(parse_time("2013/01/01-24:00", NOW).is_err());
        assert_eq!(parse_time("1h-ago", NOW).unwrap(), NOW - 3_600_000);
        assert_eq!(parse_time("5ms-ago", NOW).unwrap(), NOW - 5);
        assert_eq!(parse_time("2n-ago", NOW).unwrap(), NOW - 60 * DAY);
        assert_eq!(parse_time("now", NOW).unwrap(), NOW);
        assert_eq!(parse_time("1356998400", NOW).unwrap(), 1_356_998_400_000);
        assert_eq!(parse_time("1356998400123", NOW).unwrap(), 1_356_998_400_123);
        assert_eq!(parse_time("1356998400.5", NOW).unwrap(), 1_356_998_400_500);
        assert!(parse_time("1h", NOW).is_err());
        assert!(parse_time("1x-ago", NOW).is_err());
        assert!(parse_time("", NOW).is_err());
        assert_eq!(parse_interval("0s").unwrap(), 0);
        assert_eq!(parse_interval("15m").unwrap(), 900_000);
        assert!(parse_interval("m").is_err());
        assert!(parse_interval("99999999999999y").is_err());
    }

    #[test]
    fn json_times() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(json_time(&v("1356998400"), NOW).unwrap(), 1_356_998_400_000);
        assert_eq!(
            json_time(&v("1356998400000"), NOW).unwrap(),
            1_356_998_400_000
        );
        assert_eq!(json_time(&v("\"1h-ago\""), NOW).unwrap(), NOW - 3_600_000);
        assert!(json_time(&v("-1"), NOW).is_err());
        assert!(json_time(&v("1.5"), NOW).is_err());
        assert!(json_time(&v("true"), NOW).is_err());
    }

    proptest! {
        #[test]
        fn times_never_panic(text in "\\PC{0,24}") {
            let _ = parse_time(&text, NOW);
            let _ = parse_interval(&text);
        }

        #[test]
        fn dates_round_trip(days in 0i64..100_000, secs in 0i64..86_400) {
            let ms = days * DAY + secs * SECOND;
            // Format with the civil date computed independently by walking months.
            let (mut y, mut rest) = (1970, days);
            loop {
                let len = if days_in_month(y, 2) == 29 { 366 } else { 365 };
                if rest < len { break; }
                rest -= len;
                y += 1;
            }
            let mut m = 1;
            while rest >= days_in_month(y, m) {
                rest -= days_in_month(y, m);
                m += 1;
            }
            let text = format!(
                "{y:04}/{m:02}/{:02}-{:02}:{:02}:{:02}",
                rest + 1, secs / 3600, secs / 60 % 60, secs % 60
            );
            prop_assert_eq!(parse_time(&text, NOW).unwrap(), ms);
        }
    }
}
