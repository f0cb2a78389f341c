//! Fuzzing the OTLP decoder and mapping: any bytes, any JSON, and any structurally valid
//! request with arbitrary numbers give events or a clean refusal, never a panic.

use super::wire::{decode, Encoding};
use super::{map_request, CumulativeBook};
use crate::config::Pipeline;
use crate::ingest::IngestContext;
use crate::model::ServicePath;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::LazyLock;

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(Pipeline::default);
static ROOT: LazyLock<ServicePath> = LazyLock::new(ServicePath::root);
const NOW_MS: i64 = 1_700_000_000_000;

fn ctx() -> IngestContext<'static> {
    IngestContext {
        service: "default-service",
        service_path: &ROOT,
        now_ms: NOW_MS,
        pipeline: &PIPELINE,
    }
}

/// Decodes and maps; whatever decodes maps without panicking, events all consistent.
fn run(body: &[u8], encoding: Encoding) {
    if let Ok(req) = decode(body, encoding) {
        let m = map_request(req, &ctx(), &mut CumulativeBook::new(NOW_MS - 10, 64));
        for e in &m.events {
            assert!(e.value.is_finite(), "{e:?}");
        }
        assert!(m.reasons.len() as u64 <= m.rejected);
    }
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n.to_string())),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(json!("NaN"), Value::Number)),
        Just(json!("Infinity")),
        Just(json!(-1)),
        Just(json!("x")),
        Just(Value::Null),
    ]
}

/// An OTLP/JSON request of any shape the schema allows, with wild numbers.
fn otlp_json() -> impl Strategy<Value = Value> {
    let now = (NOW_MS as u64 * 1_000_000).to_string();
    let point = (
        number(),
        number(),
        number(),
        0u32..4,
        prop::collection::vec(number(), 0..5),
    )
        .prop_map(move |(a, b, c, flags, counts)| {
            json!({
                "timeUnixNano": now, "startTimeUnixNano": "1", "flags": flags,
                "asDouble": a, "count": b, "sum": c, "bucketCounts": counts,
                "explicitBounds": [1.0, 2.0], "scale": b, "zeroCount": a,
                "positive": {"offset": c, "bucketCounts": counts},
                "attributes": [{"key": "k.k", "value": {"intValue": a}}],
                "quantileValues": [{"quantile": c, "value": a}]
            })
        });
    let data = (0usize..5, 0i32..3, any::<bool>(), prop::collection::vec(point, 0..4)).prop_map(
        |(kind, temporality, mono, points)| {
            let body = json!({"dataPoints": points, "aggregationTemporality": temporality, "isMonotonic": mono});
            let key = ["sum", "gauge", "histogram", "exponentialHistogram", "summary"][kind];
            json!({ "name": "m.x", key: body })
        },
    );
    prop::collection::vec(data, 0..4)
        .prop_map(|metrics| json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": metrics}]}]}))
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run(&bytes, Encoding::Protobuf);
        run(&bytes, Encoding::Json);
    }

    #[test]
    fn any_json_never_panics(v in otlp_json()) {
        let text = v.to_string();
        run(text.as_bytes(), Encoding::Json);
        // The same request through protobuf, when it decoded.
        if let Ok(req) = decode(text.as_bytes(), Encoding::Json) {
            use prost::Message;
            run(&req.encode_to_vec(), Encoding::Protobuf);
        }
    }

    #[test]
    fn mutated_protobuf_never_panics(v in otlp_json(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        use prost::Message;
        if let Ok(req) = decode(v.to_string().as_bytes(), Encoding::Json) {
            let mut bytes = req.encode_to_vec();
            if !bytes.is_empty() {
                for (at, b) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] ^= b;
                }
            }
            run(&bytes, Encoding::Protobuf);
        }
    }
}
