//! HTTP load: `--connections` keep-alive connections on one actix runtime, each sending requests
//! back to back (or paced by `--rate`) until the duration or the request budget is spent.

use super::payload::{event_bodies, pushgateway_bodies, pushgateway_family_body};
use super::progress::{spawn_bar, Progress};
use super::{BenchArgs, Mode, Report};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send: method, URL, content type and body.
struct Shot {
    post: bool,
    url: String,
    content_type: &'static str,
    body: actix_web::web::Bytes,
    events: u64,
}

fn shots(args: &BenchArgs, conn: usize) -> Vec<Shot> {
    let base = args.target.trim_end_matches('/');
    // Enough distinct bodies to touch every series once per cycle (bounded: 10,000 bodies).
    let bodies = args.series.div_ceil(args.batch).clamp(64, 10_000);
    match args.mode {
        Mode::Events => event_bodies(bodies, args.batch, args.series, args.kind)
            .into_iter()
            .map(|b| Shot {
                post: true,
                url: format!("{base}/api/v1/events"),
                content_type: "application/json",
                body: b.into(),
                events: args.batch as u64,
            })
            .collect(),
        Mode::Pushgateway => pushgateway_bodies(bodies, args.batch, args.series)
            .into_iter()
            .map(|b| Shot {
                post: true,
                url: format!("{base}/metrics/job/bench/instance/c{conn}"),
                content_type: "text/plain; version=0.0.4",
                body: b.into(),
                events: args.batch as u64,
            })
            .collect(),
        Mode::PushgatewayBest => vec![Shot {
            post: true,
            url: format!("{base}/metrics/job/bench"),
            content_type: "text/plain; version=0.0.4",
            body: pushgateway_family_body(args.batch).into(),
            events: args.batch as u64,
        }],
        Mode::Query | Mode::Statsd => vec![Shot {
            post: false,
            url: format!("{base}{}", args.path),
            content_type: "text/plain",
            body: actix_web::web::Bytes::new(),
            events: 0,
        }],
    }
}

/// What one connection measured.
struct Tally {
    latency_us: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

/// Runs the HTTP load and reports.
pub fn run(args: &BenchArgs) -> Result<Report, String> {
    let progress = Arc::new(Progress::default());
    let bar = spawn_bar(progress.clone(), args.duration, args.quiet);
    let started = Instant::now();
    let tallies = actix_rt::System::new().block_on(load(args.clone(), progress.clone()));
    let elapsed = started.elapsed();
    progress.done.store(true, Relaxed);
    if let Some(bar) = bar {
        let _ = bar.join();
    }
    let mut latency = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut errors = BTreeMap::new();
    for t in tallies {
        latency.add(&t.latency_us).map_err(|e| e.to_string())?;
        for (k, v) in t.errors {
            *errors.entry(k).or_insert(0) += v;
        }
    }
    let mode = format!("{:?}", args.mode).to_lowercase();
    let (requests, events) = (
        progress.requests.load(Relaxed),
        progress.events.load(Relaxed),
    );
    Ok(Report::new(
        &mode,
        elapsed,
        requests,
        events,
        errors,
        Some(&latency),
    ))
}

async fn load(args: BenchArgs, progress: Arc<Progress>) -> Vec<Tally> {
    let client = Rc::new(
        awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .connector(awc::Connector::new().limit(args.connections))
            .finish(),
    );
    let issued = Rc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.duration;
    let tasks: Vec<_> = (0..args.connections)
        .map(|conn| {
            let (client, issued, progress) = (client.clone(), issued.clone(), progress.clone());
            let args = args.clone();
            actix_rt::spawn(async move {
                connection(conn, &args, &client, &issued, &progress, deadline).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(tally) = t.await {
            out.push(tally);
        }
    }
    out
}

async fn connection(
    conn: usize,
    args: &BenchArgs,
    client: &awc::Client,
    issued: &AtomicU64,
    progress: &Progress,
    deadline: Instant,
) -> Tally {
    let shots = shots(args, conn);
    let mut tally = Tally {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        errors: BTreeMap::new(),
    };
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
                actix_rt::time::sleep(next - now).await;
            }
            next += every;
        }
        // The run-wide request number picks the body: every body (and so every series) is
        // sent before any repeats, however many connections share the run.
        let shot = &shots[n as usize % shots.len()];
        let t0 = Instant::now();
        let result = if shot.post {
            client
                .post(&shot.url)
                .insert_header(("Content-Type", shot.content_type))
                .send_body(shot.body.clone())
                .await
        } else {
            client.get(&shot.url).send().await
        };
        let status = match result {
            Ok(mut resp) => {
                let _ = resp.body().limit(64 << 20).await;
                Ok(resp.status())
            }
            Err(e) => Err(e),
        };
        let micros = t0.elapsed().as_micros() as u64;
        let _ = tally.latency_us.record(micros.clamp(1, 60_000_000));
        progress.requests.fetch_add(1, Relaxed);
        match status {
            Ok(s) if s.is_success() => {
                progress.events.fetch_add(shot.events, Relaxed);
            }
            Ok(s) => {
                progress.errors.fetch_add(1, Relaxed);
                *tally.errors.entry(s.as_u16().to_string()).or_insert(0) += 1;
            }
            Err(_) => {
                progress.errors.fetch_add(1, Relaxed);
                *tally.errors.entry("transport".to_owned()).or_insert(0) += 1;
            }
        }
    }
    tally
}
