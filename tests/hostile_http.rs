//! Hostile clients at the HTTP edge (issue 19): what one request can cost is bounded. Each test
//! talks to a real server over a socket, most of them byte by byte, and finishes in seconds.

mod common;

use common::{assert_error, Server, TempDir};
use meterd::config::{Pipeline, Tokens};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A raw connection to the server, for requests no well-behaved client sends.
fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.running.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection or `wait` passes; answers what came and
/// whether the connection was closed.
fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{e}"),
        }
    }
    (got, false)
}

/// Reads one whole answer (head and a `Content-Length` body); answers it and when it was
/// complete.
fn read_answer(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        assert!(
            n > 0,
            "closed or timed out after {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let (_, head, body) = parse_answer(&got);
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse::<usize>().ok());
        if length.is_some_and(|n| body.len() >= n) {
            return (got, Instant::now());
        }
    }
}

/// Splits a raw HTTP/1.1 answer into (status, lowercased head, body).
fn parse_answer(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

// ---- WebSocket frames -------------------------------------------------------------------

/// Opens a WebSocket on the Kanto route by hand; answers the stream after the 101.
fn websocket(server: &Server) -> TcpStream {
    let mut s = connect(server);
    write!(
        s,
        "GET /api/v1/metrics/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s
}

/// A masked client frame header (mask 0: the payload goes as is).
fn frame_header(first: u8, len: u64) -> Vec<u8> {
    meterd::http::client_frame_header(first, len, [0; 4])
}

/// The close code the server sends, and whether it then closed the connection.
fn close_code(stream: &mut TcpStream) -> (Option<u16>, bool) {
    let (got, closed) = read_until_closed(stream, Duration::from_secs(5));
    // Server frames are unmasked: find the close frame (opcode 8) and read its code.
    let mut i = 0;
    while i + 2 <= got.len() {
        let (op, len) = (got[i] & 0x0F, usize::from(got[i + 1] & 0x7F));
        if op == 8 && len >= 2 && i + 4 <= got.len() {
            return (Some(u16::from_be_bytes([got[i + 2], got[i + 3]])), closed);
        }
        i += 2 + len;
    }
    (None, closed)
}

#[test]
fn a_frame_declaring_2_to_the_62_bytes_is_refused_with_1009_at_once() {
    let server = Server::start();
    let mut ws = websocket(&server);
    ws.write_all(&frame_header(0x81, 1 << 62)).unwrap();
    // Stream into it: none of this may be kept.
    let started = Instant::now();
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..64 {
        if ws.write_all(&chunk).is_err() {
            break;
        }
    }
    let (code, closed) = close_code(&mut ws);
    assert_eq!(code, Some(1009), "message too big");
    assert!(closed, "and the connection is closed");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Just over the limit (64 KiB + 1) too, before its payload is sent.
    let mut ws = websocket(&server);
    ws.write_all(&frame_header(0x81, (64 << 10) + 1)).unwrap();
    assert_eq!(close_code(&mut ws), (Some(1009), true));
}

#[test]
fn fragments_adding_up_beyond_the_limit_are_refused_with_1009() {
    let server = Server::start();
    let mut ws = websocket(&server);
    let part = vec![b' '; 40 << 10];
    ws.write_all(&frame_header(0x01, part.len() as u64))
        .unwrap();
    ws.write_all(&part).unwrap();
    ws.write_all(&frame_header(0x00, part.len() as u64))
        .unwrap();
    assert_eq!(close_code(&mut ws), (Some(1009), true));
}

#[test]
fn invalid_utf8_text_closes_with_1007_and_protocol_errors_with_1002() {
    let server = Server::start();
    let mut ws = websocket(&server);
    ws.write_all(&frame_header(0x81, 2)).unwrap();
    ws.write_all(&[0xFF, 0xFE]).unwrap();
    assert_eq!(close_code(&mut ws).0, Some(1007));

    // Opcode 3 is reserved.
    let mut ws = websocket(&server);
    ws.write_all(&frame_header(0x83, 0)).unwrap();
    assert_eq!(close_code(&mut ws).0, Some(1002));
}

// ---- Error lists ------------------------------------------------------------------------

/// POSTs a body; answers (status, body).
fn post(server: &Server, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let resp = ureq::post(&server.url(path))
        .set("Content-Type", content_type)
        .send_bytes(body);
    match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

/// Checks a 400 lists the first 100 bad items and counts the rest, in a few KB.
fn assert_capped(answer: (u16, String), total: usize) -> Value {
    let (status, body) = answer;
    assert_eq!(status, 400, "{}", &body[..body.len().min(500)]);
    assert!(body.len() < 16 << 10, "{} bytes answered", body.len());
    let v = assert_error(&body, "invalid_batch");
    assert_eq!(
        v["error"]["details"].as_array().unwrap().len(),
        100,
        "{body}"
    );
    assert_eq!(v["error"]["omitted"], total - 100, "{body}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&total.to_string()),
        "{body}"
    );
    v
}

#[test]
fn a_million_bad_items_get_an_answer_of_a_few_kb() {
    let server = Server::start();
    let n = 1_000_000;
    // JSON events: a 2 MB `[0,0,…]`.
    let mut body = "0,".repeat(n);
    body.pop();
    let body = format!("[{body}]");
    let v = assert_capped(
        post(
            &server,
            "/api/v1/events",
            "application/json",
            body.as_bytes(),
        ),
        n,
    );
    assert_eq!(v["error"]["details"][99]["index"], 99);
    // NDJSON.
    let body = "0\n".repeat(n);
    assert_capped(
        post(
            &server,
            "/api/v1/events",
            "application/x-ndjson",
            body.as_bytes(),
        ),
        n,
    );
    // StatsD lines.
    let body = "x\n".repeat(n);
    let v = assert_capped(
        post(&server, "/api/v1/statsd", "text/plain", body.as_bytes()),
        n,
    );
    assert_eq!(v["error"]["details"][0]["index"], 1, "1-based line numbers");
    // OpenTSDB put.
    let mut body = "{},".repeat(n / 2);
    body.pop();
    let body = format!("[{body}]");
    assert_capped(
        post(&server, "/api/put", "application/json", body.as_bytes()),
        n / 2,
    );
}

#[test]
fn echoed_input_is_cut_short() {
    let server = Server::start();
    let long = "a".repeat(1 << 20);
    let body = format!(r#"[{{"name":"{long}","type":"counter"}}]"#);
    let (status, answer) = post(
        &server,
        "/api/v1/events",
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(answer.len() < 1024, "{answer}");
    assert!(
        answer.contains(&format!("\"{}…", "a".repeat(64))),
        "{answer}"
    );
    // An unknown field, quoted by serde in backticks.
    let body = format!(r#"{{"name":"m","type":"counter","{long}":1}}"#);
    let (status, answer) = post(
        &server,
        "/api/v1/events",
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(answer.len() < 1024, "{answer}");
    // OpenTSDB and StatsD too.
    let body = format!(r#"{{"metric":"m","timestamp":1,"value":"{long}"}}"#);
    let (status, answer) = post(&server, "/api/put", "application/json", body.as_bytes());
    assert_eq!(status, 400);
    assert!(answer.len() < 1024, "{answer}");
    let (status, answer) = post(
        &server,
        "/api/v1/statsd",
        "text/plain",
        format!("x:{long}|c").as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(answer.len() < 1024, "{answer}");
}

// ---- The token guard sees the path the router matches -----------------------------------

const INGEST: &str = "ingest-secret-0123456789";
const READ: &str = "read-secret-0123456789";

fn guarded() -> Server {
    let tokens = Tokens::parse(
        &format!(
            "[[token]]\nsecret = \"{INGEST}\"\nrole = \"ingest\"\n\n\
             [[token]]\nsecret = \"{READ}\"\nrole = \"read\"\n"
        ),
        "tokens.toml",
    )
    .unwrap();
    Server::with(|o| o.tokens = Some(tokens))
}

/// Sends `method path` with an Authorization header; answers (status, body).
fn call(server: &Server, method: &str, path: &str, auth: &str, body: &str) -> (u16, String) {
    let req = ureq::request(method, &server.url(path))
        .set("Authorization", auth)
        .set("Content-Type", "application/json");
    let resp = if body.is_empty() {
        req.call()
    } else {
        req.send_string(body)
    };
    match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn percent_encoded_paths_are_guarded_as_the_routes_they_reach() {
    let server = guarded();
    let ingest = format!("Bearer {INGEST}");
    let query = r#"{"start":"1h-ago","queries":[{"metric":"m","aggregator":"sum"}]}"#;
    for path in [
        "/api/query",
        "/api/%71uery",
        "/api/quer%79",
        "/%61pi/query",
        "/api/%51uery",
    ] {
        let (status, body) = call(&server, "POST", path, &ingest, query);
        let expected = if path == "/api/%51uery" { 404 } else { 403 };
        assert_eq!(status, expected, "{path}: {body}");
    }
    for path in [
        "/api/%73uggest",
        "/api/%73%75ggest",
        "/api/v2/projects/p/jobs/j/%6detric",
        "/api/v2/projects/p/jobs/j/%6Detric",
        "/api/%61ggregators",
    ] {
        let (status, body) = call(&server, "POST", path, &ingest, r#"{"type":"metrics"}"#);
        assert_eq!(status, 403, "{path}: {body}");
        assert_error(&body, "forbidden");
    }
    // A read token may read there.
    let (status, body) = call(
        &server,
        "POST",
        "/api/%71uery",
        &format!("Bearer {READ}"),
        query,
    );
    assert_ne!(status, 403, "{body}");
    assert_ne!(status, 401, "{body}");
}

#[test]
fn the_scheme_is_case_insensitive_and_refusals_read_well() {
    let server = guarded();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, body) = call(&server, "GET", "/metrics", &format!("{scheme} {READ}"), "");
        assert!(status == 200 || status == 204, "{scheme}: {status} {body}");
    }
    let (status, _) = call(&server, "GET", "/metrics", &format!("Basic {READ}"), "");
    assert_eq!(status, 401);
    let (status, body) = call(
        &server,
        "DELETE",
        "/admin/metrics",
        &format!("Bearer {READ}"),
        "",
    );
    assert_eq!(status, 403);
    let message = assert_error(&body, "forbidden")["error"]["message"].clone();
    assert_eq!(message, "this route needs a token with role \"admin\"");
    let (_, body) = call(
        &server,
        "POST",
        "/api/v1/events",
        &format!("Bearer {READ}"),
        "[]",
    );
    let message = assert_error(&body, "forbidden")["error"]["message"].clone();
    assert_eq!(
        message,
        "this route needs a token with role \"ingest\" or \"admin\""
    );
}

// ---- Token bindings ---------------------------------------------------------------------

#[test]
fn an_empty_service_binding_stops_start_up_naming_file_and_line() {
    let dir = TempDir::new();
    for (service, what) in [("\"\"", "service is empty"), ("\"a-b\"", "service \"a-b\"")] {
        let file = dir.0.join("tokens.toml");
        std::fs::write(
            &file,
            format!("[[token]]\nsecret = \"{READ}\"\nrole = \"read\"\nservice = {service}\n"),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_meterd"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--statsd-udp",
                "off",
                "--tokens",
            ])
            .arg(&file)
            .env("METERD_DATA_DIR", dir.0.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("meterd started with service = {service}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("tokens.toml:4"), "{err}");
        assert!(err.contains(what), "{err}");
        assert!(!err.contains(READ), "{err}");
    }
}

// ---- Slow bodies ------------------------------------------------------------------------

fn with_body_timeout(tokens: Option<Tokens>) -> Server {
    let pipeline = Pipeline::parse("[limits]\nbody_timeout = \"1s\"\n", "test").unwrap();
    Server::with(|o| {
        o.pipeline = pipeline;
        o.tokens = tokens;
    })
}

#[test]
fn a_body_that_never_finishes_gets_408_and_the_connection_closed() {
    let server = with_body_timeout(None);
    for path in ["/api/v1/events", "/api/v1/statsd", "/api/put", "/api/query"] {
        let mut s = connect(&server);
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n[{{\"name\":"
        )
        .unwrap();
        let started = Instant::now();
        let (raw, closed) = read_until_closed(&mut s, Duration::from_secs(5));
        let (status, _, body) = parse_answer(&raw);
        assert_eq!(status, 408, "{path}: {}", String::from_utf8_lossy(&raw));
        assert_error(&body, "body_timeout");
        assert!(closed, "{path}: the connection is closed");
        assert!(started.elapsed() < Duration::from_secs(4), "{path}");
    }
}

#[test]
fn a_missing_or_unknown_token_is_refused_before_the_body() {
    let tokens = Tokens::parse(
        &format!("[[token]]\nsecret = \"{INGEST}\"\nrole = \"ingest\"\n"),
        "t",
    )
    .unwrap();
    let server = with_body_timeout(Some(tokens));
    for auth in ["", "Authorization: Bearer not-a-token-0123456789\r\n"] {
        let mut s = connect(&server);
        write!(
            s,
            "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: 1000000\r\n\r\n"
        )
        .unwrap();
        let started = Instant::now();
        let (raw, complete) = read_answer(&mut s);
        let (status, head, body) = parse_answer(&raw);
        assert_eq!(status, 401, "{}", String::from_utf8_lossy(&raw));
        assert!(head.contains("www-authenticate: bearer"), "{head}");
        assert_error(&body, "unauthorized");
        assert!(
            complete - started < Duration::from_millis(900),
            "before the body timeout"
        );
        // Nothing of the body is waited for: the connection is closed.
        assert!(read_until_closed(&mut s, Duration::from_secs(3)).1);
    }
}

// ---- Lesser ones ------------------------------------------------------------------------

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn post_encoded(server: &Server, path: &str, encoding: &str, body: &[u8]) -> (u16, String) {
    let resp = ureq::post(&server.url(path))
        .set("Content-Type", "application/json")
        .set("Content-Encoding", encoding)
        .send_bytes(body);
    match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn gzip_and_deflate_bodies_are_decoded_within_the_body_limit() {
    let pipeline = Pipeline::parse("[limits]\nmax_body_bytes = 100000\n", "test").unwrap();
    let server = Server::with(|o| o.pipeline = pipeline);
    let events = br#"[{"name":"zipped","type":"counter","value":2}]"#;
    let (status, body) = post_encoded(&server, "/api/v1/events", "gzip", &gzip(events));
    assert_eq!((status, body.as_str()), (200, r#"{"accepted":1}"#));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(events).unwrap();
    let (status, body) = post_encoded(&server, "/api/v1/events", "Deflate", &z.finish().unwrap());
    assert_eq!((status, body.as_str()), (200, r#"{"accepted":1}"#));
    let (status, body) = post_encoded(&server, "/api/put", "x-gzip", &gzip(b"[]"));
    assert_eq!(status, 204, "{body}");

    // 10 MB of blanks in 10 KB: refused as too large once decoded beyond the limit.
    let mut bomb = b"[".to_vec();
    bomb.resize(10_000_000, b' ');
    let (status, body) = post_encoded(&server, "/api/v1/events", "gzip", &gzip(&bomb));
    assert_eq!(status, 413, "{body}");
    assert_error(&body, "body_too_large");
    let (status, body) = post_encoded(&server, "/api/v1/events", "gzip", b"not gzip");
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "bad_encoding");
    let (status, body) = post_encoded(&server, "/api/v1/events", "br", b"\x0b\x02\x80[]\x03");
    assert_eq!(status, 415, "{body}");
    let v = assert_error(&body, "unsupported_encoding");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("\"br\""),
        "{body}"
    );
}

#[test]
fn ndjson_media_types_are_told_apart_in_any_case() {
    let server = Server::start();
    let lines = "{\"name\":\"a\",\"type\":\"counter\"}\n{\"name\":\"b\",\"type\":\"counter\"}\n";
    for ct in [
        "application/x-ndjson",
        "application/ndjson",
        "Application/NDJSON; charset=utf-8",
        "APPLICATION/X-NDJSON;charset=UTF-8",
    ] {
        let (status, body) = post(&server, "/api/v1/events", ct, lines.as_bytes());
        assert_eq!((status, body.as_str()), (200, r#"{"accepted":2}"#), "{ct}");
    }
}

#[test]
fn other_methods_on_metrics_get_405_with_allow_and_head_answers_like_get() {
    let server = Server::start();
    server.push(serde_json::json!([{"name": "hits", "type": "counter"}]));
    for method in ["PUT", "POST", "PATCH", "DELETE"] {
        for path in [
            "/metrics",
            "/metrics/application",
            "/metrics/application/hits",
        ] {
            let resp = ureq::request(method, &server.url(path)).call();
            let Err(ureq::Error::Status(405, r)) = resp else {
                panic!("{method} {path}: {resp:?}");
            };
            assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
            assert_error(&r.into_string().unwrap(), "method_not_allowed");
        }
    }
    let get = ureq::get(&server.url("/metrics")).call().unwrap();
    let head = ureq::head(&server.url("/metrics")).call().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.content_type(), get.content_type());
    assert_eq!(head.into_string().unwrap(), "", "no body");
}

#[test]
fn deleting_series_by_an_empty_name_is_refused() {
    let server = Server::start();
    server.push(serde_json::json!([{"name": "kept", "type": "counter"}]));
    for query in ["name=", "service=", "name=&service=x", "name=%20"] {
        let (status, _, body) = server.request("DELETE", &format!("/api/v1/series?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_error(&body, "bad_request");
    }
    let (status, _, body) = server.get("/metrics/application/kept", Some("application/json"));
    assert_eq!(status, 200, "{body}");
}

/// Sends raw bytes on a new connection; answers what came back before the server closed.
fn raw_exchange(server: &Server, request: &[u8]) -> (u16, String, String, bool) {
    let mut s = connect(server);
    s.write_all(request).unwrap();
    let (raw, closed) = read_until_closed(&mut s, Duration::from_secs(3));
    let (status, head, body) = parse_answer(&raw);
    (status, head, body, closed)
}

/// What actix's HTTP/1 codec refuses before any meterd code runs: a bare 400 (or 431) with an
/// empty body and the connection closed. actix-web 4 has no hook to give these the JSON error
/// body; this test notices if that changes (README, "Hostile clients").
#[test]
fn malformed_heads_get_actix_bare_answers_and_the_rest_get_json() {
    let server = Server::start();
    for (what, request) in [
        (
            "bad Content-Length",
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n[]".to_vec(),
        ),
        (
            "control character in a header",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n".to_vec(),
        ),
        (
            "100 KB URI",
            [
                b"GET /metrics?".as_slice(),
                &[b'a'; 100_000],
                b" HTTP/1.1\r\nHost: x\r\n\r\n",
            ]
            .concat(),
        ),
    ] {
        let (status, head, body, closed) = raw_exchange(&server, &request);
        assert_eq!(status, 400, "{what}: {head}");
        assert!(body.is_empty() && closed, "{what}: {body}");
    }
    let huge_head = [
        b"GET /metrics HTTP/1.1\r\nX-Big: ".as_slice(),
        &[b'a'; 140_000],
        b"\r\n\r\n",
    ]
    .concat();
    let (status, _, _, closed) = raw_exchange(&server, &huge_head);
    assert_eq!((status, closed), (431, true));
    // A 40 KB query string reaches meterd, whose refusals are JSON.
    let long_query = [
        b"DELETE /api/v1/series?x=".as_slice(),
        &[b'a'; 40_000],
        b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let (status, _, body, _) = raw_exchange(&server, &long_query);
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "bad_request");
}
