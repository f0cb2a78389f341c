//! Accepted means durable: a real `meterd serve` child process under concurrent ingest is
//! killed with SIGKILL at random moments and restarted on the same data dir, and every
//! acknowledged event is still there; a graceful restart (SIGTERM) changes nothing; a torn
//! log tail is cut off, never fatal.

mod common;

use common::child::Meterd;
use common::TempDir;
use meterd::app::{spawn, Options};
use meterd::model::{Event, Kind, Op, Scope, SeriesKey};
use meterd::persist::{create_segment, frame, segment_path, wal_dir, RecordRef};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The application scope as JSON (`{}` while it is empty).
fn app_json(m: &Meterd) -> Value {
    let resp = ureq::get(&m.url("/metrics/application"))
        .set("Accept", "application/json")
        .call();
    match resp {
        Ok(r) if r.status() == 204 => json!({}),
        Ok(r) => r.into_json().unwrap(),
        Err(e) => panic!("read failed: {e}"),
    }
}

/// One vendor-scope reading.
fn vendor(m: &Meterd, name: &str) -> f64 {
    m.get(&format!("/metrics/vendor/{name}"))[name]
        .as_f64()
        .unwrap()
}

fn pipeline_file(dir: &Path, mode: &str) -> PathBuf {
    let path = dir.join(format!("pipeline-{mode}.toml"));
    let text = format!(
        "[durability]\nmode = \"{mode}\"\ninterval = \"5ms\"\nsnapshot_interval = \"150ms\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A small deterministic generator (no dependency needed for picking moments).
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

const CLIENTS: usize = 3;
const BATCH: usize = 40;

/// One client pushing batches of `BATCH` counter increments and as many histogram values to
/// its own series until told to stop; answers (acknowledged events, events sent but not
/// acknowledged).
fn client(url: String, id: usize, stop: Arc<AtomicBool>) -> (u64, u64) {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build();
    let mut events = Vec::new();
    for i in 0..BATCH {
        events.push(json!({"name": format!("crash.c{id}"), "type": "counter", "value": 1}));
        events.push(json!({"name": format!("crash.h{id}"), "type": "histogram", "value": i}));
    }
    let body = Value::Array(events).to_string();
    let (mut acked, mut unacked) = (0, 0);
    for _ in 0..20_000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match agent
            .post(&url)
            .set("Content-Type", "application/json")
            .send_string(&body)
        {
            Ok(r) if r.status() == 200 => acked += BATCH as u64,
            Ok(r) => panic!("unexpected answer {}", r.status()),
            // 503 (busy) is a refusal, nothing applied; a transport error is the kill.
            Err(ureq::Error::Status(503, _)) => {}
            Err(_) => {
                unacked += BATCH as u64;
                break;
            }
        }
    }
    (acked, unacked)
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_event() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let modes = ["fsync", "interval", "none"];
    let seed = common::seed::Seed::for_test("kill_9_at_random_moments");
    let mut rng = Lcg(seed.value);
    // What the state must hold: at least the acknowledged events, at most those plus the
    // ones in flight at the kill.
    let mut at_least = [0u64; CLIENTS];
    let mut at_most = [0u64; CLIENTS];
    for round in 0..5 {
        let pipeline = pipeline_file(&dir.0, modes[round % modes.len()]);
        let meterd = Meterd::start(&data, &pipeline);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (url, stop) = (meterd.url("/api/v1/events"), stop.clone());
                std::thread::spawn(move || client(url, id, stop))
            })
            .collect();
        // Kill at a random moment: sometimes before the first snapshot, sometimes after several.
        std::thread::sleep(Duration::from_millis(30 + rng.below(600)));
        meterd.kill9();
        stop.store(true, Ordering::Relaxed);
        for (id, c) in clients.into_iter().enumerate() {
            let (acked, unacked) = c.join().unwrap();
            at_least[id] += acked;
            at_most[id] += acked + unacked;
        }

        let meterd = Meterd::start(&data, &pipeline);
        let state = app_json(&meterd);
        for id in 0..CLIENTS {
            let count = state[format!("crash.c{id}")].as_f64().unwrap_or(0.0) as u64;
            let hist = state[format!("crash.h{id}")]["count"].as_u64().unwrap_or(0);
            assert!(
                (at_least[id]..=at_most[id]).contains(&count),
                "round {round} client {id}: {count} events recovered, {} acknowledged, {} sent",
                at_least[id],
                at_most[id]
            );
            assert_eq!(hist, count, "batches are atomic across a crash too");
            // What survived is the new baseline.
            at_least[id] = count;
            at_most[id] = count;
        }
        meterd.kill9();
    }
    assert!(
        at_least.iter().all(|&n| n > 0),
        "every client got events in"
    );
}

fn all_kinds() -> Value {
    // An hour ago: within every tier's retention, and older than arrival.
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000;
    json!([
        {"name": "g.c", "type": "counter", "value": 5, "unit": "bytes", "description": "a counter"},
        {"name": "g.c", "type": "counter", "value": 2.5, "tags": {"k": "v"}},
        {"name": "g.g", "type": "gauge", "value": -4, "timestamp": an_hour_ago},
        {"name": "g.m", "type": "meter", "value": 3, "displayName": "Meter"},
        {"name": "g.h", "type": "histogram", "value": 10},
        {"name": "g.h", "type": "histogram", "value": -3},
        {"name": "g.h", "type": "histogram", "value": 1_000_000},
        {"name": "g.t", "type": "timer", "value": 250, "unit": "milliseconds"},
        {"name": "g.t", "type": "timer", "value": 40},
        {"name": "g.c", "type": "counter", "value": 1, "service": "tenant_a", "servicePath": "/x/y"}
    ])
}

/// Drops what moves with time alone (rates) from a JSON tree.
fn without_rates(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|k, _| !k.contains("Rate"));
        for (_, child) in map.iter_mut() {
            *child = without_rates(child.take());
        }
    }
    v
}

#[test]
fn graceful_restart_changes_nothing() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let pipeline = pipeline_file(&dir.0, "interval");
    let meterd = Meterd::start(&data, &pipeline);
    let pushed_from = Instant::now();
    let resp = ureq::post(&meterd.url("/api/v1/events")).send_json(all_kinds());
    assert_eq!(resp.unwrap().status(), 200);
    let pushed_by = Instant::now();
    let read = |m: &Meterd| {
        let options = ureq::request("OPTIONS", &m.url("/metrics/application"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        (without_rates(app_json(m)), options)
    };
    let before = read(&meterd);
    meterd.terminate();

    let meterd = Meterd::start(&data, &pipeline);
    let read_from = Instant::now();
    let mean_rate = app_json(&meterd)["g.m"]["meanRate"].as_f64().unwrap();
    let read_by = Instant::now();
    // The meter keeps its age across the restart: 3 marks over the time since the push
    // (the time stopped included), not since the new process started.
    let (shortest, longest) = (read_from - pushed_by, read_by - pushed_from);
    assert!(
        mean_rate >= 3.0 / longest.as_secs_f64() && mean_rate <= 3.0 / shortest.as_secs_f64(),
        "meanRate {mean_rate} for 3 marks {shortest:?} to {longest:?} ago"
    );
    assert_eq!(read(&meterd), before);
    assert_eq!(
        vendor(&meterd, "meterd.wal.replayed"),
        0.0,
        "the shutdown snapshot covers everything"
    );
    assert_eq!(vendor(&meterd, "meterd.series"), 7.0);
    // Types survive too: a conflicting type is still refused.
    let conflict = ureq::post(&meterd.url("/api/v1/events"))
        .send_json(json!({"name": "g.c", "type": "gauge", "value": 1}));
    assert!(matches!(conflict, Err(ureq::Error::Status(409, _))));
    meterd.terminate();
}

/// A clean stop (SIGTERM) runs the last flush and snapshot with every actor alive: nothing is
/// left for the next start to replay, and what open buckets held is in history after it.
#[test]
fn sigterm_takes_the_last_snapshot_with_the_actors_alive() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let pipeline = dir.0.join("pipeline-slow.toml");
    // No periodic snapshot during the test: only the one at shutdown.
    std::fs::write(&pipeline, "[durability]\nsnapshot_interval = \"1h\"\n").unwrap();
    let log = dir.0.join("meterd.log");
    let meterd = Meterd::start_logging(&data, &pipeline, Some(&log));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let events = json!([
        {"name": "term.c", "type": "counter", "value": 3, "timestamp": now},
        {"name": "term.c", "type": "counter", "value": 4, "timestamp": now - 300_000}
    ]);
    ureq::post(&meterd.url("/api/v1/events"))
        .send_json(events)
        .unwrap();
    let start = now / 1000 - 3600;
    let query = |m: &Meterd| -> Value {
        let url = m.url(&format!("/api/query?start={start}&m=sum:0all-sum:term.c"));
        ureq::get(&url).call().unwrap().into_json().unwrap()
    };
    let before = query(&meterd);
    meterd.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("the collector is gone") && !text.contains("snapshot failed"),
        "{text}"
    );
    assert!(text.contains("state snapshotted"), "{text}");

    let meterd = Meterd::start(&data, &pipeline);
    assert_eq!(
        vendor(&meterd, "meterd.wal.replayed"),
        0.0,
        "the shutdown snapshot covers everything"
    );
    let after = query(&meterd);
    assert_eq!(after, before);
    let total = after[0]["dps"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .and_then(Value::as_f64);
    assert_eq!(total, Some(7.0));
    meterd.terminate();
}

fn counter(name: &str, value: f64) -> Event {
    Event {
        key: SeriesKey::simple(Scope::Application, name, vec![]),
        kind: Kind::Counter,
        value,
        op: Op::Observe,
        timestamp_ms: 1_700_000_000_000,
        meta: None,
    }
}

#[test]
fn a_torn_log_tail_is_cut_off_and_the_rest_replayed() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let wal = wal_dir(&data);
    std::fs::create_dir_all(&wal).unwrap();
    {
        let mut seg = create_segment(&wal, 1).unwrap();
        for (position, v) in [(1, 1.0), (2, 2.0)] {
            let rec = frame(
                position,
                &RecordRef::Batch {
                    admitted_ms: 1_700_000_000_000,
                    events: &[counter("torn.c", v)],
                },
            );
            seg.write_all(&rec).unwrap();
        }
        let last = frame(
            3,
            &RecordRef::Batch {
                admitted_ms: 1_700_000_000_000,
                events: &[counter("torn.c", 100.0)],
            },
        );
        // The crash cut the third record's write short.
        seg.write_all(&last[..last.len() - 3]).unwrap();
    }
    let torn_len = std::fs::metadata(segment_path(&wal, 1)).unwrap().len();

    let opts = Options::for_tests(data.clone());
    let server = spawn(opts).expect("a torn tail does not stop start-up");
    let v: Value = ureq::get(&server.url("/metrics/application/torn.c"))
        .set("Accept", "application/json")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(v["torn.c"], 3.0);
    // And the server takes new events after it.
    let ok = ureq::post(&server.url("/api/v1/events"))
        .send_json(json!({"name": "torn.c", "type": "counter", "value": 4}))
        .unwrap();
    assert_eq!(ok.status(), 200);
    drop(server);
    // The torn segment was cut on disk (or already folded into a snapshot and deleted).
    let seg = segment_path(&wal, 1);
    assert!(!seg.exists() || std::fs::metadata(&seg).unwrap().len() < torn_len);

    let server = spawn(Options::for_tests(data)).unwrap();
    let v: Value = ureq::get(&server.url("/metrics/application/torn.c"))
        .set("Accept", "application/json")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(v["torn.c"], 7.0);
}

#[test]
fn a_restart_with_another_shard_count_keeps_every_series() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let with_shards = |n: usize| {
        let mut opts = Options::for_tests(data.clone());
        opts.pipeline = meterd::config::Pipeline::parse(&format!("shards = {n}"), "t").unwrap();
        spawn(opts).unwrap()
    };
    let events: Vec<Value> = (0..200)
        .map(|i| json!({"name": "sh.c", "type": "counter", "value": i, "tags": {"i": (i % 40).to_string()}}))
        .collect();
    let read = |server: &meterd::app::Running| -> Value {
        ureq::get(&server.url("/metrics/application/sh.c"))
            .set("Accept", "application/json")
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    };
    let server = with_shards(1);
    ureq::post(&server.url("/api/v1/events"))
        .send_json(Value::Array(events))
        .unwrap();
    let before = read(&server);
    assert_eq!(before.as_object().unwrap().len(), 40);
    drop(server);
    let server = with_shards(4);
    assert_eq!(read(&server), before);
    // New events for the old series land on the series (one per key, whatever the shard).
    ureq::post(&server.url("/api/v1/events"))
        .send_json(json!({"name": "sh.c", "type": "counter", "value": 1, "tags": {"i": "0"}}))
        .unwrap();
    let after = read(&server);
    assert_eq!(after.as_object().unwrap().len(), 40);
    assert_eq!(
        after["sh.c;i=0"].as_f64().unwrap(),
        before["sh.c;i=0"].as_f64().unwrap() + 1.0
    );
}
