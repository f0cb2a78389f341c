//! Shared test support: a real meterd on 127.0.0.1:0 and a small blocking HTTP client.
#![allow(dead_code)]

use meterd::app::{spawn, Options, Running};
use meterd::clock::ManualClock;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub mod child;
pub mod nats;
pub mod peers;
pub mod seed;
pub mod udp;

/// A running server with its own data dir (removed on drop).
pub struct Server {
    pub running: Running,
    pub dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("meterd-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    /// A server with the built-in default pipeline and the system clock.
    pub fn start() -> Self {
        Self::with(|_| {})
    }

    /// A server whose options are adjusted first.
    pub fn with(adjust: impl FnOnce(&mut Options)) -> Self {
        let dir = TempDir::new();
        let mut opts = Options::for_tests(dir.0.join("data"));
        adjust(&mut opts);
        let running = spawn(opts).expect("server starts");
        Server { running, dir }
    }

    /// A server on a manual clock (returned for the test to advance).
    pub fn with_manual_clock() -> (Self, ManualClock) {
        let clock = ManualClock::new();
        let c = clock.clone();
        (Self::with(move |o| o.clock = Arc::new(c)), clock)
    }

    /// A server whose manual clock reads `epoch_ms` (returned for the test to advance), with
    /// its options adjusted first.
    pub fn at(epoch_ms: i64, adjust: impl FnOnce(&mut Options)) -> (Self, ManualClock) {
        let clock = ManualClock::starting_at(epoch_ms);
        let c = clock.clone();
        let server = Self::with(move |o| {
            o.clock = Arc::new(c);
            adjust(o);
        });
        (server, clock)
    }

    /// Stops this server and starts another on the same data directory, its options
    /// adjusted by `adjust`.
    pub fn restart(self, adjust: impl FnOnce(&mut Options)) -> Self {
        let Server { running, dir } = self;
        drop(running);
        let mut opts = Options::for_tests(dir.0.join("data"));
        adjust(&mut opts);
        let running = spawn(opts).expect("server restarts");
        Server { running, dir }
    }

    /// Has the shards hand their closed buckets to the history writer and waits until it
    /// has written them.
    pub fn flush(&self) {
        self.running.flush_history();
    }

    pub fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    /// POSTs `body` with a content type; answers (status, body text).
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> (u16, String) {
        self.post_with(path, content_type, body, &[])
    }

    pub fn post_with(
        &self,
        path: &str,
        ct: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut req = ureq::post(&self.url(path)).set("Content-Type", ct);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        answer(req.send_string(body))
    }

    /// POSTs JSON events; panics unless accepted.
    pub fn push(&self, events: Value) {
        let (status, body) = self.post("/api/v1/events", "application/json", &events.to_string());
        assert_eq!(status, 200, "push refused: {body}");
    }

    /// GETs `path` with an optional Accept; answers (status, content type, body).
    pub fn get(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let mut req = ureq::get(&self.url(path));
        if let Some(a) = accept {
            req = req.set("Accept", a);
        }
        request_full(req.call())
    }

    /// Sends any method.
    pub fn request(&self, method: &str, path: &str) -> (u16, String, String) {
        request_full(ureq::request(method, &self.url(path)).call())
    }

    /// GETs JSON; panics unless 200.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path, Some("application/json"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    let (s, _, b) = request_full(r);
    (s, b)
}

fn request_full(r: Result<ureq::Response, ureq::Error>) -> (u16, String, String) {
    match r {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            let ct = resp.content_type().to_owned();
            (status, ct, resp.into_string().unwrap_or_default())
        }
        Err(e) => panic!("transport error: {e}"),
    }
}

/// Asserts the body is DESIGN.md's JSON error with this code; returns it.
pub fn assert_error(body: &str, code: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["error"]["code"], code, "{body}");
    assert!(v["error"]["message"].is_string(), "{body}");
    v
}

/// Compares `actual` with the golden file `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}
