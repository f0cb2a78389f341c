//! Hostile clients, the data half: what one client pushes must neither break a scrape nor
//! change another tenant's answers, nor make meterd hold memory without a bound, nor cost other
//! clients' events. Every test talks to a real server over HTTP or UDP and is bounded in time.

mod common;

use common::{assert_error, Server};
use meterd::config::{Pipeline, Tokens};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// POSTs `body` to `path` with a content type and headers; answers (status, body).
fn post(
    server: &Server,
    path: &str,
    ct: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    server.post_with(path, ct, body, headers)
}

fn events(server: &Server, body: Value, headers: &[(&str, &str)]) -> (u16, String) {
    post(
        server,
        "/api/v1/events",
        "application/json",
        &body.to_string(),
        headers,
    )
}

/// Asserts a 400 whose body names `needle` (in a detail or the message).
fn assert_refused(answer: (u16, String), needle: &str) -> Value {
    let (status, body) = answer;
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(v["error"]["code"].is_string(), "{body}");
    assert!(body.contains(needle), "{needle:?} not named in {body}");
    v
}

fn text(server: &Server, path: &str) -> String {
    let (status, _, body) = server.get(path, Some("text/plain"));
    assert!(status == 200 || status == 204, "{status} {body}");
    body
}

/// Every label name of every sample line of a Prometheus text.
fn label_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(open) = line.find('{') else { continue };
        let mut rest = &line[open + 1..];
        while let Some(eq) = rest.find("=\"") {
            names.push(rest[..eq].trim_start_matches(',').to_owned());
            // Skip the quoted value, minding escapes.
            let value = &rest[eq + 2..];
            let mut end = 0;
            let bytes = value.as_bytes();
            while bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            rest = &value[end + 1..];
        }
    }
    names
}

// ---- 5. Reserved labels -------------------------------------------------------------------

#[test]
fn reserved_tag_names_are_refused_in_every_dialect() {
    let server = common::udp::udp_server();
    for key in [
        "__name__",
        "__anything",
        "service",
        "servicePath",
        "quantile",
    ] {
        let tags = json!({ key: "abc" });
        let v = assert_refused(
            events(
                &server,
                json!([{"name": "ok", "type": "counter"}, {"name": "x", "type": "counter", "tags": tags}]),
                &[],
            ),
            key,
        );
        assert_eq!(v["error"]["details"][0]["index"], 1, "{v}");
        assert!(
            v["error"]["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains("reserved"),
            "{v}"
        );
        let line =
            format!("{{\"name\":\"x\",\"type\":\"counter\",\"tags\":{{\"{key}\":\"abc\"}}}}\n");
        assert_refused(
            post(
                &server,
                "/api/v1/events",
                "application/x-ndjson",
                &line,
                &[],
            ),
            key,
        );
        let statsd = format!("x:1|c|#{key}:abc\n");
        assert_refused(
            post(&server, "/api/v1/statsd", "text/plain", &statsd, &[]),
            key,
        );
        let put =
            json!({"metric": "x", "timestamp": 1_700_000_000, "value": 1, "tags": {key: "abc"}});
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut put = put;
        put["timestamp"] = json!(now);
        assert_refused(
            post(
                &server,
                "/api/put",
                "application/json",
                &put.to_string(),
                &[],
            ),
            key,
        );
    }
    // Over UDP the line is counted bad and nothing else of it is kept.
    server.send_udp(&["udp.x:1|c|#__name__:boom", "udp.ok:1|c|#route:a"]);
    let counters = server.wait_udp(2);
    assert_eq!(counters.get("lines.bad"), 1);
    let all = text(&server, "/metrics");
    assert!(all.contains("application:udp_ok{route=\"a\"} 1"), "{all}");
    for name in label_names(&all) {
        assert!(!name.starts_with("__"), "{name} in {all}");
    }
    assert!(!all.contains("udp_x"), "{all}");
    assert!(
        !all.contains("=\"abc\""),
        "no refused tag was applied: {all}"
    );
}

/// A default-service event cannot pass itself off as tenant abc's series.
#[test]
fn tenancy_labels_cannot_be_forged_with_tags() {
    let server = Server::start();
    events(
        &server,
        json!({"name": "visits", "type": "counter", "value": 5}),
        &[("Fiware-Service", "abc")],
    );
    let forged = json!({"name": "visits", "type": "counter", "value": 1000,
                        "tags": {"service": "abc", "servicePath": "/"}});
    assert_refused(
        events(&server, forged, &[]),
        r#"tag key \"service\" is reserved"#,
    );
    let all = text(&server, "/metrics/application");
    assert_eq!(
        all.lines()
            .filter(|l| l.starts_with("application:visits{"))
            .collect::<Vec<_>>(),
        ["application:visits{service=\"abc\",servicePath=\"/\"} 5"],
        "{all}"
    );
}

#[test]
fn no_pushed_tag_breaks_the_exposition() {
    let server = Server::start();
    let weird = [
        "a\"b",
        "back\\slash",
        "new\nline",
        "ünïcødé ✓",
        "{}=,",
        "#",
        " ",
    ];
    let batch: Vec<Value> = weird
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"name": "weird", "type": "counter", "tags": {format!("k_{i}"): v, "_x": "1", "X9": "2"}}))
        .collect();
    let (status, body) = events(&server, Value::Array(batch), &[]);
    assert_eq!(status, 200, "{body}");
    for (key, why) in [
        ("9lives", "must match"),
        ("a-b", "must match"),
        ("a.b", "must match"),
        ("", "must match"),
    ] {
        let (status, body) = events(
            &server,
            json!({"name": "w", "type": "counter", "tags": {key: "v"}}),
            &[],
        );
        assert_eq!(status, 400, "{key:?}: {body}");
        assert!(body.contains(why), "{body}");
    }
    let all = text(&server, "/metrics");
    let label = regex_like_label();
    for name in label_names(&all) {
        assert!(
            label(&name),
            "label name {name:?} is not a valid Prometheus label name"
        );
    }
    common::peers::promtool_check(&all);
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved.
fn regex_like_label() -> impl Fn(&str) -> bool {
    |n: &str| {
        let b = n.as_bytes();
        matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            && !n.starts_with("__")
    }
}

// ---- 6. Types, units and metadata per service ----------------------------------------------

#[test]
fn one_tenant_cannot_change_another_tenants_types_or_units() {
    let server = Server::start();
    let b = [("Fiware-Service", "tenant_b")];
    let a = [("Fiware-Service", "tenant_a")];
    let (s, body) = events(
        &server,
        json!({"name": "orders", "type": "counter", "value": 3, "description": "B's orders"}),
        &b,
    );
    assert_eq!(s, 200, "{body}");
    let squat = json!({"name": "orders", "type": "gauge", "value": 7, "unit": "parsecs",
                       "description": "A's orders", "displayName": "Parsecs"});
    let (s, body) = events(&server, squat, &a);
    assert_eq!(s, 200, "A has its own orders: {body}");
    // B keeps pushing its counter, over JSON and StatsD.
    let (s, body) = events(
        &server,
        json!({"name": "orders", "type": "counter", "value": 2}),
        &b,
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(&server, "/api/v1/statsd", "text/plain", "orders:1|c\n", &b);
    assert_eq!(s, 200, "{body}");
    // A is held to its own type.
    let (s, body) = events(&server, json!({"name": "orders", "type": "counter"}), &a);
    assert_eq!(s, 409, "{body}");
    assert_error(&body, "type_conflict");

    let (status, _, options) = server.request("OPTIONS", "/metrics/application/orders");
    assert_eq!(status, 200, "{options}");
    let options: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(
        options["orders;service=tenant_b"],
        json!({"unit": "none", "type": "counter", "description": "B's orders", "tags": ""}),
        "{options}"
    );
    assert_eq!(
        options["orders;service=tenant_a"],
        json!({"unit": "parsecs", "type": "gauge", "description": "A's orders",
               "displayName": "Parsecs", "tags": ""}),
        "{options}"
    );

    let json = server.get_json("/metrics/application");
    assert_eq!(json["orders;service=tenant_b;servicePath=/"], 6, "{json}");
    assert_eq!(json["orders;service=tenant_a;servicePath=/"], 7, "{json}");

    let prom = text(&server, "/metrics/application");
    assert!(prom.contains("# TYPE application:orders counter\n# HELP application:orders B's orders\napplication:orders{service=\"tenant_b\",servicePath=\"/\"} 6\n"), "{prom}");
    assert!(prom.contains("# TYPE application:orders_parsecs gauge\n# HELP application:orders_parsecs A's orders\napplication:orders_parsecs{service=\"tenant_a\",servicePath=\"/\"} 7\n"), "{prom}");
    common::peers::promtool_check(&prom);

    let tree = server.get_json("/admin/metrics");
    assert_eq!(tree["services"]["tenant_b"]["sum"]["orders"], 6, "{tree}");
    assert_eq!(tree["services"]["tenant_a"]["sum"]["orders"], 7, "{tree}");

    // ODSL entities carry each service's own unit.
    let a_entities = server.get_json("/api/metric/v1?provider=tenant_a&metric=orders");
    assert_eq!(a_entities[0]["unit"], "parsecs", "{a_entities}");
    let b_entities = server.get_json("/api/metric/v1?provider=tenant_b&metric=orders");
    assert!(
        b_entities.as_array().is_some_and(|e| !e.is_empty()),
        "{b_entities}"
    );
    assert!(
        b_entities
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("unit").is_none_or(|u| u != "parsecs")),
        "{b_entities}"
    );
}

/// Two services push one name with different types and no unit: one `/metrics` scrape of
/// every service must stay valid, so the name keeps the type of the family registered first
/// (not the alphabetically first service); each service's own scrape shows its own family.
#[test]
fn conflicting_types_across_services_keep_the_scrape_valid() {
    let tokens = Tokens::parse(
        r#"
[[token]]
secret = "admin-secret-0123456789"
role = "admin"

[[token]]
secret = "alpha-read-secret-0123456789"
role = "read"
service = "alpha"
"#,
        "tokens.toml",
    )
    .unwrap();
    let server = Server::with(|o| o.tokens = Some(tokens));
    let admin = [("Authorization", "Bearer admin-secret-0123456789")];
    let push = |service: &str, body: Value| {
        let headers = [admin[0], ("Fiware-Service", service)];
        let (s, b) = events(&server, body, &headers);
        assert_eq!(s, 200, "{b}");
    };
    push(
        "zeta",
        json!({"name": "load", "type": "counter", "value": 1}),
    );
    push(
        "alpha",
        json!({"name": "load", "type": "gauge", "value": 0.5}),
    );
    let scrape = |token: &str, accept: &str| {
        let resp = ureq::get(&server.url("/metrics/application"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Accept", accept)
            .call()
            .unwrap();
        resp.into_string().unwrap()
    };
    let all = scrape("admin-secret-0123456789", "text/plain");
    assert_eq!(all.matches("# TYPE application:load ").count(), 1, "{all}");
    assert!(all.contains("# TYPE application:load counter\napplication:load{service=\"zeta\",servicePath=\"/\"} 1\n"), "{all}");
    assert!(!all.contains("service=\"alpha\""), "{all}");
    common::peers::promtool_check(&all);
    let om = scrape("admin-secret-0123456789", "application/openmetrics-text");
    assert_eq!(om.matches("# TYPE application:load ").count(), 1, "{om}");
    // alpha's own scrape shows alpha's gauge.
    let alpha = scrape("alpha-read-secret-0123456789", "text/plain");
    assert!(alpha.contains("# TYPE application:load gauge\napplication:load{service=\"alpha\",servicePath=\"/\"} 0.5\n"), "{alpha}");
    common::peers::promtool_check(&alpha);
}

#[test]
fn types_per_service_survive_a_restart() {
    let server = Server::start();
    events(
        &server,
        json!({"name": "orders", "type": "counter"}),
        &[("Fiware-Service", "b")],
    );
    events(
        &server,
        json!({"name": "orders", "type": "gauge", "value": 1, "unit": "parsecs"}),
        &[("Fiware-Service", "a")],
    );
    let server = server.restart(|_| {});
    let (s, body) = events(
        &server,
        json!({"name": "orders", "type": "counter"}),
        &[("Fiware-Service", "b")],
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = events(
        &server,
        json!({"name": "orders", "type": "counter"}),
        &[("Fiware-Service", "a")],
    );
    assert_eq!(s, 409, "{body}");
    let (_, _, options) = server.request("OPTIONS", "/metrics/application/orders");
    let options: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(options["orders;service=a"]["unit"], "parsecs", "{options}");
    assert_eq!(options["orders;service=b"]["unit"], "none", "{options}");
}

// ---- 9. Bounded memory ---------------------------------------------------------------------

#[test]
fn unknown_methods_share_one_request_series() {
    let server = Server::start();
    let n = 20;
    for i in 0..n {
        let method = format!("HOSTILE{i}{}", "X".repeat(200));
        let resp = ureq::request(&method, &server.url("/metrics")).call();
        match resp {
            Ok(_) | Err(ureq::Error::Status(..)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    // Workers hand their requests over every 100 ms: wait (bounded) until all are in.
    let deadline = Instant::now() + Duration::from_secs(10);
    let other = loop {
        let got = server.get_json(
            "/api/metric/v1?provider=meterd&metric=ReadRequests&method=other&_limit=1000",
        );
        let n_got = got.as_array().map_or(0, Vec::len);
        if n_got >= n || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(other.as_array().unwrap().len(), n, "{other}");
    let all = server.get_json("/api/metric/v1?provider=meterd&_limit=10000");
    let text = all.to_string();
    assert!(!text.contains("hostile"), "no method text is stored");
}

#[test]
fn tag_values_and_keys_have_a_length_limit() {
    let server = Server::start();
    let fits = "v".repeat(1024);
    let long = "v".repeat(1025);
    let (s, body) = events(
        &server,
        json!({"name": "t", "type": "counter", "tags": {"k": fits}}),
        &[],
    );
    assert_eq!(s, 200, "{body}");
    let v = assert_refused(
        events(
            &server,
            json!({"name": "t", "type": "counter", "tags": {"k": long}}),
            &[],
        ),
        "max_tag_value_bytes",
    );
    assert!(!v.to_string().contains(&long), "the value is not echoed");
    let key = "k".repeat(256);
    assert_refused(
        events(
            &server,
            json!({"name": "t", "type": "counter", "tags": {key.clone(): "v"}}),
            &[],
        ),
        "max_name_bytes",
    );
    assert_refused(
        post(
            &server,
            "/api/v1/statsd",
            "text/plain",
            &format!("t:1|c|#k:{long}\n"),
            &[],
        ),
        "max_tag_value_bytes",
    );
    assert_refused(
        post(
            &server,
            "/api/v1/statsd",
            "text/plain",
            &format!("t:1|c|#{key}:v\n"),
            &[],
        ),
        "max_name_bytes",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let put = json!({"metric": "t", "timestamp": now, "value": 1, "tags": {"k": long}});
    assert_refused(
        post(
            &server,
            "/api/put",
            "application/json",
            &put.to_string(),
            &[],
        ),
        "max_tag_value_bytes",
    );

    // The limit is the pipeline's.
    let pipeline = Pipeline::parse("[limits]\nmax_tag_value_bytes = 4\n", "inline.toml").unwrap();
    let small = Server::with(move |o| o.pipeline = pipeline);
    let (s, _) = events(
        &small,
        json!({"name": "t", "type": "counter", "tags": {"k": "abcd"}}),
        &[],
    );
    assert_eq!(s, 200);
    assert_refused(
        events(
            &small,
            json!({"name": "t", "type": "counter", "tags": {"k": "abcde"}}),
            &[],
        ),
        "the limit is 4",
    );
}

// ---- 10. Collateral and silent drops -------------------------------------------------------

fn token_server() -> Server {
    let tokens = Tokens::parse(
        "[[token]]\nsecret = \"admin-secret-0123456789\"\nrole = \"admin\"\n",
        "tokens.toml",
    )
    .unwrap();
    Server::with(|o| o.tokens = Some(tokens))
}

fn admin_tree(server: &Server) -> Value {
    let resp = ureq::get(&server.url("/admin/metrics"))
        .set("Authorization", "Bearer admin-secret-0123456789")
        .call()
        .unwrap();
    serde_json::from_str(&resp.into_string().unwrap()).unwrap()
}

#[test]
fn refused_requests_do_not_take_tenants_places() {
    let server = token_server();
    let n = 50;
    for i in 0..n {
        let resp = ureq::get(&server.url("/metrics"))
            .set("Fiware-Service", &format!("stranger{i}"))
            .set("Fiware-ServicePath", &format!("/p{i}"))
            .call();
        assert!(matches!(resp, Err(ureq::Error::Status(401, _))));
    }
    let tree = admin_tree(&server);
    let services = tree["services"].as_object().unwrap();
    assert!(
        services.keys().all(|s| !s.starts_with("stranger")),
        "{tree}"
    );
    let root = &tree["services"]["default-service"]["subservs"]["root-subserv"];
    assert_eq!(root["incomingTransactionErrors"], n, "{tree}");
}

/// With tokens on, the open routes (health probes, the dashboard's page) need no token, so
/// the service their headers name is nobody's to charge: they count under the default service.
#[test]
fn open_routes_do_not_take_tenants_places_when_tokens_are_on() {
    let server = token_server();
    let n = 30;
    for i in 0..n {
        let path = if i % 2 == 0 { "/-/healthy" } else { "/ui/" };
        ureq::get(&server.url(path))
            .set("Fiware-Service", &format!("squatter{i}"))
            .set("Fiware-ServicePath", &format!("/p{i}"))
            .call()
            .unwrap();
    }
    let tree = admin_tree(&server);
    let services = tree["services"].as_object().unwrap();
    assert!(
        services.keys().all(|s| !s.starts_with("squatter")),
        "{tree}"
    );
    let root = &tree["services"]["default-service"]["subservs"]["root-subserv"];
    assert!(
        root["incomingTransactions"].as_u64().unwrap() >= n,
        "{tree}"
    );
}

/// Once the table of (service, path) pairs is full, known pairs are still counted and the rest
/// is counted as unattributed, never dropped silently.
#[test]
fn a_full_traffic_table_still_counts_known_tenants_and_the_overflow() {
    let server = Server::start();
    let url = server.url("/-/healthy");
    let threads = 4;
    let per_thread = 10_000 / threads + 10;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let url = url.clone();
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                for i in 0..per_thread {
                    agent
                        .get(&url)
                        .set("Fiware-Service", "filler")
                        .set("Fiware-ServicePath", &format!("/t{t}/p{i}"))
                        .call()
                        .unwrap();
                }
            });
        }
    });
    eprintln!(
        "{} requests in {:?}",
        threads * per_thread,
        started.elapsed()
    );
    let vendor = server.get_json("/metrics/vendor");
    let unattributed = vendor["meterd.http.requests.unattributed"]
        .as_f64()
        .unwrap();
    // The pair of this very GET may or may not have found room: at least the surplus counts.
    assert!(
        unattributed >= (threads * per_thread - 10_000) as f64,
        "{unattributed}"
    );
    // A pair already in the table is still counted.
    let before = server.get_json("/admin/metrics?service=filler");
    let first = before["services"]["filler"]["subservs"]["t0/p0"]["incomingTransactions"]
        .as_f64()
        .unwrap();
    ureq::get(&url)
        .set("Fiware-Service", "filler")
        .set("Fiware-ServicePath", "/t0/p0")
        .call()
        .unwrap();
    let after = server.get_json("/admin/metrics?service=filler");
    assert_eq!(
        after["services"]["filler"]["subservs"]["t0/p0"]["incomingTransactions"]
            .as_f64()
            .unwrap(),
        first + 1.0
    );
}

#[test]
fn udp_refuses_only_the_events_over_the_series_limit() {
    let pipeline = Pipeline::parse(
        "[limits]\nmax_series = 2\nmax_series_per_service = 2\n",
        "inline.toml",
    )
    .unwrap();
    let server = Server::with(move |o| {
        o.pipeline = pipeline;
        o.statsd_udp = Some("127.0.0.1:0".into());
    });
    server.send_udp(&["known:1|c"]);
    server.wait_udp(1);
    // One datagram brings three new series (one fits); the others bring increments.
    let mut datagrams = vec!["fresh1:1|c\nfresh2:1|c\nfresh3:1|c"];
    datagrams.extend(std::iter::repeat_n("known:1|c", 200));
    server.send_udp(&datagrams);
    let counters = server.wait_udp(202);
    assert_eq!(counters.get("events.refused"), 2, "{}", counters.0);
    let app = server.get_json("/metrics/application");
    assert_eq!(app["known"], 201, "{app}");
    assert_eq!(app["fresh1"], 1, "{app}");
    assert!(
        app.get("fresh2").is_none() && app.get("fresh3").is_none(),
        "{app}"
    );
}

#[test]
fn values_that_could_overflow_a_total_are_refused() {
    let server = common::udp::udp_server();
    let v = assert_refused(
        events(
            &server,
            json!([{"name": "big", "type": "counter", "value": 1e308},
                               {"name": "big", "type": "counter", "value": 1e308}]),
            &[],
        ),
        "too large",
    );
    assert_eq!(v["error"]["details"].as_array().unwrap().len(), 2, "{v}");
    assert_refused(
        events(
            &server,
            json!({"name": "big", "type": "gauge", "value": -1e101}),
            &[],
        ),
        "too large",
    );
    assert_refused(
        post(
            &server,
            "/api/v1/statsd",
            "text/plain",
            "big:1e308|c\n",
            &[],
        ),
        "too large",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let put = json!({"metric": "big", "timestamp": now, "value": 1e200});
    assert_refused(
        post(
            &server,
            "/api/put",
            "application/json",
            &put.to_string(),
            &[],
        ),
        "too large",
    );
    server.send_udp(&["big:1e308|c", "big:1e308|c"]);
    assert_eq!(server.wait_udp(2).get("lines.bad"), 2);
    // The largest value taken, many times over, still sums to a finite total.
    let max = json!({"name": "big", "type": "counter", "value": 1e100});
    let (s, body) = events(&server, Value::Array(vec![max; 100]), &[]);
    assert_eq!(s, 200, "{body}");
    let app = server.get_json("/metrics/application");
    assert!(app["big"].as_f64().is_some_and(f64::is_finite), "{app}");
    let tree = server.get_json("/admin/metrics");
    assert!(
        tree["sum"]["sum"]["big"]
            .as_f64()
            .is_some_and(f64::is_finite),
        "{tree}"
    );
}

// ---- Lesser ---------------------------------------------------------------------------------

#[test]
fn an_event_or_point_written_as_an_array_of_its_values_is_refused() {
    // serde's derive would read a struct from a sequence of its fields' values.
    let server = Server::start();
    let body = r#"[{"name":"a","type":"counter"},["b","counter",1]]"#;
    let v = assert_refused(
        post(&server, "/api/v1/events", "application/json", body, &[]),
        "expected an object",
    );
    assert_eq!(v["error"]["details"][0]["index"], 1, "{v}");
    let ndjson = "{\"name\":\"a\",\"type\":\"counter\"}\n[\"b\",\"counter\",1]\n";
    let ct = "application/x-ndjson";
    assert_refused(
        post(&server, "/api/v1/events", ct, ndjson, &[]),
        "expected an object",
    );
    let put = r#"[["sys.cpu",1700000000,1,{"host":"a"}]]"#;
    assert_refused(
        post(&server, "/api/put", "application/json", put, &[]),
        "expected an object",
    );
    let (_, _, app) = server.get("/metrics/application", Some("application/json"));
    assert!(
        app.is_empty() || !app.contains('"'),
        "nothing was applied: {app}"
    );
}

#[test]
fn duplicate_json_keys_are_refused_naming_the_key() {
    let server = Server::start();
    let body = r#"[{"name":"a","type":"counter"},
                   {"name":"b","type":"counter","tags":{"host":"x","host":"y"}},
                   {"name":"c","type":"counter","name":"d"},
                   {"name":"e","type":"counter","extra":1}]"#;
    let v = assert_refused(
        post(&server, "/api/v1/events", "application/json", body, &[]),
        "host",
    );
    let details = v["error"]["details"].as_array().unwrap();
    let indexes: Vec<u64> = details
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3], "{v}");
    assert!(
        details[0]["message"]
            .as_str()
            .unwrap()
            .contains("tag \"host\" is given twice"),
        "{v}"
    );
    assert!(
        details[1]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field `name`"),
        "{v}"
    );
    let ndjson = "{\"name\":\"b\",\"type\":\"counter\",\"tags\":{\"host\":\"x\",\"host\":\"y\"}}\n";
    assert_refused(
        post(
            &server,
            "/api/v1/events",
            "application/x-ndjson",
            ndjson,
            &[],
        ),
        "host",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let put = format!(r#"{{"metric":"m","timestamp":{now},"value":1,"value":2}}"#);
    assert_refused(
        post(&server, "/api/put", "application/json", &put, &[]),
        "duplicate field `value`",
    );
    let put =
        format!(r#"[{{"metric":"m","timestamp":{now},"value":1,"tags":{{"h":"a","h":"b"}}}}]"#);
    assert_refused(
        post(&server, "/api/put", "application/json", &put, &[]),
        "tag \\\"h\\\" is given twice",
    );
    let (_, _, app) = server.get("/metrics/application", Some("application/json"));
    assert!(
        app.is_empty() || !app.contains('"'),
        "nothing was applied: {app}"
    );
}

#[test]
fn a_query_with_a_bad_option_is_a_400_not_a_404() {
    let server = Server::start();
    server.push(json!({"name": "m", "type": "counter"}));
    let (status, _, body) = server.get("/api/query?start=1h-ago&m=sum:-1m-avg:m", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("-1m-avg"), "{body}");
    assert!(body.contains("option"), "{body}");
    let (status, _, body) = server.get("/api/query?start=1h-ago&m=sum:1m-avg:m", None);
    assert_eq!(status, 200, "{body}");
}
