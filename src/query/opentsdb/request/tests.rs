use super::*;
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

#[test]
fn m_strings() {
    let q = parse_m(
        "sum:1m-avg-zero:rate{counter,1000,50}:sys.cpu.user{host=*,dc=a|b}{env=regexp(pr.{1,2})}",
    )
    .unwrap();
    assert_eq!(q.metric, "sys.cpu.user");
    assert_eq!(q.aggregator, Aggregator::Sum);
    assert_eq!(q.downsample.unwrap().fill, super::super::FillPolicy::Zero);
    let r = q.rate.unwrap();
    assert!(r.counter && r.counter_max == 1000.0 && r.reset_value == 50.0);
    assert_eq!(q.filters.len(), 3);
    assert_eq!(q.group_keys(), vec!["dc".to_owned(), "host".to_owned()]);
    assert!(!q.filters[2].group_by);

    let q = parse_m("avg:rate:explicit_tags:a:b.c").unwrap();
    assert_eq!(q.metric, "a:b.c", "colons in metric names survive");
    assert!(q.rate.is_some() && q.explicit_tags);
    assert_eq!(q.rate.unwrap().counter_max, i64::MAX as f64);

    let q = parse_m("max:rate{counter,,100}:m").unwrap();
    assert_eq!(q.rate.unwrap().reset_value, 100.0);

    for bad in [
        "",
        "sum",
        "sum:",
        "nope:m",
        "sum:m{host}",
        "sum:m{host=a",
        "sum:m{a=b}{c=d}{e=f}",
        "sum:rate{gauge}:m",
        "sum:1x-avg:m",
        "sum:m{h=regexp(()}",
        "sum:-1m-avg:m",
        "sum:1m:m",
    ] {
        assert!(parse_m(bad).is_err(), "{bad}");
    }
    let QueryError::BadRequest(message) = parse_m("sum:-1m-avg:m").unwrap_err() else {
        panic!("a bad option is a bad request");
    };
    assert!(
        message.contains("\"-1m-avg\" in m is neither an option"),
        "{message}"
    );
}

#[test]
fn json_bodies() {
    let body = br#"{"start":"1h-ago","end":1699999999,"msResolution":true,"showTSUIDs":true,
        "queries":[{"aggregator":"sum","metric":"m","rate":"true",
            "rateOptions":{"counter":true,"counterMax":100,"dropResets":true},
            "downsample":"0all-max","tags":{"host":"web*"},
            "filters":[{"type":"literal_or","tagk":"dc","filter":"a","groupBy":false}]}]}"#;
    let q = from_json(body, NOW).unwrap();
    assert_eq!(
        (q.start, q.end, q.ms_resolution),
        (NOW - 3_600_000, 1_699_999_999_000, true)
    );
    let s = &q.queries[0];
    assert!(s.rate.unwrap().drop_resets);
    assert_eq!(s.filters.len(), 2);
    assert_eq!(s.group_keys(), vec!["host".to_owned()]);

    for (body, needle) in [
        (
            r#"{"queries":[{"aggregator":"sum","metric":"m"}]}"#,
            "start is required",
        ),
        (r#"{"start":1,"queries":[]}"#, "at least one"),
        (
            r#"{"start":1,"queries":[{"metric":"m"}]}"#,
            "aggregator is required",
        ),
        (
            r#"{"start":1,"queries":[{"aggregator":"sum"}]}"#,
            "metric is required",
        ),
        (
            r#"{"start":5,"end":1,"queries":[{"aggregator":"sum","metric":"m"}]}"#,
            "after end",
        ),
        (
            r#"{"start":1,"delete":true,"queries":[{"aggregator":"sum","metric":"m"}]}"#,
            "delete",
        ),
        (
            r#"{"start":1,"timezone":"Asia/Tokyo","queries":[{"aggregator":"sum","metric":"m"}]}"#,
            "timezone",
        ),
        (
            r#"{"start":1,"queries":[{"aggregator":"sum","metric":"m","filters":[{"type":"x","tagk":"a","filter":"b"}]}]}"#,
            "queries[0]",
        ),
        (r#"[1]"#, "query body"),
    ] {
        let err = from_json(body.as_bytes(), NOW).unwrap_err().to_string();
        assert!(err.contains(needle), "{body}: {err}");
    }
}

#[test]
fn query_string_parameters() {
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let q = from_params(
        &p(&[
            ("start", "2013/01/01"),
            ("m", "sum:a"),
            ("m", "max:b{x=y}"),
            ("ms", ""),
        ]),
        NOW,
    )
    .unwrap();
    assert_eq!(q.queries.len(), 2);
    assert!(q.ms_resolution);
    assert_eq!(q.end, NOW);
    assert!(from_params(&p(&[("m", "sum:a")]), NOW).is_err());
    assert!(from_params(&p(&[("start", "1h-ago")]), NOW).is_err());
    let err = from_params(&p(&[("start", "1h-ago"), ("m", "sum:a{")]), NOW).unwrap_err();
    assert!(err.to_string().starts_with("m=sum:a{"), "{err}");
}

proptest! {
    #[test]
    fn m_strings_never_panic(m in "\\PC{0,60}") {
        let _ = parse_m(&m);
    }

    #[test]
    fn structured_m_strings_never_panic(
        agg in "(sum|avg|x)",
        opts in prop::collection::vec("(rate|rate\\{[a-z0-9,]{0,12}\\}|[0-9]{1,3}[a-z]{1,2}-[a-z]{1,4}(-[a-z]{1,4})?|explicit_tags)", 0..3),
        metric in "[a-z:.]{0,8}",
        tags in "(\\{[a-z=*|(),{}]{0,16}\\}){0,3}",
    ) {
        let mut m = agg;
        for o in opts {
            m.push(':');
            m.push_str(&o);
        }
        m.push(':');
        m.push_str(&metric);
        m.push_str(&tags);
        let _ = parse_m(&m);
    }

    #[test]
    fn json_bodies_never_panic(body in "\\PC{0,80}") {
        let _ = from_json(body.as_bytes(), NOW);
    }
}
