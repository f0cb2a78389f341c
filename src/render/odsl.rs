//! OpenDataDSL metric service JSON: metric entities and calendar time series.
//!
//! An entity carries `_id`, `provider` (the service), `metric` (the name), `type`, `value`,
//! `timestamp` (ISO-8601 UTC with milliseconds), `servicePath`, `scope`, `unit` (`null` when
//! unknown) and `tags`; each tag is also a top-level field unless an entity field has its
//! name, so that `application`, `method`, `user`, ... read as the seed shows them. The seed's
//! numeric fields `httpstatus`, `duration` and `responseSize` are written as numbers there
//! when their tag holds an integer; in `tags` every value stays a string.

use super::number::json_number;
use crate::model::{Kind, Scope};
use crate::query::odsl::format_iso;
use serde_json::{json, Map, Value};

/// The entity fields, which tags of the same name do not shadow.
pub const ENTITY_FIELDS: [&str; 10] = [
    "_id",
    "provider",
    "metric",
    "type",
    "value",
    "timestamp",
    "servicePath",
    "scope",
    "unit",
    "tags",
];

/// Tag fields the seed types as numbers.
const NUMERIC_TAGS: [&str; 3] = ["httpstatus", "duration", "responseSize"];

/// One entity, borrowed from the store.
#[derive(Debug, Clone, Copy)]
pub struct EntityJson<'a> {
    /// 24 hexadecimal characters.
    pub id: &'a str,
    /// Its provider (service).
    pub provider: &'a str,
    /// Its service path.
    pub service_path: &'a str,
    /// Its scope.
    pub scope: Scope,
    /// Its metric name.
    pub metric: &'a str,
    /// Its tags, sorted by key.
    pub tags: &'a [(&'a str, &'a str)],
    /// Its type.
    pub kind: Kind,
    /// Its value.
    pub value: f64,
    /// Its timestamp, epoch ms.
    pub timestamp_ms: i64,
    /// Its unit, if known.
    pub unit: Option<&'a str>,
}

/// An entity as a JSON object.
pub fn entity(e: &EntityJson) -> Value {
    let mut obj = Map::new();
    let mut tags = Map::new();
    for &(k, v) in e.tags {
        tags.insert(k.to_owned(), Value::from(v));
        if ENTITY_FIELDS.contains(&k) {
            continue;
        }
        let field = match v.parse::<i64>() {
            Ok(n) if NUMERIC_TAGS.contains(&k) => Value::from(n),
            _ => Value::from(v),
        };
        obj.insert(k.to_owned(), field);
    }
    obj.insert("_id".into(), Value::String(e.id.to_owned()));
    obj.insert("provider".into(), Value::from(e.provider));
    obj.insert("metric".into(), Value::from(e.metric));
    obj.insert("type".into(), Value::String(e.kind.as_str().to_owned()));
    obj.insert("value".into(), json_number(e.value));
    obj.insert(
        "timestamp".into(),
        Value::String(format_iso(e.timestamp_ms)),
    );
    obj.insert("servicePath".into(), Value::from(e.service_path));
    obj.insert("scope".into(), Value::from(e.scope.as_str()));
    obj.insert("unit".into(), e.unit.map_or(Value::Null, Value::from));
    obj.insert("tags".into(), Value::Object(tags));
    Value::Object(obj)
}

/// A calendar time series answer.
#[derive(Debug, Clone, Copy)]
pub struct SeriesJson<'a> {
    /// Provider (service).
    pub provider: &'a str,
    /// Metric name.
    pub metric: &'a str,
    /// Calendar code, e.g. `#PT1H`.
    pub calendar: &'a str,
    /// Aggregation method, e.g. `summed`.
    pub observed: &'a str,
    /// Range start, epoch ms, if bounded.
    pub from: Option<i64>,
    /// Range end (included), epoch ms, if bounded.
    pub to: Option<i64>,
    /// (bucket start, value) in time order, empty buckets left out.
    pub points: &'a [(i64, f64)],
}

/// `{"provider", "metric", "calendar", "observed", "range": {"from", "to"}, "data": [{"time",
/// "value"}]}`.
pub fn series(s: &SeriesJson) -> Value {
    let time = |t: Option<i64>| t.map_or(Value::Null, |t| Value::String(format_iso(t)));
    let data: Vec<Value> = s
        .points
        .iter()
        .map(|(t, v)| json!({"time": format_iso(*t), "value": json_number(*v)}))
        .collect();
    json!({
        "provider": s.provider,
        "metric": s.metric,
        "calendar": s.calendar,
        "observed": s.observed,
        "range": {"from": time(s.from), "to": time(s.to)},
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_fields_and_tags() {
        let v = entity(&EntityJson {
            id: "000000000000000000000001",
            provider: "odslrequest",
            service_path: "/",
            scope: Scope::Application,
            metric: "ReadRequests",
            tags: &[
                ("application", "api"),
                ("httpstatus", "200"),
                ("type", "api"),
            ],
            kind: Kind::Counter,
            value: 1.0,
            timestamp_ms: 1_732_097_400_000,
            unit: None,
        });
        assert_eq!(
            v.to_string(),
            r#"{"_id":"000000000000000000000001","application":"api","httpstatus":200,"metric":"ReadRequests","provider":"odslrequest","scope":"application","servicePath":"/","tags":{"application":"api","httpstatus":"200","type":"api"},"timestamp":"2024-11-20T10:10:00.000Z","type":"counter","unit":null,"value":1}"#
        );
    }
}
