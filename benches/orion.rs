//! Hot paths of the Orion API: counting one request of meterd's own traffic (every HTTP
//! request pays it) and rendering the service tree over many series.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::model::{HistogramView, Scope, SeriesKey, ServicePath, ValueView};
use meterd::render::orion_tree;
use meterd::telemetry::{IncomingTraffic, Transaction};

fn traffic(c: &mut Criterion) {
    let mut group = c.benchmark_group("traffic");
    group.throughput(Throughput::Elements(1));
    let t = IncomingTraffic::new(true);
    let path = ServicePath::parse("/gardens/north").unwrap();
    let tx = Transaction {
        request_bytes: 200,
        response_bytes: 14,
        error: false,
        nanos: 150_000,
    };
    group.bench_function("record", |b| {
        b.iter(|| t.record(black_box("smartcity"), black_box(&path), tx))
    });
    group.finish();
}

/// 10 services × 10 subservices × 100 names, alternating counters and histograms.
fn views() -> Vec<(SeriesKey, ValueView)> {
    let mut out = Vec::new();
    for s in 0..10 {
        for p in 0..10 {
            for n in 0..100 {
                let key = SeriesKey {
                    service: format!("svc{s}").into(),
                    service_path: ServicePath::parse(&format!("/area{p}")).unwrap(),
                    scope: Scope::Application,
                    name: format!("metric{n}").into(),
                    tags: Vec::new(),
                };
                let value = if n % 2 == 0 {
                    ValueView::Counter(n as f64 + 1.0)
                } else {
                    ValueView::Histogram(HistogramView {
                        count: 3,
                        sum: 7.5,
                        ..HistogramView::default()
                    })
                };
                out.push((key, value));
            }
        }
    }
    out
}

fn tree(c: &mut Criterion) {
    let mut group = c.benchmark_group("orion_tree");
    let views = views();
    group.throughput(Throughput::Elements(views.len() as u64));
    group.bench_function("10k_series", |b| b.iter(|| orion_tree(black_box(&views))));
    group.finish();
}

criterion_group!(benches, traffic, tree);
criterion_main!(benches);
