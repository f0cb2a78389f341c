//! Bearer tokens: 401 without or with an unknown token, 403 for a role or service that does
//! not fit, `admin` does everything, health probes stay open, and `--tokens` /
//! `METERD_TOKENS` on the real binary.

mod common;

use common::{assert_error, Server, TempDir};
use meterd::config::Tokens;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INGEST: &str = "ingest-secret-0123456789";
const INGEST_CITY: &str = "ingest-city-secret-0123456789";
const READ: &str = "read-secret-0123456789";
const READ_CITY: &str = "read-city-secret-0123456789";
const ADMIN: &str = "admin-secret-0123456789";

fn tokens_file() -> String {
    format!(
        r#"
[[token]]
secret = "{INGEST}"
role = "ingest"

[[token]]
secret = "{INGEST_CITY}"
role = "ingest"
service = "smart_city"

[[token]]
secret = "{READ}"
role = "read"

[[token]]
secret = "{READ_CITY}"
role = "read"
service = "smart_city"

[[token]]
secret = "{ADMIN}"
role = "admin"
"#
    )
}

fn server() -> Server {
    let tokens = Tokens::parse(&tokens_file(), "tokens.toml").unwrap();
    Server::with(|o| o.tokens = Some(tokens))
}

/// Sends a request with an optional bearer token and extra headers; answers (status, body).
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String) {
    let mut req = ureq::request(method, &server.url(path)).set("Accept", "application/json");
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            (status, r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("{e}"),
    }
}

fn counter(name: &str) -> Value {
    json!({"name": name, "type": "counter"})
}

#[test]
fn no_or_unknown_token_is_401_and_health_stays_open() {
    let server = server();
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(call(&server, "GET", path, None, &[], None).0, 200, "{path}");
    }
    let (s, b) = call(&server, "GET", "/metrics", None, &[], None);
    assert_eq!(s, 401);
    assert_error(&b, "unauthorized");
    let resp = ureq::get(&server.url("/metrics")).call().unwrap_err();
    let ureq::Error::Status(401, resp) = resp else {
        panic!("not 401")
    };
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    let (s, b) = call(
        &server,
        "GET",
        "/metrics",
        Some("wrong-secret-0123456789"),
        &[],
        None,
    );
    assert_eq!(s, 401);
    assert!(b.contains("unknown bearer token"), "{b}");
    assert!(!b.contains("wrong-secret"), "secrets are never echoed: {b}");
    let (s, _) = call(
        &server,
        "GET",
        "/metrics",
        None,
        &[("Authorization", &format!("Basic {READ}"))],
        None,
    );
    assert_eq!(s, 401);
    // Unknown routes are guarded too.
    assert_eq!(call(&server, "POST", "/nowhere", None, &[], None).0, 401);
}

#[test]
fn roles_fit_their_routes_and_admin_does_everything() {
    let server = server();
    let push = |token| {
        call(
            &server,
            "POST",
            "/api/v1/events",
            Some(token),
            &[],
            Some(counter("r.c")),
        )
        .0
    };
    assert_eq!(push(INGEST), 200);
    assert_eq!(push(ADMIN), 200);
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/events",
        Some(READ),
        &[],
        Some(counter("r.c")),
    );
    assert_eq!(s, 403);
    assert_error(&b, "forbidden");

    assert_eq!(
        call(
            &server,
            "GET",
            "/metrics/application",
            Some(READ),
            &[],
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(&server, "OPTIONS", "/metrics", Some(READ), &[], None).0,
        200
    );
    let (s, b) = call(
        &server,
        "GET",
        "/metrics/application",
        Some(ADMIN),
        &[],
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["r.c"], 2.0);
    assert_eq!(
        call(&server, "GET", "/metrics", Some(INGEST), &[], None).0,
        403
    );

    // Resets and removals need admin.
    for token in [INGEST, READ] {
        let (s, _) = call(
            &server,
            "DELETE",
            "/api/v1/series?name=r.c",
            Some(token),
            &[],
            None,
        );
        assert_eq!(s, 403);
        let (s, _) = call(
            &server,
            "GET",
            "/admin/metrics?reset=true",
            Some(token),
            &[],
            None,
        );
        assert_eq!(s, 403);
    }
    let (s, b) = call(
        &server,
        "DELETE",
        "/api/v1/series?name=r.c",
        Some(ADMIN),
        &[],
        None,
    );
    assert_eq!((s, b.as_str()), (200, r#"{"removed":1}"#));

    let refused = call(
        &server,
        "GET",
        "/metrics/vendor/meterd.refused.auth",
        Some(READ),
        &[],
        None,
    );
    let v: Value = serde_json::from_str(&refused.1).unwrap();
    assert_eq!(v["meterd.refused.auth"], 6.0);
}

#[test]
fn a_service_bound_token_pushes_and_reads_its_service_only() {
    let server = server();
    let other = [("Fiware-Service", "elsewhere")];
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/events",
        Some(INGEST_CITY),
        &other,
        Some(counter("b.c")),
    );
    assert_eq!(s, 403);
    assert!(b.contains("smart_city"), "{b}");
    let in_body = json!({"name": "b.c", "type": "counter", "service": "elsewhere"});
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/events",
            Some(INGEST_CITY),
            &[],
            Some(in_body)
        )
        .0,
        403
    );
    // Without a header the token's service is the default; naming it is fine too.
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/events",
            Some(INGEST_CITY),
            &[],
            Some(counter("b.c"))
        )
        .0,
        200
    );
    let own = [("Fiware-Service", "Smart_City")];
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/events",
            Some(INGEST_CITY),
            &own,
            Some(counter("b.c"))
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/events",
            Some(INGEST),
            &[],
            Some(counter("b.c"))
        )
        .0,
        200
    );

    let read = |token| {
        let (s, b) = call(
            &server,
            "GET",
            "/metrics/application",
            Some(token),
            &[],
            None,
        );
        assert_eq!(s, 200, "{b}");
        serde_json::from_str::<Value>(&b).unwrap()
    };
    let all = read(READ);
    assert_eq!(all["b.c"], 1.0, "{all}");
    assert_eq!(all["b.c;service=smart_city;servicePath=/"], 2.0, "{all}");
    let city = read(READ_CITY);
    assert_eq!(city, json!({"b.c;service=smart_city;servicePath=/": 2}));
    assert_eq!(
        call(&server, "GET", "/metrics", Some(READ_CITY), &other, None).0,
        403
    );
}

#[test]
/// A refused request proved no right to the service it names: it counts as traffic of
/// `default-service`, never of the service it claims (which anyone could name).
fn refused_requests_count_under_the_default_service() {
    let server = server();
    let city = [("Fiware-Service", "smart_city")];
    assert_eq!(call(&server, "GET", "/metrics", None, &city, None).0, 401);
    assert_eq!(
        call(
            &server,
            "GET",
            "/metrics",
            Some("wrong-secret-0123456789"),
            &city,
            None
        )
        .0,
        401
    );
    let farm = [("Fiware-Service", "farm")];
    assert_eq!(
        call(&server, "GET", "/metrics", Some(READ_CITY), &farm, None).0,
        403
    );
    let (status, body) = call(&server, "GET", "/admin/metrics", Some(ADMIN), &[], None);
    assert_eq!(status, 200, "{body}");
    let tree: Value = serde_json::from_str(&body).unwrap();
    assert!(tree["services"].get("smart_city").is_none(), "{tree}");
    assert!(tree["services"].get("farm").is_none(), "{tree}");
    let sum = &tree["services"]["default-service"]["sum"];
    assert_eq!(sum["incomingTransactions"], 3, "{tree}");
    assert_eq!(sum["incomingTransactionErrors"], 3, "{tree}");
}

#[test]
fn an_encoded_reset_still_needs_admin() {
    let server = server();
    for path in [
        "/admin/metrics?reset=%74rue",
        "/admin/metrics?%72eset=true",
        "/admin/metrics?reset=TRUE",
    ] {
        let (status, body) = call(&server, "GET", path, Some(READ), &[], None);
        assert_eq!(status, 403, "{path}: {body}");
    }
    assert_eq!(
        call(
            &server,
            "GET",
            "/admin/metrics?reset=false",
            Some(READ),
            &[],
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &server,
            "GET",
            "/admin/metrics?reset=%74rue",
            Some(ADMIN),
            &[],
            None
        )
        .0,
        200
    );
}

#[test]
fn a_service_bound_token_is_refused_where_the_binding_is_not_honoured() {
    let server = server();
    for path in [
        "/api/query?start=1h-ago&m=sum:b.c",
        "/api/metric/v1",
        "/api/suggest?type=metrics",
    ] {
        let (status, body) = call(&server, "GET", path, Some(READ_CITY), &[], None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("service-bound"), "{body}");
        assert_ne!(
            call(&server, "GET", path, Some(READ), &[], None).0,
            403,
            "{path}"
        );
    }
    let q = json!({"start": "1h-ago", "queries": [{"aggregator": "sum", "metric": "b.c"}]});
    assert_ne!(
        call(&server, "POST", "/api/query", Some(READ), &[], Some(q)).0,
        403
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/suggest",
            Some(READ),
            &[],
            Some(json!({"type": "metrics"}))
        )
        .0,
        200
    );
}

#[test]
fn the_binary_takes_tokens_from_a_flag_or_the_environment() {
    let dir = TempDir::new();
    let file = dir.0.join("tokens.toml");
    std::fs::write(&file, tokens_file()).unwrap();
    for by_env in [false, true] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meterd"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("METERD_DATA_DIR", dir.0.join(format!("data-{by_env}")))
            // Not StatsD's default port, which another process may hold.
            .env("METERD_STATSD_UDP", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if by_env {
            cmd.env("METERD_TOKENS", &file);
        } else {
            cmd.arg("--tokens").arg(&file);
        }
        let mut child = cmd.spawn().unwrap();
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&url("/-/ready")).call().is_err() {
            assert!(Instant::now() < deadline, "did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(matches!(
            ureq::get(&url("/metrics")).call(),
            Err(ureq::Error::Status(401, _))
        ));
        let ok = ureq::get(&url("/metrics"))
            .set("Authorization", &format!("Bearer {READ}"))
            .call()
            .unwrap();
        assert_eq!(ok.status(), 200);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    // A bad tokens file stops start-up, naming the file and line, never a secret.
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[[token]]\nsecret = \"short-one\"\nrole = \"read\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meterd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:2"), "{err}");
    assert!(!err.contains("short-one"), "{err}");
}

#[test]
fn a_token_bound_to_the_default_service_never_reads_the_whole_orion_tree() {
    const READ_DEFAULT: &str = "read-default-secret-0123456789";
    let file = format!(
        "{}\n[[token]]\nsecret = \"{READ_DEFAULT}\"\nrole = \"read\"\nservice = \"default-service\"\n",
        tokens_file()
    );
    let tokens = Tokens::parse(&file, "tokens.toml").unwrap();
    let server = Server::with(|o| o.tokens = Some(tokens));
    for service in ["tenant_a", "tenant_b"] {
        let header = [("Fiware-Service", service)];
        let pushed = call(
            &server,
            "POST",
            "/api/v1/events",
            Some(ADMIN),
            &header,
            Some(counter("secret.orders")),
        );
        assert_eq!(pushed.0, 200, "{}", pushed.1);
    }
    let mine = call(
        &server,
        "POST",
        "/api/v1/events",
        Some(ADMIN),
        &[],
        Some(counter("visible.orders")),
    );
    assert_eq!(mine.0, 200, "{}", mine.1);
    // An empty or blank Fiware-Service must not read as "every service".
    for header in [
        &[("Fiware-Service", "")][..],
        &[("Fiware-Service", " ")],
        &[],
    ] {
        let (s, b) = call(
            &server,
            "GET",
            "/admin/metrics",
            Some(READ_DEFAULT),
            header,
            None,
        );
        assert_eq!(s, 200, "{header:?}: {b}");
        let tree: Value = serde_json::from_str(&b).unwrap();
        let services: Vec<&String> = tree["services"].as_object().unwrap().keys().collect();
        assert_eq!(services, ["default-service"], "{header:?}: {b}");
        assert!(!b.contains("tenant_"), "{header:?}: {b}");
    }
    // Naming another service, in the header or the query, is refused.
    let other = [("Fiware-Service", "tenant_a")];
    let (s, _) = call(
        &server,
        "GET",
        "/admin/metrics",
        Some(READ_DEFAULT),
        &other,
        None,
    );
    assert_eq!(s, 403);
    let (s, _) = call(
        &server,
        "GET",
        "/admin/metrics?service=tenant_a",
        Some(READ_DEFAULT),
        &[],
        None,
    );
    assert_eq!(s, 403);
}

/// POSTs `body` as JSON events over a raw connection with `headers` as given (bytes that are
/// not ASCII included); answers (status, body).
fn raw_post(server: &Server, headers: &[&[u8]], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(server.running.addr).unwrap();
    let mut req = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: meterd\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for h in headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body.as_bytes());
    conn.write_all(&req).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// The tenancy headers follow one rule (Orion's) in the token guard, the handlers and the
/// traffic count: a blank `Fiware-Service` names no service, so a bound token's request goes
/// to the bound service and counts there; a header that is not ASCII is 400, naming the
/// header at fault.
#[test]
fn tenancy_headers_follow_one_rule_in_the_guard_the_handlers_and_the_traffic() {
    let server = server();
    let blank = [("Fiware-Service", " ")];
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/events",
        Some(INGEST_CITY),
        &blank,
        Some(counter("blank.c")),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/events",
        Some(INGEST_CITY),
        &[],
        Some(counter("none.c")),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&server, "GET", "/admin/metrics", Some(ADMIN), &[], None);
    assert_eq!(s, 200, "{b}");
    let tree: Value = serde_json::from_str(&b).unwrap();
    let city = &tree["services"]["smart_city"];
    assert_eq!(city["sum"]["blank.c"], 1, "{tree}");
    assert_eq!(city["sum"]["none.c"], 1, "{tree}");
    assert_eq!(
        city["sum"]["incomingTransactions"], 2,
        "a bound token's requests count under its service: {tree}"
    );

    let event = counter("x").to_string();
    let bearer = format!("Authorization: Bearer {INGEST_CITY}");
    let (s, b) = raw_post(
        &server,
        &[bearer.as_bytes(), b"Fiware-Service: caf\xc3\xa9"],
        &event,
    );
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("not ASCII"), "{b}");
    assert_error(&b, "bad_service");
    let bearer = format!("Authorization: Bearer {INGEST}");
    let (s, b) = raw_post(
        &server,
        &[bearer.as_bytes(), b"Fiware-ServicePath: /caf\xc3\xa9"],
        &event,
    );
    assert_eq!(s, 400, "{b}");
    assert_error(&b, "bad_service_path");
}
