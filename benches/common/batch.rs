//! The 100-event batch the ingest, ODSL and entity-cost measurements share: 20 series of mixed
//! kinds, two tags each, as an application would push it.
#![allow(dead_code)]

use meterd::config::Pipeline;
use meterd::ingest::{json::decode_json, IngestContext};
use meterd::model::{Event, ServicePath};

/// The batch as a JSON body.
pub fn body() -> String {
    let kinds = ["counter", "gauge", "meter", "histogram", "timer"];
    let events: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"name":"app.metric{}","type":"{}","value":{},"tags":{{"host":"web{}","route":"/api/v{}"}}}}"#,
                i % 20,
                kinds[(i % 20) % 5],
                i * 7 + 1,
                i % 4,
                i % 20
            )
        })
        .collect();
    format!("[{}]", events.join(","))
}

/// The context every measurement decodes in: the default service, a fixed arrival time.
pub fn decode(body: &str, pipeline: &Pipeline) -> Vec<Event> {
    let path = ServicePath::root();
    let ctx = IngestContext {
        service: "default-service",
        service_path: &path,
        now_ms: 1_700_000_000_000,
        pipeline,
    };
    decode_json(body.as_bytes(), &ctx).unwrap()
}

/// The batch, decoded.
pub fn events(pipeline: &Pipeline) -> Vec<Event> {
    decode(&body(), pipeline)
}
