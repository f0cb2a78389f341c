//! A meterd cluster end to end (issue 13): three real nats-servers as one JetStream cluster,
//! three meterd nodes as child processes, and a single plain meterd fed the same events. Every
//! node's `/metrics/application` (rates aside) and Orion tree must equal the single node's:
//! after pushes through every node, after `kill -9` of a node and more pushes, after it
//! rejoins, after `kill -9` of one nats-server of three. A cluster-wide get-and-reset under
//! concurrent pushes through the other nodes hands out every event exactly once.

mod common;

use common::child::Meterd;
use common::nats::NatsCluster;
use common::TempDir;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a node may take to join and have every partition caught up.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How long the cluster may take to show what was pushed (a takeover included).
const CONVERGE_WITHIN: Duration = Duration::from_secs(60);

fn pipeline(dir: &Path) -> PathBuf {
    let path = dir.join("pipeline.toml");
    std::fs::write(
        &path,
        "shards = 2\n[cluster]\npartitions = 8\nreplicas = 3\n\
         [durability]\nsnapshot_interval = \"2s\"\n",
    )
    .unwrap();
    path
}

/// Starts cluster node `name` on its data dir.
fn node(dir: &Path, name: &str, urls: &str, pipeline: &Path) -> Meterd {
    node_with(dir, name, urls, pipeline, &[])
}

/// [`node`] with more `serve` arguments.
fn node_with(dir: &Path, name: &str, urls: &str, pipeline: &Path, more: &[&str]) -> Meterd {
    let data = dir.join(name);
    let log = dir.join(format!("{name}.log"));
    let mut args = vec!["--cluster", urls, "--node", name, "--disable-self-metrics"];
    args.extend_from_slice(more);
    Meterd::start_with(&data, pipeline, &args, Some(&log), READY_WITHIN)
}

fn single(dir: &Path, pipeline: &Path) -> Meterd {
    Meterd::start_with(
        &dir.join("single"),
        pipeline,
        &["--disable-self-metrics"],
        None,
        READY_WITHIN,
    )
}

/// Batch `i` of round `round`: counters, gauges, meters, histograms and timers in two services,
/// with tags, so that every partition gets some.
fn batch(round: u32, i: u32) -> Value {
    let mut events = Vec::new();
    for j in 0..12u32 {
        let service = if j % 3 == 0 {
            "shop"
        } else {
            "default-service"
        };
        let tag = format!("t{}", (i + j) % 7);
        let value = f64::from(round * 1000 + i * 13 + j);
        events.push(json!({"name": "orders", "type": "counter", "value": j + 1,
                           "service": service, "tags": {"shop": tag}}));
        events.push(json!({"name": "temp", "type": "gauge", "value": value,
                           "service": service, "tags": {"room": tag}}));
        events.push(
            json!({"name": "latency", "type": "timer", "value": value * 7.0,
                           "service": service, "tags": {"page": tag}}),
        );
        events.push(json!({"name": "size", "type": "histogram", "value": value,
                           "tags": {"k": tag}}));
        events.push(json!({"name": "hits", "type": "meter", "value": 2, "tags": {"k": tag}}));
    }
    Value::Array(events)
}

/// POSTs `body` to `path` of `m`; answers the status and the body.
fn post_to(m: &Meterd, path: &str, body: &str) -> (u16, String) {
    match ureq::post(&m.url(path))
        .timeout(Duration::from_secs(30))
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("posting to {path}: {e}"),
    }
}

/// POSTs as a client of a cluster does: a `503` with `Retry-After` (`cluster_unavailable`,
/// `busy`) applied nothing, so it is sent again after a second, a few times. Right after a
/// nats-server is killed, a batch over several partitions can wait for two stream leaders to
/// be elected and be aborted by an owner's `commit_timeout` meanwhile (seen once with the
/// whole test suite loading the 2 cores).
fn post_retrying(m: &Meterd, path: &str, body: &str) -> (u16, String) {
    let mut tries = 0;
    loop {
        let (status, answer) = post_to(m, path, body);
        let again = answer.contains("\"cluster_unavailable\"") || answer.contains("\"busy\"");
        tries += 1;
        if status != 503 || !again || tries == 5 {
            return (status, answer);
        }
        eprintln!("{path} through {}: 503, sent again: {answer}", m.port);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// POSTs events to `/api/v1/events` of `m`, asserting a 2xx.
fn post(m: &Meterd, body: &Value) {
    let (status, answer) = post_to(m, "/api/v1/events", &body.to_string());
    assert!(status < 300, "{status} {answer}");
}

/// Pushes `batches` batches of `round` through `through` in turn and the same to `single`:
/// native events, and now and then StatsD text and OpenTSDB puts over HTTP.
fn push(through: &[&Meterd], single: &Meterd, round: u32, batches: u32) {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 0..batches {
        let m = through[i as usize % through.len()];
        let mut bodies = vec![("/api/v1/events", batch(round, i).to_string())];
        if i % 4 == 0 {
            bodies.push((
                "/api/v1/statsd",
                format!(
                    "logins:{i}|c\nlogin.time:{}|ms\nusers:u{}|s\n",
                    i * 3,
                    i % 5
                ),
            ));
            bodies.push((
                "/api/put",
                json!([{"metric": "sys.cpu", "timestamp": now_s, "value": i,
                        "tags": {"host": format!("h{}", i % 3)}}])
                .to_string(),
            ));
        }
        for (path, body) in bodies {
            let (status, answer) = post_retrying(m, path, &body);
            assert!(
                status < 300,
                "round {round} batch {i} {path} through {}: {status} {answer}",
                m.port
            );
            let (status, answer) = post_to(single, path, &body);
            assert!(status < 300, "{status} {answer}");
        }
    }
}

/// `GET path` as text, or `None` on any error (a takeover in progress).
fn text(m: &Meterd, path: &str, accept: &str) -> Option<String> {
    ureq::get(&m.url(path))
        .set("Accept", accept)
        .timeout(Duration::from_secs(15))
        .call()
        .ok()?
        .into_string()
        .ok()
}

/// `/metrics/application` without the rate lines (time-dependent) and sorted.
fn application(m: &Meterd) -> Option<String> {
    let body = text(m, "/metrics/application", "text/plain")?;
    let mut lines: Vec<&str> = body.lines().filter(|l| !l.contains("rate")).collect();
    lines.sort_unstable();
    Some(lines.join("\n"))
}

/// `OPTIONS /metrics/application`: every family's metadata.
fn options(m: &Meterd) -> Option<Value> {
    ureq::request("OPTIONS", &m.url("/metrics/application"))
        .set("Accept", "application/json")
        .timeout(Duration::from_secs(15))
        .call()
        .ok()?
        .into_json()
        .ok()
}

/// The Orion tree of `/admin/metrics`.
fn orion(m: &Meterd) -> Option<Value> {
    let body = text(m, "/admin/metrics", "application/json")?;
    serde_json::from_str(&body).ok()
}

/// Waits until every node answers what the single node answers.
fn converge(nodes: &[&Meterd], single: &Meterd, when: &str) {
    let want_app = application(single).expect("the single node answers");
    let want_orion = orion(single).expect("the single node answers");
    let want_options = options(single).expect("the single node answers");
    assert!(want_app.contains("orders"), "{want_app}");
    let deadline = Instant::now() + CONVERGE_WITHIN;
    for m in nodes {
        loop {
            let app = application(m);
            let tree = orion(m);
            if app.as_deref() == Some(want_app.as_str())
                && tree.as_ref() == Some(&want_orion)
                && options(m).as_ref() == Some(&want_options)
            {
                break;
            }
            if Instant::now() > deadline {
                let app = app.unwrap_or_default();
                let diff: Vec<String> = want_app
                    .lines()
                    .zip(app.lines())
                    .filter(|(a, b)| a != b)
                    .take(5)
                    .map(|(a, b)| format!("want {a}\n got {b}"))
                    .collect();
                panic!(
                    "{when}: node on port {} does not answer as the single node:\n{}\norion {}\nwant {}",
                    m.port,
                    diff.join("\n"),
                    tree.unwrap_or_default(),
                    want_orion
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// The first Kanto SSE message of `m` that carries the cluster's `orders` series.
fn streamed(m: &Meterd) -> String {
    use std::io::BufRead;
    let resp = ureq::get(
        &m.url("/api/v1/metrics/stream?frequency=500ms&originator=Service:default-service"),
    )
    .timeout(Duration::from_secs(20))
    .call()
    .expect("an SSE stream");
    for line in std::io::BufReader::new(resp.into_reader()).lines() {
        let line = line.expect("the stream goes on");
        if line.starts_with("data:") && line.contains("orders") {
            return line;
        }
    }
    panic!("the stream ended");
}

/// Waits until `/-/ready` of `m` is 200 (joined, every partition caught up); answers how long.
fn ready(m: &Meterd) -> Duration {
    let start = Instant::now();
    while ureq::get(&m.url("/-/ready"))
        .timeout(Duration::from_secs(10))
        .call()
        .is_err()
    {
        assert!(start.elapsed() < READY_WITHIN, "node {} not ready", m.port);
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// Waits until `/cluster` of `m` lists `n` members.
fn members(m: &Meterd, n: usize) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let status = m.get("/cluster");
        if status["members"].as_array().map(Vec::len) == Some(n) && status["ready"] == true {
            return;
        }
        assert!(Instant::now() < deadline, "members: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_nodes_answer_as_one_through_kills_and_a_rejoin() {
    let Some(mut nats) = NatsCluster::start(3) else {
        return;
    };
    let dir = TempDir::new();
    let pipeline = pipeline(&dir.0);
    let urls = nats.urls().join(",");
    let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp_addr = format!("127.0.0.1:{udp_port}");
    let a = node_with(&dir.0, "a", &urls, &pipeline, &["--statsd-udp", &udp_addr]);
    let b = node(&dir.0, "b", &urls, &pipeline);
    let c = node(&dir.0, "c", &urls, &pipeline);
    let one = single(&dir.0, &pipeline);
    members(&a, 3);
    for m in [&a, &b, &c] {
        ready(m);
    }
    let status = a.get("/cluster");
    assert_eq!(
        status["partitions"].as_array().unwrap().len(),
        8,
        "{status}"
    );
    // What needs history or entities answers 501 with the JSON error body, naming what is
    // missing; a single node keeps answering them.
    let (code, answer) = post_to(&b, "/api/query", r#"{"start":"1h-ago","queries":[]}"#);
    assert_eq!(code, 501, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], "not_in_cluster", "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("history"));
    let (code, _) = post_to(&one, "/api/query", r#"{"start":"1h-ago","queries":[]}"#);
    assert_ne!(code, 501);

    push(&[&a, &b, &c], &one, 1, 30);
    // StatsD over UDP at a node is published like any ingest; the single node gets the same
    // lines over HTTP.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20 {
        let lines = format!("udp.hits:{i}|c\nudp.lat:{}|ms", i * 2);
        socket.send_to(lines.as_bytes(), &udp_addr).unwrap();
        let (status, _) = post_to(&one, "/api/v1/statsd", &lines);
        assert_eq!(status, 200);
    }
    converge(&[&a, &b, &c], &one, "after pushes through every node");
    // Kanto subscriptions read the owners too.
    assert!(streamed(&b).contains("orders"));

    // kill -9 of a node: its partitions move to the others (member TTL, then takeover).
    c.kill9();
    let killed = Instant::now();
    members(&a, 2);
    let takeover = killed.elapsed();
    ready(&a);
    eprintln!(
        "takeover after kill -9 of a node: {:.1} s until the placement moved, {:.1} s until every partition was caught up again",
        takeover.as_secs_f64(),
        killed.elapsed().as_secs_f64()
    );
    push(&[&a, &b], &one, 2, 20);
    converge(&[&a, &b], &one, "after kill -9 of a node and more pushes");

    // It rejoins on its data dir under its name: partitions move back to it.
    let c = node(&dir.0, "c", &urls, &pipeline);
    members(&a, 3);
    ready(&c);
    push(&[&a, &b, &c], &one, 3, 20);
    converge(&[&a, &b, &c], &one, "after the node rejoined");

    // kill -9 of one nats-server of three: JetStream keeps its quorum, clients reconnect.
    nats.kill(0);
    for m in [&a, &b, &c] {
        ready(m);
    }
    push(&[&a, &b, &c], &one, 4, 20);
    converge(&[&a, &b, &c], &one, "after kill -9 of a nats-server");

    // With no nats-server left an ingest cannot be acknowledged: 503, Retry-After, the JSON
    // error body.
    nats.kill(1);
    nats.kill(2);
    let refused = ureq::post(&a.url("/api/v1/events"))
        .timeout(Duration::from_secs(30))
        .send_json(batch(5, 0));
    let Err(ureq::Error::Status(503, resp)) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(resp.header("Retry-After"), Some("1"));
    let body: Value = resp.into_json().unwrap();
    assert_eq!(body["error"]["code"], "cluster_unavailable", "{body}");
}

/// The Orion count of `ticks` in an answer (0 when absent).
fn ticks(tree: &Value) -> f64 {
    tree["sum"]["sum"]["ticks"].as_f64().unwrap_or(0.0)
}

#[test]
fn a_cluster_wide_get_and_reset_hands_out_every_event_once() {
    let Some(nats) = NatsCluster::start(3) else {
        return;
    };
    let dir = TempDir::new();
    let pipeline = pipeline(&dir.0);
    let urls = nats.urls().join(",");
    let a = node(&dir.0, "a", &urls, &pipeline);
    let b = node(&dir.0, "b", &urls, &pipeline);
    let c = node(&dir.0, "c", &urls, &pipeline);
    members(&a, 3);
    for m in [&a, &b, &c] {
        ready(m);
    }
    const PER_PUSHER: u32 = 150;
    let pushed = std::thread::scope(|s| {
        let pushers: Vec<_> = [&b, &c]
            .into_iter()
            .enumerate()
            .map(|(n, m)| {
                s.spawn(move || {
                    let mut events = 0.0;
                    for i in 0..PER_PUSHER {
                        // Several series per batch, so that a batch spans partitions.
                        let body: Vec<Value> = (0..4)
                            .map(|k| json!({"name": "ticks", "type": "counter", "value": 1,
                                            "tags": {"pusher": n.to_string(), "k": ((i + k) % 9).to_string()}}))
                            .collect();
                        post(m, &Value::Array(body));
                        events += 4.0;
                    }
                    events
                })
            })
            .collect();
        let mut handed_out = 0.0;
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(300));
            let tree: Value = ureq::get(&a.url("/admin/metrics?reset=true"))
                .timeout(Duration::from_secs(30))
                .call()
                .expect("get-and-reset")
                .into_json()
                .unwrap();
            handed_out += ticks(&tree);
        }
        let pushed: f64 = pushers.into_iter().map(|p| p.join().unwrap()).sum();
        (pushed, handed_out)
    });
    let (pushed, handed_out) = pushed;
    assert!(handed_out > 0.0, "the resets ran while pushes went on");
    // What is still live plus what was handed out is every event, once.
    let deadline = Instant::now() + CONVERGE_WITHIN;
    loop {
        let live = orion(&a).map(|t| ticks(&t)).unwrap_or(-1.0);
        if live + handed_out == pushed {
            break;
        }
        assert!(
            live + handed_out <= pushed,
            "an event was handed out twice: {handed_out} + {live} > {pushed}"
        );
        assert!(
            Instant::now() < deadline,
            "{handed_out} handed out + {live} live != {pushed} pushed"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
