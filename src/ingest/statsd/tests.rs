//! One test per grammar case and per kind of bad line.

use super::*;
use std::sync::LazyLock;

const NOW: i64 = 1_700_000_000_123;

static PATH: LazyLock<ServicePath> = LazyLock::new(|| ServicePath::parse("/shop/web").unwrap());

fn ctx() -> StatsdContext<'static> {
    StatsdContext {
        service: "acme",
        service_path: &PATH,
        now_ms: NOW,
        max_name_bytes: 32,
        max_tags: 3,
        max_tag_value_bytes: 64,
        longest_retention_ms: 0,
    }
}

fn parse(text: &str) -> Vec<Event> {
    parse_batch(text, &ctx()).unwrap_or_else(|e| panic!("{text:?} failed: {e:?}"))
}

fn one(line: &str) -> Event {
    let mut events = parse(line);
    assert_eq!(events.len(), 1, "{line:?} gave {events:?}");
    events.pop().unwrap()
}

/// The single error of a batch that must fail.
fn error(text: &str) -> LineError {
    let mut errors = parse_batch(text, &ctx()).expect_err(text);
    assert_eq!(errors.len(), 1, "{text:?} gave {errors:?}");
    errors.pop().unwrap()
}

fn assert_error(text: &str, line: usize, needle: &str) {
    let e = error(text);
    assert_eq!(e.line, line, "{text:?}: {e}");
    assert!(
        e.message.contains(needle),
        "{text:?}: {:?} lacks {needle:?}",
        e.message
    );
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect()
}

#[test]
fn counter() {
    let e = one("api.requests:3|c");
    assert_eq!(e.kind, Kind::Counter);
    assert_eq!(e.value, 3.0);
    assert_eq!(e.op, Op::Observe);
    assert_eq!(e.timestamp_ms, NOW);
    assert_eq!(e.meta, None);
    assert_eq!(e.key.name, "api.requests");
    assert_eq!(e.key.service, "acme");
    assert_eq!(e.key.service_path.as_str(), "/shop/web");
    assert_eq!(e.key.scope, Scope::Application);
    assert!(e.key.tags.is_empty());
}

#[test]
fn counter_sample_rate_divides() {
    assert_eq!(one("x:1|c|@0.1").value, 10.0);
    assert_eq!(one("x:3|c|@0.5").value, 6.0);
    assert_eq!(one("x:3|c|@1").value, 3.0);
}

#[test]
fn gauge_set_and_deltas() {
    let set = one("temp:21.5|g");
    assert_eq!(
        (set.kind, set.value, set.op),
        (Kind::Gauge, 21.5, Op::Observe)
    );
    let zero = one("temp:0|g");
    assert_eq!((zero.value, zero.op), (0.0, Op::Observe));
    let up = one("temp:+3|g");
    assert_eq!((up.value, up.op), (3.0, Op::GaugeDelta));
    let down = one("temp:-2|g");
    assert_eq!((down.value, down.op), (-2.0, Op::GaugeDelta));
}

#[test]
fn gauge_ignores_sample_rate() {
    assert_eq!(one("temp:4|g|@0.5").value, 4.0);
}

#[test]
fn timer_in_milliseconds() {
    let e = one("db.query:12.5|ms");
    assert_eq!((e.kind, e.value, e.op), (Kind::Timer, 12.5, Op::Observe));
    let meta = e.meta.expect("timers carry their unit");
    assert_eq!(meta.unit.as_deref(), Some("milliseconds"));
    assert_eq!((meta.description, meta.display_name), (None, None));
}

#[test]
fn timer_sample_rate_keeps_the_value() {
    assert_eq!(one("db.query:12|ms|@0.5").value, 12.0);
}

#[test]
fn histogram_h_and_d() {
    for line in ["size:-4.5|h", "size:-4.5|d"] {
        let e = one(line);
        assert_eq!((e.kind, e.value, e.meta), (Kind::Histogram, -4.5, None));
    }
}

#[test]
fn meter() {
    let e = one("logins:2|m");
    assert_eq!((e.kind, e.value, e.op), (Kind::Meter, 2.0, Op::Observe));
    assert_eq!(one("logins:2|m|@0.5").value, 4.0);
}

#[test]
fn sets_hash_string_members() {
    let a = one("users:alice|s");
    assert_eq!(a.kind, Kind::Gauge);
    assert_eq!(a.op, Op::SetMember(member_hash("alice")));
    assert_eq!(one("users:alice|s").op, a.op, "stable");
    assert_ne!(one("users:bob|s").op, a.op);
    assert_eq!(one("users:42|s").op, Op::SetMember(member_hash("42")));
    assert_eq!(
        one("users:1.5e3|s|@0.5").op,
        Op::SetMember(member_hash("1.5e3"))
    );
}

#[test]
fn member_hash_is_fnv1a() {
    assert_eq!(member_hash(""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(member_hash("a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn tags_with_and_without_values() {
    let e = one("x:1|c|#zone:eu-1,canary,url:http://a/b");
    assert_eq!(
        e.key.tags,
        tags(&[("canary", "true"), ("url", "http://a/b"), ("zone", "eu-1")])
    );
    assert!(
        parse_batch("x:1|c|#env:", &ctx()).is_err(),
        "an empty value would vanish as a label"
    );
    assert!(
        parse_batch("x:1|c|#host-name:a", &ctx()).is_err(),
        "keys follow the label grammar"
    );
}

#[test]
fn repeated_tag_keeps_last_value_and_counts_once() {
    let e = one("x:1|c|#b:1,a:1,b:2,c:1,b:3");
    assert_eq!(e.key.tags, tags(&[("a", "1"), ("b", "3"), ("c", "1")]));
}

#[test]
fn fields_in_any_order() {
    let a = one("x:1|c|@0.5|#k:v|T1700000000");
    let b = one("x:1|c|T1700000000|#k:v|@0.5");
    assert_eq!(a, b);
    assert_eq!(a.value, 2.0);
}

#[test]
fn multi_values() {
    let events = parse("lat:1:2:3|ms|@0.5|#k:v");
    let values: Vec<f64> = events.iter().map(|e| e.value).collect();
    assert_eq!(values, [1.0, 2.0, 3.0]);
    assert!(events
        .iter()
        .all(|e| e.key == events[0].key && e.meta.is_some()));
    let counts: Vec<f64> = parse("n:1:2|c|@0.5").iter().map(|e| e.value).collect();
    assert_eq!(counts, [2.0, 4.0]);
    let members: Vec<Op> = parse("u:a:b|s").iter().map(|e| e.op.clone()).collect();
    assert_eq!(
        members,
        [
            Op::SetMember(member_hash("a")),
            Op::SetMember(member_hash("b"))
        ]
    );
}

#[test]
fn timestamp() {
    assert_eq!(one("x:1|c|T1700000000").timestamp_ms, 1_700_000_000_000);
    assert_eq!(one("x:1|c|T0").timestamp_ms, 0);
}

#[test]
fn blank_lines_crlf_and_whitespace() {
    let events = parse("\n a:1|c\r\n\r\n\t\nb:2|g\r\n  \n");
    let names: Vec<&str> = events.iter().map(|e| e.key.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(parse("").is_empty());
    assert!(parse("\n\r\n").is_empty());
}

#[test]
fn names_keep_dots_dashes_and_colons_are_separators() {
    assert_eq!(
        one("app.http-server_1.req:1|c").key.name,
        "app.http-server_1.req"
    );
    assert_eq!(one("_x:1|c").key.name, "_x");
}

#[test]
fn missing_colon() {
    assert_error("requests|c", 1, "missing ':'");
    assert_error("requests", 1, "missing ':'");
}

#[test]
fn missing_pipe() {
    assert_error("requests:1", 1, "missing '|' and a type");
    assert_error("requests:1|", 1, "missing type");
}

#[test]
fn unknown_type() {
    assert_error("requests:1|x", 1, "unknown type \"x\"");
    assert_error("requests:1|C", 1, "unknown type \"C\"");
    assert_error("requests:1|count", 1, "expected c (counter)");
}

#[test]
fn bad_values() {
    for (line, needle) in [
        ("x:abc|c", "\"abc\" is not a number"),
        ("x:|c", "missing value"),
        ("x:1::2|c", "missing value"),
        ("x:1:|c", "missing value"),
        ("x:NaN|g", "finite"),
        ("x:inf|h", "finite"),
        ("x:-inf|g", "finite"),
        ("x:1e999|ms", "finite"),
        ("x:1 2|c", "not a number"),
        ("x:--1|g", "not a number"),
        ("x:+-1|g", "not a number"),
        ("x:|s", "missing set member"),
        ("x:a::b|s", "missing set member"),
    ] {
        assert_error(line, 1, needle);
    }
}

#[test]
fn bad_rates() {
    assert_error("x:1|c|@0", 1, "greater than 0 and at most 1");
    assert_error("x:1|c|@2", 1, "greater than 0 and at most 1");
    assert_error("x:1|c|@-0.5", 1, "out of range");
    assert_error("x:1|c|@NaN", 1, "out of range");
    assert_error("x:1|c|@x", 1, "sample rate \"x\" is not a number");
    assert_error("x:1|c|@", 1, "not a number");
    assert_error("x:1|c|@0.5|@0.5", 1, "sample rate is given twice");
    assert_error("x:1e308|c|@0.001", 1, "too large");
}

#[test]
fn negative_counter_and_meter() {
    let e = error("x:-1|c");
    assert!(
        e.message.contains("counter value -1 is negative"),
        "{}",
        e.message
    );
    assert!(e.message.contains("only increase"), "{}", e.message);
    assert_error("x:-1|m", 1, "meter value -1 is negative");
    assert_error("x:-3|ms", 1, "timer value -3 is negative");
    assert_eq!(one("x:-0|c").value, 0.0);
}

#[test]
fn bad_names() {
    assert_error(":1|c", 1, "missing metric name");
    assert_error("1x:1|c", 1, "invalid metric name \"1x\"");
    assert_error("a b:1|c", 1, "invalid metric name");
    assert_error("a/b:1|c", 1, "invalid metric name");
    assert_error(
        &format!("{}:1|c", "a".repeat(33)),
        1,
        "33 bytes long; the limit is 32",
    );
    assert_eq!(one(&format!("{}:1|c", "a".repeat(32))).key.name.len(), 32);
}

#[test]
fn bad_tags() {
    assert_error("x:1|c|#a,b,c,d", 1, "too many tags: 4, the limit is 3");
    assert_error("x:1|c|#:v", 1, "tag \":v\" has an empty key");
    assert_error("x:1|c|#a:1,,b:2", 1, "empty tag");
    assert_error("x:1|c|#a:1,", 1, "empty tag");
    assert_error("x:1|c|#", 1, "empty tag");
    assert_error("x:1|c|#a|#b", 1, "tags are given twice");
}

#[test]
fn bad_fields() {
    assert_error("x:1|c|c:abc123", 1, "unknown field \"c:abc123\"");
    assert_error("x:1|c||@0.5", 1, "empty field");
    assert_error("x:1|c|", 1, "empty field");
    assert_error("x:1|c|T", 1, "timestamp T is not valid");
    assert_error("x:1|c|T-5", 1, "unix seconds");
    assert_error("x:1|c|T+5", 1, "unix seconds");
    assert_error("x:1|c|T1.5", 1, "unix seconds");
    assert_error("x:1|c|T1700000000000000", 1, "unix seconds");
    assert_error("x:1|c|T1|T2", 1, "timestamp is given twice");
}

#[test]
fn errors_carry_line_numbers_and_batch_is_all_or_nothing() {
    let text = "ok:1|c\n\nbad:x|c\r\nok:2|g\nworse\n";
    let errors = parse_batch(text, &ctx()).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 5]);
    assert_eq!(errors[1].to_string().split(':').next(), Some("line 5"));
}

#[test]
fn lenient_keeps_good_lines() {
    let mut out = Vec::new();
    let counts = parse_lenient("a:1|c\nb:1:x:2|c\n\n c:1|g \r\nd", &ctx(), &mut out);
    assert_eq!(
        counts,
        LineCounts { lines: 4, bad: 2 },
        "blank lines are not lines"
    );
    let names: Vec<&str> = out.iter().map(|e| e.key.name.as_str()).collect();
    assert_eq!(names, ["a", "c"], "no half of a multi-value line");
}

#[test]
fn long_input_is_cut_in_messages() {
    let e = error(&format!("x:{}|c", "z".repeat(1000)));
    assert!(e.message.len() < 200, "{}", e.message);
    assert!(e.message.contains("..."));
    // Cutting never splits a character.
    let e = error(&format!("x:{}|c", "é".repeat(100)));
    assert!(e.message.contains("..."));
}

#[test]
fn dogstatsd_events_and_service_checks_are_bad_lines() {
    assert_error("_e{5,4}:title|text", 1, "invalid metric name");
    assert_error("_sc|my.check|0", 1, "missing ':'");
}

#[test]
fn timestamps_outside_the_window_are_bad_lines() {
    // More than 10 minutes ahead of now.
    let far = (NOW / 1000 + 3600).to_string();
    let err = parse_batch(&format!("x:1|c|T{far}"), &ctx()).unwrap_err();
    assert!(err[0].message.contains("future"), "{}", err[0].message);
    // Older than the longest retention, when there is one.
    let mut old = ctx();
    old.longest_retention_ms = 3_600_000;
    let two_hours_ago = (NOW / 1000 - 7200).to_string();
    let err = parse_batch(&format!("x:1|c|T{two_hours_ago}"), &old).unwrap_err();
    assert!(err[0].message.contains("retention"), "{}", err[0].message);
    let recent = (NOW / 1000 - 60).to_string();
    assert!(parse_batch(&format!("x:1|c|T{recent}"), &old).is_ok());
}
