//! Fuzzing native ingest: any bytes as a JSON or NDJSON body give events or a clean error
//! (never a panic); errors name only indexes inside the batch; valid events survive any
//! whitespace and framing the format allows.

use super::json::{decode_json, decode_ndjson};
use super::{IngestContext, IngestError};
use crate::config::Pipeline;
use crate::model::ServicePath;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::LazyLock;

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(Pipeline::default);
static ROOT: LazyLock<ServicePath> = LazyLock::new(ServicePath::root);

fn ctx() -> IngestContext<'static> {
    IngestContext {
        service: "default-service",
        service_path: &ROOT,
        now_ms: 1_700_000_000_000,
        pipeline: &PIPELINE,
    }
}

/// Checks an error is clean: a message, and indexes within the batch.
fn clean(err: &IngestError, items: usize) {
    assert!(!err.to_string().is_empty());
    if let IngestError::Invalid(details) = err {
        assert!(!details.is_empty());
        for d in details.iter() {
            assert!(d.index < items.max(1), "index {} of {items}", d.index);
            assert!(!d.message.is_empty());
        }
    }
}

/// A JSON value that looks like an event, often a valid one, sometimes not.
fn event() -> impl Strategy<Value = Value> {
    let name = prop_oneof!["[a-z][a-z0-9_.]{0,12}", "\\PC{0,8}", Just(String::new())];
    let kind = prop_oneof![
        Just(json!("counter")),
        Just(json!("gauge")),
        Just(json!("meter")),
        Just(json!("histogram")),
        Just(json!("timer")),
        Just(json!("bogus")),
        Just(json!(7)),
        Just(Value::Null),
    ];
    let value = prop_oneof![
        any::<f64>()
            .prop_map(|v| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|v| json!(v)),
        Just(json!("1")),
        Just(Value::Null),
    ];
    let timestamp = prop_oneof![
        any::<i64>().prop_map(|v| json!(v)),
        Just(json!(-1.5)),
        Just(Value::Null)
    ];
    let tags = proptest::collection::btree_map("\\PC{0,6}", "\\PC{0,6}", 0..4);
    (
        name,
        kind,
        value,
        timestamp,
        tags,
        any::<bool>(),
        "\\PC{0,10}",
    )
        .prop_map(|(name, kind, value, timestamp, tags, extra, service)| {
            let mut e = json!({"name": name, "type": kind, "value": value, "tags": tags});
            if !timestamp.is_null() {
                e["timestamp"] = timestamp;
            }
            if extra {
                e["service"] = json!(service);
                e["unknown"] = json!(true);
            }
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = decode_json(&bytes, &ctx()) {
            clean(&e, usize::MAX);
        }
        if let Err(e) = decode_ndjson(&bytes, &ctx()) {
            clean(&e, usize::MAX);
        }
    }

    #[test]
    fn event_shaped_batches_are_all_or_nothing(events in proptest::collection::vec(event(), 0..8)) {
        let body = Value::Array(events.clone()).to_string();
        match decode_json(body.as_bytes(), &ctx()) {
            Ok(decoded) => prop_assert_eq!(decoded.len(), events.len()),
            Err(e) => clean(&e, events.len()),
        }
        let nd: String = events.iter().map(|e| format!("{e}\n\n")).collect();
        match decode_ndjson(nd.as_bytes(), &ctx()) {
            Ok(decoded) => prop_assert_eq!(decoded.len(), events.len()),
            Err(e) => clean(&e, events.len()),
        }
        // The same events give the same answer whichever framing carries them.
        let a = decode_json(body.as_bytes(), &ctx());
        let b = decode_ndjson(nd.as_bytes(), &ctx());
        prop_assert_eq!(a.is_ok(), b.is_ok() || events.is_empty());
        // And the same bad items, by index.
        let bad = |r: &Result<Vec<crate::model::Event>, IngestError>| match r {
            Err(IngestError::Invalid(errors)) => errors.iter().map(|e| e.index).collect(),
            _ => Vec::new(),
        };
        if !events.is_empty() {
            prop_assert_eq!(bad(&a), bad(&b));
        }
    }

    #[test]
    fn cut_bodies_never_panic(events in proptest::collection::vec(event(), 1..4), cut in any::<prop::sample::Index>()) {
        let body = Value::Array(events).to_string();
        let at = cut.index(body.len());
        let _ = decode_json(&body.as_bytes()[..at], &ctx());
        let _ = decode_ndjson(&body.as_bytes()[..at], &ctx());
    }
}
