//! Protection: back-pressure with tiny queues (503 with Retry-After, nothing half-applied),
//! every limit of `[limits]`, idle expiry on a manual clock, and removal on purpose.

mod common;

use common::{assert_error, Server};
use meterd::config::Pipeline;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn pipeline(text: &str) -> Pipeline {
    Pipeline::parse(text, "test").unwrap()
}

fn vendor(server: &Server, name: &str) -> f64 {
    server.get_json(&format!("/metrics/vendor/{name}"))[name]
        .as_f64()
        .unwrap()
}

fn app(server: &Server) -> Value {
    let (status, _, body) = server.get("/metrics/application", Some("application/json"));
    if status == 204 {
        return json!({});
    }
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The sum of every series of `name` in a MicroProfile JSON answer (keys `name;k=v...`).
fn sum_of(v: &Value, name: &str) -> f64 {
    let prefix = format!("{name};");
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k == name || k.starts_with(&prefix))
        .map(|(_, v)| v.as_f64().unwrap())
        .sum()
}

fn push_to(server: &Server, service: &str, names: &[&str]) -> (u16, String) {
    let events: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "type": "counter", "value": 1, "service": service}))
        .collect();
    server.post(
        "/api/v1/events",
        "application/json",
        &Value::Array(events).to_string(),
    )
}

#[test]
fn tiny_queues_answer_503_with_retry_after_and_apply_nothing_half() {
    tiny_queues("fsync");
}

/// Under "interval" the collector writes its turn's records itself: its own queue is what
/// pushes back.
#[test]
fn tiny_queues_push_back_when_the_collector_writes_the_log_itself() {
    tiny_queues("interval");
}

fn tiny_queues(mode: &str) {
    let server = Server::with(|o| {
        o.pipeline = pipeline(&format!(
            "[queues]\ncollector = 1\nshard = 1\nwal = 1\n[durability]\nmode = \"{mode}\"\n"
        ));
        o.workers = 4;
    });
    let url = server.url("/api/v1/events");
    let events: Vec<Value> = (0..300)
        .map(|i| json!({"name": "bp.c", "type": "counter", "value": 1, "tags": {"i": (i % 50).to_string()}}))
        .collect();
    let body = Value::Array(events).to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || {
                let (mut ok, mut busy) = (0u64, 0u64);
                for _ in 0..300 {
                    if Instant::now() > deadline || busy >= 5 {
                        break;
                    }
                    match ureq::post(&url)
                        .set("Content-Type", "application/json")
                        .send_string(&body)
                    {
                        Ok(r) => {
                            assert_eq!(r.status(), 200);
                            ok += 1;
                        }
                        Err(ureq::Error::Status(503, r)) => {
                            assert_eq!(r.header("Retry-After"), Some("1"));
                            let text = r.into_string().unwrap();
                            assert_error(&text, "busy");
                            busy += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, busy)
            })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for c in clients {
        let (o, b) = c.join().unwrap();
        ok += o;
        busy += b;
    }
    assert!(
        busy > 0,
        "tiny queues must refuse some of {} requests",
        ok + busy
    );
    assert!(ok > 0);
    // Every accepted batch whole, every refused one not at all.
    assert_eq!(sum_of(&app(&server), "bp.c"), (ok * 300) as f64);
    assert_eq!(vendor(&server, "meterd.refused.busy"), busy as f64);
    let (status, _, _) = server.get("/-/healthy", None);
    assert_eq!(status, 200);
}

#[test]
fn series_limits_refuse_new_series_whole_and_keep_old_ones_working() {
    let server = Server::with(|o| {
        o.pipeline = pipeline("[limits]\nmax_series = 5\nmax_series_per_service = 3\n");
    });
    assert_eq!(push_to(&server, "a", &["x", "y", "z"]).0, 200);
    // A fourth series in service a: the whole batch is refused, the old series too.
    let (status, body) = push_to(&server, "a", &["x", "w"]);
    assert_eq!(status, 429);
    let err = assert_error(&body, "series_limit");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_series_per_service = 3"), "{message}");
    assert!(message.contains("\"a\""), "{message}");
    // Existing series keep working.
    assert_eq!(push_to(&server, "a", &["x", "x"]).0, 200);
    assert_eq!(push_to(&server, "b", &["x", "y"]).0, 200);
    let (status, body) = push_to(&server, "c", &["x"]);
    assert_eq!(status, 429);
    assert!(body.contains("max_series = 5"), "{body}");

    // meterd's own metrics never count: base and vendor are there, yet only 5 series count.
    assert_eq!(vendor(&server, "meterd.series"), 5.0);
    assert_eq!(vendor(&server, "meterd.refused.series_limit"), 2.0);
    let x = server.get_json("/metrics/application/x");
    assert_eq!(
        sum_of(&x, "x"),
        4.0,
        "1 + 2 in a, 1 in b, none of the refused batches: {x}"
    );

    // Removing series on purpose makes room.
    let (status, _, body) = server.request("DELETE", "/api/v1/series?service=a&name=y");
    assert_eq!((status, body.as_str()), (200, r#"{"removed":1}"#));
    assert_eq!(push_to(&server, "c", &["x"]).0, 200);
    assert_eq!(vendor(&server, "meterd.series.removed"), 1.0);
    let (status, _, body) = server.request("DELETE", "/api/v1/series");
    assert_eq!(status, 400);
    assert_error(&body, "bad_request");
}

#[test]
fn series_of_another_scope_are_removed_by_naming_it() {
    let server = Server::start();
    // Series pushed to another scope are removed by naming it.
    server.push(serde_json::json!({"name": "v.s", "type": "gauge", "value": 1, "scope": "vendor"}));
    let (status, _, body) = server.request("DELETE", "/api/v1/series?name=v.s");
    assert_eq!((status, body.as_str()), (200, r#"{"removed":0}"#));
    let (status, _, body) = server.request("DELETE", "/api/v1/series?name=v.s&scope=vendor");
    assert_eq!((status, body.as_str()), (200, r#"{"removed":1}"#));
    let (status, _, body) = server.request("DELETE", "/api/v1/series?name=v.s&scope=global");
    assert_eq!(status, 400);
    assert_error(&body, "bad_scope");
}

#[test]
fn tags_names_and_bodies_are_limited() {
    let server = Server::with(|o| {
        o.pipeline =
            pipeline("[limits]\nmax_tags = 2\nmax_name_bytes = 10\nmax_body_bytes = 300\n");
    });
    let post = |v: Value| server.post("/api/v1/events", "application/json", &v.to_string());
    let (s, b) =
        post(json!({"name": "t", "type": "counter", "tags": {"a": "1", "b": "2", "c": "3"}}));
    assert_eq!(s, 400);
    assert!(b.contains("at most 2"), "{b}");
    let (s, _) = post(json!({"name": "t", "type": "counter", "tags": {"a": "1", "b": "2"}}));
    assert_eq!(s, 200);
    let (s, b) = post(json!({"name": "abcdefghijk", "type": "counter"}));
    assert_eq!(s, 400);
    assert_error(&b, "invalid_batch");
    assert_eq!(
        post(json!({"name": "abcdefghij", "type": "counter"})).0,
        200
    );
    let big: Vec<Value> = (0..20)
        .map(|_| json!({"name": "t", "type": "counter"}))
        .collect();
    let (s, b) = post(Value::Array(big));
    assert_eq!(s, 413);
    assert_error(&b, "body_too_large");
    assert_eq!(vendor(&server, "meterd.refused.body_size"), 1.0);
    assert_eq!(vendor(&server, "meterd.events.rejected"), 2.0);
}

#[test]
fn a_body_too_large_is_a_rejected_batch_only_on_ingest_routes() {
    let server = Server::with(|o| {
        o.pipeline = pipeline("[limits]\nmax_body_bytes = 300\n");
    });
    let padding = " ".repeat(400);
    let reads = [
        "/api/query",
        "/api/suggest",
        "/api/v2/projects/p/jobs/j/metric",
    ];
    for (i, path) in reads.into_iter().enumerate() {
        let (s, b) = server.post(path, "application/json", &format!("{{{padding}}}"));
        assert_eq!(s, 413, "{path}: {b}");
        assert!(b.contains("larger than the limit"), "{path}: {b}");
        assert_eq!(vendor(&server, "meterd.refused.body_size"), (i + 1) as f64);
        assert_eq!(
            vendor(&server, "meterd.batches.rejected"),
            0.0,
            "a query is no batch: {path}"
        );
    }
    let ingest = [
        ("/api/v1/events", "application/json"),
        ("/api/v1/statsd", "text/plain"),
        ("/api/put", "application/json"),
    ];
    for (i, (path, content_type)) in ingest.into_iter().enumerate() {
        let (s, b) = server.post(path, content_type, &format!("[{padding}]"));
        assert_eq!(s, 413, "{path}: {b}");
        assert_eq!(
            vendor(&server, "meterd.batches.rejected"),
            (i + 1) as f64,
            "{path}"
        );
    }
}

#[test]
fn idle_series_expire_on_the_manual_clock() {
    let (server, clock) = {
        let clock = meterd::clock::ManualClock::starting_at(1_700_000_000_000);
        let c = clock.clone();
        let server = Server::with(move |o| {
            o.clock = c.shared();
            o.pipeline = pipeline(
                "[limits]\nseries_ttl = \"1h\"\n[[rules]]\nmatch = \"short.*\"\nseries_ttl = \"1m\"\n\
                 [[rules]]\nmatch = \"witness.*\"\nseries_ttl = \"30s\"\n",
            );
        });
        (server, clock)
    };
    // Each `witness.*` series (30 s) is due before the series under test: once it is gone, a
    // sweep has run at the clock's new time, and what is still there was kept by that sweep.
    server.push(json!([
        {"name": "short.a", "type": "counter"},
        {"name": "long", "type": "gauge", "value": 3},
        {"name": "witness.a", "type": "counter"}
    ]));
    let wait_for = |what: &str, check: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = app(&server);
            if check(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    clock.advance(Duration::from_secs(59));
    let v = wait_for("a sweep at 59 s removes the witness", &|v| {
        v.get("witness.a").is_none()
    });
    assert!(
        v.get("short.a").is_some(),
        "short.a is not due at 59 s: {v}"
    );
    assert_eq!(vendor(&server, "meterd.series.expired"), 1.0);
    server.push(json!([
        {"name": "long", "type": "gauge", "value": 4},
        {"name": "witness.b", "type": "counter"}
    ]));
    clock.advance(Duration::from_secs(1));
    let v = wait_for("short.a expires after its rule's 1m", &|v| {
        v.get("short.a").is_none()
    });
    assert_eq!(v["long"], 4.0);
    assert!(
        v.get("witness.b").is_some(),
        "witness.b is due at 89 s: {v}"
    );
    assert_eq!(vendor(&server, "meterd.series.expired"), 2.0);
    // `long` got an event 59 s in: it goes one hour after that, not before.
    clock.advance(Duration::from_secs(3600 - 2));
    let v = wait_for("a sweep at 3658 s removes the witness", &|v| {
        v.get("witness.b").is_none()
    });
    assert_eq!(v["long"], 4.0, "long is not due at 3658 s: {v}");
    clock.advance(Duration::from_secs(2));
    wait_for("long expires after the default 1h", &|v| {
        v.get("long").is_none()
    });
    assert_eq!(vendor(&server, "meterd.series.expired"), 4.0);
    assert_eq!(vendor(&server, "meterd.series"), 0.0);
    // An expired series starts again from nothing.
    server.push(json!({"name": "short.a", "type": "counter", "value": 2}));
    assert_eq!(app(&server)["short.a"], 2.0);
}

#[test]
fn every_refusal_is_counted_under_its_reason() {
    let server = Server::start();
    let post = |body: Value| server.post("/api/v1/events", "application/json", &body.to_string());
    assert_eq!(post(json!({"name": "typed", "type": "counter"})).0, 200);
    // Bad input: 400, counted as invalid.
    assert_eq!(post(json!({"name": "", "type": "counter"})).0, 400);
    // A type conflict: 409, counted as a conflict.
    assert_eq!(
        post(json!({"name": "typed", "type": "gauge", "value": 1})).0,
        409
    );
    // A body in an unknown encoding: 415, counted as unreadable.
    let (s, _) = server.post_with(
        "/api/v1/events",
        "application/json",
        "{}",
        &[("Content-Encoding", "br-unknown")],
    );
    assert_eq!(s, 415);
    assert_eq!(vendor(&server, "meterd.refused.invalid"), 1.0);
    assert_eq!(vendor(&server, "meterd.refused.conflict"), 1.0);
    assert_eq!(vendor(&server, "meterd.refused.body_unreadable"), 1.0);
    assert_eq!(vendor(&server, "meterd.batches.rejected"), 3.0);
    assert_eq!(vendor(&server, "meterd.history.flushes_lost"), 0.0);
}
