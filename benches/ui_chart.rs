//! What the dashboard costs the server per chart: the SVG of `/ui/chart.svg` drawn with
//! plotters over 1,000 lines (groups) of 60 points each (an hour at one point a minute), and
//! over 10 lines of 360 points (an hour of the 10 s tier); then the whole request, query
//! included, against a server on loopback holding those 1,000 series.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::app::{spawn, Options};
use meterd::clock::ManualClock;
use meterd::render::chart::{time_chart, Line, TimeChart};
use std::sync::Arc;

/// 2024-05-01 12:00:00 UTC.
const START: i64 = 1_714_564_800_000;

fn lines(count: usize, points: i64, step_ms: i64) -> Vec<Line> {
    (0..count)
        .map(|i| Line {
            label: format!("host=h{i:04},dc=eu"),
            points: (0..points)
                .map(|p| {
                    (
                        START + p * step_ms,
                        (i as f64) + ((p + i as i64) % 20) as f64,
                    )
                })
                .collect(),
        })
        .collect()
}

fn draw(lines: &[Line], end: i64, out: &mut String) {
    out.clear();
    time_chart(
        out,
        &TimeChart {
            title: "avg:cpu.load{host=*}",
            unit: Some("percent"),
            start: START,
            end,
            lines,
            size: (900, 420),
        },
    )
    .unwrap();
}

fn charts(c: &mut Criterion) {
    let mut group = c.benchmark_group("ui_chart");
    group.sample_size(20);
    let mut out = String::with_capacity(8 << 20);

    let many = lines(1000, 60, 60_000);
    group.throughput(Throughput::Elements(1000));
    group.bench_function("svg_1000_series_x_60_points", |b| {
        b.iter(|| {
            draw(black_box(&many), START + 3_600_000, &mut out);
            black_box(out.len())
        })
    });

    let few = lines(10, 360, 10_000);
    group.throughput(Throughput::Elements(10));
    group.bench_function("svg_10_series_x_360_points", |b| {
        b.iter(|| {
            draw(black_box(&few), START + 3_600_000, &mut out);
            black_box(out.len())
        })
    });

    // The whole request: a server with 1,000 series of 60 points (one a minute for an hour).
    let dir = std::env::temp_dir().join(format!("meterd-bench-ui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = Options::for_tests(dir.join("data"));
    opts.clock = Arc::new(ManualClock::starting_at(START + 3_600_000));
    let server = spawn(opts).expect("server starts");
    for chunk in 0..10 {
        let events: Vec<serde_json::Value> = (chunk * 100..(chunk + 1) * 100)
            .flat_map(|i| {
                (0..60).map(move |p| {
                    serde_json::json!({"name": "cpu.load", "type": "gauge",
                        "value": (i + p % 20) as f64, "timestamp": START + p * 60_000,
                        "tags": {"host": format!("h{i:04}")}})
                })
            })
            .collect();
        let status = ureq::post(&server.url("/api/v1/events"))
            .send_json(serde_json::Value::Array(events))
            .expect("pushed")
            .status();
        assert_eq!(status, 200);
    }
    let url = server.url("/ui/chart.svg?m=avg:cpu.load%7Bhost%3D*%7D&start=1h-ago&w=900&h=420");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("http_chart_1000_series", |b| {
        b.iter(|| {
            let svg = ureq::get(&url).call().unwrap().into_string().unwrap();
            black_box(svg.len())
        })
    });
    group.finish();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, charts);
criterion_main!(benches);
