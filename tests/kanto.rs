//! Kanto subscriptions over real sockets: the seed's WebSocket exchange, replacing and stopping
//! requests, filters, pushed metrics, Server-Sent Events, refusals, the subscriber bound, and
//! a client that never reads while ingest goes on.

mod common;

use common::{assert_error, golden, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const SYSTEM_IDS: [&str; 9] = [
    "cpu.utilization",
    "memory.utilization",
    "memory.total",
    "memory.used",
    "io.readBytes",
    "io.writeBytes",
    "net.readBytes",
    "net.writeBytes",
    "pids",
];
const TOPIC: &str = "edge/device:edge:containers/things/live/messages/request";

/// A blocking WebSocket client with a read timeout.
struct Client {
    ws: WebSocket<TcpStream>,
}

impl Client {
    fn connect(server: &Server) -> Client {
        Self::try_connect(server).unwrap_or_else(|e| panic!("WebSocket refused: {e:?}"))
    }

    /// A client, or the refusal's (status, Retry-After, body).
    fn try_connect(server: &Server) -> Result<Client, (u16, Option<String>, String)> {
        let stream = TcpStream::connect(server.running.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let url = format!("ws://{}/api/v1/metrics/ws", server.running.addr);
        match tungstenite::client(url, stream) {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                let retry = resp.headers().get("retry-after");
                let retry = retry.map(|v| v.to_str().unwrap().to_owned());
                let body = resp.body().clone().unwrap_or_default();
                Err((
                    resp.status().as_u16(),
                    retry,
                    String::from_utf8(body).unwrap(),
                ))
            }
            Err(e) => panic!("WebSocket handshake failed: {e}"),
        }
    }

    fn send(&mut self, message: &Value) {
        self.ws.send(Message::text(message.to_string())).unwrap();
    }

    /// The next text message as JSON, or `None` when `wait` passes without one.
    fn recv(&mut self, wait: Duration) -> Option<Value> {
        self.recv_text(wait)
            .map(|text| serde_json::from_str(&text).unwrap())
    }

    /// The next text message, or `None` when `wait` passes without one.
    fn recv_text(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(Message::Close(frame)) => panic!("closed by the server: {frame:?}"),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn expect(&mut self, what: &str) -> Value {
        self.recv(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no {what} within 10 s"))
    }

    /// The next data message, skipping nothing: it must be one.
    fn data(&mut self) -> Value {
        let m = self.expect("data message");
        assert_eq!(m["path"], "/features/Metrics/outbox/messages/data", "{m}");
        m
    }
}

fn request(correlation_id: &str, frequency: Value, filter: Value) -> Value {
    json!({
        "topic": TOPIC,
        "headers": {
            "response-required": true,
            "content-type": "application/json",
            "correlation-id": correlation_id
        },
        "path": "/features/Metrics/inbox/messages/request",
        "value": {"filter": filter, "frequency": frequency}
    })
}

fn assert_response(m: &Value, correlation_id: &str, status: u16) {
    assert_eq!(
        m["path"], "/features/Metrics/outbox/messages/request",
        "{m}"
    );
    assert_eq!(m["topic"], TOPIC, "{m}");
    assert_eq!(m["headers"]["correlation-id"], correlation_id, "{m}");
    assert_eq!(m["headers"]["content-type"], "application/json", "{m}");
    assert_eq!(m["status"], status, "{m}");
}

/// `(originator, [(id, value)])` of a data message's snapshot.
fn snapshot(value: &Value) -> Vec<(String, Vec<(String, f64)>)> {
    value["snapshot"]
        .as_array()
        .unwrap_or_else(|| panic!("no snapshot: {value}"))
        .iter()
        .map(|o| {
            let ms = o["measurements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let v = m["value"].as_f64().unwrap_or_else(|| panic!("{m}"));
                    (m["id"].as_str().unwrap().to_owned(), v)
                })
                .collect();
            (o["originator"].as_str().unwrap().to_owned(), ms)
        })
        .collect()
}

fn ids(measurements: &[(String, f64)]) -> Vec<&str> {
    measurements.iter().map(|(id, _)| id.as_str()).collect()
}

fn vendor(server: &Server, name: &str) -> f64 {
    server.get_json("/metrics/vendor")[name].as_f64().unwrap()
}

#[test]
fn the_seed_exchange() {
    let server = Server::start();
    let mut client = Client::connect(&server);
    client.send(&request(
        "7b3a0d2c-0000-4000-8000-000000000001",
        json!("300ms"),
        json!([{"id": null, "originator": "SYSTEM"}]),
    ));
    let response = client.expect("response");
    assert_response(&response, "7b3a0d2c-0000-4000-8000-000000000001", 204);
    assert!(response.get("value").is_none(), "{response}");

    let started = Instant::now();
    let messages: Vec<Value> = (0..3).map(|_| client.data()).collect();
    let elapsed = started.elapsed();
    let mut stamps = Vec::new();
    for m in &messages {
        assert_eq!(
            m["topic"],
            "edge/device:edge:containers/things/live/messages/data"
        );
        assert_eq!(m["headers"]["content-type"], "application/json");
        let snap = snapshot(&m["value"]);
        assert_eq!(snap.len(), 1, "only SYSTEM was asked for: {m}");
        assert_eq!(snap[0].0, "SYSTEM");
        assert_eq!(ids(&snap[0].1), SYSTEM_IDS, "every SYSTEM id, in order");
        let value = |id: &str| snap[0].1.iter().find(|(i, _)| i == id).unwrap().1;
        assert!(value("memory.total") > 0.0 && value("pids") > 0.0, "{m}");
        assert!((0.0..=100.0).contains(&value("cpu.utilization")), "{m}");
        assert!(value("memory.used") <= value("memory.total"), "{m}");
        stamps.push(m["value"]["timestamp"].as_i64().unwrap());
    }
    // Loose spacing: one message per period, never two in a burst, none long overdue.
    for pair in stamps.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((200..5_000).contains(&gap), "gaps {stamps:?}");
    }
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}

#[test]
fn a_new_request_replaces_the_old_one() {
    let server = Server::start();
    let mut client = Client::connect(&server);
    client.send(&request(
        "first",
        json!(0.2),
        json!([{"id": ["cpu.*"], "originator": "SYSTEM"}]),
    ));
    assert_response(&client.expect("response"), "first", 204);
    let snap = snapshot(&client.data()["value"]);
    assert_eq!(ids(&snap[0].1), ["cpu.utilization"]);

    client.send(&request(
        "second",
        json!("300ms"),
        json!([{"id": ["memory.*"], "originator": "SYSTEM"}]),
    ));
    // Data of the first request may still be on its way before the response; none after it.
    loop {
        let m = client.expect("response");
        if m["path"] == "/features/Metrics/outbox/messages/request" {
            assert_response(&m, "second", 204);
            break;
        }
        assert_eq!(ids(&snapshot(&m["value"])[0].1), ["cpu.utilization"]);
    }
    for _ in 0..3 {
        let snap = snapshot(&client.data()["value"]);
        assert_eq!(
            ids(&snap[0].1),
            ["memory.utilization", "memory.total", "memory.used"]
        );
    }

    // response-required false: no response, the data simply changes.
    let mut quiet = request("third", json!("200ms"), json!([{"id": ["pids"]}]));
    quiet["headers"]["response-required"] = json!(false);
    client.send(&quiet);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no pids-only data");
        let m = client.data();
        if ids(&snapshot(&m["value"])[0].1) == ["pids"] {
            break;
        }
    }
}

#[test]
fn frequency_zero_stops_and_a_new_request_resumes() {
    let server = Server::start();
    let mut client = Client::connect(&server);
    client.send(&request("go", json!("100ms"), json!(null)));
    assert_response(&client.expect("response"), "go", 204);
    client.data();
    client.send(&request("stop", json!(0), json!(null)));
    loop {
        let m = client.expect("response");
        if m["path"] == "/features/Metrics/outbox/messages/request" {
            assert_response(&m, "stop", 204);
            break;
        }
    }
    assert_eq!(
        client.recv(Duration::from_millis(700)),
        None,
        "data after stopping"
    );
    client.send(&request("negative", json!("-1s"), json!(null)));
    assert_response(&client.expect("response"), "negative", 204);
    assert_eq!(client.recv(Duration::from_millis(300)), None);
    client.send(&request("again", json!(0.1), json!(null)));
    assert_response(&client.expect("response"), "again", 204);
    client.data();
}

#[test]
fn filters_by_id_prefix_and_originator() {
    let server = Server::start();
    server.push(json!([
        {"name": "orders", "type": "counter", "value": 2, "service": "shop"},
        {"name": "visits", "type": "counter", "service": "blog"}
    ]));
    let mut client = Client::connect(&server);
    let cases = [
        (
            json!([{"id": ["memory.*"], "originator": "SYSTEM"}]),
            vec![(
                "SYSTEM",
                vec!["memory.utilization", "memory.total", "memory.used"],
            )],
        ),
        (
            json!([{"id": ["io.*", "pids"], "originator": "SYSTEM"}, {"originator": "Service:blog"}]),
            vec![
                ("SYSTEM", vec!["io.readBytes", "io.writeBytes", "pids"]),
                ("Service:blog", vec!["visits"]),
            ],
        ),
        (
            json!([{"id": [], "originator": "Service:*"}]),
            vec![
                ("Service:blog", vec!["visits"]),
                ("Service:shop", vec!["orders"]),
            ],
        ),
        (
            json!([{"id": ["ord*", "net.read*"], "originator": ""}]),
            vec![
                ("SYSTEM", vec!["net.readBytes"]),
                ("Service:shop", vec!["orders"]),
            ],
        ),
    ];
    for (i, (filter, expected)) in cases.into_iter().enumerate() {
        let id = format!("case-{i}");
        client.send(&request(&id, json!("100ms"), filter.clone()));
        loop {
            let m = client.expect("response");
            if m["path"] == "/features/Metrics/outbox/messages/request" {
                assert_response(&m, &id, 204);
                break;
            }
        }
        let snap = snapshot(&client.data()["value"]);
        let got: Vec<(&str, Vec<&str>)> =
            snap.iter().map(|(o, ms)| (o.as_str(), ids(ms))).collect();
        assert_eq!(got, expected, "filter {filter}");
    }
    // A filter nothing matches sends nothing at all.
    client.send(&request(
        "none",
        json!("100ms"),
        json!([{"id": ["disk.*"]}]),
    ));
    loop {
        let m = client.expect("response");
        if m["headers"]["correlation-id"] == "none" {
            break;
        }
    }
    assert_eq!(client.recv(Duration::from_millis(500)), None);
}

#[test]
fn pushed_metrics_come_under_their_service() {
    let (server, clock) = Server::with_manual_clock();
    server.push(json!([
        {"name": "c", "type": "counter", "value": 2, "service": "shop"},
        {"name": "c", "type": "counter", "value": 3, "service": "shop", "tags": {"k": "v"}},
        {"name": "g", "type": "gauge", "value": 4, "service": "shop"},
        {"name": "g", "type": "gauge", "value": 7, "service": "shop"},
        {"name": "m", "type": "meter", "service": "shop"},
        {"name": "h", "type": "histogram", "value": 1, "service": "shop"},
        {"name": "h", "type": "histogram", "value": 2, "service": "shop"},
        {"name": "h", "type": "histogram", "value": 6, "service": "shop"},
        {"name": "t", "type": "timer", "value": 100, "service": "shop"},
        {"name": "t", "type": "timer", "value": 300, "service": "shop"},
        {"name": "b", "type": "gauge", "value": 1.5, "service": "shop", "scope": "base"},
        {"name": "x", "type": "counter", "service": "other"}
    ]));
    // One 5 s tick of the meter passes: its one-minute rate starts at 1 event / 5 s.
    clock.advance(Duration::from_secs(6));
    let mut client = Client::connect(&server);
    client.send(&request(
        "svc",
        json!("100ms"),
        json!([{"originator": "Service:shop"}]),
    ));
    assert_response(&client.expect("response"), "svc", 204);
    let snap = snapshot(&client.data()["value"]);
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].0, "Service:shop");
    let got = &snap[0].1;
    assert_eq!(ids(got), ["base/b", "c", "g", "h", "m", "t"]);
    let value = |id: &str| got.iter().find(|(i, _)| i == id).unwrap().1;
    assert_eq!(value("base/b"), 1.5);
    assert_eq!(value("c"), 5.0, "counter totals add up over tags");
    assert_eq!(value("g"), 7.0, "gauge: the last value");
    assert_eq!(value("h"), 3.0, "histogram: the mean");
    assert_eq!(value("t"), 200.0, "timer: the mean");
    assert_eq!(value("m"), 0.2, "meter: the one-minute rate");

    // New events show up in the next messages.
    server.push(json!([{"name": "c", "type": "counter", "value": 10, "service": "shop"}]));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the push never showed");
        let snap = snapshot(&client.data()["value"]);
        if snap[0].1.iter().any(|(id, v)| id == "c" && *v == 15.0) {
            break;
        }
    }
}

/// An open SSE response: a line reader over ureq's (de-chunked) body.
struct Events {
    reader: BufReader<Box<dyn Read + Send + Sync>>,
}

impl Events {
    fn open(server: &Server, query: &str) -> Result<Events, (u16, Option<String>, String)> {
        let url = server.url(&format!("/api/v1/metrics/stream{query}"));
        let agent = ureq::AgentBuilder::new()
            .timeout_read(Duration::from_secs(10))
            .build();
        match agent.get(&url).call() {
            Ok(resp) => {
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.content_type(), "text/event-stream");
                assert_eq!(resp.header("cache-control"), Some("no-cache"));
                Ok(Events {
                    reader: BufReader::new(resp.into_reader()),
                })
            }
            Err(ureq::Error::Status(status, resp)) => {
                let retry = resp.header("retry-after").map(str::to_owned);
                Err((status, retry, resp.into_string().unwrap()))
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// The next event's `data` as JSON.
    fn next(&mut self) -> Value {
        let event = self.next_raw();
        let data = event.strip_prefix("data: ").unwrap().trim_end();
        serde_json::from_str(data).unwrap()
    }

    /// The next event as sent (`data: ...` and a blank line), skipping comment lines.
    fn next_raw(&mut self) -> String {
        let mut event = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("an event within 10 s");
            assert!(n > 0, "the stream ended");
            if line == "\n" && !event.is_empty() {
                event.push_str(&line);
                return event;
            }
            if line.starts_with("data: ") {
                event.push_str(&line);
            } else {
                assert!(
                    line.starts_with(':') || line == "\n",
                    "unexpected line {line:?}"
                );
            }
        }
    }
}

#[test]
fn server_sent_events_with_filters() {
    let server = Server::start();
    server.push(json!([{"name": "orders", "type": "counter", "value": 4, "service": "shop"}]));
    let mut events = Events::open(
        &server,
        "?frequency=300ms&id=memory.*&id=pids&originator=SYSTEM",
    )
    .unwrap();
    let mut stamps = Vec::new();
    for _ in 0..3 {
        let value = events.next();
        let snap = snapshot(&value);
        assert_eq!(snap.len(), 1, "{value}");
        assert_eq!(snap[0].0, "SYSTEM");
        assert_eq!(
            ids(&snap[0].1),
            ["memory.utilization", "memory.total", "memory.used", "pids"]
        );
        stamps.push(value["timestamp"].as_i64().unwrap());
    }
    assert!(stamps.windows(2).all(|p| p[1] - p[0] >= 200), "{stamps:?}");

    let mut shop = Events::open(&server, "?frequency=0.1&originator=Service:shop").unwrap();
    let snap = snapshot(&shop.next());
    assert_eq!(
        snap,
        [("Service:shop".to_owned(), vec![("orders".to_owned(), 4.0)])]
    );
    // No frequency: every second; no filter: everything.
    let mut all = Events::open(&server, "").unwrap();
    let snap = snapshot(&all.next());
    let originators: Vec<&str> = snap.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(originators, ["SYSTEM", "Service:shop"]);
    assert_eq!(ids(&snap[0].1), SYSTEM_IDS);
}

#[test]
fn bad_requests_get_status_400() {
    let server = Server::start();
    let mut client = Client::connect(&server);
    let cases = [
        (json!("50ms"), json!(null), "bad_frequency"),
        (json!(0.01), json!(null), "bad_frequency"),
        (json!("often"), json!(null), "bad_frequency"),
        (json!(null), json!(null), "bad_frequency"),
        (json!("1s"), json!({"id": null}), "bad_filter"),
        (json!("1s"), json!([{"id": "cpu.*"}]), "bad_filter"),
        (json!("1s"), json!([{"id": ["cpu*util"]}]), "bad_filter"),
        (json!("1s"), json!([{"id": [""]}]), "bad_filter"),
        (json!("1s"), json!([{"originator": 1}]), "bad_filter"),
    ];
    for (i, (frequency, filter, code)) in cases.into_iter().enumerate() {
        let id = format!("bad-{i}");
        client.send(&request(&id, frequency.clone(), filter.clone()));
        let m = client.expect("response");
        assert_response(&m, &id, 400);
        assert_eq!(
            m["value"]["error"]["code"], code,
            "{frequency} {filter}: {m}"
        );
        assert!(m["value"]["error"]["message"].is_string());
    }
    client.ws.send(Message::text("{not json")).unwrap();
    let m = client.expect("response");
    assert_eq!(m["status"], 400);
    assert_eq!(m["value"]["error"]["code"], "malformed_request");
    let mut wrong_path = request("path", json!("1s"), json!(null));
    wrong_path["path"] = json!("/features/Metrics/inbox/messages/other");
    client.send(&wrong_path);
    assert_eq!(client.expect("response")["status"], 400);
    // Nothing was subscribed by all that, and the connection still works.
    assert_eq!(client.recv(Duration::from_millis(300)), None);
    client.send(&request("fine", json!("100ms"), json!(null)));
    assert_response(&client.expect("response"), "fine", 204);
    client.data();

    // Not a WebSocket handshake: a JSON 400.
    let (status, _, body) = server.get("/api/v1/metrics/ws", None);
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "not_websocket");
}

#[test]
fn bad_stream_parameters_get_400_json() {
    let server = Server::start();
    let cases = [
        ("?frequency=10ms", "bad_frequency"),
        ("?frequency=0", "bad_frequency"),
        ("?frequency=-2s", "bad_frequency"),
        ("?frequency=often", "bad_frequency"),
        ("?id=", "bad_filter"),
        ("?id=cpu*util", "bad_filter"),
        ("?originator=*x*", "bad_filter"),
        ("?ids=cpu", "unknown_parameter"),
    ];
    for (query, code) in cases {
        let Err((status, _, body)) = Events::open(&server, query) else {
            panic!("{query} was accepted");
        };
        assert_eq!(status, 400, "{query}: {body}");
        assert_error(&body, code);
    }
    assert_eq!(vendor(&server, "meterd.stream.subscribers"), 0.0);
}

#[test]
fn subscribers_are_bounded() {
    let server = Server::with(|o| o.pipeline.streams.max_subscribers = 2);
    let first = Client::connect(&server);
    let events = Events::open(&server, "?frequency=100ms").unwrap();
    let Err((status, retry, body)) = Client::try_connect(&server) else {
        panic!("a third subscriber was admitted");
    };
    assert_eq!((status, retry.as_deref()), (503, Some("1")));
    assert_error(&body, "too_many_subscribers");
    let Err((status, retry, body)) = Events::open(&server, "") else {
        panic!("a third subscriber was admitted");
    };
    assert_eq!((status, retry.as_deref()), (503, Some("1")));
    assert_error(&body, "too_many_subscribers");
    assert_eq!(vendor(&server, "meterd.stream.subscribers"), 2.0);
    assert_eq!(vendor(&server, "meterd.stream.refused"), 2.0);

    // A closed connection frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Client::try_connect(&server).is_err() {
        assert!(Instant::now() < deadline, "the place was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // So does a closed event stream; then nothing is queued for anybody any more.
    drop(events);
    let deadline = Instant::now() + Duration::from_secs(10);
    while vendor(&server, "meterd.stream.subscribers") > 0.0 {
        assert!(
            Instant::now() < deadline,
            "a closed subscriber still counts"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A fresh subscriber at 500 ms is the witness: while it gets three messages (at least a
    // second), a closed one left behind at 100 ms would have had ten or more queued.
    let queued = vendor(&server, "meterd.stream.messages.queued");
    let mut witness = Events::open(&server, "?frequency=500ms").unwrap();
    for _ in 0..3 {
        witness.next();
    }
    let more = vendor(&server, "meterd.stream.messages.queued") - queued;
    // Up to three more may be on their way to the witness (a late tick catching up).
    assert!(
        (3.0..=6.0).contains(&more),
        "{more} messages queued while the witness got 3"
    );
    drop(witness);

    let off = Server::with(|o| o.pipeline.streams.max_subscribers = 0);
    let Err((status, _, body)) = Events::open(&off, "") else {
        panic!("subscriptions are off");
    };
    assert_eq!(status, 503);
    assert!(body.contains("turned off"), "{body}");
}

#[test]
fn a_client_that_never_reads_slows_nobody() {
    let server = Server::with(|o| o.pipeline.streams.buffer = 4);
    // The baseline: a twin with the same series and no subscriber at all, pushed to in turn
    // with the server under test, so that the load of the machine weighs on both alike.
    let twin = Server::start();
    // Many series make every data message large (about 300 kB), so that the socket buffers
    // of the client that never reads fill within seconds.
    for chunk in 0..5 {
        let events: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"name": format!("bulk.metric.with.a.rather.long.name.{chunk}.{i:04}"),
                       "type": "gauge", "value": 1_234_567.25, "service": "bulk"})
            })
            .collect();
        server.push(Value::Array(events.clone()));
        twin.push(Value::Array(events));
    }
    let mut sleeper = Client::connect(&server);
    sleeper.send(&request("sleepy", json!("100ms"), json!(null)));
    // It never reads again.

    let mut reader = Client::connect(&server);
    reader.send(&request(
        "awake",
        json!("200ms"),
        json!([{"id": ["pids"], "originator": "SYSTEM"}]),
    ));
    assert_response(&reader.expect("response"), "awake", 204);

    let batch: Value = (0..100)
        .map(|i| json!({"name": format!("hot.{}", i % 10), "type": "counter"}))
        .collect();
    let batch = batch.to_string();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let push = |server: &Server| {
        let t = Instant::now();
        let resp = agent
            .post(&server.url("/api/v1/events"))
            .set("Content-Type", "application/json")
            .send_string(&batch)
            .expect("ingest answers while a subscriber is stuck");
        assert_eq!(resp.status(), 200);
        t.elapsed()
    };
    let started = Instant::now();
    let (mut pushes, mut read) = (0u32, 0u32);
    let (mut timed, mut baseline) = (Vec::new(), Vec::new());
    let mut dropped = 0.0;
    // Once the stuck subscriber has lost messages, another 200 pushes are timed while it is
    // stuck.
    let mut stuck_pushes = 0;
    while started.elapsed() < Duration::from_secs(60) && pushes < 20_000 && stuck_pushes < 200 {
        timed.push(push(&server));
        baseline.push(push(&twin));
        pushes += 1;
        if dropped > 0.0 && read >= 5 {
            stuck_pushes += 1;
        } else if pushes % 50 == 0 {
            // The reading client keeps getting its messages meanwhile.
            while reader.recv(Duration::ZERO).is_some() {
                read += 1;
            }
            dropped = vendor(&server, "meterd.stream.messages.dropped");
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (median_timed, median_baseline) = (median(&mut timed), median(&mut baseline));
    eprintln!(
        "{pushes} pushes in {:?}, median {median_timed:?} (twin without subscribers: \
         {median_baseline:?}); {read} messages read; {dropped} dropped",
        started.elapsed()
    );
    assert!(dropped > 0.0, "the stuck subscriber never lost a message");
    assert!(read >= 5, "the reading subscriber starved: {read}");
    // Generous: the hub's work for two subscribers costs something, but a push that waited
    // on the stuck client would take many times the twin's.
    assert!(
        median_timed <= median_baseline * 5,
        "pushes slowed: median {median_timed:?}, twin {median_baseline:?}"
    );
    let counted = server.get_json("/metrics/application")["hot.0"]
        .as_f64()
        .unwrap();
    assert_eq!(counted, f64::from(pushes) * 10.0, "every push was applied");
    drop(sleeper);
}

/// The text with every `"timestamp":<digits>` set to 0, for golden files.
fn zero_timestamps(text: &str) -> String {
    let key = "\"timestamp\":";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        out.push_str(&rest[..at + key.len()]);
        out.push('0');
        rest = rest[at + key.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn messages_match_the_golden_files() {
    let server = Server::start();
    server.push(json!([
        {"name": "orders", "type": "counter", "value": 5, "service": "shop"},
        {"name": "queue", "type": "gauge", "value": 7.5, "service": "shop"},
        {"name": "size", "type": "histogram", "value": 1, "service": "shop"},
        {"name": "size", "type": "histogram", "value": 6, "service": "shop"},
        {"name": "latency", "type": "timer", "value": 1_000_000, "service": "shop"},
        {"name": "big", "type": "gauge", "value": 10_371_616_768i64, "service": "shop"},
        {"name": "visits", "type": "counter", "value": 3, "service": "blog"}
    ]));
    let mut client = Client::connect(&server);
    client.send(&request(
        "golden",
        json!("100ms"),
        json!([{"originator": "Service:*"}]),
    ));
    let response = client.recv_text(Duration::from_secs(10)).unwrap();
    golden("kanto.response.json", &format!("{response}\n"));
    let data = client.recv_text(Duration::from_secs(10)).unwrap();
    golden("kanto.data.json", &format!("{}\n", zero_timestamps(&data)));
    client.send(&request("golden-bad", json!("10ms"), json!(null)));
    let refused = client.recv_text(Duration::from_secs(10)).unwrap();
    golden("kanto.refused.json", &format!("{refused}\n"));

    let mut events = Events::open(
        &server,
        "?frequency=100ms&originator=Service:shop&id=size&id=big",
    )
    .unwrap();
    golden("kanto.sse.txt", &zero_timestamps(&events.next_raw()));
}
