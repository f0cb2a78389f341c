//! Names for the Prometheus and OpenMetrics texts, MicroProfile Metrics 1.x style:
//! `scope:snake_name` plus a unit suffix in the base unit (`seconds`, `bytes`, ...).

use crate::model::{Kind, Metadata, Scope};

/// The unit a timer has when its metadata names none (MicroProfile's default).
pub const DEFAULT_TIMER_UNIT: &str = "nanoseconds";

/// Converts a pushed metric name to Prometheus snake case: `responseTime` → `response_time`,
/// `HTTPRequests` → `http_requests`, `http.server.requestCount` → `http_server_request_count`.
///
/// Every character outside `[a-zA-Z0-9_:]` becomes `_`, runs of `_` collapse into one and a
/// trailing `_` is dropped (unless nothing else is left).
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary {
                push_underscore(&mut out);
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == ':' {
            out.push(c);
        } else {
            push_underscore(&mut out);
        }
    }
    if out.len() > 1 && out.ends_with('_') {
        out.pop();
    }
    out
}

fn push_underscore(out: &mut String) {
    if !out.ends_with('_') {
        out.push('_');
    }
}

/// The Prometheus base name of a metric: `application:file_sizes` for `fileSizes`.
pub fn base_name(scope: Scope, name: &str) -> String {
    format!("{}:{}", scope.as_str(), snake_case(name))
}

/// The unit a family's values are in: its metadata's unit, or `nanoseconds` for a timer
/// that has none. `None` when there is no unit (missing, empty or `none`).
pub fn effective_unit(kind: Kind, meta: &Metadata) -> Option<&str> {
    match meta.unit.as_deref().map(str::trim) {
        Some(unit) if unit.is_empty() || unit.eq_ignore_ascii_case("none") => None,
        Some(unit) => Some(unit),
        None if kind == Kind::Timer => Some(DEFAULT_TIMER_UNIT),
        None => None,
    }
}

/// How a unit is rendered in Prometheus names and how its values are scaled to the base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PromUnit {
    /// Name suffix without the leading `_`, e.g. `seconds`; `None` for unit-less metrics.
    pub suffix: Option<String>,
    /// Values are multiplied by `mul` and divided by `div` (kept apart so that e.g.
    /// nanoseconds → seconds divides by an exact 1e9 instead of multiplying by an inexact 1e-9).
    mul: f64,
    div: f64,
}

impl PromUnit {
    /// The factor to multiply values by to get the base unit (e.g. `1e-9` for nanoseconds).
    pub fn factor(&self) -> f64 {
        self.mul / self.div
    }

    /// Converts a value in the metric's unit to the base unit.
    pub fn scale(&self, value: f64) -> f64 {
        if self.mul == 1.0 && self.div == 1.0 {
            value
        } else {
            value * self.mul / self.div
        }
    }

    /// `_seconds`, `_bytes`, ... or the empty string.
    pub fn name_suffix(&self) -> String {
        self.suffix
            .as_ref()
            .map(|s| format!("_{s}"))
            .unwrap_or_default()
    }
}

/// Maps a MicroProfile unit to its Prometheus base unit: time units to `seconds`, data units to
/// `bytes`, `percent` kept, `none`/empty/missing to no suffix, anything else kept as given
/// (snake-cased and sanitized) with factor 1.
pub fn prom_unit(unit: Option<&str>) -> PromUnit {
    let unit = unit.map(str::trim).unwrap_or("");
    let (base, mul, div): (&str, f64, f64) = match unit.to_ascii_lowercase().as_str() {
        "" | "none" => {
            return PromUnit {
                suffix: None,
                mul: 1.0,
                div: 1.0,
            }
        }
        "nanoseconds" => ("seconds", 1.0, 1e9),
        "microseconds" => ("seconds", 1.0, 1e6),
        "milliseconds" => ("seconds", 1.0, 1e3),
        "seconds" => ("seconds", 1.0, 1.0),
        "minutes" => ("seconds", 60.0, 1.0),
        "hours" => ("seconds", 3600.0, 1.0),
        "days" => ("seconds", 86400.0, 1.0),
        "bits" => ("bytes", 1.0, 8.0),
        "kilobits" => ("bytes", 1e3, 8.0),
        "megabits" => ("bytes", 1e6, 8.0),
        "gigabits" => ("bytes", 1e9, 8.0),
        "kibibits" => ("bytes", 1024.0, 8.0),
        "mebibits" => ("bytes", 1_048_576.0, 8.0),
        "gibibits" => ("bytes", 1_073_741_824.0, 8.0),
        "bytes" => ("bytes", 1.0, 1.0),
        "kilobytes" => ("bytes", 1e3, 1.0),
        "megabytes" => ("bytes", 1e6, 1.0),
        "gigabytes" => ("bytes", 1e9, 1.0),
        "kibibytes" => ("bytes", 1024.0, 1.0),
        "mebibytes" => ("bytes", 1_048_576.0, 1.0),
        "gibibytes" => ("bytes", 1_073_741_824.0, 1.0),
        "percent" => ("percent", 1.0, 1.0),
        _ => {
            let suffix = snake_case(unit).replace(':', "_");
            let suffix = suffix.trim_matches('_');
            let suffix = (!suffix.is_empty()).then(|| suffix.to_owned());
            return PromUnit {
                suffix,
                mul: 1.0,
                div: 1.0,
            };
        }
    };
    PromUnit {
        suffix: Some(base.to_owned()),
        mul,
        div,
    }
}

/// A legal label name, `[a-zA-Z_][a-zA-Z0-9_]*`: other characters become `_`, a leading digit
/// gets a `_` in front. The case is kept (`servicePath` stays `servicePath`).
pub fn label_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 1);
    if raw.starts_with(|c: char| c.is_ascii_digit()) || raw.is_empty() {
        out.push('_');
    }
    out.extend(
        raw.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    out
}

/// Appends a label value escaped for both texts: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(value: &str, out: &mut String) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends a `# HELP` text escaped for Prometheus 0.0.4: `\` → `\\`, newline → `\n`
/// (a `"` stays as it is: 0.0.4 knows no `\"` in HELP).
pub fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_names() {
        assert_eq!(snake_case("responseTime"), "response_time");
        assert_eq!(snake_case("fileSizes"), "file_sizes");
        assert_eq!(snake_case("HTTPRequests"), "http_requests");
        assert_eq!(
            snake_case("http.server.requestCount"),
            "http_server_request_count"
        );
        assert_eq!(snake_case("thread.max.count"), "thread_max_count");
        assert_eq!(snake_case("http2Requests"), "http2_requests");
        assert_eq!(snake_case("IOWait"), "io_wait");
        assert_eq!(snake_case("a--b..c"), "a_b_c");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("trailing-"), "trailing");
        assert_eq!(snake_case("_"), "_");
        assert_eq!(snake_case("ns:name"), "ns:name");
        assert_eq!(snake_case("größe"), "gr_e");
    }

    #[test]
    fn base_names_carry_the_scope() {
        assert_eq!(
            base_name(Scope::Application, "fileSizes"),
            "application:file_sizes"
        );
        assert_eq!(base_name(Scope::Base, "thread.count"), "base:thread_count");
    }

    #[test]
    fn time_units_become_seconds() {
        let ns = prom_unit(Some("nanoseconds"));
        assert_eq!(ns.suffix.as_deref(), Some("seconds"));
        assert_eq!(ns.scale(169_916.0), 0.000169916);
        assert_eq!(ns.factor(), 1e-9);
        assert_eq!(prom_unit(Some("milliseconds")).scale(1500.0), 1.5);
        assert_eq!(prom_unit(Some("microseconds")).scale(2.0), 0.000002);
        assert_eq!(prom_unit(Some("minutes")).scale(2.0), 120.0);
        assert_eq!(prom_unit(Some("hours")).scale(1.0), 3600.0);
        assert_eq!(prom_unit(Some("days")).scale(1.0), 86400.0);
        assert_eq!(prom_unit(Some("seconds")).name_suffix(), "_seconds");
    }

    #[test]
    fn data_units_become_bytes() {
        assert_eq!(prom_unit(Some("bits")).scale(16.0), 2.0);
        assert_eq!(prom_unit(Some("kilobits")).scale(8.0), 1000.0);
        assert_eq!(prom_unit(Some("kibibits")).scale(8.0), 1024.0);
        assert_eq!(prom_unit(Some("megabytes")).scale(2.0), 2e6);
        assert_eq!(prom_unit(Some("gibibytes")).scale(1.0), 1_073_741_824.0);
        assert_eq!(prom_unit(Some("bytes")).name_suffix(), "_bytes");
    }

    #[test]
    fn other_units() {
        assert_eq!(prom_unit(Some("percent")).name_suffix(), "_percent");
        assert_eq!(prom_unit(Some("none")).suffix, None);
        assert_eq!(prom_unit(Some("")).suffix, None);
        assert_eq!(prom_unit(None).suffix, None);
        let dollars = prom_unit(Some("dollars"));
        assert_eq!(dollars.name_suffix(), "_dollars");
        assert_eq!(dollars.factor(), 1.0);
        assert_eq!(prom_unit(Some("req/s")).name_suffix(), "_req_s");
        assert_eq!(prom_unit(Some("///")).suffix, None);
    }

    #[test]
    fn timers_default_to_nanoseconds() {
        let none = Metadata::default();
        assert_eq!(effective_unit(Kind::Timer, &none), Some("nanoseconds"));
        assert_eq!(effective_unit(Kind::Histogram, &none), None);
        let ms = Metadata {
            unit: Some("milliseconds".into()),
            ..Metadata::default()
        };
        assert_eq!(effective_unit(Kind::Timer, &ms), Some("milliseconds"));
        let explicit_none = Metadata {
            unit: Some("none".into()),
            ..Metadata::default()
        };
        assert_eq!(effective_unit(Kind::Timer, &explicit_none), None);
    }

    #[test]
    fn label_names_and_values() {
        assert_eq!(label_name("servicePath"), "servicePath");
        assert_eq!(label_name("k8s.pod-name"), "k8s_pod_name");
        assert_eq!(label_name("1st"), "_1st");
        assert_eq!(label_name(""), "_");
        let mut out = String::new();
        escape_label_value("a\\b\"c\nd", &mut out);
        assert_eq!(out, r#"a\\b\"c\nd"#);
        out.clear();
        escape_help("line1\nline2 \\ \"q\"", &mut out);
        assert_eq!(out, r#"line1\nline2 \\ "q""#);
    }
}
