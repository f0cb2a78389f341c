//! Number formatting shared by the renderers.
//!
//! Text formats (Prometheus, OpenMetrics) write integral values without `.0` (`80`, `29382`),
//! other values in Rust's shortest round-trip form, switching to exponent form outside
//! `[1e-4, 1e21)` like Go's `strconv.FormatFloat(v, 'g', -1, 64)` does (`2.794076465421066e-14`),
//! and `NaN`, `+Inf`, `-Inf` for non-finite values. JSON gets numbers or `null`.

use serde_json::Value;
use std::fmt::Write;

/// Largest magnitude below which every integral `f64` is an exact integer (2^53).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Appends `value` as the Prometheus and OpenMetrics texts spell numbers.
pub fn write_number(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value == 0.0 {
        out.push('0'); // also for -0.0
    } else {
        let magnitude = value.abs();
        // Writing to a String cannot fail.
        let _ = if !(1e-4..1e21).contains(&magnitude) {
            write!(out, "{value:e}")
        } else {
            write!(out, "{value}")
        };
    }
}

/// `value` as a text-format number, in a new string.
pub fn format_number(value: f64) -> String {
    let mut out = String::new();
    write_number(&mut out, value);
    out
}

/// A JSON number that is an integer when `value` is integral (`45`, not `45.0`), else a
/// float; `null` for NaN and infinities (JSON has no spelling for them).
pub fn json_number(value: f64) -> Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < EXACT_INT {
        // The range check above makes the conversion exact.
        Value::from(value as i64)
    } else {
        json_float(value)
    }
}

/// A JSON float (`26.0` stays `26.0`, as MicroProfile writes means and quantiles); `null`
/// for NaN and infinities.
pub fn json_float(value: f64) -> Value {
    let value = if value == 0.0 { 0.0 } else { value };
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_numbers() {
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(29382.0), "29382");
        assert_eq!(format_number(12.223), "12.223");
        assert_eq!(format_number(1054.7343037063602), "1054.7343037063602");
        assert_eq!(format_number(0.004292520715985437), "0.004292520715985437");
        assert_eq!(format_number(0.000169916), "0.000169916");
        assert_eq!(
            format_number(2.794076465421066e-14),
            "2.794076465421066e-14"
        );
        assert_eq!(format_number(4.800392614619373e-4), "0.0004800392614619373");
        assert_eq!(format_number(1e21), "1e21");
        assert_eq!(
            format_number(123456789012345680000.0),
            "123456789012345680000"
        );
        assert_eq!(format_number(-1624.0), "-1624");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::INFINITY), "+Inf");
        assert_eq!(format_number(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn text_numbers_round_trip() {
        for v in [
            0.1,
            1.0 / 3.0,
            5e-5,
            9.99e20,
            1.5e300,
            -7.25e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(format_number(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn json_numbers() {
        assert_eq!(json_number(45.0).to_string(), "45");
        assert_eq!(json_number(-1624.0).to_string(), "-1624");
        assert_eq!(json_number(12.5).to_string(), "12.5");
        assert_eq!(json_number(1e300).to_string(), "1e+300");
        assert_eq!(json_number(f64::NAN), Value::Null);
        assert_eq!(json_float(26.0).to_string(), "26.0");
        assert_eq!(json_float(-0.0).to_string(), "0.0");
        assert_eq!(json_float(f64::INFINITY), Value::Null);
        assert_eq!(json_float(f64::NEG_INFINITY), Value::Null);
    }
}
