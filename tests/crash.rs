//! Exact state across `kill -9`: every part of the state (live aggregates, history, open
//! buckets, last sample times) starts again from its own log position, so nothing
//! acknowledged is lost or counted twice in any API.
//!
//! `crash_rounds_match_an_oracle` kills a real `meterd serve` child at random moments under a
//! mixed load and compares it after every restart with an oracle meterd that never crashed
//! and got the same acknowledged batches (`/metrics`, `/admin/metrics`, the application tree,
//! ODSL listings and `/api/query` sum, count, min and max per 10 s bucket). It runs `METERD_CRASH_ROUNDS` rounds (default 8;
//! CI sets 20) and prints its seed (`METERD_CRASH_SEED` replays one). `METERD_CRASH_ONLY`
//! narrows the load while hunting a failure: `put`, `json`, `statsd`, `noreset` (no resets or
//! removals) or `reset` (resets, puts and JSON batches).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::child::Meterd;
use common::TempDir;

/// POSTs `events` as JSON; asserts a 200.
fn push(m: &Meterd, events: &Value) {
    let r = ureq::post(&m.url("/api/v1/events")).send_json(events.clone());
    assert_eq!(r.unwrap().status(), 200);
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn pipeline(dir: &Path, snapshot: &str) -> PathBuf {
    let path = dir.join("pipeline.toml");
    let text = format!(
        "[durability]\nmode = \"interval\"\ninterval = \"5ms\"\nsnapshot_interval = \"{snapshot}\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The one value of `sum:0all-<agg>:<metric>` over the last hour.
fn all_of(m: &Meterd, agg: &str, metric: &str) -> Option<f64> {
    let v = m.get(&format!(
        "/api/query?start=1h-ago&m=sum:0all-{agg}:{metric}"
    ));
    let dps = v.get(0)?.get("dps")?.as_object()?;
    dps.values().next().and_then(Value::as_f64)
}

/// The reports: closed buckets flushed between snapshots were counted twice after
/// `kill -9`; a bucket still open at the last snapshot was lost; Blink found no job whose
/// samples were recent.
#[test]
fn kill_9_keeps_history_open_buckets_and_last_sample_times_exact() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let pipeline = pipeline(&dir.0, "100ms");
    let meterd = Meterd::start(&data, &pipeline);
    let five_minutes_ago = now_ms() - 300_000;
    for _ in 0..6 {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                json!([
                    {"name": "crash.c", "type": "counter", "value": 1, "timestamp": five_minutes_ago},
                    {"name": "crash.h", "type": "histogram", "value": i, "timestamp": five_minutes_ago}
                ])
            })
            .flat_map(|pair| pair.as_array().unwrap().clone())
            .collect();
        push(&meterd, &Value::Array(events));
        // Let a checkpoint (and its history flush) happen between the batches.
        std::thread::sleep(Duration::from_millis(150));
    }
    let t = now_ms();
    let mut blink = Vec::new();
    for i in 0..30 {
        blink.push(
            json!({"name": "blink.proj.job1.delay", "type": "gauge", "value": i,
            "timestamp": t - 60_000 + i * 1_000, "tags": {"tm": "tm1"}}),
        );
    }
    push(&meterd, &Value::Array(blink));
    push(
        &meterd,
        &json!({"name": "open.c", "type": "counter", "value": 1, "timestamp": now_ms()}),
    );
    let before = (
        all_of(&meterd, "sum", "crash.c"),
        all_of(&meterd, "count", "crash.h"),
        all_of(&meterd, "sum", "open.c"),
    );
    assert_eq!(before, (Some(600.0), Some(600.0), Some(1.0)));
    // Snapshots with the open bucket in them, then the kill.
    std::thread::sleep(Duration::from_millis(350));
    meterd.kill9();

    let meterd = Meterd::start(&data, &pipeline);
    let after = (
        all_of(&meterd, "sum", "crash.c"),
        all_of(&meterd, "count", "crash.h"),
        all_of(&meterd, "sum", "open.c"),
    );
    assert_eq!(after, before, "history counts every event once");
    let body = json!({"start": t - 120_000, "end": t + 5_000, "queries": [{
        "downsample": "30s-avg", "metric": "blink.proj.job1.delay", "aggregator": "max",
        "tags": {"tm": "*"}}]});
    let r = ureq::post(&meterd.url("/api/v2/projects/proj/jobs/job1/metric")).send_json(body);
    assert!(r.is_ok(), "Blink finds the job after kill -9: {r:?}");
}

/// Buckets close with time alone, so checkpoints follow each other at one log position. Each
/// numbers its flushes above the last one's: a shard whose first flush comes after another
/// shard flushed twice at one position used to get a number the history store held already,
/// and its buckets were skipped (the oracle of `crash_rounds_match_an_oracle` lost them
/// while idle during the victim's restarts).
#[test]
fn flushes_of_checkpoints_at_one_position_all_reach_the_store() {
    use common::Server;
    use meterd::model::{Scope, SeriesKey};
    let start = 1_700_000_000_000 / 60_000 * 60_000 + 5_000;
    let two_shards = || meterd::config::Pipeline::parse("shards = 2", "t").unwrap();
    let (server, clock) = Server::at(start, |o| o.pipeline = two_shards());
    let shard = |name: &str| {
        let key = SeriesKey::simple(Scope::Application, name, vec![]);
        meterd::collector::shard_of(&key, 2)
    };
    let other = (0..)
        .map(|i| format!("late.{i}"))
        .find(|n| shard(n) != shard("early"))
        .unwrap();
    let count = |server: &Server, name: &str| {
        let v = server.get_json(&format!("/api/query?start=1h-ago&m=sum:0all-count:{name}"));
        v[0]["dps"]
            .as_object()
            .and_then(|d| d.values().next()?.as_f64())
    };
    server.push(json!({"name": "early", "type": "gauge", "value": 1, "timestamp": start}));
    // The 10 s bucket closes and is flushed at the log's position, then the 1 min one: the
    // same shard flushes twice while the log stays where it was.
    clock.advance(Duration::from_secs(10));
    server.flush();
    clock.advance(Duration::from_secs(60));
    server.flush();
    // A late sample (straight to a closed bucket) on the other shard: its first flush.
    server.push(json!({"name": other, "type": "gauge", "value": 5, "timestamp": start}));
    server.flush();
    assert_eq!(count(&server, "early"), Some(1.0));
    assert_eq!(
        count(&server, &other),
        Some(1.0),
        "{other} reaches the store"
    );
    let server = server.restart(|o| {
        o.clock = std::sync::Arc::new(clock.clone());
        o.pipeline = two_shards();
    });
    assert_eq!(
        (count(&server, "early"), count(&server, &other)),
        (Some(1.0), Some(1.0)),
        "read back from the store"
    );
}

/// The ODSL entities of provider `shop`, metric `orders`: (id, value, timestamp).
fn orders(m: &Meterd) -> Vec<(String, f64, String)> {
    let list = m.get("/api/metric/v1?provider=shop&metric=orders&_limit=10000");
    let mut out: Vec<(String, f64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["_id"].as_str().unwrap().to_owned(),
                e["value"].as_f64().unwrap(),
                e["timestamp"].to_string(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// ODSL entities live in their own file: a clean restart keeps them with their ids; after
/// `kill -9` the ones not written yet come back from the log, with new ids that still sort
/// after the older ones; none is doubled.
#[test]
fn odsl_entities_survive_restarts_with_unique_ordered_ids() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let pipeline = pipeline(&dir.0, "100ms");
    let push = |m: &Meterd, from: usize, n: usize| {
        let events: Vec<Value> = (from..from + n)
            .map(|i| {
                json!({"name": "orders", "type": "counter", "value": i, "service": "shop",
                "timestamp": now_ms()})
            })
            .collect();
        push(m, &Value::Array(events));
    };
    let meterd = Meterd::start(&data, &pipeline);
    push(&meterd, 0, 50);
    let before = orders(&meterd);
    assert_eq!(before.len(), 50);
    meterd.terminate();

    let meterd = Meterd::start(&data, &pipeline);
    assert_eq!(
        orders(&meterd),
        before,
        "a clean restart keeps every entity and id"
    );
    // Written to the file (every second), then more that are only in the log at the kill.
    std::thread::sleep(Duration::from_millis(1_200));
    push(&meterd, 50, 10);
    meterd.kill9();

    let meterd = Meterd::start(&data, &pipeline);
    let after = orders(&meterd);
    assert_eq!(after.len(), 60, "{after:?}");
    assert_eq!(&after[..50], &before[..], "the older ones keep their ids");
    let mut values: Vec<f64> = after.iter().map(|e| e.1).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, (0..60).map(f64::from).collect::<Vec<_>>());
    meterd.kill9();
    let meterd = Meterd::start(&data, &pipeline);
    assert_eq!(
        orders(&meterd),
        after,
        "a second start replays nothing twice"
    );
}

/// A small deterministic generator (the seed is printed, so a failing round can be replayed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One request of the mixed load: method, path, content type and body.
#[derive(Clone, Debug)]
struct Step {
    method: &'static str,
    path: String,
    body: String,
}

impl Step {
    fn json(path: &str, body: Value) -> Step {
        Step {
            method: "POST",
            path: path.to_owned(),
            body: body.to_string(),
        }
    }

    /// Sends it; `None` when no answer came (the kill).
    fn send(&self, m: &Meterd) -> Option<u16> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        let req = agent.request(self.method, &m.url(&self.path));
        let r = if self.body.is_empty() {
            req.call()
        } else {
            req.set("Content-Type", "application/json")
                .send_string(&self.body)
        };
        match r {
            Ok(r) => Some(r.status()),
            Err(ureq::Error::Status(code, _)) => Some(code),
            Err(_) => None,
        }
    }
}

const COUNTERS: [&str; 3] = ["crash.c0", "crash.c1", "crash.c2"];
const GAUGES: [&str; 2] = ["crash.g0", "crash.g1"];
const HISTOGRAMS: [&str; 2] = ["crash.h0", "crash.h1"];
const TIMERS: [&str; 1] = ["crash.t0"];
const STATSD: [&str; 2] = ["crash.sd.c", "crash.sd.t"];
const PUT: [&str; 1] = ["crash.put"];

/// A timestamp in a closed bucket (minutes ago) or in the open one (now), in epoch ms.
fn stamp(rng: &mut Lcg, now: i64) -> i64 {
    if rng.below(2) == 0 {
        now - 60_000 - rng.below(240_000) as i64
    } else {
        now
    }
}

/// The next request of the mixed load.
fn next_step(rng: &mut Lcg) -> Step {
    let now = now_ms();
    let pick = match std::env::var("METERD_CRASH_ONLY").ok().as_deref() {
        Some("put") => 5,
        Some("json") => 10,
        Some("statsd") => 3,
        Some("noreset") => 2 + rng.below(18),
        Some("reset") => [0, 5, 10][rng.below(3) as usize],
        _ => rng.below(20),
    };
    match pick {
        0 => Step {
            method: "GET",
            path: "/admin/metrics?reset=true".into(),
            body: String::new(),
        },
        1 => Step {
            method: "DELETE",
            path: format!("/api/v1/series?name={}", GAUGES[rng.below(2) as usize]),
            body: String::new(),
        },
        2..=4 => {
            let lines: Vec<String> = (0..10)
                .map(|_| {
                    let ts = stamp(rng, now) / 1000;
                    match rng.below(2) {
                        0 => format!("{}:{}|c|T{ts}", STATSD[0], 1 + rng.below(5)),
                        _ => format!("{}:{}|ms|T{ts}", STATSD[1], rng.below(500)),
                    }
                })
                .collect();
            Step {
                method: "POST",
                path: "/api/v1/statsd".into(),
                body: lines.join("\n"),
            }
        }
        5..=6 => {
            let points: Vec<Value> = (0..10)
                .map(|i| {
                    json!({"metric": PUT[0], "timestamp": stamp(rng, now) / 1000 - i,
                        "value": rng.below(1000), "tags": {"host": format!("h{}", rng.below(3))}})
                })
                .collect();
            Step::json("/api/put", Value::Array(points))
        }
        _ => {
            let events: Vec<Value> = (0..30)
                .map(|_| {
                    let ts = stamp(rng, now);
                    let v = rng.below(1000) as f64 / 4.0;
                    match rng.below(4) {
                        0 => json!({"name": COUNTERS[rng.below(3) as usize], "type": "counter",
                            "value": v, "timestamp": ts, "tags": {"k": format!("v{}", rng.below(2))}}),
                        1 => json!({"name": GAUGES[rng.below(2) as usize], "type": "gauge",
                            "value": v - 100.0, "timestamp": ts}),
                        2 => json!({"name": HISTOGRAMS[rng.below(2) as usize], "type": "histogram",
                            "value": v, "timestamp": ts}),
                        _ => json!({"name": TIMERS[0], "type": "timer", "value": v, "timestamp": ts}),
                    }
                })
                .collect();
            Step::json("/api/v1/events", Value::Array(events))
        }
    }
}

/// Drops what moves with time alone (rates) from a JSON tree.
fn without_rates(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|k, _| !k.to_lowercase().contains("rate"));
        for (_, child) in map.iter_mut() {
            *child = without_rates(child.take());
        }
    }
    v
}

/// What every API answers about the load: `/metrics` lines, `/admin/metrics`, the
/// application tree, and `/api/query` sum, count, min and max per 10 s bucket of every name.
fn observe(m: &Meterd, (start, end): (i64, i64)) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let text = ureq::get(&m.url("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(":crash_") && !l.starts_with('#') && !l.contains("rate"))
        .collect();
    out.push(("/metrics".to_owned(), lines.join("\n")));
    // The pushed series only: meterd's own traffic counts differ between the two.
    let mut admin = m.get("/admin/metrics")["services"]["default-service"]["subservs"].clone();
    if let Some(subservs) = admin.as_object_mut() {
        for (_, series) in subservs.iter_mut() {
            if let Some(map) = series.as_object_mut() {
                map.retain(|k, _| k.starts_with("crash."));
            }
        }
    }
    out.push((
        "/admin/metrics".to_owned(),
        without_rates(admin).to_string(),
    ));
    let app = ureq::get(&m.url("/metrics/application"))
        .set("Accept", "application/json")
        .call()
        .unwrap();
    let app = if app.status() == 204 {
        json!({})
    } else {
        app.into_json().unwrap()
    };
    out.push((
        "/metrics/application".to_owned(),
        without_rates(app).to_string(),
    ));
    // ODSL listings: the newest entities of a few series, without their ids (entities
    // captured again from the log after a crash get new ones).
    for name in [COUNTERS[0], GAUGES[0], STATSD[0], PUT[0]] {
        let list = m.get(&format!("/api/metric/v1?metric={name}&_limit=300"));
        let mut entities: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.as_object_mut().unwrap().remove("_id");
                e.to_string()
            })
            .collect();
        entities.sort();
        out.push((format!("/api/metric/v1 {name}"), entities.join("\n")));
    }
    let names = COUNTERS
        .iter()
        .chain(&GAUGES)
        .chain(&HISTOGRAMS)
        .chain(&TIMERS)
        .chain(&STATSD)
        .chain(&PUT);
    for name in names {
        for agg in ["sum", "count", "min", "max"] {
            let path = format!("/api/query?start={start}&end={end}&m=sum:10s-{agg}:{name}");
            let answer = ureq::get(&m.url(&path)).call();
            let body = match answer {
                Ok(r) => r.into_string().unwrap(),
                Err(ureq::Error::Status(code, _)) => format!("status {code}"),
                Err(e) => panic!("{path}: {e}"),
            };
            out.push((path, body));
        }
    }
    out
}

/// The first API whose answers differ, if any.
fn first_difference(a: &[(String, String)], b: &[(String, String)]) -> Option<String> {
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("{}:\n  crashed: {}\n  oracle:  {}", x.0, x.1, y.1))
}

#[test]
fn crash_rounds_match_an_oracle() {
    let rounds: usize = std::env::var("METERD_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("METERD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() as u64 ^ u64::from(std::process::id()));
    println!("crash test: {rounds} rounds, METERD_CRASH_SEED={seed}");
    let mut rng = Lcg(seed);
    let dir = TempDir::new();
    // Short snapshot intervals: kills land before, during and after snapshots and flushes.
    let pipeline = pipeline(&dir.0, "60ms");
    let oracle = Meterd::start(&dir.0.join("oracle"), &pipeline);
    let data = dir.0.join("victim");
    let mut victim = Meterd::start(&data, &pipeline);
    for round in 0..rounds {
        let pid = victim.child.id();
        let kill_after = Duration::from_millis(50 + rng.below(700));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(kill_after);
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut in_flight = None;
        while Instant::now() < deadline {
            let step = next_step(&mut rng);
            match step.send(&victim) {
                Some(status) => {
                    let again = step.send(&oracle);
                    assert_eq!(again, Some(status), "round {round}: {step:?}");
                }
                None => {
                    in_flight = Some(step);
                    break;
                }
            }
        }
        killer.join().unwrap();
        victim.kill9();
        victim = Meterd::start(&data, &pipeline);
        // One range for both (closed and open buckets), aligned to the 10 s buckets.
        let now = now_ms() / 1000;
        let range = (now - now % 10 - 600, now + 60);
        let mut crashed = observe(&victim, range);
        let mut expected = observe(&oracle, range);
        let mut without = None;
        if let (Some(diff), Some(step)) = (first_difference(&crashed, &expected), &in_flight) {
            // The request in flight at the kill counts wholly or not at all, in every API.
            without = Some(diff);
            step.send(&oracle);
            expected = observe(&oracle, range);
            crashed = observe(&victim, range);
        }
        if let Some(diff) = first_difference(&crashed, &expected) {
            panic!(
                "round {round} (seed {seed}, in flight: {in_flight:?}): {diff}\n\
                 without the request in flight: {without:?}"
            );
        }
    }
}
