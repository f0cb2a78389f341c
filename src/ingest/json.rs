//! Native ingest: a JSON array of events, one JSON object, or NDJSON → validated events.
//!
//! The fast path deserialises the whole body into borrowed raw events in one pass; only when
//! that fails does the slow path walk the items one by one to name every bad index.

use super::context::IngestContext;
use super::error::{all_or_nothing, AllOrNothing, IngestError, ItemErrors};
use super::object::Object;
use super::raw_tags::{BorrowedStr, RawTags};
use super::timestamp::to_epoch_millis;
use crate::config::Limits;
use crate::model::{
    check_tag, check_value, parse_service, valid_name, Event, Kind, Metadata, Op, Scope, SeriesKey,
    ServicePath, Tags,
};
use serde::Deserialize;
use std::borrow::Cow;

/// One event as it arrives, before validation. Field names follow the README's event table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<BorrowedStr<'a>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    timestamp: Option<f64>,
    #[serde(borrow, default)]
    scope: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    service: Option<BorrowedStr<'a>>,
    #[serde(rename = "servicePath", borrow, default)]
    service_path: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    tags: Option<RawTags<'a>>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

/// Decodes and validates a JSON body (array or single object). All or nothing.
///
/// The first non-blank byte tells an array from an object, so the body is parsed once into
/// its final shape (serde's untagged enums would buffer it whole first).
pub fn decode_json(body: &[u8], ctx: &IngestContext) -> Result<Vec<Event>, IngestError> {
    // One vectorised UTF-8 check of the whole body, rather than one per string inside it.
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(slow_json(body, ctx));
    };
    let decoded = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => decode_array(text, ctx),
        Some(b'{') => serde_json::from_str::<Object<RawEvent>>(text)
            .map(|Object(raw)| all_or_nothing([(0, validate(raw, ctx))])),
        _ => return Err(slow_json(body, ctx)),
    };
    decoded.unwrap_or_else(|_| Err(slow_json(body, ctx)))
}

/// Decodes a JSON array, validating each event as soon as it is read: no vector of raw events
/// is built, and the events' vector is sized from the body once.
fn decode_array(
    text: &str,
    ctx: &IngestContext,
) -> Result<Result<Vec<Event>, IngestError>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    // About 64 bytes of JSON an event at the least; the vector grows if they are shorter.
    let capacity = (text.len() / 64).min(4096);
    let checked =
        serde::de::Deserializer::deserialize_seq(&mut de, ValidateEach { ctx, capacity })?;
    de.end()?;
    Ok(checked.map_err(IngestError::Invalid))
}

/// Visits a JSON array of events, validating each as it is read (all or nothing, every bad
/// index named).
struct ValidateEach<'c, 'x> {
    ctx: &'c IngestContext<'x>,
    capacity: usize,
}

impl<'de> serde::de::Visitor<'de> for ValidateEach<'_, '_> {
    type Value = Result<Vec<Event>, ItemErrors>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = AllOrNothing::with_capacity(self.capacity);
        let mut index = 0;
        while let Some(Object(raw)) = seq.next_element::<Object<RawEvent>>()? {
            events.add(index, validate(raw, self.ctx));
            index += 1;
        }
        Ok(events.finish())
    }
}

/// Decodes and validates an NDJSON body (one event per non-empty line). All or nothing;
/// indexes count events, and messages name the 1-based line.
pub fn decode_ndjson(body: &[u8], ctx: &IngestContext) -> Result<Vec<Event>, IngestError> {
    let mut events = AllOrNothing::with_capacity(0);
    let lines = body.split(|b| *b == b'\n').enumerate();
    let items = lines.filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    for (index, (line_no, line)) in items.enumerate() {
        match serde_json::from_slice::<Object<RawEvent>>(line) {
            Ok(Object(raw)) => events.add(index, validate(raw, ctx)),
            Err(e) => events.refuse_with(index, || format!("line {}: {e}", line_no + 1)),
        }
    }
    events.finish().map_err(IngestError::Invalid)
}

/// Finds out why the fast path failed: a syntax error for the whole body, or the bad items.
/// An array is walked one element at a time (each borrowed from the body, never copied into
/// a tree), so that finding the bad items of a huge body costs no more than the body.
/// Elements that do decode are validated too, so that every bad item is named whatever made
/// it bad.
fn slow_json(body: &[u8], ctx: &IngestContext) -> IngestError {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => return IngestError::Malformed(e.to_string()),
    };
    let mut errors = ItemErrors::default();
    let walked = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => super::elements::each_element(text, |index, item| {
            check(&mut errors, index, item, ctx);
        }),
        Some(b'{') => serde_json::from_str::<&serde_json::value::RawValue>(text)
            .map(|item| check(&mut errors, 0, item.get(), ctx)),
        _ => serde_json::from_str::<serde::de::IgnoredAny>(text).map(|_| ()),
    };
    match walked {
        Err(e) => IngestError::Malformed(e.to_string()),
        Ok(()) if errors.is_empty() => {
            IngestError::Malformed("expected a JSON array of events or one event object".into())
        }
        Ok(()) => IngestError::Invalid(errors),
    }
}

/// Records why element `index` (`item`, its text) is bad, if it is: it does not decode as an
/// event, or the event is not valid.
fn check(errors: &mut ItemErrors, index: usize, item: &str, ctx: &IngestContext) {
    match serde_json::from_str::<Object<RawEvent>>(item) {
        Ok(Object(raw)) => {
            if let Err(message) = validate(raw, ctx) {
                errors.push(index, message);
            }
        }
        Err(e) => errors.push_with(index, || strip_position(&e.to_string())),
    }
}

/// serde_json appends " at line L column C" relative to a re-serialised item: not useful.
pub(super) fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Validates one raw event against the README's event table and the pipeline's rules.
fn validate(raw: RawEvent, ctx: &IngestContext) -> Result<Event, String> {
    let limits = &ctx.pipeline.limits;
    let name = raw.name;
    if !valid_name(&name, limits.max_name_bytes) {
        return Err(format!(
            "name {name:?} must match [A-Za-z_:][A-Za-z0-9_:.-]* and be at most {} bytes",
            limits.max_name_bytes
        ));
    }
    let rule = ctx.pipeline.rule_for(&name);
    let kind = match (&raw.kind, rule.and_then(|r| r.kind)) {
        (Some(k), _) => k.parse::<Kind>()?,
        (None, Some(k)) => k,
        (None, None) => return Err("type is required (no pipeline rule gives one)".into()),
    };
    if let Some(v) = raw.value {
        check_value(v)?;
    }
    let value = match (raw.value, kind) {
        (Some(v), Kind::Counter | Kind::Meter) if v < 0.0 => {
            return Err(format!("a {kind} increment must be >= 0, got {v}"))
        }
        (Some(v), Kind::Timer) if v < 0.0 => {
            return Err(format!(
                "a timer value is a duration and must be >= 0, got {v}"
            ))
        }
        (Some(v), _) => v,
        (None, Kind::Counter | Kind::Meter) => 1.0,
        (None, _) => return Err(format!("value is required for a {kind}")),
    };
    let timestamp_ms = match raw.timestamp {
        Some(t) => {
            let ms = to_epoch_millis(t)?;
            ctx.check_timestamp(ms)?;
            ms
        }
        None => ctx.now_ms,
    };
    let scope = match &raw.scope {
        Some(s) => s.parse::<Scope>()?,
        None => Scope::Application,
    };
    let service = match &raw.service {
        Some(s) => parse_service(s)?.into(),
        None => ctx.service.into(),
    };
    let service_path = match &raw.service_path {
        Some(p) => ServicePath::parse(p)?,
        None => ctx.service_path.clone(),
    };
    let tags = validate_tags(raw.tags.unwrap_or_default(), limits)?;
    let meta = Metadata {
        unit: raw.unit.or_else(|| rule.and_then(|r| r.unit.clone())),
        description: raw
            .description
            .or_else(|| rule.and_then(|r| r.description.clone())),
        display_name: raw
            .display_name
            .or_else(|| rule.and_then(|r| r.display_name.clone())),
    };
    Ok(Event {
        key: SeriesKey {
            service,
            service_path,
            scope,
            name: name.into(),
            tags,
        },
        kind,
        value,
        op: Op::Observe,
        timestamp_ms,
        meta: (!meta.is_empty()).then(|| Box::new(meta)),
    })
}

/// Checks tag keys and values (see [`check_tag`]) and the number of tags; they are already
/// sorted by key.
pub(super) fn validate_tags(raw: RawTags, limits: &Limits) -> Result<Tags, String> {
    if raw.len() > limits.max_tags {
        return Err(format!(
            "{} tags given, at most {} allowed",
            raw.len(),
            limits.max_tags
        ));
    }
    let mut tags: Tags = Vec::with_capacity(raw.len());
    for (k, v) in raw.0 {
        check_tag(&k, &v, limits.max_name_bytes, limits.max_tag_value_bytes)?;
        tags.push((k.into(), v.into()));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

    fn decode(body: &str) -> Result<Vec<Event>, IngestError> {
        with_ctx(|ctx| decode_json(body.as_bytes(), ctx))
    }

    fn ndjson(body: &str) -> Result<Vec<Event>, IngestError> {
        with_ctx(|ctx| decode_ndjson(body.as_bytes(), ctx))
    }

    fn with_ctx(
        f: impl FnOnce(&IngestContext) -> Result<Vec<Event>, IngestError>,
    ) -> Result<Vec<Event>, IngestError> {
        let pipeline = Pipeline::default();
        let root = ServicePath::root();
        let ctx = IngestContext {
            service: "default-service",
            service_path: &root,
            now_ms: 1_700_000_000_000,
            pipeline: &pipeline,
        };
        f(&ctx)
    }

    #[test]
    fn optional_strings_borrow_from_the_body_unless_escaped() {
        let body = r#"{"name":"a","type":"gauge","value":1,"scope":"vendor","service":"s",
            "servicePath":"/p","tags":{"k":"v"}}"#;
        // Through the wrapper every path reads with.
        let Object(raw) = serde_json::from_str::<Object<RawEvent>>(body).unwrap();
        for field in [&raw.kind, &raw.scope, &raw.service, &raw.service_path] {
            let text = field.as_ref().expect("given");
            assert!(
                matches!(text.0, Cow::Borrowed(_)),
                "{:?} was copied",
                text.0
            );
        }
        // An escape forces a copy, and the copy is what validation sees.
        let events = decode(r#"[{"name":"a","type":"count\u0065r","service":"s\u0031"}]"#).unwrap();
        assert_eq!(events[0].kind, Kind::Counter);
        assert_eq!(events[0].key.service, "s1");
    }

    #[test]
    fn an_array_is_validated_as_it_is_read_all_or_nothing() {
        let events =
            decode(r#" [{"name":"a","type":"counter"}, {"name":"b","type":"gauge","value":2}] "#)
                .unwrap();
        let names: Vec<&str> = events.iter().map(|e| e.key.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(decode("[]").unwrap().is_empty());
        // Every bad item is named, and none of the good ones is taken.
        let body = r#"[{"name":"a","type":"counter"},{"name":"1x","type":"counter"},
            {"name":"c","type":"nope"},{"name":"d","type":"gauge","value":1}]"#;
        let Err(IngestError::Invalid(errors)) = decode(body) else {
            panic!("refused as a whole")
        };
        let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [1, 2]);
        // A syntax error after valid items still refuses the whole body as malformed.
        let malformed = decode(r#"[{"name":"a","type":"counter"}, {"name":"#);
        assert!(
            matches!(malformed, Err(IngestError::Malformed(_))),
            "{malformed:?}"
        );
        let trailing = decode(r#"[{"name":"a","type":"counter"}] x"#);
        assert!(
            matches!(trailing, Err(IngestError::Malformed(_))),
            "{trailing:?}"
        );
    }

    #[test]
    fn every_bad_item_is_named_whether_it_does_not_decode_or_is_not_valid() {
        // Index 0 is not valid (a name starting with a digit), index 2 does not decode (a
        // number for the type): both are named, in arrays and in NDJSON alike.
        let items = [
            r#"{"name":"1x","type":"counter"}"#,
            r#"{"name":"b","type":"counter"}"#,
            r#"{"name":"c","type":7}"#,
        ];
        let array = format!("[{}]", items.join(","));
        let Err(IngestError::Invalid(errors)) = decode(&array) else {
            panic!("refused as a whole")
        };
        let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [0, 2], "{errors:?}");
        let Err(IngestError::Invalid(errors)) = ndjson(&items.join("\n")) else {
            panic!("refused as a whole")
        };
        let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [0, 2], "{errors:?}");
        // Past the listed ones, bad items are counted.
        let many = format!("[{}]", vec![r#"{"name":"c","type":7}"#; 250].join(","));
        let Err(IngestError::Invalid(errors)) = decode(&many) else {
            panic!("refused as a whole")
        };
        assert_eq!((errors.len(), errors.total()), (100, 250));
    }

    #[test]
    fn an_event_written_as_an_array_of_its_values_is_refused() {
        // serde's derive takes a struct's fields in order from an array; an event is an object.
        let good = r#"{"name":"cpu","type":"counter","value":1}"#;
        let bad = r#"["cpu","counter",1]"#;
        let array = format!("[{good},{bad}]");
        let Err(IngestError::Invalid(errors)) = decode(&array) else {
            panic!("refused as a whole: {:?}", decode(&array))
        };
        let found: Vec<(usize, bool)> = errors
            .iter()
            .map(|e| (e.index, e.message.contains("expected an object")))
            .collect();
        assert_eq!(found, [(1, true)], "{errors:?}");
        let Err(IngestError::Invalid(errors)) = ndjson(&format!("{good}\n{bad}")) else {
            panic!("refused as a whole")
        };
        assert_eq!(errors.iter().map(|e| e.index).collect::<Vec<_>>(), [1]);
        assert!(decode(good).is_ok() && decode(&format!("[{good}]")).is_ok());
    }
}
