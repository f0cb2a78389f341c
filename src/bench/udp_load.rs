//! StatsD load: `--connections` threads each sending pre-built datagrams over UDP, many per
//! system call (`sendmmsg`).

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

/// Datagrams handed to the kernel per `sendmmsg` call: one system call for many datagrams, so
/// that one sending thread can reach millions of lines a second.
const CHUNK: usize = 32;

fn send(
    args: &BenchArgs,
    target: &str,
    issued: &AtomicU64,
    progress: &Progress,
    deadline: Instant,
) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket.connect(target).map_err(|e| e.to_string())?;
    let datagrams = statsd_datagrams(args.batch, args.series, args.distinct_values);
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut next = Instant::now();
    while Instant::now() < deadline {
        let n = issued.fetch_add(CHUNK as u64, Relaxed);
        let k = match args.requests {
            0 => CHUNK,
            limit if n >= limit => break,
            limit => CHUNK.min((limit - n) as usize),
        };
        if let Some(every) = interval {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next += every * k as u32;
        }
        let chunk: Vec<&[u8]> = (0..k)
            .map(|i| datagrams[(n as usize + i) % datagrams.len()].as_slice())
            .collect();
        send_all(&socket, &chunk, progress, args.batch as u64)?;
    }
    Ok(())
}

/// Sends every datagram of `chunk`, as few system calls as the kernel allows.
fn send_all(
    socket: &UdpSocket,
    chunk: &[&[u8]],
    progress: &Progress,
    lines_each: u64,
) -> Result<(), String> {
    use rustix::net::{sendmmsg, MMsgHdr, SendAncillaryBuffer, SendFlags};
    use std::io::IoSlice;
    let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|d| [IoSlice::new(d)]).collect();
    let mut sent = 0;
    while sent < chunk.len() {
        let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = (sent..chunk.len())
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut msgs: Vec<MMsgHdr<'_>> = iovs[sent..]
            .iter()
            .zip(controls.iter_mut())
            .map(|(iov, control)| MMsgHdr::new(iov, control))
            .collect();
        match sendmmsg(socket, &mut msgs, SendFlags::empty()) {
            Ok(0) => return Err("sendmmsg sent nothing".into()),
            Ok(k) => {
                sent += k;
                progress.requests.fetch_add(k as u64, Relaxed);
                progress.events.fetch_add(k as u64 * lines_each, Relaxed);
            }
            // Nobody listens (ICMP port unreachable on loopback): that datagram is lost; count
            // it and go on with the rest.
            Err(rustix::io::Errno::CONNREFUSED) => {
                progress.errors.fetch_add(1, Relaxed);
                sent += 1;
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
