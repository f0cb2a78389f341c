//! OTLP ingest next to native JSON ingest, in one run: decode + map (or validate) + route a
//! 100-point OTLP request (protobuf and OTLP/JSON) and the 100-event JSON batch of `ingest`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::collector::route;
use meterd::config::Pipeline;
use meterd::ingest::otlp::{map_request, wire, CumulativeBook, Encoding};
use meterd::ingest::{json::decode_json, IngestContext};
use meterd::model::ServicePath;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

#[path = "common/batch.rs"]
mod common_batch;

const NOW_MS: i64 = 1_700_000_000_000;
const NOW_NS: u64 = NOW_MS as u64 * 1_000_000;

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

/// 20 metrics of 5 points each (hosts web0..web4, two attributes per point), as an SDK
/// exports them: cumulative counters, up-down counters, gauges, and histograms with the SDK's
/// 15 default bounds (two metrics of each kind in every five).
fn request() -> ExportMetricsServiceRequest {
    let attrs = |m: usize, p: usize| {
        vec![
            kv("host", format!("web{p}")),
            kv("http.route", format!("/api/v{m}")),
        ]
    };
    let number = |m: usize, p: usize, v: f64| NumberDataPoint {
        attributes: attrs(m, p),
        start_time_unix_nano: NOW_NS - 60_000_000_000,
        time_unix_nano: NOW_NS,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let bounds = vec![
        0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
        7500.0, 10000.0,
    ];
    let metrics = (0..20)
        .map(|m| {
            let data = match m % 5 {
                0 | 1 => Data::Sum(Sum {
                    data_points: (0..5).map(|p| number(m, p, (m * 7 + p) as f64)).collect(),
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
                2 => Data::Sum(Sum {
                    data_points: (0..5).map(|p| number(m, p, p as f64 - 2.0)).collect(),
                    aggregation_temporality: 2,
                    is_monotonic: false,
                }),
                3 => Data::Gauge(Gauge {
                    data_points: (0..5).map(|p| number(m, p, 20.5 + p as f64)).collect(),
                }),
                _ => Data::Histogram(Histogram {
                    data_points: (0..5)
                        .map(|p| {
                            let mut counts = vec![0u64; 16];
                            counts[3] = 4;
                            counts[7] = 2 + p as u64;
                            HistogramDataPoint {
                                attributes: attrs(m, p),
                                start_time_unix_nano: NOW_NS - 60_000_000_000,
                                time_unix_nano: NOW_NS,
                                count: counts.iter().sum(),
                                sum: Some(1000.0 + p as f64),
                                bucket_counts: counts,
                                explicit_bounds: bounds.clone(),
                                min: Some(12.0),
                                max: Some(240.0),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    aggregation_temporality: 1,
                }),
            };
            Metric {
                name: format!("app.metric{m}"),
                unit: "ms".to_owned(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout".into())],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn otlp(c: &mut Criterion) {
    let pipeline = Pipeline::default();
    let path = ServicePath::root();
    let ctx = IngestContext {
        service: "default-service",
        service_path: &path,
        now_ms: NOW_MS,
        pipeline: &pipeline,
    };
    let req = request();
    let protobuf = req.encode_to_vec();
    let json = serde_json::to_vec(&req).unwrap();
    let native = common_batch::body();
    let mut book = CumulativeBook::new(NOW_MS - 3_600_000, 1_000_000);
    assert_eq!(map_request(req, &ctx, &mut book).events.len(), 100);

    let mut group = c.benchmark_group("ingest_formats");
    group.throughput(Throughput::Elements(100));
    group.bench_function("json_decode_validate_route_100", |b| {
        b.iter(|| {
            let events = decode_json(black_box(native.as_bytes()), &ctx).unwrap();
            black_box(route(events, 2))
        })
    });
    group.bench_function("otlp_protobuf_decode_map_route_100", |b| {
        b.iter(|| {
            let req = wire::decode(black_box(&protobuf), Encoding::Protobuf).unwrap();
            let mapped = map_request(req, &ctx, &mut book);
            black_box(route(mapped.events, 2))
        })
    });
    group.bench_function("otlp_json_decode_map_route_100", |b| {
        b.iter(|| {
            let req = wire::decode(black_box(&json), Encoding::Json).unwrap();
            let mapped = map_request(req, &ctx, &mut book);
            black_box(route(mapped.events, 2))
        })
    });
    group.finish();
}

criterion_group!(benches, otlp);
criterion_main!(benches);
