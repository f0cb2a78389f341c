//! The MicroProfile Metrics API (seed 001) over real HTTP: every format against golden files,
//! promtool, content negotiation and the status codes.

mod common;

use common::{assert_error, golden, Server};
use serde_json::json;
use std::time::Duration;

/// The seed's metrics plus a tagged family, a non-default service and a dotted camelCase name.
fn seed_events() -> serde_json::Value {
    let mut events = vec![
        json!({"name": "cost", "type": "gauge", "value": 80, "unit": "dollars",
               "description": "El coste de ejecución del servidor en dólares."}),
        json!({"name": "visitors", "type": "counter", "value": 80,
               "description": "El número de visitantes exclusivos"}),
        json!({"name": "http.server.requestCount", "type": "counter", "value": 3,
               "tags": {"method": "GET", "app": "webshop"}}),
        json!({"name": "http.server.requestCount", "type": "counter", "value": 2,
               "tags": {"method": "POST", "app": "webshop"}}),
        json!({"name": "queue.depth", "type": "gauge", "value": 7,
               "service": "smartcity", "servicePath": "/gardens/north"}),
    ];
    for _ in 0..3 {
        events.push(json!({"name": "requests", "type": "meter",
            "description": "Rastrea el número de solicitudes en el servidor"}));
    }
    for v in [180, 4201, 6175, 13560, 31716] {
        events.push(
            json!({"name": "fileSizes", "type": "histogram", "value": v, "unit": "bytes",
            "description": "Tamaño de archivo de usuarios"}),
        );
    }
    for v in [169_916, 293_324, 344_914, 5_608_694] {
        events.push(json!({"name": "responseTime", "type": "timer", "value": v,
            "description": "Tiempo de respuesta de servidor para /index.html"}));
    }
    json!(events)
}

fn seeded() -> Server {
    let (server, clock) = Server::with_manual_clock();
    server.push(seed_events());
    clock.advance(Duration::from_secs(10));
    server
}

#[test]
fn prometheus_text_matches_golden() {
    let server = seeded();
    let (status, ct, body) = server.get("/metrics/application", Some("text/plain"));
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    golden("application.prom", &body);
    // No Accept at all is Prometheus text too.
    assert_eq!(server.get("/metrics/application", None).2, body);
}

#[test]
fn openmetrics_matches_golden() {
    let server = seeded();
    let (status, ct, body) =
        server.get("/metrics/application", Some("application/openmetrics-text"));
    assert_eq!(status, 200);
    assert_eq!(ct, "application/openmetrics-text");
    assert!(body.ends_with("# EOF\n"), "{body}");
    golden("application.om", &body);
}

#[test]
fn json_matches_golden() {
    let server = seeded();
    let (status, ct, body) = server.get("/metrics/application", Some("application/json"));
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json");
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    golden("application.json", &(pretty + "\n"));
}

#[test]
fn options_matches_golden() {
    let server = seeded();
    let (status, _, body) = server.request("OPTIONS", "/metrics/application");
    assert_eq!(status, 200);
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    golden("application.options.json", &(pretty + "\n"));
}

#[test]
fn one_metric_by_name_in_every_format() {
    let server = seeded();
    let v = server.get_json("/metrics/application/requests");
    assert_eq!(v["requests"]["count"], 3);
    let (_, _, text) = server.get("/metrics/application/requests", None);
    assert!(text.contains("application:requests_count 3\n"), "{text}");
    assert!(!text.contains("visitors"), "{text}");
    let (status, _, body) = server.request("OPTIONS", "/metrics/application/fileSizes");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["fileSizes"]["unit"], "bytes");
    assert_eq!(v["fileSizes"]["type"], "histogram");
}

#[test]
fn whole_tree_has_every_scope() {
    let server = seeded();
    let v = server.get_json("/metrics");
    assert_eq!(v["application"]["visitors"], 80);
    assert!(v["base"]["thread.count"].as_f64().unwrap() >= 1.0, "{v}");
    assert!(v["base"]["process.residentMemory"].as_f64().unwrap() > 0.0);
    assert!(v["base"].get("process.uptime").is_some());
    assert!(v["base"].get("cpu.processCpuTime").is_some());
    assert!(v["base"].get("process.openFileDescriptors").is_some());
    assert_eq!(v["vendor"]["meterd.events.accepted"], 17);
    assert_eq!(v["vendor"]["meterd.batches.accepted"], 1);
    assert!(v["vendor"].get("meterd.queue.shard.depth").is_some());
    assert_eq!(v["vendor"]["meterd.series"], 8);
}

#[test]
fn promtool_accepts_the_text_output() {
    let server = seeded();
    let (_, _, body) = server.get("/metrics", Some("text/plain"));
    common::peers::promtool_check(&body);
}

/// The renderer's fixture (every type, tags, services, odd values), as its unit tests use it.
#[test]
fn promtool_accepts_the_render_fixture() {
    let mut out = String::new();
    meterd::render::prometheus(&meterd::render::fixture::fixture(), &mut out);
    common::peers::promtool_check(&out);
}

#[test]
fn status_codes() {
    let server = Server::start();
    let (status, _, _) = server.get("/metrics/application", None);
    assert_eq!(status, 204, "empty scope");
    let (status, _, body) = server.get("/metrics/nonsense", None);
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    server.push(json!({"name": "a", "type": "counter"}));
    let (status, _, body) = server.get("/metrics/application/missing", None);
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    let (status, _, body) = server.get("/metrics", Some("application/xml"));
    assert_eq!(status, 406);
    assert_error(&body, "not_acceptable");
    let (status, _, body) = server.get("/nowhere", None);
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    // `/metrics` exists for GET only: another method is refused as such.
    let (status, _, body) = server.request("DELETE", "/metrics");
    assert_eq!(status, 405, "{body}");
    assert_error(&body, "method_not_allowed");
}

#[test]
fn prometheus_scrape_accept_header_gets_openmetrics() {
    let server = seeded();
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (status, ct, _) = server.get("/metrics", Some(accept));
    assert_eq!(status, 200);
    assert_eq!(ct, "application/openmetrics-text");
}
