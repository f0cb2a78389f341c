use super::*;
use proptest::prelude::*;
use serde_json::json;

fn seed_request(value: Value) -> String {
    json!({
        "topic": "edge/device:edge:containers/things/live/messages/request",
        "headers": {
            "response-required": true,
            "content-type": "application/json",
            "correlation-id": "c-1"
        },
        "path": "/features/Metrics/inbox/messages/request",
        "value": value
    })
    .to_string()
}

fn refused(text: &str) -> (Envelope, StreamError) {
    parse_request(text).expect_err("refused")
}

#[test]
fn the_seed_request() {
    let text = seed_request(json!({
        "filter": [{"id": null, "originator": "SYSTEM"}],
        "frequency": "2s"
    }));
    let r = parse_request(&text).unwrap();
    assert_eq!(r.envelope.correlation_id.as_deref(), Some("c-1"));
    assert_eq!(
        r.envelope.topic,
        "edge/device:edge:containers/things/live/messages/request"
    );
    assert!(r.response_required);
    assert_eq!(r.frequency, Frequency::Every(Duration::from_secs(2)));
    assert_eq!(
        r.filters,
        Filters(vec![Filter {
            ids: vec![],
            originator: Some(Pattern::Exact("SYSTEM".into()))
        }])
    );
}

#[test]
fn short_requests_and_defaults() {
    let r = parse_request(r#"{"value": {"frequency": 1}}"#).unwrap();
    assert_eq!(r.envelope, Envelope::default());
    assert_eq!(r.filters, Filters::default());
    assert!(r.response_required);
    let r = parse_request(
        r#"{"headers": {"Response-Required": "false", "Correlation-Id": 7}, "value": {"frequency": "0", "filter": []}}"#,
    )
    .unwrap();
    assert!(!r.response_required);
    assert_eq!(r.envelope.correlation_id.as_deref(), Some("7"));
    assert_eq!(r.frequency, Frequency::Stop);
    let r = parse_request(&seed_request(
        json!({"frequency": "1s", "filter": [{"originator": ""}]}),
    ))
    .unwrap();
    assert!(r.filters.matches("Service:x", "y"));
}

#[test]
fn refusals_keep_the_envelope() {
    let (env, e) = refused(&seed_request(json!({"frequency": "50ms"})));
    assert_eq!(env.correlation_id.as_deref(), Some("c-1"));
    assert_eq!(e.code(), "bad_frequency");
    let (env, e) = refused("not json");
    assert_eq!(env, Envelope::default());
    assert_eq!(e.code(), "malformed_request");
    assert_eq!(refused("[1]").1.code(), "malformed_request");
}

#[test]
fn bad_requests() {
    let cases = [
        (json!({"frequency": "abc"}), "bad_frequency"),
        (json!({"frequency": "10ms"}), "bad_frequency"),
        (json!({"frequency": true}), "bad_frequency"),
        (json!({"filter": []}), "bad_frequency"),
        (
            json!({"frequency": "1s", "filter": {"id": null}}),
            "bad_filter",
        ),
        (json!({"frequency": "1s", "filter": [1]}), "bad_filter"),
        (
            json!({"frequency": "1s", "filter": [{"id": "cpu"}]}),
            "bad_filter",
        ),
        (
            json!({"frequency": "1s", "filter": [{"id": [1]}]}),
            "bad_filter",
        ),
        (
            json!({"frequency": "1s", "filter": [{"id": ["c*u"]}]}),
            "bad_filter",
        ),
        (
            json!({"frequency": "1s", "filter": [{"id": [""]}]}),
            "bad_filter",
        ),
        (
            json!({"frequency": "1s", "filter": [{"ids": ["cpu"]}]}),
            "bad_filter",
        ),
        (
            json!({"frequency": "1s", "filter": [{"originator": 3}]}),
            "bad_filter",
        ),
        (json!({"frequency": "1s", "filters": []}), "bad_request"),
        (json!("1s"), "bad_request"),
    ];
    for (value, code) in cases {
        let (_, e) = refused(&seed_request(value.clone()));
        assert_eq!(e.code(), code, "{value}: {e}");
    }
    let wrong_path =
        r#"{"path": "/features/Metrics/inbox/messages/other", "value": {"frequency": 1}}"#;
    assert_eq!(
        refused(wrong_path).1,
        StreamError::BadPath("/features/Metrics/inbox/messages/other".into())
    );
    let bad_header = r#"{"headers": {"response-required": 1}, "value": {"frequency": 1}}"#;
    assert_eq!(refused(bad_header).1.code(), "bad_request");
    assert_eq!(
        refused(r#"{"headers": [], "value": {"frequency": 1}}"#)
            .1
            .code(),
        "bad_request"
    );
    assert_eq!(
        refused(r#"{"topic": 1, "value": {"frequency": 1}}"#)
            .1
            .code(),
        "bad_request"
    );
}

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn stream_queries() {
    let q = parse_query(&pairs(&[])).unwrap();
    assert_eq!(q.every, DEFAULT_STREAM_PERIOD);
    assert!(q.filters.matches("SYSTEM", "pids"));
    let q = parse_query(&pairs(&[
        ("frequency", "500ms"),
        ("id", "memory.*"),
        ("id", "pids"),
        ("originator", "SYSTEM"),
    ]))
    .unwrap();
    assert_eq!(q.every, Duration::from_millis(500));
    assert!(q.filters.matches("SYSTEM", "memory.used"));
    assert!(q.filters.matches("SYSTEM", "pids"));
    assert!(!q.filters.matches("SYSTEM", "cpu.utilization"));
    assert!(!q.filters.matches("Service:a", "pids"));
    let q = parse_query(&pairs(&[
        ("originator", "SYSTEM"),
        ("originator", "Service:shop"),
        ("frequency", "2"),
    ]))
    .unwrap();
    assert_eq!(q.every, Duration::from_secs(2));
    assert!(q.filters.matches("Service:shop", "x") && q.filters.matches("SYSTEM", "pids"));
    assert!(!q.filters.matches("Service:other", "x"));
}

#[test]
fn bad_stream_queries() {
    let cases = [
        (vec![("frequency", "10ms")], "bad_frequency"),
        (vec![("frequency", "0")], "bad_frequency"),
        (vec![("frequency", "-1s")], "bad_frequency"),
        (vec![("frequency", "soon")], "bad_frequency"),
        (vec![("id", "")], "bad_filter"),
        (vec![("id", "a*b")], "bad_filter"),
        (vec![("originator", "*x*")], "bad_filter"),
        (vec![("ids", "cpu")], "unknown_parameter"),
    ];
    for (q, code) in cases {
        let e = parse_query(&pairs(&q)).unwrap_err();
        assert_eq!(e.code(), code, "{q:?}: {e}");
    }
}

proptest! {
    #[test]
    fn requests_never_panic(text in ".{0,64}") {
        let _ = parse_request(&text);
    }

    #[test]
    fn structured_requests_never_panic(
        frequency in prop_oneof![
            Just(json!(null)), any::<f64>().prop_map(|f| json!(f)), ".{0,8}".prop_map(|s| json!(s)),
            any::<i64>().prop_map(|i| json!(i))
        ],
        ids in proptest::collection::vec(".{0,6}", 0..3),
        originator in proptest::option::of(".{0,8}"),
    ) {
        let text = seed_request(json!({
            "frequency": frequency,
            "filter": [{"id": ids, "originator": originator}]
        }));
        let _ = parse_request(&text);
    }

    #[test]
    fn queries_never_panic(params in proptest::collection::vec(("[a-z]{0,10}", ".{0,10}"), 0..5)) {
        let _ = parse_query(&params);
    }
}
