//! UTC civil time on epoch milliseconds: ISO-8601 spelling and calendar arithmetic, on top of
//! the `time` crate's proleptic Gregorian dates (years -9999 to 9999).

use time::{Date, Month};

/// Milliseconds in a second, minute, hour, day and week.
pub const SECOND_MS: i64 = 1_000;
/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// A UTC instant split into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (-9999 to 9999).
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Milliseconds since midnight, 0 to 86 399 999.
    pub ms_of_day: i64,
}

impl Civil {
    /// The fields of `ms` since the epoch; `None` outside the years -9999 to 9999.
    pub fn from_millis(ms: i64) -> Option<Civil> {
        let days = ms.div_euclid(DAY_MS);
        let julian = i32::try_from(days + UNIX_EPOCH_JULIAN_DAY).ok()?;
        let date = Date::from_julian_day(julian).ok()?;
        Some(Civil {
            year: date.year(),
            month: date.month() as u8,
            day: date.day(),
            ms_of_day: ms.rem_euclid(DAY_MS),
        })
    }

    /// Back to epoch milliseconds; `None` when the day does not exist (e.g. February 30).
    pub fn to_millis(self) -> Option<i64> {
        let month = Month::try_from(self.month).ok()?;
        let date = Date::from_calendar_date(self.year, month, self.day).ok()?;
        Some(day_start(date) + self.ms_of_day)
    }

    /// Hour of the day.
    pub fn hour(self) -> i64 {
        self.ms_of_day / HOUR_MS
    }

    /// Minute of the hour.
    pub fn minute(self) -> i64 {
        self.ms_of_day / MINUTE_MS % 60
    }

    /// Second of the minute.
    pub fn second(self) -> i64 {
        self.ms_of_day / SECOND_MS % 60
    }

    /// Millisecond of the second.
    pub fn millisecond(self) -> i64 {
        self.ms_of_day % SECOND_MS
    }
}

fn day_start(date: Date) -> i64 {
    (i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY) * DAY_MS
}

/// Number of days in `month` (1-12) of `year`.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    Month::try_from(month).map_or(31, |m| time::util::days_in_month(m, year))
}

/// `ms` moved by `months` calendar months, keeping the time of day; a day past the end of
/// the target month becomes its last day (January 31 + 1 month = February 28 or 29).
pub fn add_months(ms: i64, months: i64) -> Option<i64> {
    let c = Civil::from_millis(ms)?;
    let index = month_index(c.year, c.month).checked_add(months)?;
    let (year, month) = from_month_index(index)?;
    Civil {
        year,
        month,
        day: c.day.min(days_in_month(year, month)),
        ms_of_day: c.ms_of_day,
    }
    .to_millis()
}

/// Months since year 0: `year * 12 + month - 1`.
pub fn month_index(year: i32, month: u8) -> i64 {
    i64::from(year) * 12 + i64::from(month) - 1
}

/// The (year, month) of a month index.
pub fn from_month_index(index: i64) -> Option<(i32, u8)> {
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    Some((year, index.rem_euclid(12) as u8 + 1))
}

/// Midnight UTC on the first day of month `index` (see [`month_index`]).
pub fn month_start(index: i64) -> Option<i64> {
    let (year, month) = from_month_index(index)?;
    Civil {
        year,
        month,
        day: 1,
        ms_of_day: 0,
    }
    .to_millis()
}

/// `ms` as ISO-8601 UTC with milliseconds, `2024-11-20T10:00:00.000Z`. Instants outside the
/// years -9999 to 9999 (never produced by ingest) are written as their epoch milliseconds.
pub fn format_iso(ms: i64) -> String {
    match Civil::from_millis(ms) {
        Some(c) => {
            let sign = if c.year < 0 { "-" } else { "" };
            format!(
                "{sign}{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                c.year.unsigned_abs(),
                c.month,
                c.day,
                c.hour(),
                c.minute(),
                c.second(),
                c.millisecond()
            )
        }
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_spelling() {
        assert_eq!(format_iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso(1_732_097_400_123), "2024-11-20T10:10:00.123Z");
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn round_trip_and_invalid_days() {
        let c = Civil::from_millis(1_732_097_400_123).unwrap();
        assert_eq!((c.year, c.month, c.day), (2024, 11, 20));
        assert_eq!(c.to_millis(), Some(1_732_097_400_123));
        let feb30 = Civil {
            year: 2024,
            month: 2,
            day: 30,
            ms_of_day: 0,
        };
        assert_eq!(feb30.to_millis(), None);
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        let jan31 = Civil {
            year: 2024,
            month: 1,
            day: 31,
            ms_of_day: 5,
        }
        .to_millis()
        .unwrap();
        assert_eq!(
            format_iso(add_months(jan31, 1).unwrap()),
            "2024-02-29T00:00:00.005Z"
        );
        assert_eq!(
            format_iso(add_months(jan31, -2).unwrap()),
            "2023-11-30T00:00:00.005Z"
        );
        assert_eq!(
            format_iso(month_start(month_index(2024, 3)).unwrap()),
            "2024-03-01T00:00:00.000Z"
        );
    }
}
