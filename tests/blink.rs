//! Blink `GetInstanceMetric` over real HTTP: both body forms, every `limit` mode, a foreign
//! metric and a job that is not running.

mod common;

use common::{assert_error, golden, Server};
use serde_json::{json, Value};

const NOW: i64 = 1_700_002_800_000; // a whole hour
const PATH: &str = "/api/v2/projects/proj/jobs/job1/metric";

/// Five task managers of job1 with two delays each (30 s apart), an old job, and the seed's
/// own example job.
fn served() -> Server {
    let (server, _clock) = Server::at(NOW, |_| {});
    let values = [
        (10.0, 50.0),
        (20.0, 21.0),
        (5.0, 90.0),
        (40.0, 40.0),
        (1.0, 2.0),
    ];
    let mut events = Vec::new();
    for (i, (a, b)) in values.iter().enumerate() {
        let tags = json!({"tm": format!("tm{}", i + 1)});
        for (at, v) in [(NOW - 60_000, a), (NOW - 30_000, b)] {
            events.push(
                json!({"name": "blink.proj.job1.delay", "type": "gauge", "value": v,
                "timestamp": at, "tags": tags}),
            );
        }
    }
    events.push(
        json!({"name": "blink.proj.old.delay", "type": "gauge", "value": 1,
        "timestamp": NOW - 600_000}),
    );
    events.push(
        json!({"name": "blink.projectName.jobName.task_failover.rate", "type": "gauge",
        "value": 0.5, "timestamp": NOW - 20_000}),
    );
    server.push(Value::Array(events));
    server
}

fn metric_json(limit: Option<&str>) -> Value {
    let mut q = json!({"start": NOW - 120_000, "end": NOW, "queries": [{
        "downsample": "30s-avg", "metric": "blink.proj.job1.delay", "aggregator": "max",
        "tags": {"tm": "*"}}]});
    if let Some(l) = limit {
        q["limit"] = json!(l);
    }
    q
}

fn call(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = server.post(path, "application/json", &body.to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

fn ok(server: &Server, body: &Value) -> Value {
    let (status, v) = call(server, PATH, body);
    assert_eq!(status, 200, "{v}");
    let id = v["requestId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    v
}

fn lines(v: &Value) -> Vec<(String, f64)> {
    v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["tags"]["tm"].as_str().unwrap().to_owned(),
                m["summary"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, f64)]) -> Vec<(String, f64)> {
    expected.iter().map(|(t, v)| (t.to_string(), *v)).collect()
}

#[test]
fn each_limit_mode() {
    let server = served();
    let all = ok(&server, &metric_json(None));
    assert_eq!(lines(&all).len(), 5);
    assert_eq!(
        lines(&all)[0],
        ("tm1".to_owned(), 30.0),
        "no limit: the mean"
    );
    let first = &all["metrics"][0];
    assert_eq!(first["metricName"], "blink.proj.job1.delay");
    let t0 = (NOW - 60_000) / 1000;
    assert_eq!(
        first["dps"],
        json!({t0.to_string(): 10, (t0 + 30).to_string(): 50})
    );

    let above = ok(&server, &metric_json(Some("max:above:2")));
    assert_eq!(lines(&above), pairs(&[("tm3", 90.0), ("tm1", 50.0)]));
    let bottom = ok(&server, &metric_json(Some("min:bottom:2")));
    assert_eq!(lines(&bottom), pairs(&[("tm5", 1.0), ("tm3", 5.0)]));
    let sample = ok(&server, &metric_json(Some("avg:sample:2")));
    assert_eq!(lines(&sample), pairs(&[("tm1", 30.0), ("tm3", 47.5)]));
    let more = ok(&server, &metric_json(Some("avg:above:9")));
    assert_eq!(lines(&more).len(), 5);

    let mut shown = above.clone();
    shown["requestId"] = json!("<uuid>");
    golden(
        "blink_above.json",
        &serde_json::to_string_pretty(&shown).unwrap(),
    );
}

#[test]
fn both_body_forms_and_the_seed_example() {
    let server = served();
    let direct = ok(&server, &metric_json(Some("avg:sample:50")));
    let wrapped = ok(
        &server,
        &json!({"metricJson": metric_json(Some("avg:sample:50")).to_string()}),
    );
    assert_eq!(direct["metrics"], wrapped["metrics"]);
    assert_ne!(direct["requestId"], wrapped["requestId"]);
    // The seed's request, as written there (times in ms; granularity with an aggregator).
    let seed = json!({"metricJson": json!({"start": NOW - 300_000, "end": NOW,
        "limit": "avg:sample:50", "queries": [{"downsample": "20s-avg",
        "metric": "blink.projectName.jobName.task_failover.rate", "granularity": "20s",
        "aggregator": "max"}]}).to_string()});
    let (status, v) = call(
        &server,
        "/api/v2/projects/projectName/jobs/jobName/metric?instanceId=-1",
        &seed,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["metrics"][0]["metricName"],
        "blink.projectName.jobName.task_failover.rate"
    );
    assert_eq!(v["metrics"][0]["summary"], json!(0.5));
    assert_eq!(v["metrics"][0]["tags"], json!({}));
}

#[test]
fn a_foreign_metric_is_refused() {
    let server = served();
    let mut body = metric_json(None);
    body["queries"][0]["metric"] = json!("blink.proj.job2.delay");
    let (status, v) = call(&server, PATH, &body);
    assert_eq!(status, 400);
    assert_eq!(v["code"], "InvalidParameter");
    assert!(v["requestId"].is_string());
    assert!(v["message"].as_str().unwrap().contains("blink.proj.job1."));
    assert_error(&v.to_string(), "InvalidParameter");
    let (status, v) = call(&server, &format!("{PATH}?instanceId=7"), &metric_json(None));
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    let (status, text) = server.post(PATH, "application/json", "{");
    assert_eq!(status, 400);
    assert_error(&text, "InvalidParameter");
}

#[test]
fn a_job_that_is_not_running() {
    let server = served();
    for job in ["old", "never"] {
        let mut body = metric_json(None);
        body["queries"][0]["metric"] = json!(format!("blink.proj.{job}.delay"));
        let (status, v) = call(
            &server,
            &format!("/api/v2/projects/proj/jobs/{job}/metric"),
            &body,
        );
        assert_eq!(status, 404, "{v}");
        assert_eq!(v["code"], "InstanceNotRunning");
        assert!(v["requestId"].as_str().is_some_and(|id| id.len() == 36));
        assert!(v["message"].as_str().unwrap().contains("not running"));
    }
}
