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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_millis() {
        assert_eq!(to_epoch_millis(1_700_000_000.0), Ok(1_700_000_000_000));
        assert_eq!(to_epoch_millis(1_700_000_000_123.0), Ok(1_700_000_000_123));
        assert!(to_epoch_millis(-1.0).is_err());
        assert!(to_epoch_millis(1e15).is_err());
    }
}
