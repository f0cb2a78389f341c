//! Event timestamps as OpenTSDB tells them apart: 10 digits are seconds, 13 are milliseconds.

/// Largest value read as seconds (OpenTSDB's rule: more than 10 digits means milliseconds).
const MAX_SECONDS: f64 = 9_999_999_999.0;

/// Converts a timestamp given in epoch seconds or milliseconds to epoch milliseconds.
pub fn to_epoch_millis(raw: f64) -> Result<i64, String> {
    if !raw.is_finite() || raw <= 0.0 {
        return Err(format!(
            "timestamp {raw} must be a positive epoch time in s or ms"
        ));
    }
    let ms = if raw <= MAX_SECONDS {
        raw * 1000.0
    } else {
        raw
    };
    if ms > 9_999_999_999_999.0 {
        return Err(format!("timestamp {raw} has more than 13 digits"));
    }
    Ok(ms.round() as i64)
}

/// How far ahead of the clock an event may be stamped.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;

/// Checks that `timestamp_ms` is something history can keep at `now_ms`: not older than
/// `longest_retention_ms` (the longest tier retention; 0 means no limit) and not more than
/// [`MAX_FUTURE_MS`] ahead.
pub fn check_window(
    timestamp_ms: i64,
    now_ms: i64,
    longest_retention_ms: i64,
) -> Result<(), String> {
    if timestamp_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
        return Err(format!(
            "timestamp {timestamp_ms} (ms) is more than 10 minutes in the future (now is {now_ms})"
        ));
    }
    if longest_retention_ms > 0 && timestamp_ms < now_ms.saturating_sub(longest_retention_ms) {
        return Err(format!(
            "timestamp {timestamp_ms} (ms) is older than the longest tier retention ({} s): no \
             tier would keep it",
            longest_retention_ms / 1000
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let now = 1_700_000_000_000;
        assert!(check_window(now, now, 1000).is_ok());
        assert!(check_window(now - 1000, now, 1000).is_ok());
        assert!(check_window(now - 1001, now, 1000)
            .unwrap_err()
            .contains("older"));
        assert!(check_window(now + MAX_FUTURE_MS, now, 1000).is_ok());
        assert!(check_window(now + MAX_FUTURE_MS + 1, now, 1000)
            .unwrap_err()
            .contains("future"));
        assert!(check_window(0, now, 0).is_ok());
    }

    #[test]
    fn seconds_and_millis() {
        assert_eq!(to_epoch_millis(1_700_000_000.0), Ok(1_700_000_000_000));
        assert_eq!(to_epoch_millis(1_700_000_000_123.0), Ok(1_700_000_000_123));
        assert!(to_epoch_millis(-1.0).is_err());
        assert!(to_epoch_millis(1e15).is_err());
    }
}
