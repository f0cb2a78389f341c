//! The OpenDataDSL metric service (seed 002) over real HTTP: entities, listMetrics, ids,
//! calendar aggregation with every observed method, calendar and range form, filters,
//! paging, refusals, retention, and meterd's own request entities.

mod common;

use common::{assert_error, golden, Server};
use meterd::clock::{Clock, ManualClock, Ticks};
use meterd::config::Pipeline;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A rule that turns meterd's own request entities off, so that counts stay exact.
const NO_OWN_ENTITIES: &str = r#"
[[rules]]
match = "{Read,Write,Delete}Request*"
entities = false
"#;

/// A server on a manual clock at `now_ms` with `pipeline` (TOML).
fn server_at(now_ms: i64, pipeline: &str) -> (Server, ManualClock) {
    let clock = ManualClock::starting_at(now_ms);
    let handle = clock.clone();
    let pipeline = Pipeline::parse(pipeline, "test pipeline").unwrap();
    let server = Server::with(move |o| {
        o.clock = Arc::new(handle);
        o.pipeline = pipeline;
    });
    (server, clock)
}

/// 2024-11-20T00:00:00Z.
const DAY: i64 = 1_732_060_800_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// Orders of the `shop` provider at known times, pushed out of time order:
/// (minutes after 2024-11-20T00:00Z, value, application).
const ORDERS: [(i64, i64, &str); 7] = [
    (10 * 60 + 50, 8, "api"),
    (10 * 60 + 5, 5, "api"),
    (11 * 60 + 40, 6, "web"),
    (10 * 60 + 20, 3, "web"),
    (24 * 60 + 9 * 60 + 30, 10, "web"),
    (11 * 60 + 10, 2, "api"),
    (24 * 60 + 9 * 60, 4, "api"),
];

fn push_orders(server: &Server) {
    let events: Vec<Value> = ORDERS
        .iter()
        .map(|(minutes, value, app)| {
            json!({"name": "orders", "type": "gauge", "value": value, "service": "shop",
                   "timestamp": DAY + minutes * MINUTE, "tags": {"application": app}})
        })
        .collect();
    server.push(json!(events));
}

/// GET `/api/metric/v1?query`, expecting 200.
fn odsl(server: &Server, query: &str) -> Value {
    server.get_json(&format!("/api/metric/v1?{query}"))
}

/// The (time, value) pairs of a calendar answer.
fn points(answer: &Value) -> Vec<(String, f64)> {
    answer["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {answer}"))
        .iter()
        .map(|p| {
            (
                p["time"].as_str().unwrap()[..16].to_owned(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn pt(time: &str, value: f64) -> (String, f64) {
    (time.to_owned(), value)
}

/// Checks the ids of a listing (24 hex, unique) and replaces them for golden files.
fn without_ids(mut list: Value) -> Value {
    let mut seen = std::collections::HashSet::new();
    for e in list.as_array_mut().unwrap() {
        let id = e["_id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 24, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert!(seen.insert(id), "ids are unique");
        e["_id"] = json!("<id>");
    }
    list
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

#[test]
fn build_information() {
    let server = Server::start();
    let v = server.get_json("/api/metric");
    assert_eq!(v["name"], "meterd");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(!v["commit"].as_str().unwrap().is_empty());
    let built = v["buildTime"].as_str().unwrap();
    assert!(built == "unknown" || built.ends_with('Z'), "{built}");
}

#[test]
fn entities_newest_first_with_fields_filters_and_paging() {
    let (server, _) = server_at(DAY + 2 * 24 * HOUR, NO_OWN_ENTITIES);
    push_orders(&server);
    server.push(
        json!({"name": "visits", "type": "counter", "value": 1, "unit": "visits",
        "timestamp": DAY, "servicePath": "/eu/north",
        "tags": {"application": "api", "httpstatus": "200", "user": "u1", "value": "shadowed"}}),
    );

    let all = odsl(&server, "provider=shop");
    let values: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [10, 4, 6, 2, 8, 3, 5], "newest timestamp first");
    golden("odsl_list.json", &pretty(&without_ids(all)));

    let visits = odsl(&server, "provider=default-service&metric=visits");
    golden("odsl_visits.json", &pretty(&without_ids(visits)));

    let page = odsl(&server, "provider=shop&_limit=2&_skip=3");
    let values: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [2, 8]);
    assert_eq!(odsl(&server, "provider=shop&_skip=7"), json!([]));

    let api = odsl(
        &server,
        "_filter=%7B%22application%22%3A%22api%22%2C%22metric%22%3A%22orders%22%7D",
    );
    assert_eq!(api.as_array().unwrap().len(), 4);
    let plain = odsl(&server, "application=web&provider=SHOP");
    assert_eq!(plain.as_array().unwrap().len(), 3, "providers ignore case");
    let by_value = odsl(&server, "_filter=%7B%22value%22%3A8%7D");
    assert_eq!(by_value[0]["timestamp"], "2024-11-20T10:50:00.000Z");
    let status = odsl(&server, "_filter=%7B%22httpstatus%22%3A200%7D");
    assert_eq!(status[0]["metric"], "visits");
    let ranged = odsl(&server, "provider=shop&_range=2024-11-21");
    assert_eq!(ranged.as_array().unwrap().len(), 2);
    assert_eq!(odsl(&server, "provider=nobody"), json!([]));
}

#[test]
fn limit_defaults_to_100_and_allows_10000() {
    let (server, _) = server_at(DAY, NO_OWN_ENTITIES);
    let events: Vec<Value> = (0..150)
        .map(|i| json!({"name": "c", "type": "counter", "timestamp": DAY + i}))
        .collect();
    server.push(json!(events));
    assert_eq!(odsl(&server, "").as_array().unwrap().len(), 100);
    assert_eq!(odsl(&server, "_limit=10000").as_array().unwrap().len(), 150);
}

#[test]
fn one_entity_by_id_or_404() {
    let (server, _) = server_at(DAY + 2 * 24 * HOUR, NO_OWN_ENTITIES);
    push_orders(&server);
    let list = odsl(&server, "provider=shop");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["_id"].as_str().unwrap())
        .collect();
    let mut by_capture = ids.clone();
    by_capture.sort_unstable();
    assert_eq!(by_capture.len(), 7);
    for e in list.as_array().unwrap() {
        let id = e["_id"].as_str().unwrap();
        assert_eq!(&server.get_json(&format!("/api/metric/v1/{id}")), e);
    }
    // Ids order by capture: the first pushed (10:50) has the smallest.
    let first = server.get_json(&format!("/api/metric/v1/{}", by_capture[0]));
    assert_eq!(first["value"], 8);
    for missing in [
        "ffffffffffffffffffffffff",
        "not-an-id",
        "673db77858834c6a164edfd",
    ] {
        let (status, _, body) = server.get(&format!("/api/metric/v1/{missing}"), None);
        assert_eq!(status, 404, "{missing}");
        assert_error(&body, "not_found");
    }
}

#[test]
fn list_metrics_of_a_provider() {
    let (server, _) = server_at(DAY + 2 * 24 * HOUR, NO_OWN_ENTITIES);
    push_orders(&server);
    server.push(json!([
        {"name": "refunds", "type": "counter", "service": "shop"},
        {"name": "baskets", "type": "gauge", "value": 2, "service": "shop"},
        {"name": "elsewhere", "type": "counter", "service": "other"}
    ]));
    let names = odsl(&server, "_function=listMetrics&provider=shop");
    assert_eq!(names, json!(["baskets", "orders", "refunds"]));
    assert_eq!(
        odsl(&server, "_function=listMetrics&provider=Other"),
        json!(["elsewhere"])
    );
    assert_eq!(
        odsl(&server, "_function=listMetrics&provider=none"),
        json!([])
    );
    let (status, _, body) = server.get("/api/metric/v1?_function=listMetrics", None);
    assert_eq!(status, 400);
    let err = assert_error(&body, "missing_parameter");
    assert_eq!(
        err["error"]["message"],
        "you must supply a provider query parameter"
    );
}

/// Every observed method on an hourly and a daily calendar, checked by hand and against the
/// golden file.
#[test]
fn observed_methods_on_hourly_and_daily_calendars() {
    let (server, _) = server_at(DAY + 3 * 24 * HOUR, NO_OWN_ENTITIES);
    push_orders(&server);
    let expected: [(&str, [f64; 3], [f64; 2]); 8] = [
        ("summed", [16.0, 8.0, 14.0], [24.0, 14.0]),
        ("sum", [16.0, 8.0, 14.0], [24.0, 14.0]),
        ("averaged", [16.0 / 3.0, 4.0, 7.0], [4.8, 7.0]),
        ("average", [16.0 / 3.0, 4.0, 7.0], [4.8, 7.0]),
        ("high", [8.0, 6.0, 10.0], [8.0, 10.0]),
        ("low", [3.0, 2.0, 4.0], [2.0, 4.0]),
        ("beginning", [5.0, 2.0, 4.0], [5.0, 4.0]),
        ("end", [8.0, 6.0, 10.0], [6.0, 10.0]),
    ];
    let mut answers = serde_json::Map::new();
    for (method, hourly, daily) in expected {
        let q = |cal: &str| format!("_metric=shop/orders&_calendar={cal}&_observed={method}");
        let h = odsl(&server, &q("%23PT1H"));
        assert_eq!(
            points(&h),
            [
                pt("2024-11-20T10:00", hourly[0]),
                pt("2024-11-20T11:00", hourly[1]),
                pt("2024-11-21T09:00", hourly[2])
            ],
            "{method} hourly"
        );
        let d = odsl(&server, &q("P1D"));
        assert_eq!(
            points(&d),
            [
                pt("2024-11-20T00:00", daily[0]),
                pt("2024-11-21T00:00", daily[1])
            ],
            "{method} daily"
        );
        answers.insert(format!("{method} #PT1H"), h);
        answers.insert(format!("{method} P1D"), d);
    }
    golden("odsl_observed.json", &pretty(&Value::Object(answers)));
}

#[test]
fn filter_applies_to_the_aggregation() {
    let (server, _) = server_at(DAY + 2 * 24 * HOUR, NO_OWN_ENTITIES);
    push_orders(&server);
    let q = "_metric=shop/orders&_calendar=%23PT1H&_observed=summed&_filter=%7B%22application%22%3A%22api%22%7D";
    assert_eq!(
        points(&odsl(&server, q)),
        [
            pt("2024-11-20T10:00", 13.0),
            pt("2024-11-20T11:00", 2.0),
            pt("2024-11-21T09:00", 4.0)
        ]
    );
    let none = odsl(
        &server,
        "_metric=shop/orders&_calendar=%23PT1H&_observed=summed&application=nobody",
    );
    assert_eq!(none["data"], json!([]));
}

#[test]
fn calendar_months_weeks_and_minutes() {
    // 2024-03-20: every stamp below is within the longest tier retention (90 days).
    let (server, _) = server_at(1_710_892_800_000, NO_OWN_ENTITIES);
    // 2024-01-15, 2024-01-31T23:59:59.999, 2024-02-01T00:00, 2024-02-29T12:00, 2024-03-10.
    let stamps = [
        (1_705_276_800_000i64, 1),
        (1_706_745_599_999, 2),
        (1_706_745_600_000, 3),
        (1_709_208_000_000, 4),
        (1_710_028_800_000, 5),
    ];
    let events: Vec<Value> = stamps
        .iter()
        .map(|(t, v)| json!({"name": "invoices", "type": "gauge", "value": v, "service": "billing", "timestamp": t}))
        .collect();
    server.push(json!(events));
    let q = |cal: &str| {
        odsl(
            &server,
            &format!("_metric=billing/invoices&_calendar={cal}&_observed=summed"),
        )
    };
    let month = q("%23P1M");
    assert_eq!(
        points(&month),
        [
            pt("2024-01-01T00:00", 3.0),
            pt("2024-02-01T00:00", 7.0),
            pt("2024-03-01T00:00", 5.0)
        ]
    );
    golden("odsl_month.json", &pretty(&month));
    assert_eq!(points(&q("P1Y")), [pt("2024-01-01T00:00", 15.0)]);
    // ISO weeks start on Monday: 2024-01-29 holds Jan 31 and Feb 1; 2024-02-26 holds Feb 29.
    assert_eq!(
        points(&q("P1W")),
        [
            pt("2024-01-15T00:00", 1.0),
            pt("2024-01-29T00:00", 5.0),
            pt("2024-02-26T00:00", 4.0),
            pt("2024-03-04T00:00", 5.0)
        ]
    );
    assert_eq!(points(&q("PT15M"))[1], pt("2024-01-31T23:45", 2.0));
    assert_eq!(points(&q("%23PT1M"))[1], pt("2024-01-31T23:59", 2.0));
}

/// Every `_range` form; relative ones against the manual clock at 2024-11-21T15:42:07.250Z.
#[test]
fn every_range_form() {
    let now = DAY + 24 * HOUR + 15 * HOUR + 42 * MINUTE + 7_250;
    let (server, _) = server_at(now, NO_OWN_ENTITIES);
    push_orders(&server);
    let cases: [(&str, &[(&str, f64)]); 11] = [
        ("2024-11-20", &[("2024-11-20T00:00", 24.0)]),
        ("2024-11-20T10", &[("2024-11-20T00:00", 16.0)]),
        ("2024-11-20T10:05:00Z", &[("2024-11-20T00:00", 5.0)]),
        ("2024-11-20T11:05:00%2B01:00", &[("2024-11-20T00:00", 5.0)]),
        (
            "from(2024-11-20T11:00)",
            &[("2024-11-20T00:00", 8.0), ("2024-11-21T00:00", 14.0)],
        ),
        (
            "between(2024-11-20T10:20,2024-11-20T11:10)",
            &[("2024-11-20T00:00", 13.0)],
        ),
        (
            "between(T-1Dh0m0s0,T-1Dh23m59s59)",
            &[("2024-11-20T00:00", 24.0)],
        ),
        ("T-1Dh10", &[("2024-11-20T00:00", 16.0)]),
        ("from(T-1D)", &[("2024-11-21T00:00", 14.0)]),
        ("from(T-3H)", &[]),
        (
            "between(T-2D,T)",
            &[("2024-11-20T00:00", 24.0), ("2024-11-21T00:00", 14.0)],
        ),
    ];
    let mut answers = serde_json::Map::new();
    for (range, want) in cases {
        let v = odsl(
            &server,
            &format!("_metric=shop/orders&_calendar=P1D&_observed=summed&_range={range}"),
        );
        let want: Vec<(String, f64)> = want.iter().map(|(t, v)| pt(t, *v)).collect();
        assert_eq!(points(&v), want, "{range}");
        answers.insert(range.replace("%2B", "+"), v);
    }
    golden("odsl_ranges.json", &pretty(&Value::Object(answers)));
    // A range also selects entities in a listing.
    let listed = odsl(&server, "provider=shop&_range=between(T-1Dh10,T-1Dh10)");
    assert_eq!(listed.as_array().unwrap().len(), 3);
}

#[test]
fn every_malformed_parameter_is_refused_by_name() {
    let server = Server::start();
    let cases = [
        ("_range=tomorrow", "invalid_parameter", "_range"),
        (
            "_range=between(2024-11-21,2024-11-20)",
            "invalid_parameter",
            "_range",
        ),
        ("_range=from(2024-11-20", "invalid_parameter", "_range"),
        ("_filter=%5B1%5D", "invalid_parameter", "_filter"),
        ("_filter=%7Bbad", "invalid_parameter", "_filter"),
        ("_limit=10001", "invalid_parameter", "_limit"),
        ("_limit=ten", "invalid_parameter", "_limit"),
        ("_skip=-1", "invalid_parameter", "_skip"),
        ("_function=listEverything", "invalid_parameter", "_function"),
        ("_function=listMetrics", "missing_parameter", "provider"),
        (
            "_metric=ReadRequests&_calendar=P1D&_observed=sum",
            "invalid_parameter",
            "_metric",
        ),
        (
            "_metric=meterd/ReadRequests&_observed=sum",
            "missing_parameter",
            "_calendar",
        ),
        (
            "_metric=meterd/ReadRequests&_calendar=P1D",
            "missing_parameter",
            "_observed",
        ),
        (
            "_metric=meterd/ReadRequests&_calendar=%23PT1X&_observed=sum",
            "invalid_parameter",
            "_calendar",
        ),
        (
            "_metric=meterd/ReadRequests&_calendar=P1D&_observed=median",
            "invalid_parameter",
            "_observed",
        ),
        ("_calendar=P1D", "missing_parameter", "_metric"),
        ("_sort=timestamp", "unknown_parameter", "_sort"),
        ("metric=a&metric=b", "invalid_parameter", "metric"),
    ];
    for (query, code, param) in cases {
        let (status, _, body) = server.get(&format!("/api/metric/v1?{query}"), None);
        assert_eq!(status, 400, "{query}: {body}");
        let err = assert_error(&body, code);
        let message = err["error"]["message"].as_str().unwrap();
        if param != "provider" {
            assert!(message.contains(param), "{query}: {message}");
        }
    }
}

#[test]
fn capture_follows_the_rules() {
    let pipeline =
        format!("{NO_OWN_ENTITIES}\n[[rules]]\nmatch = \"internal.*\"\nentities = false\n");
    let (server, _) = server_at(DAY, &pipeline);
    server.push(json!([
        {"name": "internal.queue", "type": "gauge", "value": 1},
        {"name": "public.visits", "type": "counter"}
    ]));
    let names = odsl(&server, "_function=listMetrics&provider=default-service");
    assert_eq!(names, json!(["public.visits"]));
}

fn vendor(server: &Server, name: &str) -> f64 {
    let v = server.get_json("/metrics/vendor");
    v[name]
        .as_f64()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn retention_and_max_drop_the_oldest_and_count_them() {
    let pipeline = format!("{NO_OWN_ENTITIES}\n[entities]\nretention = \"10s\"\nmax = 5\n");
    let (server, clock) = server_at(DAY, &pipeline);
    let events: Vec<Value> = (0..8)
        .map(|i| json!({"name": "c", "type": "gauge", "value": i, "timestamp": DAY + i}))
        .collect();
    server.push(json!(events));
    let values: Vec<i64> = odsl(&server, "")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [7, 6, 5, 4, 3]);
    assert_eq!(vendor(&server, "meterd.entities.dropped"), 3.0);
    assert_eq!(vendor(&server, "meterd.entities"), 5.0);
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        odsl(&server, "").as_array().unwrap().len(),
        5,
        "10 s old: still kept"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(odsl(&server, ""), json!([]));
    assert_eq!(vendor(&server, "meterd.entities.dropped"), 8.0);
}

/// How far [`Stepping`]'s monotonic reading moves at each read.
const STEP_MS: u64 = 7;

/// A manual clock whose monotonic reading also moves [`STEP_MS`] at every read: a request
/// timed on the injected clock lasts a whole number of steps, which real time never gives.
struct Stepping {
    clock: ManualClock,
    reads: AtomicU64,
}

impl Clock for Stepping {
    fn monotonic_nanos(&self) -> u64 {
        let steps = self.reads.fetch_add(1, Ordering::Relaxed);
        self.clock.monotonic_nanos() + steps * STEP_MS * 1_000_000
    }

    fn epoch_millis(&self) -> i64 {
        self.clock.epoch_millis()
    }

    fn ticks(&self, period: Duration) -> Ticks {
        self.clock.ticks(period)
    }
}

/// Read requests per hour about meterd itself, from its own request entities; their
/// durations come from the injected clock.
#[test]
fn meterds_own_requests_are_entities() {
    let clock = ManualClock::starting_at(DAY + 10 * HOUR + 30 * MINUTE);
    let stepping = Stepping {
        clock: clock.clone(),
        reads: AtomicU64::new(0),
    };
    let server = Server::with(move |o| o.clock = Arc::new(stepping));
    for _ in 0..3 {
        server.get("/metrics/base", Some("application/json"));
    }
    server.push(json!({"name": "c", "type": "counter"}));
    server.request("DELETE", "/metrics/base");
    clock.advance(Duration::from_secs(3600));
    for _ in 0..2 {
        server.get("/metrics/base", Some("application/json"));
    }
    // Workers hand their requests over every 100 ms: wait (bounded) until all are in.
    let q = "_metric=meterd/ReadRequests&_calendar=%23PT1H&_observed=summed&_filter=%7B%22application%22%3A%22metrics%22%2C%22method%22%3A%22get%22%7D";
    let deadline = Instant::now() + Duration::from_secs(10);
    let per_hour = loop {
        let got = points(&odsl(&server, q));
        if got.len() == 2 && got[1].1 >= 2.0 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        per_hour,
        [pt("2024-11-20T10:00", 3.0), pt("2024-11-20T11:00", 2.0)]
    );

    let names = odsl(&server, "_function=listMetrics&provider=meterd");
    for name in [
        "DeleteRequests",
        "ReadRequestDuration",
        "ReadRequestResponseSize",
        "ReadRequests",
        "WriteRequests",
    ] {
        assert!(
            names.as_array().unwrap().contains(&json!(name)),
            "{name} in {names}"
        );
    }
    let write = odsl(&server, "provider=meterd&metric=WriteRequests");
    assert_eq!(write[0]["service"], "events");
    assert_eq!(write[0]["application"], "api");
    assert_eq!(write[0]["method"], "post");
    assert_eq!(write[0]["httpstatus"], 200);
    let delete = odsl(&server, "provider=meterd&metric=DeleteRequests");
    assert_eq!(delete[0]["method"], "delete");
    let sizes = odsl(
        &server,
        "provider=meterd&metric=ReadRequestResponseSize&service=metrics",
    );
    assert_eq!(sizes[0]["unit"], "bytes");
    assert!(sizes[0]["value"].as_f64().unwrap() > 10.0, "{sizes}");
    let durations = odsl(
        &server,
        "provider=meterd&metric=ReadRequestDuration&_limit=1",
    );
    assert_eq!(durations[0]["unit"], "milliseconds");
    // Timed on the injected clock: a whole number of its steps, at least one.
    let duration_ms = durations[0]["value"].as_f64().unwrap();
    let step = STEP_MS as f64;
    assert!(
        duration_ms >= step && duration_ms % step == 0.0,
        "{duration_ms} ms is no whole number of {STEP_MS} ms steps"
    );
    assert_eq!(durations[0]["scope"], "vendor");
}
