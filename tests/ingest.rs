//! Native ingest `POST /api/v1/events` over real HTTP: shapes, validation, all-or-nothing.

mod common;

use common::{assert_error, Server};
use serde_json::{json, Value};

fn app(server: &Server) -> Value {
    let (status, _, body) = server.get("/metrics/application", Some("application/json"));
    if status == 204 {
        return json!({});
    }
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn array_object_and_ndjson() {
    let server = Server::start();
    let (s, b) = server.post(
        "/api/v1/events",
        "application/json",
        r#"[{"name":"c","type":"counter","value":2},{"name":"c","type":"counter"}]"#,
    );
    assert_eq!((s, b.as_str()), (200, r#"{"accepted":2}"#));
    let (s, b) = server.post(
        "/api/v1/events",
        "application/json",
        r#"{"name":"g","type":"gauge","value":-1.5}"#,
    );
    assert_eq!((s, b.as_str()), (200, r#"{"accepted":1}"#));
    let nd = "{\"name\":\"c\",\"type\":\"counter\",\"value\":4}\n\n{\"name\":\"g\",\"type\":\"gauge\",\"value\":9}\n";
    let (s, b) = server.post("/api/v1/events", "application/x-ndjson", nd);
    assert_eq!((s, b.as_str()), (200, r#"{"accepted":2}"#));
    let v = app(&server);
    assert_eq!(v["c"], 7);
    assert_eq!(v["g"], 9);
}

#[test]
fn gauge_keeps_the_latest_timestamp() {
    let (server, _clock) = Server::at(1_700_000_001_000, |_| {});
    server.push(json!([
        {"name": "t", "type": "gauge", "value": 1, "timestamp": 1_700_000_000_500i64},
        {"name": "t", "type": "gauge", "value": 2, "timestamp": 1_700_000_000i64},
        {"name": "t", "type": "gauge", "value": 3, "timestamp": 1_700_000_000_500i64}
    ]));
    assert_eq!(
        app(&server)["t"],
        3,
        "ms beats s; arrival order breaks the tie"
    );
}

#[test]
fn histogram_quantiles_and_timer() {
    let server = Server::start();
    let events: Vec<Value> = (1..=1000)
        .map(|v| json!({"name": "h", "type": "histogram", "value": v}))
        .collect();
    server.push(json!(events));
    let h = &app(&server)["h"];
    assert_eq!(h["count"], 1000);
    assert_eq!(h["min"], 1);
    assert_eq!(h["max"], 1000);
    assert!((h["mean"].as_f64().unwrap() - 500.5).abs() < 1e-9);
    assert!(
        (h["stddev"].as_f64().unwrap() - 288.675).abs() < 0.01,
        "{h}"
    );
    assert!((h["p50"].as_f64().unwrap() - 500.0).abs() <= 5.0, "{h}");
    assert!((h["p99"].as_f64().unwrap() - 990.0).abs() <= 9.9, "{h}");
}

#[test]
fn metadata_from_the_first_writer() {
    let server = Server::start();
    server.push(
        json!({"name": "m", "type": "gauge", "value": 1, "unit": "bytes", "description": "first"}),
    );
    server.push(
        json!({"name": "m", "type": "gauge", "value": 2, "unit": "seconds", "displayName": "M"}),
    );
    let (_, _, body) = server.request("OPTIONS", "/metrics/application/m");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["m"]["unit"], "bytes");
    assert_eq!(v["m"]["description"], "first");
    assert_eq!(v["m"]["displayName"], "M");
}

/// Every bad input: right status, JSON error, and nothing of the batch applied.
#[test]
fn bad_input_is_refused_whole() {
    let server = Server::start();
    server.push(json!({"name": "existing", "type": "counter", "value": 1}));
    let good = r#"{"name":"existing","type":"counter","value":5}"#;
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("[{good}, {{\"name\": \"x\", \"type\": \"counter\""), 400, "malformed_body"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":NaN}}]"), 400, "malformed_body"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":\"NaN\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"ratio\",\"value\":1}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"9bad\",\"type\":\"counter\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"bad name\",\"type\":\"counter\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"counter\",\"value\":-1}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"timer\",\"value\":-5}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":1,\"scope\":\"global\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":1,\"tags\":{{\"bad-key\":\"v\"}}}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":1,\"colour\":\"red\"}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"x\",\"type\":\"gauge\",\"value\":1,\"timestamp\":-5}}]"), 400, "invalid_batch"),
        (format!("[{good}, {{\"name\":\"existing\",\"type\":\"gauge\",\"value\":1}}]"), 409, "type_conflict"),
        (format!("[{good}, {{\"name\":\"thread.count\",\"scope\":\"base\",\"type\":\"gauge\",\"value\":1}}]"), 409, "type_conflict"),
        ("42".to_owned(), 400, "malformed_body"),
        ("".to_owned(), 400, "malformed_body"),
    ];
    for (body, status, code) in cases {
        let (s, b) = server.post("/api/v1/events", "application/json", &body);
        assert_eq!(s, status, "{body} → {b}");
        let err = assert_error(&b, code);
        if code == "invalid_batch" || code == "type_conflict" {
            assert_eq!(err["error"]["details"][0]["index"], 1, "{b}");
        }
        assert_eq!(
            app(&server),
            json!({"existing": 1}),
            "nothing of {body} applied"
        );
    }
}

#[test]
fn every_bad_index_is_listed() {
    let server = Server::start();
    let body = json!([
        {"name": "ok", "type": "counter"},
        {"name": "a", "type": "counter", "value": -1},
        {"name": "ok2", "type": "gauge", "value": 1},
        {"name": "b", "type": "nope"}
    ]);
    let (s, b) = server.post("/api/v1/events", "application/json", &body.to_string());
    assert_eq!(s, 400);
    let v = assert_error(&b, "invalid_batch");
    let idx: Vec<u64> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [1, 3]);
    let nd = "{\"name\":\"ok\",\"type\":\"counter\"}\nnot json\n";
    let (s, b) = server.post("/api/v1/events", "application/x-ndjson", nd);
    assert_eq!(s, 400);
    let v = assert_error(&b, "invalid_batch");
    assert_eq!(v["error"]["details"][0]["index"], 1);
    assert!(
        v["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{b}"
    );
    // Indexes count events after a bad line too.
    let nd = "x\n{\"name\":\"a\",\"type\":\"counter\"}\n\ny\n";
    let (s, b) = server.post("/api/v1/events", "application/x-ndjson", nd);
    assert_eq!(s, 400);
    let v = assert_error(&b, "invalid_batch");
    assert_eq!(v["error"]["details"][0]["index"], 0, "{b}");
    assert_eq!(v["error"]["details"][1]["index"], 2, "{b}");
    assert_eq!(app(&server), json!({}));
}

#[test]
fn body_limit_answers_413() {
    let server = Server::with(|o| o.pipeline.limits.max_body_bytes = 1024);
    let events: Vec<Value> = (0..100)
        .map(|_| json!({"name": "c", "type": "counter"}))
        .collect();
    let (s, b) = server.post(
        "/api/v1/events",
        "application/json",
        &json!(events).to_string(),
    );
    assert_eq!(s, 413);
    assert_error(&b, "body_too_large");
    let (s, _) = server.post(
        "/api/v1/events",
        "application/json",
        r#"{"name":"c","type":"counter"}"#,
    );
    assert_eq!(s, 200);
}

#[test]
fn default_body_limit_takes_a_big_batch() {
    let server = Server::start();
    let events: Vec<Value> = (0..100_000)
        .map(|i| json!({"name": "big", "type": "counter", "tags": {"i": format!("{}", i % 10)}}))
        .collect();
    server.push(json!(events));
    let v = app(&server);
    let total: f64 = v
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert_eq!(total, 100_000.0);
}

#[test]
fn pipeline_rules_supply_type_and_unit() {
    let text = "[[rules]]\nmatch = \"latency.*\"\ntype = \"timer\"\nunit = \"milliseconds\"\n";
    let pipeline = meterd::config::Pipeline::parse(text, "inline.toml").unwrap();
    let server = Server::with(move |o| o.pipeline = pipeline);
    server.push(json!({"name": "latency.db", "value": 250}));
    let (_, _, text) = server.get("/metrics/application", None);
    assert!(
        text.contains("application:latency_db_max_seconds 0.25\n"),
        "{text}"
    );
    let (s, b) = server.post(
        "/api/v1/events",
        "application/json",
        r#"{"name":"other","value":1}"#,
    );
    assert_eq!(s, 400, "no rule, no type: {b}");
}
