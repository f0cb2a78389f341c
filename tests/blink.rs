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
        json!({t0.to_string(): "10.0", (t0 + 30).to_string(): "50.0"}),
        "dps values are strings in Java's spelling, as seed 000 shows them"
    );
    assert_eq!(first["summary"], json!(30), "summary is a number");

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

/// Seed 000's example line: six delays 600 s apart (its values, ending now) and their mean.
fn seed_job() -> (Server, Value) {
    let (server, _clock) = Server::at(NOW, |_| {});
    let values = [
        492_900_000.0,
        493_500_160.0,
        494_100_352.0,
        494_700_544.0,
        495_300_736.0,
        495_900_896.0,
    ];
    let events: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"name": "blink.bayes_team.ss2.delay", "type": "gauge", "value": v,
                   "timestamp": NOW - 3_000_000 + 600_000 * i as i64})
        })
        .collect();
    server.push(Value::Array(events));
    let body = json!({"start": NOW - 3_600_000, "end": NOW, "limit": "avg:sample:50",
        "queries": [{"downsample": "10m-avg", "metric": "blink.bayes_team.ss2.delay",
        "aggregator": "max"}]});
    (server, body)
}

const SEED_PATH: &str = "/api/v2/projects/bayes_team/jobs/ss2/metric";

#[test]
fn the_seed_example_answer_in_json() {
    let (server, body) = seed_job();
    let (status, v) = call(&server, SEED_PATH, &body);
    assert_eq!(status, 200, "{v}");
    let line = &v["metrics"][0];
    let t0 = (NOW - 3_000_000) / 1000;
    let dps: Vec<(String, Value)> = line["dps"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let seed = [
        "4.929E+8",
        "4.9350016E+8",
        "494100352",
        "494700544",
        "495300736",
        "495900896",
    ];
    let want: Vec<(String, Value)> = seed
        .iter()
        .enumerate()
        .map(|(i, s)| ((t0 + 600 * i as i64).to_string(), json!(s)))
        .collect();
    assert_eq!(dps, want);
    assert_eq!(line["summary"], json!(494_400_448), "the seed's summary");
    let mut shown = v.clone();
    shown["requestId"] = json!("<uuid>");
    golden(
        "blink_seed.json",
        &serde_json::to_string_pretty(&shown).unwrap(),
    );
}

#[test]
fn the_seed_example_answer_in_xml() {
    let (server, body) = seed_job();
    let answer = |accept: &str| {
        let resp = ureq::post(&server.url(SEED_PATH))
            .set("Content-Type", "application/json")
            .set("Accept", accept)
            .send_string(&body.to_string())
            .unwrap();
        let ct = resp.content_type().to_owned();
        (ct, resp.into_string().unwrap())
    };
    let (ct, xml) = answer("application/xml");
    assert_eq!(ct, "application/xml");
    let id_line = xml.lines().next().unwrap();
    let id = id_line
        .strip_prefix("<requestId>")
        .and_then(|l| l.strip_suffix("</requestId>"))
        .unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(id.len(), 36, "a UUID: {id}");
    golden("blink_seed.xml", &xml.replace(id, "<uuid>"));
    let (ct, _) = answer("application/json, application/xml;q=0.5");
    assert_eq!(ct, "application/json", "JSON when preferred");
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
