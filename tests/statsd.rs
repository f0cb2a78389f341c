//! StatsD over HTTP (`POST /api/v1/statsd`) and UDP: every grammar case one by one over both,
//! bad lines (400 naming the line over HTTP; counted and skipped over UDP), tenancy headers,
//! type conflicts, start-up on an address in use, and a golden file of the text output.

mod common;

use common::udp::udp_server;
use common::{assert_error, golden, Server};
use serde_json::{json, Value};

/// One grammar case: a text of lines and what `/metrics/application` must show after it.
struct Case {
    what: &'static str,
    text: &'static str,
    /// Events the text makes.
    events: u64,
    /// `(MicroProfile JSON key, expected value)`; an expected object is checked field by field.
    expect: Vec<(String, Value)>,
}

fn case(what: &'static str, text: &'static str, events: u64, expect: Value) -> Case {
    let expect = expect
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Case {
        what,
        text,
        events,
        expect,
    }
}

/// Every case of the grammar; metric names are unique per case so cases do not interact.
/// Two `|T` gauge lines a minute apart, the later one first, both within every retention.
fn recent_timestamps() -> &'static str {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let text = format!("g_ts:5|g|T{}\ng_ts:3|g|T{}", now - 60, now - 120);
    Box::leak(text.into_boxed_str())
}

fn cases() -> Vec<Case> {
    vec![
        case("counter", "c_plain:3|c", 1, json!({"c_plain": 3.0})),
        case(
            "counters add up",
            "c_sum:1|c\nc_sum:2|c",
            2,
            json!({"c_sum": 3.0}),
        ),
        case(
            "counter divided by its sample rate",
            "c_rate:1|c|@0.1",
            1,
            json!({"c_rate": 10.0}),
        ),
        case(
            "counter multi-value",
            "c_multi:1:2:3|c",
            3,
            json!({"c_multi": 6.0}),
        ),
        case(
            "multi-value with a sample rate",
            "c_multi_rate:1:1|c|@0.5",
            2,
            json!({"c_multi_rate": 4.0}),
        ),
        case("gauge", "g_plain:42.5|g", 1, json!({"g_plain": 42.5})),
        case(
            "gauge deltas",
            "g_delta:10|g\ng_delta:+5|g\ng_delta:-3|g",
            3,
            json!({"g_delta": 12.0}),
        ),
        case(
            "a delta on no value starts from zero",
            "g_neg:-4|g",
            1,
            json!({"g_neg": -4.0}),
        ),
        case(
            "a gauge ignores the sample rate",
            "g_rate:7|g|@0.5",
            1,
            json!({"g_rate": 7.0}),
        ),
        case(
            "the latest timestamp wins",
            recent_timestamps(),
            2,
            json!({"g_ts": 5.0}),
        ),
        case(
            "timer in milliseconds",
            "t_plain:100|ms\nt_plain:300|ms",
            2,
            json!({"t_plain": {"count": 2, "min": 100, "max": 300, "mean": 200.0}}),
        ),
        case(
            "timer multi-value",
            "t_multi:1:2:3|ms",
            3,
            json!({"t_multi": {"count": 3, "min": 1, "max": 3, "mean": 2.0}}),
        ),
        case(
            "a sampled timer value is still one duration",
            "t_rate:5|ms|@0.5",
            1,
            json!({"t_rate": {"count": 1, "max": 5}}),
        ),
        case(
            "histogram h",
            "h_plain:3|h\nh_plain:5|h",
            2,
            json!({"h_plain": {"count": 2, "min": 3, "max": 5, "mean": 4.0}}),
        ),
        case(
            "histogram d (distribution)",
            "d_plain:7|d",
            1,
            json!({"d_plain": {"count": 1, "max": 7}}),
        ),
        case(
            "meter",
            "m_plain:2|m\nm_plain:3|m",
            2,
            json!({"m_plain": {"count": 5}}),
        ),
        case(
            "meter divided by its sample rate",
            "m_rate:1|m|@0.25",
            1,
            json!({"m_rate": {"count": 4}}),
        ),
        case(
            "set counts distinct members",
            "s_plain:alice|s\ns_plain:bob|s\ns_plain:alice|s",
            3,
            json!({"s_plain": 2.0}),
        ),
        case(
            "set multi-value",
            "s_multi:x:y:z:x|s",
            4,
            json!({"s_multi": 3.0}),
        ),
        case(
            "tags become series tags",
            "tagged:1|c|#route:/orders,method:GET\ntagged:2|c|#method:POST",
            2,
            json!({"tagged;method=GET;route=/orders": 1.0, "tagged;method=POST": 2.0}),
        ),
        case(
            "a bare tag means true",
            "bare:1|c|#canary",
            1,
            json!({"bare;canary=true": 1.0}),
        ),
        case(
            "tags with a sample rate, in either order",
            "tag_rate:2|c|@0.5|#env:prod\ntag_rate:1|c|#env:prod|@0.5",
            2,
            json!({"tag_rate;env=prod": 6.0}),
        ),
        case(
            "names keep their dots",
            "api.requests.total:1|c",
            1,
            json!({"api.requests.total": 1.0}),
        ),
        case(
            "blank lines, CRLF and surrounding spaces",
            "\n  ws:1|c  \r\n\r\nws:1|c\n",
            2,
            json!({"ws": 2.0}),
        ),
    ]
}

/// Bad lines, each with a word its reason must contain.
const BAD: [(&str, &str); 15] = [
    ("nocolon", "missing ':'"),
    ("x:1", "missing '|'"),
    ("x:1|q", "unknown type"),
    ("x:1|", "missing type"),
    ("x:abc|c", "not a number"),
    ("x:-1|c", "negative"),
    ("x:-5|ms", "negative"),
    ("x:NaN|g", "finite"),
    ("x:|c", "missing value"),
    ("x:1|c|@0", "out of range"),
    ("x:1|c|@2", "out of range"),
    ("x:1|c|@0.5|@0.5", "twice"),
    ("x:1|c||@0.5", "empty field"),
    ("1x:1|c", "invalid metric name"),
    ("x:1|c|#bad-key:1", "tag key"),
];

/// Asserts every expectation of `case` against `/metrics/application`.
fn check(server: &Server, case: &Case, how: &str) {
    let app = server.get_json("/metrics/application");
    for (key, want) in &case.expect {
        let got = &app[key.as_str()];
        match want {
            Value::Object(fields) => {
                for (field, v) in fields {
                    assert_eq!(
                        got[field].as_f64(),
                        v.as_f64(),
                        "{how} {}: {key}.{field} in {app}",
                        case.what
                    );
                }
            }
            v => assert_eq!(
                got.as_f64(),
                v.as_f64(),
                "{how} {}: {key} in {app}",
                case.what
            ),
        }
    }
}

#[test]
fn every_grammar_case_over_http() {
    let server = Server::start();
    for case in cases() {
        let (status, body) = server.post("/api/v1/statsd", "text/plain", case.text);
        assert_eq!(status, 200, "{}: {body}", case.what);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["accepted"], case.events, "{}", case.what);
        check(&server, &case, "HTTP");
    }
}

#[test]
fn every_grammar_case_over_udp() {
    let server = udp_server();
    let mut sent = 0;
    let mut before = server.udp_counters();
    for case in cases() {
        server.send_udp(&[case.text]);
        sent += 1;
        let after = server.wait_udp(sent);
        let lines = case.text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        let delta = |name: &str| after.get(name) - before.get(name);
        assert_eq!(delta("lines"), lines, "{}", case.what);
        assert_eq!(delta("lines.bad"), 0, "{}", case.what);
        assert_eq!(delta("events.accepted"), case.events, "{}", case.what);
        check(&server, &case, "UDP");
        before = after;
    }
    assert_eq!(before.get("datagrams"), sent);
    assert_eq!(before.get("lines.dropped") + before.get("kernel.drops"), 0);
}

#[test]
fn a_bad_line_over_http_is_named_and_nothing_is_applied() {
    let server = Server::start();
    for (bad, reason) in BAD {
        let body = format!("before:1|c\n{bad}\nafter:1|c\n");
        let (status, answer) = server.post("/api/v1/statsd", "text/plain", &body);
        assert_eq!(status, 400, "{bad}: {answer}");
        let v = assert_error(&answer, "invalid_batch");
        let details = v["error"]["details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{bad}: {answer}");
        assert_eq!(details[0]["index"], 2, "{bad}: the line number");
        let message = details[0]["message"].as_str().unwrap();
        assert!(message.starts_with("line 2: "), "{bad}: {message}");
        assert!(
            message.contains(reason),
            "{bad}: {message} lacks {reason:?}"
        );
    }
    let (status, _) = server.post("/api/v1/statsd", "text/plain", "marker:1|c");
    assert_eq!(status, 200);
    let app = server.get_json("/metrics/application");
    assert!(app.get("before").is_none(), "all or nothing: {app}");
    assert!(app.get("after").is_none(), "all or nothing: {app}");
}

#[test]
fn every_bad_line_of_a_body_is_listed() {
    let server = Server::start();
    let (status, answer) = server.post("/api/v1/statsd", "text/plain", "a:1|c\nb:x|c\n\nc:1|q");
    assert_eq!(status, 400);
    let v = assert_error(&answer, "invalid_batch");
    let lines: Vec<u64> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4], "{answer}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 invalid line"));

    // Bytes that are not UTF-8 are refused, naming their line.
    let resp = ureq::post(&server.url("/api/v1/statsd")).send_bytes(b"ok:1|c\nbad\xff:1|c");
    let Err(ureq::Error::Status(400, resp)) = resp else {
        panic!("non-UTF-8 accepted")
    };
    let v = assert_error(&resp.into_string().unwrap(), "invalid_batch");
    assert_eq!(v["error"]["details"][0]["index"], 2);
}

#[test]
fn bad_lines_over_udp_are_counted_and_skipped_and_good_lines_kept() {
    let server = udp_server();
    for (i, (bad, _)) in BAD.iter().enumerate() {
        let datagram = format!("udp_ok:1|c\n{bad}\n\nudp_ok:{i}|c");
        server.send_udp(&[&datagram]);
    }
    let r = server.wait_udp(BAD.len() as u64);
    assert_eq!(r.get("datagrams"), BAD.len() as u64);
    assert_eq!(
        r.get("lines"),
        3 * BAD.len() as u64,
        "blank lines are not lines"
    );
    assert_eq!(r.get("lines.bad"), BAD.len() as u64);
    assert_eq!(r.get("events.accepted"), 2 * BAD.len() as u64);
    let app = server.get_json("/metrics/application");
    let sum: usize = (0..BAD.len()).sum();
    assert_eq!(
        app["udp_ok"].as_f64(),
        Some((BAD.len() + sum) as f64),
        "{app}"
    );
    assert!(app.get("x").is_none(), "{app}");
}

#[test]
fn a_type_conflict_over_udp_refuses_only_the_conflicting_events() {
    let server = udp_server();
    server.send_udp(&["conflict:1|c"]);
    server.wait_udp(1);
    // One datagram: a conflicting line between two good ones.
    server.send_udp(&["fine:1|c\nconflict:5|g\nconflict:2|c"]);
    let r = server.wait_udp(2);
    assert_eq!(r.get("events.refused"), 1);
    assert_eq!(r.get("events.accepted"), 3);
    let app = server.get_json("/metrics/application");
    assert_eq!(app["conflict"].as_f64(), Some(3.0), "{app}");
    assert_eq!(app["fine"].as_f64(), Some(1.0), "{app}");
    let vendor = server.get_json("/metrics/vendor");
    assert_eq!(
        vendor["meterd.events.rejected"].as_f64(),
        Some(1.0),
        "{vendor}"
    );

    // Over HTTP the whole body is refused with 409.
    let (status, answer) = server.post("/api/v1/statsd", "text/plain", "fine:1|c\nconflict:1|g");
    assert_eq!(status, 409, "{answer}");
    assert_error(&answer, "type_conflict");
    assert_eq!(
        server.get_json("/metrics/application")["fine"].as_f64(),
        Some(1.0)
    );
}

#[test]
fn http_takes_the_service_from_fiware_headers() {
    let server = Server::start();
    let headers = [("Fiware-Service", "shop"), ("Fiware-ServicePath", "/web")];
    let (status, body) = server.post_with("/api/v1/statsd", "text/plain", "orders:2|c\n", &headers);
    assert_eq!(status, 200, "{body}");
    let (_, _, text) = server.get("/metrics/application", Some("text/plain"));
    assert!(
        text.contains("application:orders{service=\"shop\",servicePath=\"/web\"} 2"),
        "{text}"
    );
    let (status, body) = server.post_with(
        "/api/v1/statsd",
        "text/plain",
        "orders:2|c\n",
        &[("Fiware-Service", "bad service!")],
    );
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "bad_service");
}

#[test]
fn an_empty_body_accepts_nothing_and_a_large_one_is_refused() {
    let server = Server::with(|o| o.pipeline.limits.max_body_bytes = 64);
    let (status, body) = server.post("/api/v1/statsd", "text/plain", "\n\n");
    assert_eq!((status, body.as_str()), (200, r#"{"accepted":0}"#));
    let (status, body) = server.post("/api/v1/statsd", "text/plain", &"x:1|c\n".repeat(20));
    assert_eq!(status, 413, "{body}");
    assert_error(&body, "body_too_large");
}

#[test]
fn the_text_output_of_statsd_input() {
    let (server, _clock) = Server::with_manual_clock();
    let body = "api.requests:1|c|#route:/orders\napi.requests:1|c|@0.5|#route:/orders\n\
                api.latency:120:80|ms\nqueue.depth:10|g\nqueue.depth:-3|g\n\
                payload.size:1500|h\nlogins:2|m\nusers.unique:alice:bob:alice|s\n";
    let (status, answer) = server.post("/api/v1/statsd", "text/plain", body);
    assert_eq!(status, 200, "{answer}");
    let (_, _, text) = server.get("/metrics/application", Some("text/plain"));
    golden("statsd.prom", &text);
    let (_, _, text) = server.get("/metrics/application", Some("application/openmetrics-text"));
    golden("statsd.om", &text);
}

#[test]
fn udp_off_by_default_in_tests_and_an_address_in_use_stops_start_up() {
    let server = Server::start();
    assert_eq!(server.running.udp_addr, None);

    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = common::TempDir::new();
    let mut opts = meterd::app::Options::for_tests(dir.0.join("data"));
    opts.statsd_udp = Some(addr.clone());
    let Err(e) = meterd::app::spawn(opts) else {
        panic!("started on a UDP address in use")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&addr), "{e}");
}

#[test]
fn the_binary_explains_the_flag_and_stops_on_an_address_in_use() {
    let meterd = || std::process::Command::new(env!("CARGO_BIN_EXE_meterd"));
    let out = meterd().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--statsd-udp", "METERD_STATSD_UDP", "127.0.0.1:8125", "off"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }

    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = common::TempDir::new();
    let out = meterd()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.0.join("data"))
        .env("METERD_STATSD_UDP", &addr)
        .output()
        .unwrap();
    assert!(!out.status.success(), "started on a UDP address in use");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("StatsD UDP"), "{err}");
}
