//! OpenTSDB `POST /api/put`: one data point or an array of them, `{metric, timestamp, value,
//! tags}` → validated events. Gauge samples unless a pipeline rule gives the metric another
//! type. All or nothing.

use super::context::IngestContext;
use super::elements::each_element;
use super::error::{all_or_nothing, AllOrNothing, IngestError};
use super::json::{strip_position, validate_tags};
use super::object::Object;
use super::raw_tags::RawTags;
use super::timestamp::to_epoch_millis;
use crate::model::{check_value, valid_name, Event, Kind, Op, Scope, SeriesKey};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One data point as OpenTSDB writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoint<'a> {
    #[serde(borrow)]
    metric: Cow<'a, str>,
    timestamp: f64,
    value: Number,
    #[serde(borrow, default)]
    tags: RawTags<'a>,
}

/// A value: OpenTSDB takes numbers and numeric strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Number {
    Float(f64),
    Text(String),
}

/// Decodes and validates a put body. Errors name each bad point by its index.
///
/// An array is read one element at a time (borrowed from the body), so that the cost of a
/// body is its events, and the cost of a bad one no more than the body.
pub fn decode_put(body: &[u8], ctx: &IngestContext) -> Result<Vec<Event>, IngestError> {
    let malformed = |e: serde_json::Error| IngestError::Malformed(e.to_string());
    let text = std::str::from_utf8(body).map_err(|e| IngestError::Malformed(e.to_string()))?;
    let point = |item: &str| {
        serde_json::from_str::<Object<RawPoint>>(item)
            .map_err(|e| strip_position(&e.to_string()))
            .and_then(|Object(raw)| validate(raw, ctx))
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            let mut events = AllOrNothing::with_capacity(0);
            each_element(text, |index, item| events.add(index, point(item))).map_err(malformed)?;
            events.finish().map_err(IngestError::Invalid)
        }
        Some(b'{') => {
            let item = serde_json::from_str::<&RawValue>(text).map_err(malformed)?;
            all_or_nothing([(0, point(item.get()))])
        }
        _ => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(malformed)?;
            Err(IngestError::Malformed(
                "expected a data point object or an array of them".into(),
            ))
        }
    }
}

fn validate(raw: RawPoint, ctx: &IngestContext) -> Result<Event, String> {
    let limits = &ctx.pipeline.limits;
    let metric = raw.metric;
    if !valid_name(&metric, limits.max_name_bytes) {
        return Err(format!(
            "metric {metric:?} must match [A-Za-z_:][A-Za-z0-9_:.-]* and be at most {} bytes",
            limits.max_name_bytes
        ));
    }
    let value = match raw.value {
        Number::Float(v) => v,
        Number::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("value {t:?} is not a number"))?,
    };
    check_value(value)?;
    let rule = ctx.pipeline.rule_for(&metric);
    let kind = rule.and_then(|r| r.kind).unwrap_or(Kind::Gauge);
    if matches!(kind, Kind::Counter | Kind::Meter) && value < 0.0 {
        return Err(format!(
            "{metric} is a {kind} (pipeline rule): increments must be >= 0"
        ));
    }
    let timestamp_ms = to_epoch_millis(raw.timestamp)?;
    ctx.check_timestamp(timestamp_ms)?;
    let tags = validate_tags(raw.tags, limits)?;
    let meta = rule.map(|r| r.metadata()).filter(|m| !m.is_empty());
    Ok(Event {
        key: SeriesKey {
            service: ctx.service.into(),
            service_path: ctx.service_path.clone(),
            scope: Scope::Application,
            name: metric.into(),
            tags,
        },
        kind,
        value,
        op: Op::Observe,
        timestamp_ms,
        meta: meta.map(Box::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;
    use crate::model::ServicePath;

    const NOW: i64 = 1_700_000_000_000;

    fn decode(body: &str) -> Result<Vec<Event>, IngestError> {
        let pipeline = Pipeline::parse(
            "[[rules]]\nmatch = \"hits.*\"\ntype = \"counter\"\nunit = \"requests\"\n",
            "test",
        )
        .unwrap();
        let path = ServicePath::root();
        let ctx = IngestContext {
            service: "svc",
            service_path: &path,
            now_ms: NOW,
            pipeline: &pipeline,
        };
        decode_put(body.as_bytes(), &ctx)
    }

    #[test]
    fn points_become_gauges_unless_a_rule_says() {
        let events = decode(
            r#"[{"metric":"sys.cpu","timestamp":1700000000,"value":"42.5","tags":{"host":"a"}},
                {"metric":"hits.total","timestamp":1699999999500,"value":3}]"#,
        )
        .unwrap();
        assert_eq!(events[0].kind, Kind::Gauge);
        assert_eq!(events[0].value, 42.5);
        assert_eq!(events[0].timestamp_ms, NOW);
        assert_eq!(events[0].key.service, "svc");
        assert_eq!(events[0].key.tags, vec![("host".into(), "a".into())]);
        assert_eq!(events[1].kind, Kind::Counter);
        assert_eq!(
            events[1].meta.as_ref().unwrap().unit.as_deref(),
            Some("requests")
        );
        let one = decode(r#"{"metric":"m","timestamp":1700000000,"value":1}"#).unwrap();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn every_bad_point_is_named() {
        let err = decode(
            r#"[{"metric":"ok","timestamp":1700000000,"value":1},
                {"metric":"bad/name","timestamp":1700000000,"value":1},
                {"metric":"m","value":1},
                {"metric":"m","timestamp":1700000000,"value":"x"},
                {"metric":"m","timestamp":1,"value":1},
                {"metric":"m","timestamp":1800000000,"value":1},
                {"metric":"hits.x","timestamp":1700000000,"value":-1},
                {"metric":"m","timestamp":1700000000,"value":1,"tags":{"bad-key":"v"}},
                {"metric":"m","timestamp":1700000000,"value":1,"extra":true}]"#,
        )
        .unwrap_err();
        let IngestError::Invalid(items) = err else {
            panic!("{err:?}");
        };
        let indexes: Vec<usize> = items.iter().map(|i| i.index).collect();
        assert_eq!(indexes, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(items[3].message.contains("older"), "{}", items[3].message);
        assert!(items[4].message.contains("future"), "{}", items[4].message);
        assert!(matches!(decode("3"), Err(IngestError::Malformed(_))));
        assert!(matches!(decode("{"), Err(IngestError::Malformed(_))));
    }

    #[test]
    fn a_point_written_as_an_array_of_its_values_is_refused() {
        let good = r#"{"metric":"sys.cpu","timestamp":1700000000,"value":1}"#;
        let bad = r#"["sys.cpu",1700000000,1,{}]"#;
        let Err(IngestError::Invalid(errors)) = decode(&format!("[{good},{bad}]")) else {
            panic!("refused as a whole")
        };
        let found: Vec<(usize, bool)> = errors
            .iter()
            .map(|e| (e.index, e.message.contains("expected an object")))
            .collect();
        assert_eq!(found, [(1, true)], "{errors:?}");
        assert!(decode(good).is_ok());
    }
}
