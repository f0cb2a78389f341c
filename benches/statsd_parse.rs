//! StatsD parsing throughput: a typical UDP datagram and a large `POST /api/v1/statsd` body.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterd::ingest::statsd::{parse_batch, StatsdContext};
use meterd::model::ServicePath;
use std::hint::black_box;

/// A realistic mix of lines: every type, sample rates, tags, multi-values.
const LINES: [&str; 10] = [
    "api.requests:1|c",
    "api.requests:1|c|@0.1|#route:/orders,method:GET,status:200",
    "api.latency:12.5|ms|#route:/orders",
    "api.latency:3:4.25:7|ms|@0.5",
    "queue.depth:42|g",
    "queue.depth:-3|g|#queue:billing",
    "payload.size:1532|h|#codec:json",
    "payload.size:88|d",
    "logins:1|m|#region:eu-west-1",
    "users.unique:alice|s",
];

fn body(lines: usize) -> String {
    let mut text = String::new();
    for line in LINES.iter().cycle().take(lines) {
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn parse(c: &mut Criterion) {
    let path = ServicePath::root();
    let ctx = StatsdContext {
        service: "default-service",
        service_path: &path,
        now_ms: 1_700_000_000_000,
        max_name_bytes: 255,
        max_tags: 32,
        max_tag_value_bytes: 1024,
        longest_retention_ms: 0,
    };
    let mut group = c.benchmark_group("statsd_parse");
    for (label, lines) in [("datagram_10_lines", 10), ("body_1000_lines", 1000)] {
        let text = body(lines);
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_function(label, |b| {
            b.iter(|| parse_batch(black_box(&text), &ctx).expect("valid lines"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
