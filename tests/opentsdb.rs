//! The OpenTSDB API over real HTTP: data pushed at known timestamps on a manual clock, then
//! `/api/query` (GET and POST), `/api/put`, `/api/suggest` and `/api/aggregators`.

mod common;

use common::{assert_error, golden, Server};
use meterd::config::Pipeline;
use serde_json::{json, Value};

/// 2023-11-14 22:00:00 UTC, a whole hour.
const H: i64 = 1_699_999_200_000;
/// The clock: one hour later.
const NOW: i64 = H + 3_600_000;
const HS: i64 = H / 1000;

fn gauge(name: &str, tags: Value, at_ms: i64, value: f64) -> Value {
    json!({"name": name, "type": "gauge", "value": value, "timestamp": at_ms, "tags": tags})
}

/// cpu: a gauge on three hosts in two data centres; req: a counter; gap: a gauge with gaps.
fn dataset(server: &Server) {
    let a = json!({"host": "a", "dc": "x"});
    let b = json!({"host": "b", "dc": "x"});
    let c = json!({"host": "c", "dc": "y"});
    server.push(json!([
        gauge("cpu", a.clone(), H, 1.0),
        gauge("cpu", a.clone(), H + 10_000, 2.0),
        gauge("cpu", a.clone(), H + 20_000, 3.0),
        gauge("cpu", b.clone(), H, 10.0),
        gauge("cpu", b.clone(), H + 5_000, 20.0),
        gauge("cpu", b.clone(), H + 20_000, 30.0),
        gauge("cpu", c.clone(), H + 10_000, 100.0),
        {"name": "req", "type": "counter", "value": 5, "timestamp": H, "tags": {"host": "a"}},
        {"name": "req", "type": "counter", "value": 5, "timestamp": H + 3_000, "tags": {"host": "a"}},
        {"name": "req", "type": "counter", "value": 20, "timestamp": H + 10_000, "tags": {"host": "a"}},
        gauge("gap", json!({"host": "a"}), H, 1.0),
        gauge("gap", json!({"host": "a"}), H + 30_000, 4.0),
    ]));
}

fn served() -> Server {
    let (server, _clock) = Server::at(NOW, |_| {});
    dataset(&server);
    server
}

/// GET /api/query with these parameters; answers (status, body).
fn get(server: &Server, query: &str) -> (u16, String) {
    let (status, _, body) = server.get(&format!("/api/query?{query}"), None);
    (status, body)
}

fn get_ok(server: &Server, query: &str) -> Value {
    let (status, body) = get(server, query);
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Raw answers, one `query` line and one body line each, for golden files.
#[derive(Default)]
struct Transcript(String);

impl Transcript {
    fn get(&mut self, server: &Server, query: &str) -> Value {
        let (status, body) = get(server, query);
        assert_eq!(status, 200, "{query}: {body}");
        self.0
            .push_str(&format!("GET /api/query?{query}\n{body}\n"));
        serde_json::from_str(&body).unwrap()
    }

    fn post(&mut self, server: &Server, query: Value) -> Value {
        let (status, body) = server.post("/api/query", "application/json", &query.to_string());
        assert_eq!(status, 200, "{query}: {body}");
        self.0
            .push_str(&format!("POST /api/query {query}\n{body}\n"));
        serde_json::from_str(&body).unwrap()
    }
}

fn post_ok(server: &Server, body: Value) -> Value {
    let (status, text) = server.post("/api/query", "application/json", &body.to_string());
    assert_eq!(status, 200, "{body}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The minute of data, start and end as epoch seconds.
fn minute() -> String {
    format!("start={HS}&end={}", HS + 59)
}

fn dps(answer: &Value) -> Vec<(i64, Value)> {
    answer["dps"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.clone()))
        .collect()
}

#[test]
fn every_aggregator_across_series_and_in_downsampling() {
    let server = served();
    let names: Vec<String> = serde_json::from_value(server.get_json("/api/aggregators")).unwrap();
    assert_eq!(names.len(), 17);
    let mut all = serde_json::Map::new();
    let mut transcript = Transcript::default();
    for agg in &names {
        let plain = transcript.get(&server, &format!("{}&m={agg}:cpu", minute()));
        let down = transcript.get(&server, &format!("{}&m=sum:1m-{agg}:cpu", minute()));
        all.insert(agg.clone(), json!({"group": plain, "downsample": down}));
    }
    // Buckets at 0 s: a=1, b=mean(10,20)=15; at 10 s: a=2, c=100; at 20 s: a=3, b=30.
    let at = |agg: &str| dps(&all[agg]["group"][0]);
    let v = |agg: &str| {
        at(agg)
            .iter()
            .map(|(_, v)| v.as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(at("sum")[0].0, HS);
    assert_eq!(v("sum"), vec![16.0, 102.0, 33.0]);
    assert_eq!(v("zimsum"), v("sum"));
    assert_eq!(v("avg"), vec![8.0, 51.0, 16.5]);
    assert_eq!(v("min"), vec![1.0, 2.0, 3.0]);
    assert_eq!(v("mimmin"), v("min"));
    assert_eq!(v("max"), vec![15.0, 100.0, 30.0]);
    assert_eq!(v("mimmax"), v("max"));
    assert_eq!(v("count"), vec![2.0, 2.0, 2.0]);
    assert_eq!(v("dev"), vec![7.0, 49.0, 13.5]);
    assert_eq!(
        v("first"),
        vec![1.0, 2.0, 3.0],
        "series in tag order: a first"
    );
    assert_eq!(v("last"), vec![15.0, 100.0, 30.0]);
    assert_eq!(v("p50"), v("avg"), "two values: the median is their mean");
    assert_eq!(v("p99"), v("max"));
    // 1m-<agg> per series, then summed: sums, counts and means over the samples.
    let down = |agg: &str| dps(&all[agg]["downsample"][0])[0].1.as_f64().unwrap();
    assert_eq!(down("sum"), 6.0 + 60.0 + 100.0);
    assert_eq!(down("count"), 3.0 + 3.0 + 1.0);
    assert_eq!(down("avg"), 2.0 + 20.0 + 100.0);
    assert_eq!(down("min"), 1.0 + 10.0 + 100.0);
    assert_eq!(down("max"), 3.0 + 30.0 + 100.0);
    assert_eq!(down("first"), 1.0 + 10.0 + 100.0);
    assert_eq!(down("last"), 3.0 + 30.0 + 100.0);
    assert_eq!(dps(&all["sum"]["downsample"][0])[0].0, HS - HS % 60);
    golden("opentsdb_aggregators.txt", &transcript.0);
}

#[test]
fn every_fill_policy_on_a_series_with_gaps() {
    let server = served();
    let mut all = serde_json::Map::new();
    let mut transcript = Transcript::default();
    for fill in ["none", "nan", "null", "zero"] {
        let body = json!({"start": HS, "end": HS + 59, "queries": [
            {"aggregator": "sum", "metric": "gap", "downsample": format!("10s-sum-{fill}")}
        ]});
        all.insert(fill.to_owned(), transcript.post(&server, body));
    }
    let points = |fill: &str| dps(&all[fill][0]);
    assert_eq!(points("none"), vec![(HS, json!(1)), (HS + 30, json!(4))]);
    let zero = points("zero");
    assert_eq!(zero.len(), 6);
    assert_eq!(zero[1], (HS + 10, json!(0)));
    assert_eq!(zero[3], (HS + 30, json!(4)));
    assert_eq!(points("nan")[2].1, json!("NaN"));
    assert_eq!(points("null")[4].1, Value::Null);
    // The ms answer of the same query keeps its order too.
    let ms = transcript.post(
        &server,
        json!({"start": HS, "end": HS + 59, "msResolution": true, "queries": [
            {"aggregator": "sum", "metric": "gap", "downsample": "10s-sum-zero"}]}),
    );
    assert_eq!(dps(&ms[0])[5].0, H + 50_000);
    golden("opentsdb_fills.txt", &transcript.0);
}

#[test]
fn group_by_and_filters() {
    let server = served();
    let mut transcript = Transcript::default();
    let mut m = |expr: &str| transcript.get(&server, &format!("{}&m=sum:1m-sum:{expr}", minute()));
    let by_host = m("cpu{host=*}");
    assert_eq!(by_host.as_array().unwrap().len(), 3);
    assert_eq!(by_host[2]["tags"], json!({"dc": "y", "host": "c"}));
    let by_dc = m("cpu{dc=*}");
    assert_eq!(by_dc.as_array().unwrap().len(), 2);
    assert_eq!(by_dc[0]["tags"], json!({"dc": "x"}));
    assert_eq!(by_dc[0]["aggregateTags"], json!(["host"]));
    assert_eq!(dps(&by_dc[0])[0].1, json!(66));
    let either = m("cpu{host=a|c}");
    assert_eq!(either.as_array().unwrap().len(), 2);
    let filtered = m("cpu{}{host=a|b}");
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["tags"], json!({"dc": "x"}));
    assert_eq!(dps(&filtered[0])[0].1, json!(66));
    let wild = m("cpu{dc=wildcard(*)}{host=regexp(^[bc]$)}");
    assert_eq!(wild.as_array().unwrap().len(), 2);
    assert_eq!(dps(&wild[0])[0].1, json!(60));

    let body = json!({"start": HS, "end": HS + 59, "queries": [{
    "aggregator": "sum", "metric": "cpu", "downsample": "1m-sum",
    "filters": [
        {"type": "not_literal_or", "tagk": "host", "filter": "a", "groupBy": false},
        {"type": "wildcard", "tagk": "dc", "filter": "*", "groupBy": true}
    ]}]});
    let answer = post_ok(&server, body);
    assert_eq!(answer.as_array().unwrap().len(), 2);
    assert_eq!(
        (dps(&answer[0])[0].1.clone(), dps(&answer[1])[0].1.clone()),
        (json!(60), json!(100))
    );
    let explicit = post_ok(
        &server,
        json!({"start": HS, "queries": [{
        "aggregator": "sum", "metric": "cpu", "explicitTags": true,
        "filters": [{"type": "literal_or", "tagk": "host", "filter": "a", "groupBy": false}]}]}),
    );
    assert_eq!(explicit, json!([]), "cpu series all have a dc tag as well");
    let none = m("cpu{host=zzz}");
    assert_eq!(none, json!([]));
    golden("opentsdb_group_by.txt", &transcript.0);
}

#[test]
fn rates_on_counters_and_gauges() {
    let server = served();
    // Counter buckets hold increments: 10 in [0 s, 10 s), 20 in [10 s, 20 s).
    let counter = get_ok(&server, &format!("{}&m=sum:rate:req", minute()));
    assert_eq!(dps(&counter[0]), vec![(HS, json!(1)), (HS + 10, json!(2))]);
    let per_minute = get_ok(&server, &format!("{}&m=sum:1m-sum:rate:req", minute()));
    assert_eq!(dps(&per_minute[0])[0].1, json!(0.5));
    // A gauge: the change per second between points (a: 1, 2, 3 every 10 s).
    let gauge = get_ok(&server, &format!("{}&m=sum:rate:cpu{{host=a}}", minute()));
    assert_eq!(
        dps(&gauge[0]),
        vec![(HS + 10, json!(0.1)), (HS + 20, json!(0.1))]
    );
    // b: 15 then 30 over 20 s, as a counter with a reset value of 0.5/s: a reset → 0.
    let reset = get_ok(
        &server,
        &format!("{}&m=sum:rate{{counter,,0.5}}:cpu{{host=b}}", minute()),
    );
    assert_eq!(dps(&reset[0]), vec![(HS + 20, json!(0))]);
    let body = json!({"start": HS, "end": HS + 59, "queries": [{"aggregator": "sum",
        "metric": "cpu", "rate": true, "rateOptions": {"counter": true, "counterMax": 20},
        "tags": {"host": "c"}}]});
    assert_eq!(
        post_ok(&server, body)[0]["dps"],
        json!({}),
        "one point has no rate"
    );
}

#[test]
fn relative_and_absolute_times() {
    let server = served();
    let relative = get_ok(&server, "start=1h-ago&m=sum:1m-sum:cpu");
    let absolute = get_ok(
        &server,
        "start=2023/11/14-22:00:00&end=2023/11/14-22:00:59&m=sum:1m-sum:cpu",
    );
    let epoch_ms = get_ok(
        &server,
        &format!("start={H}&end={}&m=sum:1m-sum:cpu", H + 59_999),
    );
    assert_eq!(relative, absolute);
    assert_eq!(absolute, epoch_ms);
    assert_eq!(dps(&absolute[0]), vec![(HS, json!(166))]);
    let later = get_ok(&server, "start=2023/11/14-22:00:15&m=sum:cpu");
    assert_eq!(dps(&later[0]), vec![(HS + 20, json!(33))]);
    let (status, body) = get(&server, "start=2023/13/01&m=sum:cpu");
    assert_eq!(status, 400);
    assert_error(&body, "bad_query");
}

#[test]
fn milliseconds_resolution() {
    let pipeline = Pipeline::parse(
        "[[tiers]]\nresolution = \"100ms\"\nretention = \"2h\"\n",
        "ms-test",
    )
    .unwrap();
    let (server, _clock) = Server::at(NOW, |o| o.pipeline = pipeline);
    server.push(json!([
        gauge("fast", json!({}), H, 1.0),
        gauge("fast", json!({}), H + 150, 2.0),
        gauge("fast", json!({}), H + 1_050, 4.0),
    ]));
    let ms = get_ok(
        &server,
        &format!("start={H}&end={}&ms=true&m=sum:fast", H + 1999),
    );
    assert_eq!(
        dps(&ms[0]),
        vec![(H, json!(1)), (H + 100, json!(2)), (H + 1000, json!(4))]
    );
    // In seconds, points of one second merge with the query's aggregator.
    let secs = get_ok(&server, &format!("start={H}&end={}&m=max:fast", H + 1999));
    assert_eq!(dps(&secs[0]), vec![(HS, json!(2)), (HS + 1, json!(4))]);
    let secs = get_ok(&server, &format!("start={H}&end={}&m=sum:fast", H + 1999));
    assert_eq!(dps(&secs[0]), vec![(HS, json!(3)), (HS + 1, json!(4))]);
}

fn tiered() -> Pipeline {
    Pipeline::parse(
        "[limits]\nmax_query_points = 100\n\
         [[tiers]]\nresolution = \"1s\"\nretention = \"2m\"\n\
         [[tiers]]\nresolution = \"10s\"\nretention = \"20m\"\n\
         [[tiers]]\nresolution = \"1m\"\nretention = \"1h\"\n",
        "tier-test",
    )
    .unwrap()
}

fn spacing(answer: &Value) -> Vec<i64> {
    let points = dps(&answer[0]);
    let mut gaps: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    gaps.dedup();
    gaps
}

#[test]
fn tier_choice_limits_and_retention() {
    let (server, clock) = Server::at(NOW, |o| o.pipeline = tiered());
    let events: Vec<Value> = (0..360)
        .map(|i| gauge("t", json!({}), NOW - 1_800_000 + i * 5_000, i as f64))
        .collect();
    server.push(Value::Array(events));
    assert_eq!(
        spacing(&get_ok(&server, "start=1m-ago&m=sum:t")),
        vec![5],
        "1 s tier"
    );
    assert_eq!(
        spacing(&get_ok(&server, "start=10m-ago&m=sum:t")),
        vec![10],
        "10 s tier"
    );
    assert_eq!(
        spacing(&get_ok(&server, "start=30m-ago&m=sum:t")),
        vec![60],
        "1 m tier"
    );
    assert_eq!(
        spacing(&get_ok(&server, "start=1m-ago&m=sum:30s-count:t")),
        vec![30]
    );
    // Finer than any tier covering 10 minutes: the finest that does.
    assert_eq!(
        spacing(&get_ok(&server, "start=10m-ago&m=sum:1s-avg:t")),
        vec![10]
    );
    // Sums agree whichever tier answers.
    let total = |start: &str| -> Value {
        dps(&get_ok(&server, &format!("start={start}&m=sum:0all-sum:t"))[0])[0]
            .1
            .clone()
    };
    let expected: i64 = (337..360).sum(); // samples at NOW - 115 s ... NOW - 5 s
    assert_eq!(total("119s-ago"), json!(expected));
    // 121 one-second intervals is more than the 100 allowed.
    let (status, body) = get(&server, "start=2m-ago&m=sum:t");
    assert_eq!(status, 400);
    assert_error(&body, "too_many_points");
    // One point to answer from 120 one-second buckets: within the 10 × 100 that may be
    // read. Eleven series over the same two minutes (1,320 buckets) are not.
    let (status, _, _) = server.get("/api/query?start=119s-ago&m=sum:0all-sum:t", None);
    assert_eq!(status, 200);
    let many: Vec<Value> = (0..11)
        .map(|i| gauge("wide", json!({"i": i.to_string()}), NOW - 1_000, 1.0))
        .collect();
    server.push(Value::Array(many));
    let (status, body) = get(&server, "start=119s-ago&m=sum:0all-sum:wide");
    assert_eq!(status, 400);
    let err = assert_error(&body, "too_many_points");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read 1320 buckets"),
        "{body}"
    );

    // Ingest refuses what no tier would keep, and the far future; naming the event.
    let (status, body) = server.post(
        "/api/v1/events",
        "application/json",
        &json!([
            gauge("t", json!({}), NOW, 1.0),
            gauge("t", json!({}), NOW - 3_600_001, 1.0),
            gauge("t", json!({}), NOW + 600_001, 1.0)
        ])
        .to_string(),
    );
    assert_eq!(status, 400);
    let err = assert_error(&body, "invalid_batch");
    let details = err["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0]["index"], 1);
    assert!(details[0]["message"].as_str().unwrap().contains("older"));
    assert_eq!(details[1]["index"], 2);
    assert!(details[1]["message"].as_str().unwrap().contains("future"));

    // Two hours later every bucket has aged out of every tier: nothing is returned.
    server.flush();
    clock.advance(std::time::Duration::from_secs(7200));
    server.flush();
    assert_eq!(get_ok(&server, "start=3h-ago&m=sum:0all-sum:t"), json!([]));
}

#[test]
fn put_then_query() {
    let (server, _clock) = Server::at(NOW, |_| {});
    let points = json!([
        {"metric": "sys.disk", "timestamp": HS + 1, "value": 5, "tags": {"host": "a"}},
        {"metric": "sys.disk", "timestamp": H + 2_000, "value": "7.5", "tags": {"host": "b"}}
    ]);
    let (status, body) = server.post("/api/put", "application/json", &points.to_string());
    assert_eq!((status, body.as_str()), (204, ""));
    let one =
        json!({"metric": "sys.disk", "timestamp": HS + 30, "value": 1, "tags": {"host": "a"}});
    let (status, body) = server.post("/api/put?details", "application/json", &one.to_string());
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"success": 1, "failed": 0, "errors": []})
    );
    let answer = get_ok(&server, &format!("{}&m=sum:sys.disk", minute()));
    assert_eq!(
        dps(&answer[0]),
        vec![(HS, json!(12.5)), (HS + 30, json!(1))]
    );

    let bad = json!([
        {"metric": "sys.disk", "timestamp": HS + 40, "value": 9, "tags": {"host": "a"}},
        {"metric": "sys disk", "timestamp": HS, "value": 1},
        {"metric": "sys.disk", "timestamp": HS, "value": "many"}
    ]);
    let (status, body) = server.post("/api/put", "application/json", &bad.to_string());
    assert_eq!(status, 400);
    let err = assert_error(&body, "invalid_batch");
    assert_eq!(err["error"]["details"].as_array().unwrap().len(), 2);
    let again = get_ok(&server, &format!("{}&m=sum:sys.disk", minute()));
    assert_eq!(again, answer, "nothing of the refused batch was applied");
    let (status, body) = server.post("/api/put", "application/json", "{");
    assert_eq!(status, 400);
    assert_error(&body, "malformed_body");
}

#[test]
fn suggest_names_and_tags() {
    let server = served();
    assert_eq!(
        server.get_json("/api/suggest?type=metrics"),
        json!(["cpu", "gap", "req"])
    );
    assert_eq!(
        server.get_json("/api/suggest?type=metrics&q=c"),
        json!(["cpu"])
    );
    assert_eq!(
        server.get_json("/api/suggest?type=tagk"),
        json!(["dc", "host"])
    );
    assert_eq!(
        server.get_json("/api/suggest?type=tagv&max=2"),
        json!(["a", "b"])
    );
    let (status, body) = server.post(
        "/api/suggest",
        "application/json",
        r#"{"type":"tagv","q":"x"}"#,
    );
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!(["x"]))
    );
    let (status, _, body) = server.get("/api/suggest?type=hosts", None);
    assert_eq!(status, 400);
    assert_error(&body, "bad_query");
    let (status, _, body) = server.get("/api/suggest", None);
    assert_eq!(status, 400);
    assert_error(&body, "bad_request");
}

#[test]
fn errors_are_json() {
    let server = served();
    let (status, body) = get(&server, &format!("{}&m=sum:nosuch", minute()));
    assert_eq!(status, 404);
    assert_error(&body, "unknown_metric");
    for q in [
        "m=sum:cpu",
        "start=1h-ago",
        "start=1h-ago&m=median:cpu",
        "start=1h-ago&m=sum:1m-avg-linear:cpu",
    ] {
        let (status, body) = get(&server, q);
        assert_eq!(status, 400, "{q}");
        assert_error(&body, "bad_query");
    }
    let (status, body) = server.post("/api/query", "application/json", "{]");
    assert_eq!(status, 400);
    assert_error(&body, "bad_query");
}

#[test]
fn history_survives_a_restart() {
    let (server, clock) = Server::at(NOW, |_| {});
    dataset(&server);
    let query = format!("{}&m=sum:cpu{{host=*}}", minute());
    let before = get_ok(&server, &query);
    // Close the open buckets too: two minutes on, then flush and restart.
    clock.advance(std::time::Duration::from_secs(120));
    server.flush();
    let after_flush = get_ok(&server, &query);
    assert_eq!(before, after_flush);
    let server = server.restart(|o| o.clock = std::sync::Arc::new(clock.clone()));
    assert_eq!(
        get_ok(&server, &query),
        before,
        "read back from the store alone"
    );
    assert_eq!(
        server.get_json("/api/suggest?type=metrics"),
        json!(["cpu", "gap", "req"])
    );
}

#[test]
fn open_buckets_survive_a_graceful_restart() {
    let (server, clock) = Server::at(NOW, |_| {});
    dataset(&server);
    let query = format!("{}&m=sum:cpu{{host=*}}", minute());
    let before = get_ok(&server, &query);
    // No flush and no time passing: every tier's bucket is still open at shutdown.
    let server = server.restart(|o| o.clock = std::sync::Arc::new(clock.clone()));
    assert_eq!(
        get_ok(&server, &query),
        before,
        "open buckets written at shutdown"
    );
    // New samples in the same windows add to what was written, not replace it.
    let counts = format!("{}&m=sum:10s-count:cpu", minute());
    let once = get_ok(&server, &counts);
    dataset(&server);
    let twice = get_ok(&server, &counts);
    let doubled: serde_json::Map<String, Value> = once[0]["dps"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, v)| (t.clone(), json!(v.as_u64().unwrap() * 2)))
        .collect();
    assert_eq!(twice[0]["dps"], Value::Object(doubled), "{once} → {twice}");
}
