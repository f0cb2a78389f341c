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

/// `value` as Java's `BigDecimal.valueOf(value).toString()` spells it — the style of the
/// `dps` strings in seed 000 (`"4.929E+8"`, `"4.9350016E+8"`, `"494100352"`).
///
/// The rule, step by step as Java takes it: `Double.toString` writes the shortest digits that
/// round-trip, as plain decimal with at least one fractional digit for `1e-3 ≤ |v| < 1e7`
/// (`"100.0"`, `"0.5"`) and as `d.dddE<n>` otherwise (`"4.929E8"`, `"1.0E-7"`); `BigDecimal`
/// takes those digits (the `.0` included) with their scale, and prints them plainly when the
/// scale is not negative and the exponent is at least −6, else as `d.dddE±n`. So an integer of
/// 10⁷ or more reads plainly when its shortest digits reach the units (`494100352`) and in
/// E-notation when they stop short (`4.929E+8`). NaN and infinities (which Java would refuse)
/// are `NaN`, `Infinity`, `-Infinity`.
pub fn java_decimal(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return "0.0".into(); // BigDecimal drops the sign of -0.0
    }
    // Shortest round-trip digits d1.d2…dk and the decimal exponent, as `{:e}` writes them.
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    // Digits after the point in Double.toString's form (at least one: "100.0", "1.0E8").
    let fraction_digits = if (1e-3..1e7).contains(&magnitude) {
        (digits.len() as i32 - 1 - exp).max(1)
    } else {
        (digits.len() as i32 - 1).max(1)
    };
    let exp_written = if (1e-3..1e7).contains(&magnitude) {
        0
    } else {
        exp
    };
    // Pad the digits so that there are exactly `fraction_digits` after the point of the
    // written form (Java's trailing ".0"; plain numbers like 100.0 need "1000").
    let wanted = (fraction_digits + 1 + exp - exp_written) as usize;
    while digits.len() < wanted {
        digits.push('0');
    }
    let scale = fraction_digits - exp_written;
    if scale >= 0 && exp >= -6 {
        // Plain: the unscaled digits with the point `scale` places from the right.
        let scale = scale as usize;
        let body = if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            if frac.is_empty() {
                int.to_owned()
            } else {
                format!("{int}.{frac}")
            }
        } else {
            format!("0.{}{digits}", "0".repeat(scale - digits.len()))
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let plus = if exp > 0 { "+" } else { "" };
        format!("{sign}{first}{point}{rest}E{plus}{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_decimals_as_the_seed_writes_them() {
        // Seed 000's dps, and what Java answers for other magnitudes.
        let cases = [
            (492_900_000.0, "4.929E+8"),
            (493_500_160.0, "4.9350016E+8"),
            (494_100_352.0, "494100352"),
            (495_900_896.0, "495900896"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (1e7, "1.0E+7"),
            (12_345_678.9, "12345678.9"),
            (9_999_999.0, "9999999.0"),
            (0.001, "0.001"),
            (1e-4, "0.00010"),
            (1.5e-4, "0.00015"),
            (1e-7, "1.0E-7"),
            (1.25e-7, "1.25E-7"),
            (1e21, "1.0E+21"),
            (f64::NAN, "NaN"),
        ];
        for (value, want) in cases {
            assert_eq!(java_decimal(value), want, "{value:e}");
        }
    }

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
