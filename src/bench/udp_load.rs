//! StatsD load: `--connections` threads each sending pre-built datagrams over UDP.

use super::payload::statsd_datagrams;
use super::progress::{spawn_bar, Progress};
use super::{BenchArgs, Report};
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends the datagrams and reports lines sent (UDP has no answers: loss is measured by the
/// receiver, e.g. from meterd's vendor counters).
pub fn run(args: &BenchArgs) -> Result<Report, String> {
    let target = args.host_port()?;
    let progress = Arc::new(Progress::default());
    let bar = spawn_bar(progress.clone(), args.duration, args.quiet);
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let threads: Vec<_> = (0..args.connections)
        .map(|_| {
            let (args, target, issued, progress) = (
                args.clone(),
                target.clone(),
                issued.clone(),
                progress.clone(),
            );
            std::thread::spawn(move || send(&args, &target, &issued, &progress, deadline))
        })
        .collect();
    let mut errors = BTreeMap::new();
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            *errors.entry(e).or_insert(0) += 1;
        }
    }
    let elapsed = started.elapsed();
    progress.done.store(true, Relaxed);
    if let Some(bar) = bar {
        let _ = bar.join();
    }
    let (requests, events) = (
        progress.requests.load(Relaxed),
        progress.events.load(Relaxed),
    );
    Ok(Report::new(
        "statsd", elapsed, requests, events, errors, None,
    ))
}

fn send(
    args: &BenchArgs,
    target: &str,
    issued: &AtomicU64,
    progress: &Progress,
    deadline: Instant,
) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket.connect(target).map_err(|e| e.to_string())?;
    let datagrams = statsd_datagrams(64, args.batch, args.series);
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut next = Instant::now();
    while Instant::now() < deadline {
        let n = issued.fetch_add(1, Relaxed);
        if args.requests > 0 && n >= args.requests {
            break;
        }
        if let Some(every) = interval {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next += every;
        }
        let d = &datagrams[n as usize % datagrams.len()];
        match socket.send(d) {
            Ok(_) => {
                progress.requests.fetch_add(1, Relaxed);
                progress.events.fetch_add(args.batch as u64, Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                progress.errors.fetch_add(1, Relaxed);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
