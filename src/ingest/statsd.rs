//! The StatsD line protocol (Etsy StatsD plus the DogStatsD extensions) → [`Event`]s.
//!
//! One metric per line, lines separated by `\n` (or `\r\n`):
//!
//! ```text
//! name:value[:value...]|type[|@rate][|#tag:value,tag2][|T<unix seconds>]
//! ```
//!
//! | type | meterd kind | value |
//! |---|---|---|
//! | `c` | counter | increment ≥ 0, divided by the sample rate (`x:1\|c\|@0.1` counts 10) |
//! | `g` | gauge | `5` sets the gauge; `+5` / `-5` add to it ([`Op::GaugeDelta`]); to set a negative value send `0` then `-5` |
//! | `ms` | timer | a duration ≥ 0 in milliseconds (the event carries unit `milliseconds`) |
//! | `h`, `d` | histogram | any finite number |
//! | `m` | meter | marks ≥ 0, divided by the sample rate like a counter |
//! | `s` | gauge | a set member: any text, counted as distinct members ([`Op::SetMember`]) |
//!
//! Rules, all checked line by line:
//!
//! - The name is everything before the first `:` and must pass [`valid_name`]; meterd keeps
//!   dots (`api.requests`) and never rewrites names the way Etsy StatsD does.
//! - Several values separated by `:` (DogStatsD) give one event each; for sets each part is a
//!   member. Values are finite numbers (`NaN`, `inf`, `1e999` and empty values are rejected).
//! - `@rate` is a sample rate in `(0, 1]`. It divides counter and meter values and is accepted
//!   but ignored for the other types (a sampled timer value is still one real duration).
//! - `#tags` is a comma-separated list of `key:value` (split at the first `:`, so values may hold
//!   colons) or bare `key`, which means `key:true`. Keys must not be empty and empty entries
//!   (`a:1,,b:2`) are errors. A repeated key keeps its last value. After that the number of tags
//!   must not exceed the limit.
//! - `T<unix seconds>` sets the event timestamp; without it the arrival time is used.
//! - Any other field after the type (e.g. DogStatsD `|c:<container id>`) is an error, as are a
//!   second sample rate, a second tag list and an empty field (`x:1|c||@0.5`).
//! - Leading and trailing whitespace of a line is ignored, and blank lines are skipped.

use super::ItemErrors;
use crate::model::{
    check_tag, check_value, valid_name, Event, Kind, Metadata, Op, Scope, SeriesKey, ServicePath,
    Tags,
};

/// Where parsed lines go and the limits they must respect.
#[derive(Debug, Clone, Copy)]
pub struct StatsdContext<'a> {
    /// Orion service of every event (already validated).
    pub service: &'a str,
    /// Orion service path of every event.
    pub service_path: &'a ServicePath,
    /// Arrival time in epoch milliseconds, used when a line has no `|T` timestamp.
    pub now_ms: i64,
    /// Longest metric name accepted, in bytes.
    pub max_name_bytes: usize,
    /// Most tags one event may carry (counted after duplicate keys are merged).
    pub max_tags: usize,
    /// Longest tag value accepted, in bytes (tag keys: `max_name_bytes`).
    pub max_tag_value_bytes: usize,
    /// A `|T` timestamp older than this before `now_ms` is refused (the longest tier
    /// retention; 0 = no limit), as is one more than 10 minutes ahead.
    pub longest_retention_ms: i64,
}

/// A line that could not be parsed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number within the parsed text (blank lines count).
    pub line: usize,
    /// What is wrong, in words the sender can act on.
    pub message: String,
}

/// Parses every line; all or nothing: `Ok` with all events, or `Err` with every bad line.
pub fn parse_batch(text: &str, ctx: &StatsdContext) -> Result<Vec<Event>, Vec<LineError>> {
    let mut events = Vec::with_capacity(count_lines(text));
    let mut errors = Vec::new();
    parse_lines(text, ctx, &mut events, |line, message| {
        errors.push(LineError { line, message });
    });
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

/// Like [`parse_batch`] for an answer to a client: the bad lines go to `errors` (which lists
/// the first few as `{line, "line N: why"}` and counts the rest), and the events are only
/// meaningful when it stays empty; once a line is bad, the others are only checked.
pub fn parse_batch_into(text: &str, ctx: &StatsdContext, errors: &mut ItemErrors) -> Vec<Event> {
    // Grown as events come: a body of bad lines reserves nothing.
    let mut events = Vec::new();
    parse_lines(text, ctx, &mut events, |line, message| {
        errors.push(line, LineError { line, message }.to_string());
    });
    if !errors.is_empty() {
        events = Vec::new();
    }
    events
}

/// How many lines a lenient parse saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Non-blank lines.
    pub lines: usize,
    /// Lines that did not parse (they added no event).
    pub bad: usize,
}

/// Lenient variant for UDP: appends the good lines' events to `out` and counts the lines, good
/// and bad (UDP has no one to answer, so bad lines are only counted).
pub fn parse_lenient(text: &str, ctx: &StatsdContext, out: &mut Vec<Event>) -> LineCounts {
    let mut bad = 0;
    let lines = parse_lines(text, ctx, out, |_, _| bad += 1);
    LineCounts { lines, bad }
}

/// An upper bound on the number of events a text yields when every line has one value.
fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// Runs [`parse_line`] over every non-blank line; a bad line adds nothing to `out`. Answers the
/// number of non-blank lines.
fn parse_lines(
    text: &str,
    ctx: &StatsdContext,
    out: &mut Vec<Event>,
    mut on_error: impl FnMut(usize, String),
) -> usize {
    let mut tags = Vec::new();
    let mut lines = 0;
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let before = out.len();
        if let Err(message) = parse_line(line, ctx, &mut tags, out) {
            out.truncate(before);
            on_error(index + 1, message);
        }
    }
    lines
}

/// The StatsD type letter of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
    Timer,
    Histogram,
    Meter,
    Set,
}

impl Type {
    fn parse(text: &str) -> Result<Type, String> {
        Ok(match text {
            "c" => Type::Counter,
            "g" => Type::Gauge,
            "ms" => Type::Timer,
            "h" | "d" => Type::Histogram,
            "m" => Type::Meter,
            "s" => Type::Set,
            "" => return Err(format!("missing type after '|': expected {TYPES}")),
            other => return Err(format!("unknown type {}: expected {TYPES}", shown(other))),
        })
    }

    fn kind(self) -> Kind {
        match self {
            Type::Counter => Kind::Counter,
            Type::Gauge | Type::Set => Kind::Gauge,
            Type::Timer => Kind::Timer,
            Type::Histogram => Kind::Histogram,
            Type::Meter => Kind::Meter,
        }
    }
}

const TYPES: &str = "c (counter), g (gauge), ms (timer), h or d (histogram), m (meter) or s (set)";

/// The fields after the type.
struct Extras {
    rate: f64,
    timestamp_ms: i64,
}

/// Parses one trimmed, non-empty line and pushes its events; on error `out` may hold some of
/// the line's events, which the caller removes.
fn parse_line<'a>(
    line: &'a str,
    ctx: &StatsdContext,
    tags: &mut Vec<(&'a str, &'a str)>,
    out: &mut Vec<Event>,
) -> Result<(), String> {
    let Some((name, rest)) = line.split_once(':') else {
        return Err(format!(
            "missing ':' between the metric name and its value in {} (expected e.g. requests:1|c)",
            shown(line)
        ));
    };
    check_name(name, ctx.max_name_bytes)?;
    let Some((values, fields)) = rest.split_once('|') else {
        return Err(format!(
            "missing '|' and a type after the value in {} (expected e.g. {name}:1|c)",
            shown(line)
        ));
    };
    let (ty, extras) = match fields.split_once('|') {
        Some((ty, extras)) => (ty, Some(extras)),
        None => (fields, None),
    };
    let ty = Type::parse(ty)?;
    tags.clear();
    let extras = parse_extras(extras, ctx, tags)?;

    let mut parts = values.split(':');
    // `split` always yields at least one part.
    let mut pending = sample(ty, parts.next().unwrap_or(""), extras.rate)?;
    let tags = owned_tags(tags, ctx.max_tags)?;
    let key = SeriesKey {
        service: ctx.service.into(),
        service_path: ctx.service_path.clone(),
        scope: Scope::Application,
        name: name.into(),
        tags,
    };
    for part in parts {
        let next = sample(ty, part, extras.rate)?;
        out.push(event(key.clone(), ty, pending, extras.timestamp_ms));
        pending = next;
    }
    out.push(event(key, ty, pending, extras.timestamp_ms));
    Ok(())
}

fn event(key: SeriesKey, ty: Type, (value, op): (f64, Op), timestamp_ms: i64) -> Event {
    let meta = (ty == Type::Timer).then(|| {
        Box::new(Metadata {
            unit: Some("milliseconds".into()),
            ..Default::default()
        })
    });
    Event {
        key,
        kind: ty.kind(),
        value,
        op,
        timestamp_ms,
        meta,
    }
}

fn check_name(name: &str, max_bytes: usize) -> Result<(), String> {
    if valid_name(name, max_bytes) {
        Ok(())
    } else if name.is_empty() {
        Err("missing metric name before ':'".into())
    } else if name.len() > max_bytes {
        Err(format!(
            "metric name {} is {} bytes long; the limit is {max_bytes}",
            shown(name),
            name.len()
        ))
    } else {
        Err(format!(
            "invalid metric name {}: it must start with a letter, '_' or ':' and hold only \
             letters, digits, '_', ':', '.' and '-'",
            shown(name)
        ))
    }
}

/// Parses the `|`-separated fields after the type, filling `tags` with borrowed pairs.
fn parse_extras<'a>(
    extras: Option<&'a str>,
    ctx: &StatsdContext,
    tags: &mut Vec<(&'a str, &'a str)>,
) -> Result<Extras, String> {
    let mut rate = None;
    let mut timestamp_ms = None;
    let mut has_tags = false;
    for field in extras.into_iter().flat_map(|e| e.split('|')) {
        match field.as_bytes().first() {
            Some(b'@') if rate.is_some() => return Err("the sample rate is given twice".into()),
            Some(b'@') => rate = Some(parse_rate(&field[1..])?),
            Some(b'#') if has_tags => return Err("the tags are given twice".into()),
            Some(b'#') => {
                has_tags = true;
                parse_tags(&field[1..], ctx, tags)?;
            }
            Some(b'T') if timestamp_ms.is_some() => {
                return Err("the timestamp is given twice".into())
            }
            Some(b'T') => {
                let t = parse_timestamp(&field[1..])?;
                super::timestamp::check_window(t, ctx.now_ms, ctx.longest_retention_ms)?;
                timestamp_ms = Some(t);
            }
            Some(_) => {
                return Err(format!(
                    "unknown field {} after the type: expected @<sample rate>, \
                     #<tags> or T<unix seconds>",
                    shown(field)
                ))
            }
            None => return Err("empty field: remove the extra '|'".into()),
        }
    }
    Ok(Extras {
        rate: rate.unwrap_or(1.0),
        timestamp_ms: timestamp_ms.unwrap_or(ctx.now_ms),
    })
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 1.0 => Ok(rate),
        Ok(_) => Err(format!(
            "sample rate @{} is out of range: it must be greater than 0 and at most 1",
            shown_raw(text)
        )),
        Err(_) => Err(format!(
            "sample rate {} is not a number (expected e.g. @0.1)",
            shown(text)
        )),
    }
}

/// Longest accepted `|T` value: 12 digits of seconds is past the year 30000.
const MAX_TIMESTAMP_DIGITS: usize = 12;

fn parse_timestamp(text: &str) -> Result<i64, String> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i64>() {
        Ok(secs) if digits_only && text.len() <= MAX_TIMESTAMP_DIGITS => Ok(secs * 1000),
        _ => Err(format!(
            "timestamp T{} is not valid: expected T followed by unix seconds, e.g. T1700000000",
            shown_raw(text)
        )),
    }
}

fn parse_tags<'a>(
    text: &'a str,
    ctx: &StatsdContext,
    tags: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), String> {
    for entry in text.split(',') {
        if entry.is_empty() {
            return Err("empty tag in the tag list: remove the extra ','".into());
        }
        let (key, value) = entry.split_once(':').unwrap_or((entry, "true"));
        if key.is_empty() {
            return Err(format!("tag {} has an empty key", shown(entry)));
        }
        check_tag(key, value, ctx.max_name_bytes, ctx.max_tag_value_bytes)?;
        tags.push((key, value));
    }
    Ok(())
}

/// Sorts by key, keeps the last value of a repeated key, checks the limit, then allocates.
fn owned_tags(tags: &mut [(&str, &str)], max_tags: usize) -> Result<Tags, String> {
    if tags.is_empty() {
        return Ok(Tags::new());
    }
    // Stable: among equal keys the original order remains, so the last one wins below.
    tags.sort_by(|a, b| a.0.cmp(b.0));
    let mut kept = 0;
    for i in 0..tags.len() {
        if kept > 0 && tags[kept - 1].0 == tags[i].0 {
            tags[kept - 1] = tags[i];
        } else {
            tags[kept] = tags[i];
            kept += 1;
        }
    }
    if kept > max_tags {
        return Err(format!(
            "too many tags: {kept}, the limit is {max_tags} per metric"
        ));
    }
    Ok(tags[..kept]
        .iter()
        .map(|&(k, v)| (k.into(), v.into()))
        .collect())
}

/// Parses one value of a line into the event's value and operation.
fn sample(ty: Type, text: &str, rate: f64) -> Result<(f64, Op), String> {
    if ty == Type::Set {
        if text.is_empty() {
            return Err("missing set member before '|'".into());
        }
        return Ok((1.0, Op::SetMember(member_hash(text))));
    }
    let value = number(text)?;
    match ty {
        Type::Gauge if text.starts_with(['+', '-']) => Ok((value, Op::GaugeDelta)),
        Type::Counter | Type::Meter => {
            if value < 0.0 {
                let what = if ty == Type::Counter {
                    "counter"
                } else {
                    "meter"
                };
                return Err(format!(
                    "{what} value {} is negative: meterd {what}s only increase \
                     (send a gauge with |g for a value that goes down)",
                    shown_raw(text)
                ));
            }
            let scaled = value / rate;
            if check_value(scaled).is_err() {
                return Err(format!(
                    "value {} divided by the sample rate {rate} is too large: meterd takes \
                     values up to ±1e100",
                    shown_raw(text)
                ));
            }
            Ok((scaled, Op::Observe))
        }
        Type::Timer if value < 0.0 => Err(format!(
            "timer value {} is negative: a duration in milliseconds must be 0 or more",
            shown_raw(text)
        )),
        _ => Ok((value, Op::Observe)),
    }
}

fn number(text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err("missing value between ':' and '|'".into());
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => check_value(v).map(|()| v),
        Ok(_) => Err(format!("value {} must be a finite number", shown(text))),
        Err(_) => Err(format!("value {} is not a number", shown(text))),
    }
}

/// A stable hash of a set member (64-bit FNV-1a): the same member gives the same hash in every
/// run and on every platform.
fn member_hash(member: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    member
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Longest excerpt of the input quoted in an error message.
const SHOWN_BYTES: usize = 64;

/// `text` quoted for an error message, cut to [`SHOWN_BYTES`].
fn shown(text: &str) -> String {
    format!("\"{}\"", shown_raw(text))
}

/// `text` escaped and cut to [`SHOWN_BYTES`] (at a character boundary), unquoted.
fn shown_raw(text: &str) -> String {
    let mut end = text.len().min(SHOWN_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < text.len() { "..." } else { "" };
    format!("{}{cut}", text[..end].escape_debug())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
