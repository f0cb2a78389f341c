//! Names and attributes: OTLP's metric names and attribute keys made into meterd names and tag
//! keys, attribute values into tag values, and resource attributes into `job` and `instance`
//! as Prometheus's OTLP receiver does.

use crate::model::Tags;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};

/// A metric name as meterd keeps it: dots, dashes, colons and underscores stay (output formats
/// convert dots as they do for every metric); any other character not allowed in a meterd
/// name (`/`, spaces, ...) becomes `_`, and a name starting with a digit gets a leading `_`.
pub fn metric_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-') {
            c
        } else {
            '_'
        }
    }));
    out
}

/// An OTLP unit (UCUM) as meterd's unit word, so that output formats scale and name it as
/// they do for every metric (`ms` → `milliseconds`, rendered in seconds in Prometheus text;
/// `By` → `bytes`). `1` (dimensionless), `{annotations}` and empty units are no unit; any
/// other unit is kept as given.
pub fn unit(ucum: &str) -> Option<String> {
    let ucum = ucum.trim();
    let word = match ucum {
        "" | "1" => return None,
        u if u.starts_with('{') => return None,
        "ns" => "nanoseconds",
        "us" => "microseconds",
        "ms" => "milliseconds",
        "s" => "seconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "bit" => "bits",
        "By" => "bytes",
        "kBy" | "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "%" => "percent",
        other => other,
    };
    Some(word.to_owned())
}

/// An attribute key as a tag key (`[A-Za-z_][A-Za-z0-9_]*`, Prometheus's label rule): every
/// other character becomes `_` (`http.method` → `http_method`), and a key starting with a
/// digit gets a `key_` prefix, as Prometheus's OTLP translation does.
pub fn tag_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push_str("key_");
    }
    out.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

fn is_tag_key(key: &str) -> bool {
    crate::model::valid_tag_key(key)
}

/// An attribute value as tag text: strings as they are, numbers and booleans as written in
/// JSON, bytes as hex, arrays and key-value lists as JSON. `None` for an empty value.
pub fn tag_value(value: Option<&AnyValue>) -> Option<String> {
    let text = match value.and_then(|v| v.value.as_ref())? {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => {
            serde_json::Number::from_f64(*d).map_or_else(|| d.to_string(), |n| n.to_string())
        }
        Value::BytesValue(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::ArrayValue(a) => {
            let items: Vec<serde_json::Value> = a
                .values
                .iter()
                .map(|v| serde_json::Value::String(tag_value(Some(v)).unwrap_or_default()))
                .collect();
            serde_json::Value::Array(items).to_string()
        }
        Value::KvlistValue(kv) => {
            let map: serde_json::Map<String, serde_json::Value> = kv
                .values
                .iter()
                .map(|p| {
                    let v = tag_value(p.value.as_ref()).unwrap_or_default();
                    (p.key.clone(), serde_json::Value::String(v))
                })
                .collect();
            serde_json::Value::Object(map).to_string()
        }
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// The tags a resource gives every point under it: `job` from `service.name` (prefixed by
/// `service.namespace/` when there is one) and `instance` from `service.instance.id`. Other
/// resource attributes are not tags (Prometheus puts them on a separate `target_info`).
pub fn resource_tags(attributes: &[KeyValue]) -> Tags {
    let get = |key: &str| {
        attributes
            .iter()
            .rev()
            .find(|kv| kv.key == key)
            .and_then(|kv| tag_value(kv.value.as_ref()))
    };
    let mut tags = Tags::new();
    if let Some(instance) = get("service.instance.id") {
        tags.push(("instance".into(), instance.into()));
    }
    let job = match (get("service.namespace"), get("service.name")) {
        (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
        (None, Some(name)) => Some(name),
        _ => None,
    };
    if let Some(job) = job {
        tags.push(("job".into(), job.into()));
    }
    tags
}

/// A point's tags: its attributes (keys made tag keys, empty values dropped) over the
/// resource's tags (a point attribute of the same key wins), sorted by key, keys unique. Two
/// attributes whose keys become the same tag key keep the later one. The attributes' strings
/// are moved, not copied, where they can be.
pub fn point_tags(resource: &Tags, attributes: Vec<KeyValue>) -> Tags {
    let mut tags: Tags = Vec::with_capacity(resource.len() + attributes.len());
    tags.extend(resource.iter().cloned());
    for kv in attributes {
        let value = match kv.value {
            Some(AnyValue {
                value: Some(Value::StringValue(s)),
            }) => (!s.is_empty()).then_some(s),
            other => tag_value(other.as_ref()),
        };
        if let Some(v) = value {
            let key = if is_tag_key(&kv.key) {
                kv.key
            } else {
                tag_key(&kv.key)
            };
            tags.push((key.into(), v.into()));
        }
    }
    // Stable: among equal keys the later entry (a point attribute) stays last; keep it.
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Tags = Vec::with_capacity(tags.len());
    for (k, v) in tags {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => out.push((k, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> Value {
        Value::StringValue(v.to_owned())
    }

    #[test]
    fn names_keep_dots_and_lose_what_meterd_refuses() {
        assert_eq!(
            metric_name("http.server.request.duration"),
            "http.server.request.duration"
        );
        assert_eq!(metric_name("a/b c"), "a_b_c");
        assert_eq!(metric_name("9lives"), "_9lives");
        assert_eq!(
            tag_key("http.response.status_code"),
            "http_response_status_code"
        );
        assert_eq!(tag_key("0x"), "key_0x");
        assert_eq!(unit("ms").as_deref(), Some("milliseconds"));
        assert_eq!(unit("By").as_deref(), Some("bytes"));
        assert_eq!(unit("Cel").as_deref(), Some("Cel"));
        assert_eq!(
            (unit("1"), unit("{request}"), unit(" ")),
            (None, None, None)
        );
    }

    #[test]
    fn values_as_text() {
        assert_eq!(
            tag_value(Some(&AnyValue {
                value: Some(Value::IntValue(-3))
            }))
            .unwrap(),
            "-3"
        );
        assert_eq!(
            tag_value(Some(&AnyValue {
                value: Some(Value::DoubleValue(0.5))
            }))
            .unwrap(),
            "0.5"
        );
        assert_eq!(
            tag_value(Some(&AnyValue {
                value: Some(Value::BoolValue(true))
            }))
            .unwrap(),
            "true"
        );
        assert_eq!(tag_value(Some(&AnyValue { value: Some(s("")) })), None);
        assert_eq!(tag_value(None), None);
    }

    #[test]
    fn resource_gives_job_and_instance_and_points_win() {
        let resource = resource_tags(&[
            kv("service.name", s("checkout")),
            kv("service.namespace", s("shop")),
            kv("service.instance.id", s("pod-1")),
            kv("host.name", s("h")),
        ]);
        assert_eq!(
            resource,
            vec![
                ("instance".into(), "pod-1".into()),
                ("job".into(), "shop/checkout".into())
            ]
        );
        let tags = point_tags(
            &resource,
            vec![kv("http.method", s("GET")), kv("job", s("mine"))],
        );
        assert_eq!(
            tags,
            vec![
                ("http_method".into(), "GET".into()),
                ("instance".into(), "pod-1".into()),
                ("job".into(), "mine".into())
            ]
        );
    }
}
