//! Property tests: the parser never panics, both entry points agree, and valid samples
//! formatted as lines parse back to the events they describe.

use super::*;
use proptest::prelude::*;
use std::sync::LazyLock;

static PATH: LazyLock<ServicePath> = LazyLock::new(ServicePath::root);

/// Later than any `|T` the generators make (u32 seconds), so none is in the future.
const NOW_MS: i64 = (u32::MAX as i64) * 1000 + 1000;

fn ctx() -> StatsdContext<'static> {
    StatsdContext {
        service: "default-service",
        service_path: &PATH,
        now_ms: NOW_MS,
        max_name_bytes: 64,
        max_tags: 8,
        max_tag_value_bytes: 1024,
        longest_retention_ms: 0,
    }
}

/// Both entry points on any text: no panic, and they agree with each other.
fn check_consistent(text: &str) {
    let ctx = ctx();
    let mut lenient = Vec::new();
    let counts = parse_lenient(text, &ctx, &mut lenient);
    let bad = counts.bad;
    let non_blank = text
        .split('\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count();
    assert_eq!(counts.lines, non_blank);
    match parse_batch(text, &ctx) {
        Ok(events) => {
            assert_eq!(bad, 0);
            assert_eq!(events, lenient);
        }
        Err(errors) => {
            assert_eq!(errors.len(), bad);
            let lines = text.split('\n').count();
            assert!(errors.windows(2).all(|w| w[0].line < w[1].line));
            assert!(errors.iter().all(|e| (1..=lines).contains(&e.line)));
            assert!(errors.iter().all(|e| !e.message.is_empty()));
        }
    }
}

/// One value of a generated line: its text and the value and op it must parse to.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    value: f64,
    op: Op,
}

fn plain(value: f64) -> Value {
    Value {
        text: value.to_string(),
        value,
        op: Op::Observe,
    }
}

fn non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![(0u32..10_000).prop_map(f64::from), 0.0..1e12f64]
}

/// A type letter with a strategy for its values.
fn typed_values() -> impl Strategy<Value = (&'static str, Vec<Value>)> {
    let values = |s: BoxedStrategy<Value>| proptest::collection::vec(s, 1..4);
    let gauge = (0..3u8, non_negative()).prop_map(|(sign, v)| match sign {
        0 => plain(v),
        1 => Value {
            text: format!("+{v}"),
            value: v,
            op: Op::GaugeDelta,
        },
        _ => Value {
            text: format!("-{v}"),
            value: -v,
            op: Op::GaugeDelta,
        },
    });
    let member = "[A-Za-z0-9_.#@\\-]{1,12}".prop_map(|m| Value {
        op: Op::SetMember(member_hash(&m)),
        text: m,
        value: 1.0,
    });
    prop_oneof![
        values(non_negative().prop_map(plain).boxed()).prop_map(|v| ("c", v)),
        values(gauge.boxed()).prop_map(|v| ("g", v)),
        values(non_negative().prop_map(plain).boxed()).prop_map(|v| ("ms", v)),
        values((-1e9..1e9f64).prop_map(plain).boxed()).prop_map(|v| ("h", v)),
        values((-1e9..1e9f64).prop_map(plain).boxed()).prop_map(|v| ("d", v)),
        values(non_negative().prop_map(plain).boxed()).prop_map(|v| ("m", v)),
        values(member.boxed()).prop_map(|v| ("s", v)),
    ]
}

/// A valid sample: name, type and values, optional rate, tags and timestamp.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    ty: &'static str,
    values: Vec<Value>,
    rate: Option<f64>,
    tags: Vec<(String, Option<String>)>,
    timestamp: Option<u32>,
}

fn sample_strategy() -> impl Strategy<Value = Sample> {
    let rate = prop_oneof![
        Just(None),
        (1u32..=1000).prop_map(|n| Some(f64::from(n) / 1000.0)),
        (1e-6..=1.0f64).prop_map(Some),
    ];
    // `__*` and meterd's own label names are refused as tag keys.
    let key = "[a-z_][a-z0-9_]{0,7}".prop_filter("not reserved", |k| {
        !k.starts_with("__") && !crate::model::RESERVED_TAG_KEYS.contains(&k.as_str())
    });
    let tag = (key, proptest::option::of("[A-Za-z0-9_./:\\-]{1,10}"));
    (
        "[A-Za-z_][A-Za-z0-9_.\\-]{0,30}",
        typed_values(),
        rate,
        proptest::collection::vec(tag, 0..6),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(name, (ty, values), rate, tags, timestamp)| Sample {
            name,
            ty,
            values,
            rate,
            tags,
            timestamp,
        })
}

impl Sample {
    fn line(&self) -> String {
        let values: Vec<&str> = self.values.iter().map(|v| v.text.as_str()).collect();
        let mut line = format!("{}:{}|{}", self.name, values.join(":"), self.ty);
        if let Some(rate) = self.rate {
            line.push_str(&format!("|@{rate}"));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self
                .tags
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}:{v}"),
                    None => k.clone(),
                })
                .collect();
            line.push_str(&format!("|#{}", tags.join(",")));
        }
        if let Some(ts) = self.timestamp {
            line.push_str(&format!("|T{ts}"));
        }
        line
    }

    /// The events the line must parse to, computed from the sample, not from the line.
    fn events(&self) -> Vec<Event> {
        let mut tags: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.tags {
            let v = v.clone().unwrap_or_else(|| "true".into());
            match tags.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v,
                None => tags.push((k.clone(), v)),
            }
        }
        tags.sort();
        let kind = match self.ty {
            "c" => Kind::Counter,
            "g" | "s" => Kind::Gauge,
            "ms" => Kind::Timer,
            "m" => Kind::Meter,
            _ => Kind::Histogram,
        };
        let divides = matches!(self.ty, "c" | "m");
        let tags = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let key = SeriesKey::simple(Scope::Application, &self.name, tags);
        self.values
            .iter()
            .map(|v| Event {
                key: key.clone(),
                kind,
                value: if divides {
                    v.value / self.rate.unwrap_or(1.0)
                } else {
                    v.value
                },
                op: v.op.clone(),
                timestamp_ms: self.timestamp.map_or(NOW_MS, |s| i64::from(s) * 1000),
                meta: (kind == Kind::Timer).then(|| {
                    Box::new(Metadata {
                        unit: Some("milliseconds".into()),
                        ..Default::default()
                    })
                }),
            })
            .collect()
    }
}

proptest! {
    #[test]
    fn any_string_never_panics(text in any::<String>()) {
        check_consistent(&text);
    }

    #[test]
    fn statsd_ish_text_never_panics(text in "[a-z_.:|@#,+\\-0-9eETn \r\n]{0,120}") {
        check_consistent(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_consistent(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_valid_lines_never_panic(
        sample in sample_strategy(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b':'), Just(b'|'), Just(b'@'), Just(b'#'), Just(b','), any::<u8>()],
        delete in any::<bool>(),
    ) {
        let mut bytes = sample.line().into_bytes();
        let i = at.index(bytes.len());
        if delete { bytes.remove(i); } else { bytes.insert(i, byte); }
        check_consistent(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn valid_samples_round_trip(
        samples in proptest::collection::vec(sample_strategy(), 0..8),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let lines: Vec<String> = samples.iter().map(Sample::line).collect();
        let text = lines.join(newline) + newline;
        let expected: Vec<Event> = samples.iter().flat_map(Sample::events).collect();
        prop_assert_eq!(parse_batch(&text, &ctx()), Ok(expected));
    }
}
