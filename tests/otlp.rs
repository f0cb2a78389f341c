//! OTLP/HTTP ingest (`POST /v1/metrics`): the OpenTelemetry Python SDK and its OTLP/HTTP
//! exporter pushing to a real meterd, then OTLP/JSON and protobuf bodies, partial success,
//! gzip, and the refusals, each answered as the OTLP specification says.

mod common;

use common::peers::OtlpStatus as Status;
use common::peers::{peer, python_can_import};
use common::Server;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// POSTs raw bytes to `/v1/metrics`; answers (status, content type, body).
fn post(server: &Server, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut req = ureq::post(&server.url("/v1/metrics"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.send_bytes(body) {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            let ct = resp.content_type().to_owned();
            let mut bytes = Vec::new();
            resp.into_reader().read_to_end(&mut bytes).unwrap();
            (status, ct, bytes)
        }
        Err(e) => panic!("transport error: {e}"),
    }
}

use std::io::Read;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A protobuf request with one gauge point per value.
fn gauge_request(name: &str, values: &[f64]) -> Vec<u8> {
    let points = values
        .iter()
        .map(|v| NumberDataPoint {
            time_unix_nano: now_ns(),
            value: Some(number_data_point::Value::AsDouble(*v)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.to_owned(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: points,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn the_opentelemetry_python_sdk_exports_and_meterd_shows_what_it_recorded() {
    let present = python_can_import(
        "python3",
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    );
    if !peer(
        "opentelemetry-sdk",
        present,
        "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http; .ci/run installs them",
    ) {
        return;
    }
    let server = Server::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/otel_metrics.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(server.url("/v1/metrics"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the SDK program failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the program prints JSON");
    assert_eq!(report["failed"], 0, "every export succeeded: {report}");
    assert!(report["exports"].as_u64().unwrap() >= 9, "{report}");

    let got = server.get_json("/metrics/application");
    let expected = report["expected"].as_object().unwrap();
    assert_eq!(expected.len(), 7);
    for (series, want) in expected {
        let key = format!("{series};service=shop;servicePath=/");
        let value = &got[&key];
        match want {
            Value::Object(stats) => {
                for field in ["count", "min", "max"] {
                    let (w, g) = (stats[field].as_f64().unwrap(), value[field].as_f64());
                    assert_eq!(g, Some(w), "{key} {field}: {value}\nin {got:#}");
                }
                // MicroProfile JSON shows the sum as the mean.
                let want = stats["sum"].as_f64().unwrap() / stats["count"].as_f64().unwrap();
                let mean = value["mean"].as_f64().unwrap();
                assert!(
                    (mean - want).abs() <= want.abs() * 1e-12,
                    "{key} mean {mean} vs {want}"
                );
            }
            _ => assert_eq!(value.as_f64(), want.as_f64(), "{key} in {got:#}"),
        }
    }
    // Metadata came along; the quantiles stay within the recorded range.
    let (_, _, options) = server.request("OPTIONS", "/metrics/application/shop.latency");
    let options: Value = serde_json::from_str(&options).unwrap();
    let (_, latency_meta) = options
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("shop.latency"))
        .unwrap_or_else(|| panic!("no shop.latency in {options}"));
    assert_eq!(latency_meta["unit"], "milliseconds", "{options}");
    assert_eq!(latency_meta["description"], "Checkout latency");
    let latency =
        &got["shop.latency;instance=i-1;job=checkout;route=/pay;service=shop;servicePath=/"];
    let p50 = latency["p50"].as_f64().unwrap();
    assert!((3.0..=999.5).contains(&p50), "{latency}");
}

#[test]
fn json_and_protobuf_answer_in_their_encoding_with_partial_success() {
    let server = Server::start();
    let now = now_ns().to_string();
    let body = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "http.requests", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
             "dataPoints": [
                {"asInt": "4", "timeUnixNano": now, "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]},
                {"asInt": "-1", "timeUnixNano": now}
             ]}}
        ]}]
    }]});
    let (status, ct, answer) = post(
        &server,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedDataPoints"], 1,
        "{answer}"
    );
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("http.requests") && message.contains("negative"),
        "{message}"
    );
    let got = server.get_json("/metrics/application");
    assert_eq!(got["http.requests;http_method=GET;job=api"], 4, "{got}");

    // Protobuf, gzip: a full success is an empty ExportMetricsServiceResponse.
    let (status, ct, answer) = post(
        &server,
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(&gauge_request("room.temp", &[20.5])),
    );
    assert_eq!((status, ct.as_str()), (200, "application/x-protobuf"));
    let answer = ExportMetricsServiceResponse::decode(&*answer).unwrap();
    assert_eq!(answer.partial_success, None);
    let (_, _, answer) = post(
        &server,
        &[("Content-Type", "application/x-protobuf")],
        &gauge_request("room.temp", &[f64::NAN, 21.0]),
    );
    let partial = ExportMetricsServiceResponse::decode(&*answer)
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert_eq!(server.get_json("/metrics/application")["room.temp"], 21.0);
    let own = server.get_json("/metrics/vendor/meterd.events.rejected");
    assert_eq!(
        own["meterd.events.rejected"], 2,
        "rejected points are counted: {own}"
    );
}

#[test]
fn refused_bodies_apply_nothing_and_answer_a_status() {
    let server = Server::with(|o| o.pipeline.limits.max_body_bytes = 64 << 10);
    let json_ct = [("Content-Type", "application/json")];
    let pb_ct = [("Content-Type", "application/x-protobuf")];

    let (status, ct, body) = post(&server, &json_ct, br#"{"resourceMetrics": [ {"#);
    assert_eq!((status, ct.as_str()), (400, "application/json"));
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["code"], 3, "INVALID_ARGUMENT: {st}");
    assert!(
        st["message"].as_str().unwrap().contains("OTLP/JSON"),
        "{st}"
    );

    let mut truncated = gauge_request("never", &[1.0]);
    truncated.truncate(truncated.len() - 3);
    let (status, ct, body) = post(&server, &pb_ct, &truncated);
    assert_eq!((status, ct.as_str()), (400, "application/x-protobuf"));
    assert_eq!(Status::decode(&*body).unwrap().code, 3);

    let (status, _, body) = post(&server, &[("Content-Type", "text/plain")], b"x");
    assert_eq!(status, 415);
    common::assert_error(
        std::str::from_utf8(&body).unwrap(),
        "unsupported_media_type",
    );
    let (status, _, _) = post(
        &server,
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "br"),
        ],
        &gauge_request("never", &[1.0]),
    );
    assert_eq!(status, 415);

    // A gzip bomb: 40 KiB that inflate to 40 MiB, against a 64 KiB limit.
    let bomb = gzip(&vec![b' '; 40 << 20]);
    assert!(bomb.len() < 64 << 10);
    let (status, _, body) = post(
        &server,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &bomb,
    );
    assert_eq!(status, 413);
    let st: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["code"], 8, "RESOURCE_EXHAUSTED: {st}");
    let (status, _, _) = post(
        &server,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        b"not gzip at all",
    );
    assert_eq!(status, 400);

    let (_, _, got) = server.get("/metrics/application", Some("application/json"));
    assert!(!got.contains("never"), "nothing applied: {got}");
}

/// A cumulative counter point for `name` (start time now, so that it counts whole).
fn cumulative(name: &str, start: u64, value: f64) -> Vec<u8> {
    use opentelemetry_proto::tonic::metrics::v1::Sum;
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.to_owned(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![NumberDataPoint {
                            start_time_unix_nano: start,
                            time_unix_nano: now_ns(),
                            value: Some(number_data_point::Value::AsDouble(value)),
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn a_refused_batch_leaves_the_cumulative_baseline_as_it_was() {
    let server = Server::with(|o| o.pipeline.limits.max_series_per_service = 1);
    let pb = [("Content-Type", "application/x-protobuf")];
    server.push(json!([{"name": "first", "type": "gauge", "value": 1}]));
    let start = now_ns();
    // A second series is beyond the limit: 429, nothing applied, and the 5 not remembered.
    let (status, ct, body) = post(&server, &pb, &cumulative("second", start, 5.0));
    assert_eq!((status, ct.as_str()), (429, "application/x-protobuf"));
    assert_eq!(Status::decode(&*body).unwrap().code, 8);
    let (status, _, _) = server.request("DELETE", "/api/v1/series?name=first");
    assert_eq!(status, 200);
    let (status, _, _) = post(&server, &pb, &cumulative("second", start, 5.0));
    assert_eq!(status, 200);
    let (status, _, _) = post(&server, &pb, &cumulative("second", start, 7.0));
    assert_eq!(status, 200);
    assert_eq!(server.get_json("/metrics/application")["second"], 7.0);
}

#[test]
fn tokens_guard_the_route_and_a_bound_token_pushes_to_its_service_only() {
    let tokens = meterd::config::Tokens::parse(
        r#"
[[token]]
secret = "ingest-city-secret-0123456789"
role = "ingest"
service = "smart_city"

[[token]]
secret = "read-secret-0123456789"
role = "read"
"#,
        "tokens.toml",
    )
    .unwrap();
    let server = Server::with(|o| o.tokens = Some(tokens));
    let body = gauge_request("city.temp", &[18.0]);
    let bearer = |t: &str| format!("Bearer {t}");
    let ingest = bearer("ingest-city-secret-0123456789");
    let read = bearer("read-secret-0123456789");
    let ct = ("Content-Type", "application/x-protobuf");
    assert_eq!(post(&server, &[ct], &body).0, 401);
    assert_eq!(post(&server, &[ct, ("Authorization", &read)], &body).0, 403);
    let other = [ct, ("Authorization", &ingest), ("Fiware-Service", "other")];
    assert_eq!(
        post(&server, &other, &body).0,
        403,
        "not the token's service"
    );
    // Without the header the points go to the token's service.
    assert_eq!(
        post(&server, &[ct, ("Authorization", &ingest)], &body).0,
        200
    );
    let text = ureq::get(&server.url("/metrics/application"))
        .set("Authorization", &read)
        .set("Accept", "application/json")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(text.contains("city.temp;service=smart_city"), "{text}");
}
