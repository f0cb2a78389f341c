//! The MicroProfile Metrics 1.1 TCK (eclipse/microprofile-metrics, tag 1.1.5) against a real
//! server: the REST expectations of `tck/rest` `MpMetricTest` that apply to pushed metrics, and
//! the data sets of `tck/api` `HistogramTest` and `TimerTest` pushed as events.
//!
//! The TCK's application (`MetricAppBean`) is replayed as events with the same names, types,
//! units, descriptions, display names and values. meterd has no configured global tags
//! (`MP_METRICS_TAGS`), so the checks that expect `tier="integration"` in Prometheus labels
//! push that tag on each event instead, on a server of their own (JSON keys carry tags, so the
//! JSON checks run without it). The JVM base metrics of `base_metrics.xml` (heap, class
//! loading, GC, `thread.max.count`) have no meaning for meterd and are not checked; the base
//! scope's shape is.

mod common;

use common::{assert_error, Server};
use serde_json::{json, Value};

/// `MetricAppBean`'s class prefix.
const APP: &str = "org.eclipse.microprofile.metrics.test.MetricAppBean";

/// The TCK's tolerance for REST values (`MpMetricTest.TOLERANCE`).
const REST_TOLERANCE: f64 = 0.025;
/// The TCK's tolerance for the api data sets (`TestUtils.TOLERANCE`).
const API_TOLERANCE: f64 = 0.15;

/// `HistogramTest.SAMPLE_INT_DATA`; `SAMPLE_LONG_DATA` is each value times ten.
const SAMPLE_INT_DATA: [u32; 200] = [
    0, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 5, 5, 6, 7, 7, 7, 8, 9, 9, 10, 11, 11, 12, 12, 12, 12, 13, 13,
    13, 13, 14, 14, 15, 15, 17, 18, 18, 20, 20, 20, 21, 22, 22, 22, 24, 24, 25, 25, 27, 27, 27, 27,
    27, 27, 27, 28, 28, 29, 30, 31, 31, 32, 32, 33, 33, 36, 36, 36, 36, 37, 38, 38, 38, 39, 40, 40,
    41, 42, 42, 42, 43, 44, 44, 44, 45, 45, 45, 46, 46, 46, 46, 47, 47, 47, 47, 47, 47, 48, 48, 49,
    49, 50, 51, 52, 52, 52, 53, 54, 54, 55, 56, 56, 57, 57, 59, 59, 60, 61, 61, 62, 62, 63, 64, 64,
    64, 65, 66, 66, 66, 67, 67, 68, 68, 70, 71, 71, 71, 71, 72, 72, 72, 72, 73, 73, 74, 74, 74, 75,
    75, 76, 76, 76, 77, 78, 78, 78, 80, 80, 81, 82, 82, 82, 83, 83, 84, 84, 85, 87, 87, 88, 88, 88,
    89, 89, 89, 89, 90, 91, 92, 92, 92, 93, 94, 95, 95, 95, 96, 96, 96, 96, 97, 97, 97, 97, 98, 98,
    98, 99, 99,
];

/// `MetricAppBean` after `testSetupApplicationMetrics`, as events (`tags` added to each).
fn app_events(tags: Value) -> Value {
    let mut events = vec![
        json!({"name": format!("{APP}.redCount"), "type": "counter", "value": 0,
               "description": "red-description", "displayName": "red-display-name"}),
        json!({"name": format!("{APP}.blue"), "type": "counter", "value": 0}),
        json!({"name": "greenCount", "type": "counter", "value": 0}),
        json!({"name": "purple", "type": "counter", "value": 0, "tags": {"app": "myShop"}}),
        // An injected histogram never updated; meterd makes a series on its first value.
        json!({"name": "jellybeanHistogram", "type": "histogram", "value": 1,
               "unit": "jellybeans", "description": "jellybeans-description",
               "displayName": "jellybeans-displayName"}),
        json!({"name": "metricTest.test1.count", "type": "counter", "value": 1}),
        json!({"name": "metricTest.test1.countMeA", "type": "counter", "value": 1,
               "description": "count-me-a-description",
               "displayName": "count-me-a-display-name"}),
        json!({"name": "metricTest.test1.countMeB", "type": "counter", "value": 1,
               "unit": "jellybean"}),
        json!({"name": "metricTest.test1.gauge", "type": "gauge", "value": 19,
               "unit": "gigabytes"}),
        json!({"name": format!("{APP}.gaugeMeA"), "type": "gauge", "value": 1000,
               "unit": "kibibits", "description": "gauge-me-a-description",
               "displayName": "gauge-me-a-displayname"}),
        json!({"name": format!("{APP}.gaugeMeB"), "type": "gauge", "value": 7_777_777,
               "unit": "hands"}),
        json!({"name": "metricTest.test1.histogram2", "type": "histogram", "value": 1,
               "unit": "none"}),
        json!({"name": "metricTest.test1.meter", "type": "meter"}),
        json!({"name": "meterMeA", "type": "meter", "unit": "per_second",
               "description": "meter-me-a-description",
               "displayName": "meter-me-a-display-name"}),
        // `timeMe` sleeps a random time below a second; `timeMeA` returns at once.
        json!({"name": "metricTest.test1.timer", "type": "timer", "value": 412_000_000}),
        json!({"name": format!("{APP}.timeMeA"), "type": "timer", "value": 1_200,
               "unit": "nanoseconds"}),
        json!({"name": "coffee_price_produces", "type": "gauge", "value": 4, "unit": "USD",
               "description": "getCoffeePriceDescription",
               "displayName": "getCoffeePriceDisplayName"}),
    ];
    // `histogramMe`: 0..999, both ways.
    for i in 0..500 {
        for v in [i, 999 - i] {
            events.push(
                json!({"name": "metricTest.test1.histogram", "type": "histogram",
                               "value": v, "unit": "bytes"}),
            );
        }
    }
    for e in &mut events {
        let mut all = tags.as_object().cloned().unwrap_or_default();
        if let Some(own) = e["tags"].as_object() {
            all.extend(own.clone());
        }
        e["tags"] = Value::Object(all);
    }
    Value::Array(events)
}

fn app_server(tags: Value) -> Server {
    let server = Server::start();
    server.push(app_events(tags));
    server
}

/// Sends `method path` with an `Accept`; answers (status, content type, body).
fn ask(server: &Server, method: &str, path: &str, accept: &str) -> (u16, String, String) {
    let req = ureq::request(method, &server.url(path)).set("Accept", accept);
    match req.call() {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let status = resp.status();
            let ct = resp.content_type().to_owned();
            (status, ct, resp.into_string().unwrap())
        }
        Err(e) => panic!("transport error: {e}"),
    }
}

fn json_of(server: &Server, method: &str, path: &str) -> Value {
    let (status, ct, body) = ask(server, method, path, "application/json");
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/json"),
        "{path}: {body}"
    );
    serde_json::from_str(&body).unwrap()
}

fn text_of(server: &Server, path: &str) -> String {
    let (status, ct, body) = ask(server, "GET", path, "text/plain");
    assert_eq!((status, ct.as_str()), (200, "text/plain"), "{path}: {body}");
    body
}

fn close_to(got: &Value, want: f64, tolerance: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is no number"));
    assert!(
        (got - want).abs() <= want.abs() * tolerance,
        "{what}: {got} not within {tolerance} of {want}"
    );
}

fn contains_all(body: &str, wanted: &[String]) {
    for w in wanted {
        assert!(body.contains(w.as_str()), "missing {w:?} in\n{body}");
    }
}

// ---- tck/rest MpMetricTest -------------------------------------------------------------

/// testApplicationJsonResponseContentType, testTextPlainResponseContentType,
/// testBadSubTreeWillReturn404, testListsAllJson, testBase (shape), testBaseMetadata,
/// testApplicationMetadataOkJson (before any application metric: 200 or 204).
#[test]
fn content_types_status_codes_and_the_tree() {
    let server = Server::start();
    let (status, _, _) = ask(
        &server,
        "OPTIONS",
        "/metrics/application",
        "application/json",
    );
    assert!(status == 200 || status == 204, "{status}");
    server.push(app_events(json!({})));
    let (status, ct, _) = ask(&server, "GET", "/metrics", "application/json");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let (status, ct, _) = ask(&server, "GET", "/metrics", "text/plain");
    assert_eq!((status, ct.as_str()), (200, "text/plain"));
    let (status, _, body) = ask(&server, "GET", "/metrics/bad-tree", "application/json");
    assert_eq!(status, 404);
    assert_error(&body, "not_found");

    let all = json_of(&server, "GET", "/metrics");
    assert!(all.get("base").is_some(), "{all}");
    for scope in ["application", "vendor"] {
        if let Some(s) = all.get(scope) {
            assert!(
                !s.as_object().unwrap().is_empty(),
                "{scope} present but empty"
            );
        }
    }
    let base = json_of(&server, "GET", "/metrics/base");
    assert!(!base.as_object().unwrap().is_empty());
    let meta = json_of(&server, "OPTIONS", "/metrics/base");
    assert!(!meta.as_object().unwrap().is_empty());
}

/// testPrometheus406ForOptions: metadata is JSON only.
#[test]
fn options_with_text_plain_is_406() {
    let server = app_server(json!({}));
    let (status, _, body) = ask(
        &server,
        "OPTIONS",
        "/metrics/application/metricTest.test1.histogram2",
        "text/plain",
    );
    assert_eq!(status, 406, "{body}");
    assert_error(&body, "not_acceptable");
    let v = json_of(
        &server,
        "OPTIONS",
        "/metrics/application/metricTest.test1.histogram2",
    );
    assert_eq!(v["metricTest.test1.histogram2"]["type"], "histogram");
}

/// testPrometheusFormatNoBadChars (its intent: its regex `matches("[-.]")` only matches a
/// one-character line) and the `# TYPE base:` line shape of
/// testBaseMetadataSingluarItemsPrometheus.
#[test]
fn prometheus_base_lines_have_no_bad_characters() {
    let server = Server::start();
    let text = text_of(&server, "/metrics/base");
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE base:") {
            assert_eq!(t.split(' ').count(), 2, "{line}");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        assert_eq!(line.split(' ').count(), 2, "{line}");
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(!name.contains(['-', '.']), "illegal chars in {line}");
        assert!(!name.contains("__"), "__ in {line}");
    }
}

/// testApplicationMetricsJSON: every value the TCK checks, within its tolerance.
#[test]
fn application_metrics_json() {
    let server = app_server(json!({}));
    let v = json_of(&server, "GET", "/metrics/application");
    for (name, want) in [
        (format!("{APP}.redCount"), 0),
        (format!("{APP}.blue"), 0),
        ("greenCount".into(), 0),
        ("metricTest.test1.count".into(), 1),
        ("metricTest.test1.countMeA".into(), 1),
        ("metricTest.test1.countMeB".into(), 1),
        ("metricTest.test1.gauge".into(), 19),
        (format!("{APP}.gaugeMeA"), 1000),
        (format!("{APP}.gaugeMeB"), 7_777_777),
    ] {
        assert_eq!(v[&name], want, "{name} in {v}");
    }
    // `purple` carries its own tag, so its MicroProfile 2 style key names it.
    assert_eq!(v["purple;app=myShop"], 0, "{v}");
    let h = &v["metricTest.test1.histogram"];
    assert_eq!(
        (&h["count"], &h["max"], &h["min"]),
        (&json!(1000), &json!(999), &json!(0))
    );
    for (key, want) in [
        ("mean", 499.5),
        ("p50", 499.0),
        ("p75", 749.0),
        ("p95", 949.0),
        ("p98", 979.0),
        ("p99", 989.0),
        ("p999", 998.0),
    ] {
        close_to(&h[key], want, REST_TOLERANCE, key);
    }
    assert!(h.get("stddev").is_some());
    let rates = ["fifteenMinRate", "fiveMinRate", "meanRate", "oneMinRate"];
    for meter in ["metricTest.test1.meter", "meterMeA"] {
        assert_eq!(v[meter]["count"], 1, "{meter}");
        for k in rates {
            assert!(v[meter].get(k).is_some(), "{meter}.{k}");
        }
    }
    for timer in [
        "metricTest.test1.timer".to_owned(),
        format!("{APP}.timeMeA"),
    ] {
        assert_eq!(v[&timer]["count"], 1, "{timer}");
        let keys = [
            "max", "mean", "min", "p50", "p75", "p95", "p98", "p99", "p999", "stddev",
        ];
        for k in rates.iter().chain(&keys) {
            assert!(v[&timer].get(*k).is_some(), "{timer}.{k}");
        }
    }
}

/// testApplicationMetadataItems, testApplicationMetadataTypeAndUnit (application_metrics.xml),
/// testApplicationTagJson, testNonStandardUnitsJSON.
#[test]
fn application_metadata() {
    let server = app_server(json!({"tier": "integration"}));
    let meta = json_of(&server, "OPTIONS", "/metrics/application");
    // application_metrics.xml: name, type, unit, description, display-name.
    let expected = [
        (
            format!("{APP}.redCount"),
            "counter",
            "none",
            "red-description",
            "red-display-name",
        ),
        (format!("{APP}.blue"), "counter", "none", "", ""),
        ("greenCount".into(), "counter", "none", "", ""),
        ("purple".into(), "counter", "none", "", ""),
        (
            "jellybeanHistogram".into(),
            "histogram",
            "jellybeans",
            "jellybeans-description",
            "jellybeans-displayName",
        ),
        (
            "metricTest.test1.countMeA".into(),
            "counter",
            "none",
            "count-me-a-description",
            "count-me-a-display-name",
        ),
        (
            "metricTest.test1.countMeB".into(),
            "counter",
            "jellybean",
            "",
            "",
        ),
        (
            format!("{APP}.gaugeMeA"),
            "gauge",
            "kibibits",
            "gauge-me-a-description",
            "gauge-me-a-displayname",
        ),
        (format!("{APP}.gaugeMeB"), "gauge", "hands", "", ""),
        (
            "meterMeA".into(),
            "meter",
            "per_second",
            "meter-me-a-description",
            "meter-me-a-display-name",
        ),
        (format!("{APP}.timeMeA"), "timer", "nanoseconds", "", ""),
        (
            "coffee_price_produces".into(),
            "gauge",
            "USD",
            "getCoffeePriceDescription",
            "getCoffeePriceDisplayName",
        ),
    ];
    for (name, kind, unit, description, display) in &expected {
        let m = &meta[name];
        assert_eq!(m["type"], *kind, "{name}: {m}");
        assert_eq!(m["unit"], *unit, "{name}: {m}");
        if !description.is_empty() {
            assert_eq!(m["description"], *description, "{name}: {m}");
        }
        if !display.is_empty() {
            assert_eq!(m["displayName"], *display, "{name}: {m}");
        }
    }
    let purple = json_of(&server, "OPTIONS", "/metrics/application/purple");
    let tags = purple["purple"]["tags"].as_str().unwrap();
    assert!(
        tags.contains("app=myShop") && tags.contains("tier=integration"),
        "{tags}"
    );
    let jelly = json_of(
        &server,
        "OPTIONS",
        "/metrics/application/jellybeanHistogram",
    );
    assert_eq!(jelly["jellybeanHistogram"]["unit"], "jellybeans");
}

/// The summary lines of a histogram or timer in the TCK's expected spelling.
fn summary_lines(prefix: &str, unit: &str) -> Vec<String> {
    let base = format!("{prefix}{unit}");
    let mut lines: Vec<String> = ["0.5", "0.75", "0.95", "0.98", "0.99", "0.999"]
        .iter()
        .map(|q| format!("{base}{{tier=\"integration\",quantile=\"{q}\"}}"))
        .collect();
    lines.push(format!("# TYPE application:{base} summary"));
    lines.push(format!("{base}_count"));
    lines
}

/// testApplicationTagPrometheus, testApplicationTimerUnitPrometheus,
/// testApplicationHistogramUnitBytesPrometheus (not annotated @Test in 1.1.5, checked anyway),
/// testApplicationHistogramUnitNonePrometheus, testNonStandardUnitsPrometheus,
/// testConvertingToBaseUnit, testCustomUnitAppendToGaugeName, testNoCustomUnitForCounter.
#[test]
fn application_prometheus_names_units_and_suffixes() {
    let server = app_server(json!({"tier": "integration"}));
    let purple = text_of(&server, "/metrics/application/purple");
    contains_all(
        &purple,
        &["tier=\"integration\"".into(), "app=\"myShop\"".into()],
    );

    let prefix = "org_eclipse_microprofile_metrics_test_metric_app_bean_time_me_a_";
    let timer = text_of(&server, &format!("/metrics/application/{APP}.timeMeA"));
    let mut wanted = summary_lines(prefix, "seconds");
    for suffix in [
        "rate_per_second",
        "one_min_rate_per_second",
        "five_min_rate_per_second",
        "fifteen_min_rate_per_second",
        "mean_seconds",
        "min_seconds",
        "max_seconds",
        "stddev_second",
    ] {
        wanted.push(format!("{prefix}{suffix}"));
    }
    contains_all(&timer, &wanted);

    for (name, prefix, unit) in [
        (
            "metricTest.test1.histogram",
            "metric_test_test1_histogram_",
            "bytes",
        ),
        ("jellybeanHistogram", "jellybean_histogram_", "jellybeans"),
    ] {
        let text = text_of(&server, &format!("/metrics/application/{name}"));
        let mut wanted = summary_lines(prefix, unit);
        for stat in ["mean", "min", "max", "stddev"] {
            wanted.push(format!("{prefix}{stat}_{unit}"));
        }
        contains_all(&text, &wanted);
    }
    let prefix = "metric_test_test1_histogram2";
    let text = text_of(&server, "/metrics/application/metricTest.test1.histogram2");
    let mut wanted = summary_lines(prefix, "");
    for stat in ["mean", "min", "max", "stddev"] {
        wanted.push(format!("{prefix}_{stat}"));
    }
    contains_all(&text, &wanted);

    let all = text_of(&server, "/metrics/application");
    contains_all(
        &all,
        &[
            "TYPE application:org_eclipse_microprofile_metrics_test_metric_app_bean_gauge_me_a_bytes gauge".into(),
            "TYPE application:metric_test_test1_gauge_bytes gauge".into(),
            "TYPE application:org_eclipse_microprofile_metrics_test_metric_app_bean_gauge_me_b_hands gauge".into(),
            "TYPE application:metric_test_test1_count_me_b counter".into(),
        ],
    );
}

// ---- tck/api HistogramTest and TimerTest -----------------------------------------------

/// The TCK's expected snapshot: (p50, p75, p95, p98, p99, p999, max, min, mean, stddev).
const INT_EXPECTED: [f64; 10] = [48.0, 75.0, 96.0, 98.0, 98.0, 99.0, 99.0, 0.0, 50.6, 29.4];

/// Pushes `values` as one histogram or timer and reads its JSON.
fn data_set(server: &Server, name: &str, kind: &str, values: impl Iterator<Item = u32>) -> Value {
    let events: Vec<Value> = values
        .map(|v| match kind {
            "timer" => json!({"name": name, "type": kind, "value": v, "unit": "nanoseconds"}),
            _ => json!({"name": name, "type": kind, "value": v}),
        })
        .collect();
    server.push(Value::Array(events));
    json_of(server, "GET", &format!("/metrics/application/{name}"))[name].clone()
}

/// Checks one data set against the TCK's expectations: count and size 200, max and min exact,
/// quantiles, mean and standard deviation within the TCK's tolerance, and the quantiles meterd
/// can hold exactly (p50, p95, p98, p99, p999) exact.
fn check_data_set(v: &Value, scale: f64, what: &str) {
    assert_eq!(v["count"], 200, "{what}: {v}");
    let keys = [
        "p50", "p75", "p95", "p98", "p99", "p999", "max", "min", "mean", "stddev",
    ];
    for (key, want) in keys.iter().zip(INT_EXPECTED) {
        close_to(
            &v[*key],
            want * scale,
            API_TOLERANCE,
            &format!("{what} {key}"),
        );
    }
    for key in ["p50", "p95", "p98", "p99", "p999", "max", "min"] {
        let want = INT_EXPECTED[keys.iter().position(|k| *k == key).unwrap()] * scale;
        assert_eq!(v[key].as_f64(), Some(want), "{what} {key}: {v}");
    }
}

/// HistogramTest: testCount, testSnapshot{75th..999th}Percentile, testSnapshotMax/Min/Mean/
/// Median/StdDev/Size and testMetricRegistry's getValue(0.5), for the int and the long data.
#[test]
fn histogram_test_data_sets() {
    let server = Server::start();
    let int = data_set(
        &server,
        "histogramInt",
        "histogram",
        SAMPLE_INT_DATA.into_iter(),
    );
    check_data_set(&int, 1.0, "int");
    assert_eq!(int["p75"], 75.0, "below 256 every value is exact");
    let long = data_set(
        &server,
        "test.longData.histogram",
        "histogram",
        SAMPLE_INT_DATA.iter().map(|v| v * 10),
    );
    check_data_set(&long, 10.0, "long");
    // 750 shares HdrHistogram's bucket 748..=751 at two significant digits.
    assert_eq!(long["p75"], 748.0);
}

/// TimerTest: the same snapshot checks on the long data recorded as nanoseconds, read in
/// seconds from the Prometheus text (p50 = 4.8e-07 s) and in nanoseconds from JSON.
#[test]
fn timer_test_data_set() {
    let server = Server::start();
    let timer = data_set(
        &server,
        "test.longData.timer",
        "timer",
        SAMPLE_INT_DATA.iter().map(|v| v * 10),
    );
    check_data_set(&timer, 10.0, "timer");
    let text = text_of(&server, "/metrics/application/test.longData.timer");
    let sample = |series: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    let name = "application:test_long_data_timer";
    assert_eq!(
        sample(&format!("{name}_seconds{{quantile=\"0.5\"}}")),
        4.8e-7
    );
    assert_eq!(
        sample(&format!("{name}_seconds{{quantile=\"0.999\"}}")),
        9.9e-7
    );
    assert_eq!(sample(&format!("{name}_seconds_count")), 200.0);
    assert_eq!(sample(&format!("{name}_max_seconds")), 9.9e-7);
    assert_eq!(sample(&format!("{name}_min_seconds")), 0.0);
}
