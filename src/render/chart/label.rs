//! How chart axes and hover titles spell times and values.

use time::OffsetDateTime;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;

/// An epoch-ms time in UTC, as precise as a tick `step` (ms) needs and with the date when
/// the chart spans more than a day (`span` ms): `14:05:30`, `14:05`, `05-02 14:05`, `05-02`.
pub fn format_time(ms: i64, step: i64, span: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let (month, day) = (u8::from(t.month()), t.day());
    let (h, m, s) = (t.hour(), t.minute(), t.second());
    if step >= DAY {
        format!("{month:02}-{day:02}")
    } else if step < MINUTE {
        format!("{h:02}:{m:02}:{s:02}")
    } else if span > DAY {
        format!("{month:02}-{day:02} {h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// A full UTC timestamp for hover titles: `2024-05-01 14:05:30Z`, with milliseconds when
/// there are any.
pub fn format_instant(ms: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let millis = ms.rem_euclid(1000);
    let frac = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}")
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A value short enough for an axis: at most 4 significant digits, with k, M, G, T for
/// thousands and up (`1.5k`, `2M`, `0.25`, `1e-6`).
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_owned();
    }
    for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if a >= scale {
            return format!("{}{suffix}", trim(v / scale, 4));
        }
    }
    if a < 1e-3 {
        return format!("{v:.0e}");
    }
    trim(v, 4)
}

/// A hover value: up to 6 significant digits, no trailing zeros.
pub fn format_exact(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        return format!("{v:e}");
    }
    trim(v, 6)
}

/// `v` with `digits` significant digits, without trailing zeros.
fn trim(v: f64, digits: i32) -> String {
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let decimals = (digits - 1 - magnitude).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_short() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1500.0), "1.5k");
        assert_eq!(format_value(-2_000_000.0), "-2M");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(12.3456), "12.35");
        assert_eq!(format_value(0.000001), "1e-6");
        assert_eq!(format_exact(12.3456789), "12.3457");
        assert_eq!(format_exact(42.0), "42");
    }

    #[test]
    fn times_follow_the_step() {
        let t = 1_714_572_330_000; // 2024-05-01 14:05:30 UTC
        assert_eq!(format_time(t, SECOND, MINUTE), "14:05:30");
        assert_eq!(format_time(t, 5 * MINUTE, 3_600_000), "14:05");
        assert_eq!(format_time(t, 5 * MINUTE, 2 * DAY), "05-01 14:05");
        assert_eq!(format_time(t, DAY, 7 * DAY), "05-01");
        assert_eq!(format_instant(t), "2024-05-01 14:05:30Z");
        assert_eq!(format_instant(t + 7), "2024-05-01 14:05:30.007Z");
    }
}
