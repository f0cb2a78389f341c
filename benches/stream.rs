//! Kanto subscriptions: the hub's work per tick (build a frame from the shards' series, write
//! one subscriber's data message), and what subscribers cost ingest: a 100-event push over
//! HTTP to a real server with 0, then 100 WebSocket subscribers at 1 s (every measurement,
//! about 35 kB a message), then 0 again, in the same run.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meterd::app::{spawn, Options};
use meterd::model::{HistogramView, Scope, SeriesKey, ValueView};
use meterd::stream::filter::Filters;
use meterd::stream::frame::Frame;
use meterd::stream::message::{data_message, select};
use meterd::stream::request::parse_query;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

const SYSTEM: [(&str, f64); 9] = [
    ("cpu.utilization", 12.5),
    ("memory.utilization", 40.1),
    ("memory.total", 10_371_616_768.0),
    ("memory.used", 4_159_552_000.0),
    ("io.readBytes", 1e9),
    ("io.writeBytes", 2e9),
    ("net.readBytes", 3e6),
    ("net.writeBytes", 4e6),
    ("pids", 312.0),
];

/// `n` series over 10 services, counters and histograms.
fn series(n: usize) -> Vec<(SeriesKey, ValueView)> {
    (0..n)
        .map(|i| {
            let mut key = SeriesKey::simple(Scope::Application, &format!("app.metric.{i}"), vec![]);
            key.service = format!("svc{}", i % 10).into();
            let value = if i % 2 == 0 {
                ValueView::Counter(i as f64)
            } else {
                ValueView::Histogram(HistogramView {
                    count: 10,
                    sum: 123.0,
                    mean: 12.3,
                    ..HistogramView::default()
                })
            };
            (key, value)
        })
        .collect()
}

fn hub_work(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream");
    let views = series(10_000);
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("frame_build_10k_series", |b| {
        b.iter_batched(
            || views.clone(),
            |views| black_box(Frame::build(1, &SYSTEM, Some(views))),
            criterion::BatchSize::LargeInput,
        )
    });
    let frame = Frame::build(1, &SYSTEM, Some(series(1_000)));
    let topic = "edge/device:edge:containers/things/live/messages/data";
    group.throughput(Throughput::Elements(1));
    group.bench_function("data_message_1k_series_unfiltered", |b| {
        b.iter(|| {
            data_message(
                topic,
                &select(black_box(&frame), &Filters::default()).unwrap(),
            )
        })
    });
    let system_only = parse_query(&[("originator".into(), "SYSTEM".into())])
        .unwrap()
        .filters;
    group.bench_function("data_message_1k_series_system_only", |b| {
        b.iter(|| data_message(topic, &select(black_box(&frame), &system_only).unwrap()))
    });
    group.finish();
}

/// A 100-event batch over 20 series of mixed kinds.
fn batch() -> String {
    let kinds = ["counter", "gauge", "meter", "histogram", "timer"];
    let events: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"name":"app.metric{}","type":"{}","value":{}}}"#,
                i % 20,
                kinds[(i % 20) % 5],
                i * 7 + 1
            )
        })
        .collect();
    format!("[{}]", events.join(","))
}

/// WebSocket subscribers reading on their own threads until told to stop.
struct Subscribers {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Subscribers {
    fn connect(addr: std::net::SocketAddr, n: usize, request: &str) -> Subscribers {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let threads = (0..n)
            .map(|_| {
                let stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let url = format!("ws://{addr}/api/v1/metrics/ws");
                let (mut ws, _) = tungstenite::client(url, stream).expect("subscriber admitted");
                ws.send(tungstenite::Message::text(request)).unwrap();
                let (stop, received) = (stop.clone(), received.clone());
                std::thread::spawn(move || {
                    while !stop.load(Relaxed) {
                        if let Ok(tungstenite::Message::Text(_)) = ws.read() {
                            received.fetch_add(1, Relaxed);
                        }
                    }
                })
            })
            .collect();
        Subscribers {
            stop,
            received,
            threads,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.received.load(Relaxed)
    }
}

fn ingest_with_subscribers(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("meterd-bench-stream-{}", std::process::id()));
    let server = spawn(Options::for_tests(dir.clone())).expect("server starts");
    let url = server.url("/api/v1/events");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let post = |body: &str| {
        let resp = agent
            .post(&url)
            .set("Content-Type", "application/json")
            .send_string(body)
            .unwrap();
        assert_eq!(resp.status(), 200);
    };
    // 1000 more series, so that every full snapshot carries some weight.
    for chunk in 0..10 {
        let events: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"name":"bg.gauge.{chunk}.{i}","type":"gauge","value":{i}}}"#))
            .collect();
        post(&format!("[{}]", events.join(",")));
    }
    let body = batch();
    let request = r#"{"topic":"edge/device:edge:containers/things/live/messages/request","headers":{"correlation-id":"bench"},"path":"/features/Metrics/inbox/messages/request","value":{"frequency":"1s","filter":null}}"#;

    let mut group = c.benchmark_group("stream_ingest");
    group.throughput(Throughput::Elements(100));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function(BenchmarkId::new("push_100", "0_subscribers"), |b| {
        b.iter(|| post(&body))
    });
    let subscribers = Subscribers::connect(server.addr, 100, request);
    std::thread::sleep(Duration::from_millis(1500));
    group.bench_function(BenchmarkId::new("push_100", "100_subscribers_1s"), |b| {
        b.iter(|| post(&body))
    });
    let received = subscribers.finish();
    // Again without subscribers, to tell their cost from drift over the run.
    std::thread::sleep(Duration::from_millis(1500));
    group.bench_function(BenchmarkId::new("push_100", "0_subscribers_after"), |b| {
        b.iter(|| post(&body))
    });
    group.finish();
    eprintln!("100 subscribers received {received} messages (100 responses, then data)");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, hub_work, ingest_with_subscribers);
criterion_main!(benches);
