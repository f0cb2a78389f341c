//! Hot paths of aggregation: an EWMA meter tick and an HdrHistogram record.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use meterd::aggregate::{Histogram, HistogramSettings, Meter, DEFAULT_TICK};

const TICK: u64 = 5_000_000_000;

fn meter(c: &mut Criterion) {
    let mut group = c.benchmark_group("meter");
    group.throughput(Throughput::Elements(1));
    let mut m = Meter::new(DEFAULT_TICK, 0);
    let mut now = 0u64;
    group.bench_function("mark", |b| {
        b.iter(|| {
            now += 1;
            m.mark(black_box(1.0), now)
        })
    });
    let mut m = Meter::new(DEFAULT_TICK, 0);
    let mut now = 0u64;
    group.bench_function("mark_and_tick", |b| {
        b.iter(|| {
            now += TICK;
            m.mark(1.0, now);
            black_box(m.view(now))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("meter");
    group.throughput(Throughput::Elements(100_000));
    group.sample_size(20);
    let mut meters: Vec<Meter> = (0..100_000).map(|_| Meter::new(DEFAULT_TICK, 0)).collect();
    for m in &mut meters {
        m.mark(3.0, 1);
    }
    let mut now = 0u64;
    group.bench_function("tick_100k_meters", |b| {
        b.iter(|| {
            now += TICK;
            for m in &mut meters {
                black_box(m.view(now));
            }
        })
    });
    group.finish();
}

fn histogram(c: &mut Criterion) {
    let mut group = c.benchmark_group("histogram");
    group.throughput(Throughput::Elements(1));
    let mut h = Histogram::new(HistogramSettings::default());
    let mut v = 1u64;
    group.bench_function("record", |b| {
        b.iter(|| {
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.record(black_box((v >> 40) as f64))
        })
    });
    group.finish();
}

criterion_group!(benches, meter, histogram);
criterion_main!(benches);
