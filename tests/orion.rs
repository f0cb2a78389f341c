//! FIWARE Orion's metrics API (seed 003) over real HTTP: service attribution, the tree and its
//! sums against a golden file, meterd's own traffic, DELETE, scoped resets and the exactness of
//! get-and-reset under concurrent pushing.

mod common;

use common::{assert_error, golden, Server};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends `method path` with a JSON body (or none) and headers; answers (status, body).
fn call(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = ureq::request(method, &server.url(path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    match result {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            (status, resp.into_string().unwrap())
        }
        Err(e) => panic!("transport error: {e}"),
    }
}

/// Pushes events with Fiware headers; panics unless accepted.
fn push_as(server: &Server, headers: &[(&str, &str)], events: Value) {
    let (status, body) = call(server, "POST", "/api/v1/events", Some(&events), headers);
    assert_eq!(status, 200, "push refused: {body}");
}

/// `GET path` answered 200 with JSON.
fn tree(server: &Server, path: &str) -> Value {
    let (status, body) = call(server, "GET", path, None, &[]);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn no_self_metrics() -> Server {
    Server::with(|o| o.self_metrics = false)
}

const EMPTY: &str = r#"{"services":{},"sum":{"subservs":{},"sum":{}}}"#;

/// The seed's naming cases: `/gardens`, `/gardens/north`, `/A, /B`, `/A/#`, `/`, no service,
/// an invalid service and path (refused), the same metric in three services, and every type.
fn push_naming_cases(server: &Server) {
    let city = |path| {
        [
            ("Fiware-Service", "SmartCity"),
            ("Fiware-ServicePath", path),
        ]
    };
    push_as(
        server,
        &city("/gardens"),
        json!([
            {"name": "visits", "type": "counter", "value": 3},
            {"name": "soil.moisture", "type": "histogram", "value": 10},
            {"name": "soil.moisture", "type": "histogram", "value": 20},
            {"name": "soil.moisture", "type": "histogram", "value": 30},
        ]),
    );
    push_as(
        server,
        &city("/gardens/north"),
        json!([
            {"name": "visits", "type": "counter", "value": 2},
            {"name": "soil.moisture", "type": "histogram", "value": 50},
        ]),
    );
    push_as(
        server,
        &city("/A, /B"),
        json!({"name": "temperature", "type": "gauge", "value": 21.5, "tags": {"sensor": "s1"}}),
    );
    push_as(
        server,
        &city("/A/#"),
        json!({"name": "temperature", "type": "gauge", "value": 1.5, "tags": {"sensor": "s2"}}),
    );
    push_as(
        server,
        &city("/"),
        json!({"name": "visits", "type": "counter", "value": 1}),
    );
    // No service at all: default-service and root-subserv; a zero is left out of the tree.
    push_as(
        server,
        &[],
        json!([
            {"name": "visits", "type": "counter", "value": 7},
            {"name": "requests", "type": "meter", "value": 4},
            {"name": "idle", "type": "counter", "value": 0},
        ]),
    );
    // The event's own fields win over the headers.
    push_as(
        server,
        &city("/gardens"),
        json!([
            {"name": "visits", "type": "counter", "value": 1, "service": "farm", "servicePath": "/barn"},
            {"name": "latency", "type": "timer", "value": 100, "unit": "milliseconds",
             "service": "farm", "servicePath": "/barn/#"},
            {"name": "latency", "type": "timer", "value": 300,
             "service": "farm", "servicePath": "/barn"},
        ]),
    );
    // Invalid services and paths are refused whole, with a JSON error.
    let one = json!({"name": "visits", "type": "counter", "value": 1000});
    for (headers, code) in [
        (vec![("Fiware-Service", "smart-city")], "bad_service"),
        (vec![("Fiware-Service", &*"x".repeat(51))], "bad_service"),
        (vec![("Fiware-ServicePath", "gardens")], "bad_service_path"),
        (vec![("Fiware-ServicePath", "/a/b-c")], "bad_service_path"),
    ] {
        let (status, body) = call(server, "POST", "/api/v1/events", Some(&one), &headers);
        assert_eq!(status, 400, "{headers:?}: {body}");
        assert_error(&body, code);
    }
    for bad in [
        json!({"service": "bad service"}),
        json!({"servicePath": "/x//"}),
        json!({"servicePath": "/1/2/3/4/5/6/7/8/9/10/11"}),
    ] {
        let mut event = one.clone();
        event
            .as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let batch = json!([{"name": "visits", "type": "counter"}, event]);
        let (status, body) = call(server, "POST", "/api/v1/events", Some(&batch), &[]);
        assert_eq!(status, 400, "{body}");
        let err = assert_error(&body, "invalid_batch");
        assert_eq!(err["error"]["details"][0]["index"], 1, "{body}");
    }
}

/// Orion's `tenantCheck` and `servicePathCheck`, applied to the headers as written; meterd's
/// own names for the defaults are no exception.
#[test]
fn fiware_headers_follow_orions_rules_as_written() {
    let server = no_self_metrics();
    let one = json!({"name": "hits", "type": "counter", "value": 1});
    let refused = |headers: &[(&str, &str)], code: &str, message: &str| {
        let (status, answer) = call(&server, "POST", "/api/v1/events", Some(&one), headers);
        let mut statsd =
            ureq::post(&server.url("/api/v1/statsd")).set("Content-Type", "text/plain");
        for (k, v) in headers {
            statsd = statsd.set(k, v);
        }
        let statsd = match statsd.send_string("hits:1|c") {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
            Err(e) => panic!("transport error: {e}"),
        };
        for (path, (status, answer)) in [("events", (status, answer)), ("statsd", statsd)] {
            assert_eq!(status, 400, "{path} {headers:?}: {answer}");
            let err = assert_error(&answer, code);
            let text = err["error"]["message"].as_str().unwrap();
            assert!(text.contains(message), "{headers:?}: {text}");
        }
    };
    let (service, path) = ("Fiware-Service", "Fiware-ServicePath");
    let cases = [
        (
            service,
            "default-service".to_owned(),
            "bad_service",
            "bad character in tenant name",
        ),
        (
            service,
            "a.b".to_owned(),
            "bad_service",
            "bad character in tenant name",
        ),
        (service, "s".repeat(51), "bad_service", "bad length"),
        (
            path,
            "/root-subserv".to_owned(),
            "bad_service_path",
            "illegal character",
        ),
        (
            path,
            "root".to_owned(),
            "bad_service_path",
            "must begin with /",
        ),
        (
            path,
            "//a".to_owned(),
            "bad_service_path",
            "empty component",
        ),
        (
            path,
            "/a,/b-c".to_owned(),
            "bad_service_path",
            "illegal character",
        ),
        (
            path,
            ["/a"; 11].join(","),
            "bad_service_path",
            "too many service paths",
        ),
        (
            path,
            format!("{}/#", "/x".repeat(10)),
            "bad_service_path",
            "too many components",
        ),
        (
            path,
            format!("/{}", "x".repeat(51)),
            "bad_service_path",
            "too long",
        ),
    ];
    for (header, value, code, message) in &cases {
        refused(&[(header, value.as_str())], code, message);
    }
    // Accepted as Orion accepts them: lower-cased, a trailing '/' dropped, the first of up to
    // ten paths, 50-character names and components, nine levels plus '#'.
    let long = "s".repeat(50);
    let component = format!("/{}", "c".repeat(50));
    let nine = format!("{}/#", "/x".repeat(9));
    let ten = ["/first"; 10].join(",");
    for (svc, sp) in [
        ("SmartCity", "/gardens/"),
        ("smartcity", ten.as_str()),
        (long.as_str(), component.as_str()),
        ("deep", nine.as_str()),
    ] {
        push_as(
            &server,
            &[("Fiware-Service", svc), ("Fiware-ServicePath", sp)],
            json!([one]),
        );
    }
    push_as(&server, &[], json!([one]));
    let v = tree(&server, "/admin/metrics");
    let subservs = |svc: &str| {
        let mut keys: Vec<String> = v["services"][svc]["subservs"]
            .as_object()
            .unwrap_or_else(|| panic!("{svc} in {v}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(subservs("smartcity"), ["first", "gardens"]);
    assert_eq!(subservs(&long), [&component[1..]]);
    assert_eq!(subservs("deep"), ["x/x/x/x/x/x/x/x/x"]);
    assert_eq!(subservs("default-service"), ["root-subserv"]);
    assert_eq!(v["services"].as_object().unwrap().len(), 4, "{v}");

    // Reading the tree: the header follows the same rule; `?service=` names meterd's node.
    let (status, body) = call(
        &server,
        "GET",
        "/admin/metrics",
        None,
        &[("Fiware-Service", "default-service")],
    );
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "bad_service");
    let only = tree(&server, "/admin/metrics?service=default-service");
    assert_eq!(only["services"]["default-service"]["sum"]["hits"], 1);
}

/// A token bound to `default-service` (the tokens file may name it) still pushes there and
/// reads it: a bound token's own service is accepted as its requests' service (`Tenancy`),
/// a value Orion's header rule alone would refuse.
#[test]
fn a_token_bound_to_the_default_service_pushes_and_reads_there() {
    let file = r#"
[[token]]
secret = "default-ingest-0123456789"
role = "ingest"
service = "default-service"

[[token]]
secret = "default-read-0123456789"
role = "read"
service = "default-service"
"#;
    let tokens = meterd::config::Tokens::parse(file, "tokens.toml").unwrap();
    let server = Server::with(|o| {
        o.tokens = Some(tokens);
        o.self_metrics = false;
    });
    let ingest = [("Authorization", "Bearer default-ingest-0123456789")];
    push_as(
        &server,
        &ingest,
        json!([{"name": "hits", "type": "counter"}]),
    );
    let statsd = ureq::post(&server.url("/api/v1/statsd"))
        .set(ingest[0].0, ingest[0].1)
        .set("Content-Type", "text/plain")
        .send_string("hits:2|c");
    assert_eq!(statsd.map(|r| r.status()).ok(), Some(200));
    let read = [("Authorization", "Bearer default-read-0123456789")];
    let (status, body) = call(&server, "GET", "/admin/metrics", None, &read);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["services"]["default-service"]["sum"]["hits"], 3, "{v}");
}

#[test]
fn tree_for_the_seeds_naming_cases_matches_golden() {
    let server = no_self_metrics();
    push_naming_cases(&server);
    let (status, body) = call(&server, "GET", "/admin/metrics", None, &[]);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    golden(
        "orion_tree.json",
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );

    let city = &v["services"]["smartcity"];
    assert_eq!(city["subservs"]["gardens"]["soil.moisture"], 20);
    assert_eq!(city["subservs"]["gardens/north"]["soil.moisture"], 50);
    // Ratio of sums (110 / 4), not the average of the means (35).
    assert_eq!(city["sum"]["soil.moisture"], 27.5);
    assert_eq!(city["subservs"]["A"]["temperature"], 23);
    assert_eq!(city["subservs"]["root-subserv"]["visits"], 1);
    assert_eq!(v["services"]["farm"]["subservs"]["barn"]["latency"], 200);
    assert_eq!(v["services"]["default-service"]["sum"]["requests"], 4);
    assert_eq!(v["sum"]["sum"]["visits"], 14);
    assert_eq!(v["sum"]["subservs"]["root-subserv"]["visits"], 8);
    assert!(!body.contains("idle") && !body.contains("1000"), "{body}");

    // The same series in the MicroProfile output carry service and servicePath labels.
    let (_, _, text) = server.get("/metrics/application", Some("text/plain"));
    assert!(
        text.contains(r#"application:visits{service="smartcity",servicePath="/gardens/north"} 2"#),
        "{text}"
    );
    assert!(text.contains("application:visits 7\n"), "{text}");
    let mp = server.get_json("/metrics/application");
    assert_eq!(mp["visits;service=farm;servicePath=/barn"], 1);
}

#[test]
fn own_traffic_is_counted_per_subservice_with_service_time_a_ratio_of_sums() {
    let server = Server::start();
    let mut sent = 0u64; // request body bytes
    let mut received = 0u64; // response body bytes
    let mut requests = [0u64; 2];
    let paths = ["/a", "/b/c"];
    for i in 0..9 {
        let p = i % 2;
        let headers = [("Fiware-Service", "st"), ("Fiware-ServicePath", paths[p])];
        let event = json!({"name": "n", "type": "counter", "value": i});
        let body = if i == 4 { json!("not an event") } else { event };
        let (status, answer) = call(&server, "POST", "/api/v1/events", Some(&body), &headers);
        assert_eq!(status, if i == 4 { 400 } else { 200 }, "{answer}");
        sent += body.to_string().len() as u64;
        received += answer.len() as u64;
        requests[p] += 1;
    }
    // An invalid Fiware header leaves the request out of the count.
    let bad = [("Fiware-Service", "st"), ("Fiware-ServicePath", "/a#")];
    let event = json!({"name": "n", "type": "counter"});
    let (status, _) = call(&server, "POST", "/api/v1/events", Some(&event), &bad);
    assert_eq!(status, 400);

    let v = tree(&server, "/admin/metrics?service=st");
    let st = &v["services"]["st"];
    let (a, bc) = (&st["subservs"]["a"], &st["subservs"]["b/c"]);
    assert_eq!(a["incomingTransactions"], requests[0]);
    assert_eq!(bc["incomingTransactions"], requests[1]);
    assert_eq!(st["sum"]["incomingTransactions"], 9);
    assert_eq!(st["sum"]["incomingTransactionErrors"], 1);
    assert_eq!(a["incomingTransactionErrors"], 1);
    assert_eq!(st["sum"]["incomingTransactionRequestSize"], sent);
    assert_eq!(st["sum"]["incomingTransactionResponseSize"], received);
    assert_eq!(st["sum"]["n"], 32); // 0+1+2+3+5+6+7+8
    assert_eq!(v["services"].as_object().unwrap().len(), 1, "limited to st");

    // serviceTime: a mean in seconds per subservice; the sum is total time / total requests.
    let time = |x: &Value| x["serviceTime"].as_f64().unwrap();
    let n = |x: &Value| x["incomingTransactions"].as_f64().unwrap();
    assert!(time(a) > 0.0 && time(bc) > 0.0 && time(a) < 10.0, "{st}");
    let ratio = (time(a) * n(a) + time(bc) * n(bc)) / (n(a) + n(bc));
    let sum = time(&st["sum"]);
    assert!((sum - ratio).abs() <= 1e-9 * ratio, "{sum} vs {ratio}");
    // ... and the top-level sum per subservice holds the same values across services.
    assert_eq!(v["sum"]["subservs"]["b/c"], *bc);
    assert_eq!(v["sum"]["sum"], st["sum"]);

    // Every valid request so far is in the whole tree: 9 pushes and the GET above.
    let all = tree(&server, "/admin/metrics");
    assert_eq!(all["sum"]["sum"]["incomingTransactions"], 10, "{all}");
    assert_eq!(
        all["services"]["default-service"]["subservs"]["root-subserv"]["incomingTransactions"],
        1
    );

    // Also in the vendor scope of /metrics, with service labels.
    let (_, _, text) = server.get("/metrics/vendor", Some("text/plain"));
    assert!(
        text.contains(r#"vendor:incoming_transactions{service="st",servicePath="/b/c"} 4"#),
        "{text}"
    );
    assert!(
        text.contains("vendor:service_time_seconds_count{"),
        "{text}"
    );
}

#[test]
fn the_self_metrics_switch_turns_own_traffic_off() {
    let on = Server::start();
    let off = no_self_metrics();
    for server in [&on, &off] {
        push_as(
            server,
            &[("Fiware-Service", "city")],
            json!({"name": "hits", "type": "counter", "value": 2}),
        );
        tree(server, "/admin/metrics");
    }
    let (v_on, v_off) = (tree(&on, "/admin/metrics"), tree(&off, "/admin/metrics"));
    assert_eq!(v_on["services"]["city"]["sum"]["hits"], 2);
    assert_eq!(v_on["services"]["city"]["sum"]["incomingTransactions"], 1);
    assert_eq!(v_on["sum"]["sum"]["incomingTransactions"], 2);
    assert!(v_on["sum"]["sum"]["serviceTime"].as_f64().unwrap() > 0.0);
    assert_eq!(
        v_off,
        json!({
            "services": {"city": {"subservs": {"root-subserv": {"hits": 2}}, "sum": {"hits": 2}}},
            "sum": {"subservs": {"root-subserv": {"hits": 2}}, "sum": {"hits": 2}}
        })
    );
    let (_, _, text) = off.get("/metrics/vendor", Some("text/plain"));
    assert!(!text.contains("incoming_transactions"), "{text}");
    assert!(text.contains("vendor:meterd_http_requests 4"), "{text}");
}

#[test]
fn delete_resets_everything_and_series_stay_registered() {
    let server = no_self_metrics();
    push_naming_cases(&server);
    let (status, body) = call(&server, "DELETE", "/admin/metrics", None, &[]);
    assert_eq!((status, body.as_str()), (204, ""));
    // No service is left empty in the tree...
    assert_eq!(tree(&server, "/admin/metrics").to_string(), EMPTY);
    // ... while /metrics keeps every series, at zero, as if meterd had just started.
    let mp = server.get_json("/metrics/application");
    assert_eq!(mp["visits"], 0);
    assert_eq!(mp["visits;service=smartcity;servicePath=/gardens"], 0);
    assert_eq!(mp["requests"]["count"], 0);
    assert_eq!(mp["requests"]["meanRate"], 0.0);
    assert_eq!(
        mp["soil.moisture;service=smartcity;servicePath=/gardens"]["count"],
        0
    );
    assert_eq!(mp["latency;service=farm;servicePath=/barn"]["count"], 0);
    assert_eq!(
        mp["temperature;sensor=s1;service=smartcity;servicePath=/A"],
        0
    );
    // Counting starts again from zero.
    push_as(
        &server,
        &[("Fiware-Service", "farm"), ("Fiware-ServicePath", "/barn")],
        json!([{"name": "visits", "type": "counter", "value": 5},
               {"name": "latency", "type": "timer", "value": 40}]),
    );
    let v = tree(&server, "/admin/metrics");
    assert_eq!(
        v["services"],
        json!({"farm": {"subservs": {"barn": {"latency": 40, "visits": 5}},
                        "sum": {"latency": 40, "visits": 5}}})
    );
}

#[test]
fn get_and_reset_answers_then_resets() {
    let server = no_self_metrics();
    push_naming_cases(&server);
    let before = tree(&server, "/admin/metrics");
    let answer = tree(&server, "/admin/metrics?reset=true");
    assert_eq!(answer, before);
    assert_eq!(tree(&server, "/admin/metrics").to_string(), EMPTY);
    assert_eq!(
        tree(&server, "/admin/metrics?reset=false").to_string(),
        EMPTY
    );
    let (status, body) = call(&server, "GET", "/admin/metrics?reset=yes", None, &[]);
    assert_eq!(status, 400);
    assert_error(&body, "bad_request");
}

#[test]
fn a_reset_can_be_limited_to_one_service() {
    let server = Server::start();
    for svc in ["a", "b", "c"] {
        push_as(
            &server,
            &[("Fiware-Service", svc)],
            json!({"name": "hits", "type": "counter", "value": 1}),
        );
    }
    let answer = tree(&server, "/admin/metrics?reset=true&service=a");
    let services: Vec<&String> = answer["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["a"], "{answer}");
    assert_eq!(answer["services"]["a"]["sum"]["hits"], 1);
    assert_eq!(answer["services"]["a"]["sum"]["incomingTransactions"], 1);

    // The Fiware-Service header limits a DELETE the same way.
    let (status, _) = call(
        &server,
        "DELETE",
        "/admin/metrics",
        None,
        &[("Fiware-Service", "B")],
    );
    assert_eq!(status, 204);
    let v = tree(&server, "/admin/metrics");
    assert!(v["services"].get("a").is_none(), "a was reset: {v}");
    assert_eq!(v["services"]["b"]["sum"]["incomingTransactions"], 1, "{v}");
    assert!(v["services"]["b"]["sum"].get("hits").is_none(), "{v}");
    assert_eq!(v["services"]["c"]["sum"]["hits"], 1);
    assert_eq!(v["services"]["c"]["sum"]["incomingTransactions"], 1);

    for (path, headers) in [
        ("/admin/metrics?service=bad-name", vec![]),
        ("/admin/metrics?service=", vec![]),
        ("/admin/metrics?service=a", vec![("Fiware-Service", "c")]),
        ("/admin/metrics", vec![("Fiware-Service", "c d")]),
    ] {
        for method in ["GET", "DELETE"] {
            let (status, body) = call(&server, method, path, None, &headers);
            assert_eq!(status, 400, "{method} {path}: {body}");
            assert_error(&body, "bad_service");
        }
    }
    // None of the refused resets touched anything.
    assert_eq!(
        tree(&server, "/admin/metrics?service=c")["services"]["c"]["sum"]["hits"],
        1
    );
}

/// What one round of the race pushed and saw.
struct RaceRound {
    events: u64,
    batches: u64,
    resets: usize,
    nonempty: usize,
}

const PUSHERS: usize = 4;
const NAMES: usize = 8;
const SHARDS: usize = 4;

/// The value of `name` in subservice `/p{i}` of service `race` in a tree (0 when left out).
fn race_value(tree: &Value, i: usize, name: &str) -> u64 {
    let v = &tree["services"]["race"]["subservs"][format!("p{i}")][name];
    v.as_u64().unwrap_or_else(|| {
        assert!(v.is_null(), "{v}");
        0
    })
}

/// Pushers (subservice `/p{i}` of service `race`) send batches of `NAMES` counters of value
/// `i + 1` (spread over the shards by their names) and a meter of 2, while another client loops
/// `GET /admin/metrics?reset=true`; then every answer plus the final state must hold exactly
/// what was pushed, and every answer whole batches (one cut across all shards).
fn race_round() -> RaceRound {
    let server = Arc::new(Server::with(|o| o.pipeline.shards = SHARDS));
    let resets_during = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(PUSHERS));
    let go = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let pushers: Vec<_> = (0..PUSHERS)
        .map(|i| {
            let (server, resets, running, go) = (
                server.clone(),
                resets_during.clone(),
                running.clone(),
                go.clone(),
            );
            std::thread::spawn(move || {
                while !go.load(SeqCst) {
                    std::thread::yield_now();
                }
                let path = format!("/p{i}");
                let headers = [("Fiware-Service", "race"), ("Fiware-ServicePath", &*path)];
                let mut batch: Vec<Value> = (0..NAMES)
                    .map(|j| json!({"name": format!("c{j}"), "type": "counter", "value": i + 1}))
                    .collect();
                batch.push(json!({"name": "m", "type": "meter", "value": 2}));
                let batch = json!(batch);
                let mut batches = 0u64;
                // Bounded: at most 5000 batches or 20 s; done once 100 resets happened.
                while batches < 5000
                    && started.elapsed() < Duration::from_secs(20)
                    && (batches < 50 || resets.load(SeqCst) < 100)
                {
                    push_as(&server, &headers, batch.clone());
                    batches += 1;
                }
                running.fetch_sub(1, SeqCst);
                batches
            })
        })
        .collect();

    let mut answers = Vec::new();
    go.store(true, SeqCst);
    while running.load(SeqCst) > 0 {
        answers.push(tree(&server, "/admin/metrics?reset=true"));
        if running.load(SeqCst) == PUSHERS {
            resets_during.fetch_add(1, SeqCst);
        }
    }
    let batches: Vec<u64> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
    let resets = answers.len();
    answers.push(tree(&server, "/admin/metrics"));

    for (i, &n) in batches.iter().enumerate() {
        let sum = |name: &str| -> u64 { answers.iter().map(|a| race_value(a, i, name)).sum() };
        let weight = i as u64 + 1;
        for j in 0..NAMES {
            assert_eq!(sum(&format!("c{j}")), n * weight, "p{i} c{j}");
        }
        assert_eq!(sum("m"), n * 2, "p{i} m");
        // Self traffic is counted before the answer leaves: exact too.
        assert_eq!(sum("incomingTransactions"), n, "p{i} requests");
        assert_eq!(sum("incomingTransactionErrors"), 0);
        // Each answer holds whole batches: the cut goes through every shard at once.
        for a in &answers {
            let whole = race_value(a, i, "m") / 2;
            for j in 0..NAMES {
                assert_eq!(race_value(a, i, &format!("c{j}")), whole * weight, "{a}");
            }
        }
    }
    let during = resets_during.load(SeqCst);
    assert!(during >= 50, "only {during} resets during the pushing");
    let nonempty = answers[..resets]
        .iter()
        .filter(|a| a["services"].get("race").is_some())
        .count();
    assert!(
        nonempty >= 10,
        "the resets cut through the pushing: {nonempty}"
    );
    let batches: u64 = batches.iter().sum();
    RaceRound {
        events: batches * (NAMES as u64 + 1),
        batches,
        resets,
        nonempty,
    }
}

#[test]
fn get_and_reset_counts_every_event_exactly_once_under_concurrency() {
    for round in 0..3 {
        let r = race_round();
        eprintln!(
            "race round {round}: {} events in {} batches from {PUSHERS} pushers over {SHARDS} \
             shards, {} resets ({} with pushed data), lost 0, counted twice 0",
            r.events, r.batches, r.resets, r.nonempty
        );
    }
}
