//! The mapping of the README's table, point by point, from both encodings.

use super::wire::{decode, Encoding};
use super::{map_request, CumulativeBook};
use crate::config::Pipeline;
use crate::ingest::IngestContext;
use crate::model::{Event, Kind, Op, ServicePath};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::sync::LazyLock;

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(Pipeline::default);
static ROOT: LazyLock<ServicePath> = LazyLock::new(ServicePath::root);

const NOW_MS: i64 = 1_700_000_000_000;
const NOW_NS: u64 = NOW_MS as u64 * 1_000_000;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn ctx() -> IngestContext<'static> {
    IngestContext {
        service: "shop",
        service_path: &ROOT,
        now_ms: NOW_MS,
        pipeline: &PIPELINE,
    }
}

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.to_owned())),
        }),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "cart"), kv("service.instance.id", "i-1")],
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

fn number(v: f64, start: u64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: NOW_NS,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: "ms".to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

fn sum(name: &str, monotonic: bool, temporality: i32, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        }),
    )
}

fn one(events: &[Event]) -> &Event {
    assert_eq!(events.len(), 1, "{events:?}");
    &events[0]
}

#[test]
fn cumulative_counters_become_increments_once_per_export() {
    let mut book = CumulativeBook::new(NOW_MS - 1000, 100);
    let start = NOW_NS - 500_000_000;
    let mut increments = Vec::new();
    for v in [3.0, 3.0, 10.0] {
        let req = request(vec![sum(
            "orders",
            true,
            CUMULATIVE,
            vec![number(v, start, vec![kv("http.method", "GET")])],
        )]);
        let m = map_request(req, &ctx(), &mut book);
        assert_eq!(m.rejected, 0);
        let e = one(&m.events);
        assert_eq!((e.kind, &e.op), (Kind::Counter, &Op::Observe));
        assert_eq!(e.key.service, "shop");
        assert_eq!(e.key.name, "orders");
        assert_eq!(
            e.key.tags,
            vec![
                ("http_method".into(), "GET".into()),
                ("instance".into(), "i-1".into()),
                ("job".into(), "cart".into())
            ]
        );
        assert_eq!(
            e.meta.as_ref().unwrap().unit.as_deref(),
            Some("milliseconds")
        );
        increments.push(e.value);
    }
    assert_eq!(increments, vec![3.0, 0.0, 7.0]);
}

#[test]
fn sums_and_gauges_by_monotonicity_and_temporality() {
    let mut book = CumulativeBook::new(NOW_MS, 100);
    let req = request(vec![
        sum("d", true, DELTA, vec![number(2.5, 0, vec![])]),
        sum("ud", false, CUMULATIVE, vec![number(-4.0, 0, vec![])]),
        sum("udd", false, DELTA, vec![number(-1.0, 0, vec![])]),
        metric(
            "g",
            Data::Gauge(Gauge {
                data_points: vec![number(7.5, 0, vec![])],
            }),
        ),
    ]);
    let m = map_request(req, &ctx(), &mut book);
    let got: Vec<(&str, Kind, f64, Op)> = m
        .events
        .iter()
        .map(|e| (e.key.name.as_str(), e.kind, e.value, e.op.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("d", Kind::Counter, 2.5, Op::Observe),
            ("ud", Kind::Gauge, -4.0, Op::Observe),
            ("udd", Kind::Gauge, -1.0, Op::GaugeDelta),
            ("g", Kind::Gauge, 7.5, Op::Observe),
        ]
    );
    assert_eq!(m.events[0].timestamp_ms, NOW_MS);
}

#[test]
fn bad_points_are_rejected_alone_and_counted() {
    let mut book = CumulativeBook::new(NOW_MS, 100);
    let mut stale = number(1.0, 0, vec![]);
    stale.flags = 1;
    let mut no_value = number(1.0, 0, vec![]);
    no_value.value = None;
    let mut ancient = number(1.0, 0, vec![]);
    ancient.time_unix_nano = 1;
    let req = request(vec![
        sum(
            "ok",
            true,
            DELTA,
            vec![number(1.0, 0, vec![]), number(f64::NAN, 0, vec![]), stale],
        ),
        sum(
            "neg",
            true,
            DELTA,
            vec![number(-1.0, 0, vec![]), no_value, ancient],
        ),
        sum("unspecified", true, 0, vec![number(1.0, 0, vec![])]),
    ]);
    let m = map_request(req, &ctx(), &mut book);
    assert_eq!(m.events.len(), 1);
    assert_eq!(m.rejected, 5);
    let message = m.message();
    assert!(
        message.starts_with("5 data point(s) rejected: metric \"ok\": value NaN"),
        "{message}"
    );
    assert!(message.contains("temporality"), "{message}");
}

#[test]
fn cumulative_histograms_record_the_values_since_the_last_export() {
    let mut book = CumulativeBook::new(NOW_MS - 1000, 100);
    let point = |counts: Vec<u64>, sum: f64, min: f64, max: f64| HistogramDataPoint {
        start_time_unix_nano: NOW_NS - 1,
        time_unix_nano: NOW_NS,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: vec![10.0, 100.0],
        min: Some(min),
        max: Some(max),
        ..Default::default()
    };
    let hist = |p| {
        request(vec![metric(
            "latency",
            Data::Histogram(Histogram {
                data_points: vec![p],
                aggregation_temporality: CUMULATIVE,
            }),
        )])
    };
    let first = map_request(
        hist(point(vec![1, 2, 0], 75.0, 5.0, 40.0)),
        &ctx(),
        &mut book,
    );
    let e = one(&first.events);
    assert_eq!(e.kind, Kind::Histogram);
    let Op::Distribution(d) = &e.op else {
        panic!("{e:?}")
    };
    assert_eq!((d.count, d.sum, d.min, d.max), (3, 75.0, 5.0, 40.0));
    assert_eq!(d.buckets, vec![(7.5, 1), (25.0, 2)]);
    let again = map_request(
        hist(point(vec![1, 2, 0], 75.0, 5.0, 40.0)),
        &ctx(),
        &mut book,
    );
    assert!(again.events.is_empty(), "nothing new");
    let more = map_request(
        hist(point(vec![1, 3, 1], 475.0, 5.0, 380.0)),
        &ctx(),
        &mut book,
    );
    let Op::Distribution(d) = &one(&more.events).op else {
        panic!()
    };
    assert_eq!((d.count, d.sum, d.max), (2, 400.0, 380.0));
    assert_eq!(d.buckets, vec![(55.0, 1), (240.0, 1)]);
}

#[test]
fn summaries_become_gauges() {
    let mut book = CumulativeBook::new(NOW_MS, 100);
    let req = request(vec![metric(
        "rpc",
        Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                time_unix_nano: NOW_NS,
                count: 4,
                sum: 10.0,
                quantile_values: vec![ValueAtQuantile {
                    quantile: 0.5,
                    value: 2.0,
                }],
                ..Default::default()
            }],
        }),
    )]);
    let m = map_request(req, &ctx(), &mut book);
    let got: Vec<(String, f64, Option<String>)> = m
        .events
        .iter()
        .map(|e| {
            let q = e
                .key
                .tags
                .iter()
                .find(|t| t.0 == "quantile")
                .map(|t| t.1.to_string());
            (e.key.name.to_string(), e.value, q)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("rpc".to_owned(), 2.0, Some("0.5".to_owned())),
            ("rpc.count".to_owned(), 4.0, None),
            ("rpc.sum".to_owned(), 10.0, None)
        ]
    );
}

#[test]
fn otlp_json_with_its_quirks_decodes_like_protobuf() {
    // As the OTLP specification's example writes it: lowerCamelCase, int64 as strings, enums
    // as numbers, hex trace ids in exemplars.
    let json = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"cart"}}}}]}},
        "scopeMetrics":[{{"scope":{{"name":"s","version":"1"}},"metrics":[
          {{"name":"my.counter","unit":"1","description":"d","sum":{{"aggregationTemporality":2,"isMonotonic":true,
            "dataPoints":[{{"asInt":"5","startTimeUnixNano":"{start}","timeUnixNano":"{now}",
              "attributes":[{{"key":"my.attr","value":{{"intValue":"42"}}}}],
              "exemplars":[{{"asDouble":1.5,"timeUnixNano":"{now}","traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}}]}}]}}}},
          {{"name":"my.histogram","histogram":{{"aggregationTemporality":1,"dataPoints":[{{"timeUnixNano":"{now}",
            "count":"2","sum":2,"bucketCounts":["1","1"],"explicitBounds":[1],"min":0,"max":2}}]}}}}
        ]}}]}}]}}"#,
        start = NOW_NS - 5,
        now = NOW_NS
    );
    let req = decode(json.as_bytes(), Encoding::Json).expect("OTLP/JSON decodes");
    let pb = decode(&req.encode_to_vec(), Encoding::Protobuf).unwrap();
    assert_eq!(pb, req);
    let m = map_request(req, &ctx(), &mut CumulativeBook::new(NOW_MS - 1000, 10));
    assert_eq!(m.rejected, 0, "{}", m.message());
    assert_eq!(m.events.len(), 2);
    assert_eq!(
        (m.events[0].key.name.as_str(), m.events[0].value),
        ("my.counter", 5.0)
    );
    assert_eq!(m.events[0].key.tags[1], ("my_attr".into(), "42".into()));
    assert!(
        m.events[0].meta.as_ref().unwrap().unit.is_none(),
        "unit 1 is no unit"
    );
    let Op::Distribution(d) = &m.events[1].op else {
        panic!()
    };
    assert_eq!((d.count, d.sum, d.min, d.max), (2, 2.0, 0.0, 2.0));
    assert!(decode(b"{\"resourceMetrics\":7}", Encoding::Json).is_err());
    assert!(decode(b"\xff\xff\xff", Encoding::Protobuf).is_err());
}

#[test]
fn too_many_tags_and_bad_names_are_rejected() {
    let attrs: Vec<KeyValue> = (0..40).map(|i| kv(&format!("k{i}"), "v")).collect();
    let req = request(vec![
        sum("wide", true, DELTA, vec![number(1.0, 0, attrs)]),
        sum("", true, DELTA, vec![number(1.0, 0, vec![])]),
    ]);
    let m = map_request(req, &ctx(), &mut CumulativeBook::new(NOW_MS, 10));
    assert!(m.events.is_empty());
    assert_eq!(m.rejected, 2, "{}", m.message());
}
