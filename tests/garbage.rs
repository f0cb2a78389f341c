//! Garbage in: a few hundred mutated requests at every endpoint, and meterd answers each with
//! a status below 500 (errors as DESIGN.md's JSON body) and stays up.
//!
//! The endpoints are one table, [`ENDPOINTS`]: an API added later appends its rows (a method,
//! a path, a content type and a few valid seed bodies or queries to mutate).

mod common;

use common::peers::OtlpStatus as Status;
use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One endpoint to throw garbage at.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    /// What gets mutated: bodies, or (with an empty body) the query string or path tail.
    seeds: &'static [&'static str],
    /// Mutate the query string / path instead of the body.
    mutate_target: bool,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "POST",
        path: "/api/v1/events",
        content_type: "application/json",
        seeds: &[
            r#"[{"name":"a.b","type":"counter","value":2,"tags":{"k":"v"}}]"#,
            r#"{"name":"g","type":"gauge","value":-1.5,"timestamp":{NOW_MS},"service":"s","servicePath":"/x"}"#,
            r#"[{"name":"h","type":"histogram","value":1e3,"unit":"bytes","description":"d","displayName":"D"},{"name":"t","type":"timer","value":5}]"#,
        ],
        mutate_target: false,
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/events",
        content_type: "application/x-ndjson",
        seeds: &["{\"name\":\"n\",\"type\":\"meter\",\"value\":3}\n{\"name\":\"n\",\"type\":\"meter\"}\n"],
        mutate_target: false,
    },
    Endpoint {
        method: "DELETE",
        path: "/api/v1/series?",
        content_type: "",
        seeds: &["service=s&name=a.b", "name=g"],
        mutate_target: true,
    },
    Endpoint {
        method: "GET",
        path: "/metrics/",
        content_type: "",
        seeds: &["application/a.b", "vendor", "base/cpu.processCpuTime"],
        mutate_target: true,
    },
    Endpoint {
        method: "OPTIONS",
        path: "/metrics/",
        content_type: "",
        seeds: &["application/a.b", "application"],
        mutate_target: true,
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/statsd",
        content_type: "text/plain",
        seeds: &["a.s:1|c|@0.5|#k:v\nb.s:+2|g\nc.s:3:4|ms", "d.s:x|s\ne.s:7|h"],
        mutate_target: false,
    },
    Endpoint {
        method: "GET",
        path: "/admin/metrics?",
        content_type: "",
        seeds: &["reset=false", "service=s", "reset=true&service=s"],
        mutate_target: true,
    },
    Endpoint {
        method: "POST",
        path: "/api/put",
        content_type: "application/json",
        seeds: &[
            r#"[{"metric":"sys.cpu","timestamp":{NOW_S},"value":1,"tags":{"host":"a"}}]"#,
            r#"{"metric":"sys.mem","timestamp":{NOW_MS},"value":2.5,"tags":{"host":"b","dc":"x"}}"#,
        ],
        mutate_target: false,
    },
    Endpoint {
        method: "GET",
        path: "/api/query?",
        content_type: "",
        seeds: &["start=1h-ago&m=sum:a.b", "start=1h-ago&m=avg:1m-max-zero:g{host=*}&msResolution=true"],
        mutate_target: true,
    },
    Endpoint {
        method: "POST",
        path: "/api/query",
        content_type: "application/json",
        seeds: &[r#"{"start":"1h-ago","queries":[{"aggregator":"sum","metric":"a.b","downsample":"1m-sum","tags":{}}]}"#],
        mutate_target: false,
    },
    Endpoint {
        method: "GET",
        path: "/api/suggest?",
        content_type: "",
        seeds: &["type=metrics&q=a", "type=tagk&max=5"],
        mutate_target: true,
    },
    Endpoint {
        method: "GET",
        path: "/api/metric/v1?",
        content_type: "",
        seeds: &[
            "provider=default-service&_limit=5",
            "_function=listMetrics&provider=s",
            "_metric=s/a.b&_calendar=%23PT1H&_observed=summed&_range=T-1D",
            "_filter=%7B%22application%22%3A%22api%22%7D&_skip=1",
        ],
        mutate_target: true,
    },
    Endpoint {
        method: "POST",
        path: "/v1/metrics",
        content_type: "application/json",
        seeds: &[
            r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"g"}}]},"scopeMetrics":[{"metrics":[{"name":"otlp.sum","unit":"ms","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"3","startTimeUnixNano":"1","attributes":[{"key":"a.b","value":{"intValue":"7"}}]}]}},{"name":"otlp.g","gauge":{"dataPoints":[{"asDouble":1.5}]}}]}]}]}"#,
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"otlp.h","histogram":{"aggregationTemporality":1,"dataPoints":[{"count":"3","sum":12,"bucketCounts":["1","2"],"explicitBounds":[5],"min":1,"max":6}]}},{"name":"otlp.s","summary":{"dataPoints":[{"count":"2","sum":3,"quantileValues":[{"quantile":0.5,"value":1}]}]}}]}]}]}"#,
        ],
        mutate_target: false,
    },
    Endpoint {
        method: "POST",
        path: "/v1/metrics",
        content_type: "application/x-protobuf",
        // A gauge and a delta sum (encoded by the OpenTelemetry Python protobuf types).
        seeds: &["\x0a]\x0a\x1b\x0a\x19\x0a\x0cservice.name\x12\x09\x0a\x07garbage\x12>\x12!\x0a\x08pb.gauge*\x15\x0a\x131\x05\x00\x00\x00\x00\x00\x00\x00:\x08\x0a\x01k\x12\x03\x0a\x01v\x12\x19\x0a\x06pb.sum:\x0f\x0a\x091\x02\x00\x00\x00\x00\x00\x00\x00\x10\x01\x18\x01"],
        mutate_target: false,
    },
    Endpoint {
        method: "GET",
        path: "/-/",
        content_type: "",
        seeds: &["healthy", "ready"],
        mutate_target: true,
    },
];

/// Mutations per seed.
const ROUNDS: usize = 60;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `seed` with one to four random edits: flipped bits, deleted, doubled or cut runs, and
/// inserted bytes that matter to JSON, URLs and UTF-8.
fn mutate(seed: &[u8], rng: &mut Lcg) -> Vec<u8> {
    const INSERTS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b"\\",
        b",",
        b":",
        b"\n",
        b"%",
        b"%zz",
        b"&",
        b"=",
        b"/",
        b"..",
        b"1e999",
        b"-0",
        b"NaN",
        b"null",
        b"\\u0000",
        b"\xff\xfe",
        b"\xc3",
        b"999999999999999999999",
        b";",
        b"#",
        b"?",
    ];
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + rng.below(8)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(16)).min(out.len());
                let run = out[at..end].to_vec();
                out.splice(at..at, run);
            }
            3 => out.truncate(at),
            _ => {
                let insert = INSERTS[rng.below(INSERTS.len())];
                out.splice(at..at, insert.iter().copied());
            }
        }
    }
    out
}

/// Sends one raw HTTP/1.1 request (so that any bytes can go in the path) and answers the
/// status and body.
fn send(
    addr: std::net::SocketAddr,
    method: &str,
    target: &[u8],
    ct: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("meterd is up");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: meterd\r\nConnection: close\r\n");
    if !ct.is_empty() {
        req.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    stream.write_all(&req).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => answer[i + 4..].to_vec(),
        None => Vec::new(),
    };
    (status, body)
}

/// Keeps the bytes a request target may hold (RFC 3986); everything else is percent-encoded,
/// as any client does, so that the garbage reaches meterd rather than being refused by the
/// HTTP parser before any route (an answer meterd does not write).
fn as_target(prefix: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = prefix.as_bytes().to_vec();
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()*+,;=%".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

fn now_ms() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis().to_string()
}

fn now_s() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_secs().to_string()
}

/// OTLP answers errors with a `google.rpc.Status` in the request's encoding.
fn otlp_status(content_type: &str, answer: &[u8], what: &str) {
    let status = if content_type == "application/json" {
        serde_json::from_slice(answer)
            .ok()
            .and_then(|v: serde_json::Value| {
                Some(Status {
                    code: i32::try_from(v["code"].as_i64()?).ok()?,
                    message: v["message"].as_str()?.to_owned(),
                })
            })
    } else {
        <Status as prost::Message>::decode(answer).ok()
    };
    let status = status.unwrap_or_else(|| panic!("error body is not a Status: {what}"));
    assert!(status.code > 0 && !status.message.is_empty(), "{what}");
}

#[test]
fn mutated_requests_at_every_endpoint_get_4xx_and_meterd_stays_up() {
    let server = Server::start();
    let addr = server.running.addr;
    let seed = common::seed::Seed::for_test("mutated_requests_at_every_endpoint");
    let mut rng = Lcg(seed.value);
    let mut sent = 0;
    for ep in ENDPOINTS {
        // What the read and delete seeds name exists (an earlier row may have removed it).
        server.push(serde_json::json!([
            {"name": "a.b", "type": "counter", "service": "s"},
            {"name": "a.b", "type": "counter"},
            {"name": "g", "type": "gauge", "value": 1}
        ]));
        for seed in ep.seeds {
            for round in 0..ROUNDS {
                // The first round sends the seed itself: it must be accepted.
                let seed = seed
                    .replace("{NOW_MS}", &now_ms())
                    .replace("{NOW_S}", &now_s());
                let raw = if round == 0 {
                    seed.as_bytes().to_vec()
                } else {
                    mutate(seed.as_bytes(), &mut rng)
                };
                let (target, body) = if ep.mutate_target {
                    (as_target(ep.path, &raw), Vec::new())
                } else {
                    (ep.path.as_bytes().to_vec(), raw)
                };
                let (status, answer) = send(addr, ep.method, &target, ep.content_type, &body);
                let what = format!(
                    "{} {} {:?} -> {status}: {}",
                    ep.method,
                    String::from_utf8_lossy(&target),
                    String::from_utf8_lossy(&body),
                    String::from_utf8_lossy(&answer)
                );
                assert!(status < 500, "{what}");
                if round == 0 {
                    assert!((200..300).contains(&status), "a seed is valid: {what}");
                }
                if status >= 400 && ep.path == "/v1/metrics" {
                    otlp_status(ep.content_type, &answer, &what);
                } else if status >= 400 {
                    let v: serde_json::Value = serde_json::from_slice(&answer)
                        .unwrap_or_else(|_| panic!("error body is not JSON: {what}"));
                    assert!(v["error"]["code"].is_string(), "{what}");
                }
                sent += 1;
            }
        }
    }
    // Every row's every seed was sent, once as is and `ROUNDS - 1` times mutated.
    let rows: usize = ENDPOINTS.iter().map(|ep| ep.seeds.len()).sum();
    assert_eq!(sent, rows * ROUNDS, "requests sent");
    let (status, _, _) = server.get("/-/healthy", None);
    assert_eq!(status, 200, "meterd is still up");
    let v = server.get_json("/metrics/vendor/meterd.events.rejected");
    assert!(v["meterd.events.rejected"].as_f64().unwrap() > 0.0);
}
