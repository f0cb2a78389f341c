//! `/api/query` requests: the JSON body of `POST` and the `m=` strings of `GET`, checked and
//! with times resolved.

use super::time::{json_time, parse_time};
use super::{Aggregator, Downsample, QueryError, TagFilter};
use crate::model::SeriesKey;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `rate` options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOptions {
    /// The values are a monotonic counter that may roll over at `counter_max`.
    pub counter: bool,
    /// Where the counter rolls over (default `i64::MAX`).
    pub counter_max: f64,
    /// A rate above this (when more than 0) is taken as a reset and reported as 0.
    pub reset_value: f64,
    /// Drop the points at rollovers and resets instead.
    pub drop_resets: bool,
}

impl Default for RateOptions {
    fn default() -> Self {
        RateOptions {
            counter: false,
            counter_max: i64::MAX as f64,
            reset_value: 0.0,
            drop_resets: false,
        }
    }
}

/// One metric sub-query.
#[derive(Debug, Clone)]
pub struct SubQuery {
    /// The metric name as pushed (dots kept).
    pub metric: String,
    /// How series of a group merge.
    pub aggregator: Aggregator,
    /// How each series is downsampled first.
    pub downsample: Option<Downsample>,
    /// Per-second rate, with its options.
    pub rate: Option<RateOptions>,
    /// Tag filters; those with `group_by` split the results.
    pub filters: Vec<TagFilter>,
    /// Only series whose tag keys are exactly the filtered ones.
    pub explicit_tags: bool,
}

impl SubQuery {
    /// True when series `key` (already of the right name) is selected.
    pub fn keeps(&self, key: &SeriesKey) -> bool {
        if self.explicit_tags {
            let mut filtered: Vec<&str> = self.filters.iter().map(|f| f.tagk.as_str()).collect();
            filtered.sort_unstable();
            filtered.dedup();
            let keys: Vec<&str> = key.tags.iter().map(|(k, _)| k.as_str()).collect();
            if keys != filtered {
                return false;
            }
        }
        self.filters.iter().all(|f| f.passes(&key.tags))
    }

    /// The tag keys results are grouped by, sorted, without repeats.
    pub fn group_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .filters
            .iter()
            .filter(|f| f.group_by)
            .map(|f| f.tagk.clone())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// A whole query.
#[derive(Debug, Clone)]
pub struct TsQuery {
    /// Start, epoch ms (inclusive).
    pub start: i64,
    /// End, epoch ms (inclusive).
    pub end: i64,
    /// The sub-queries, answered in order.
    pub queries: Vec<SubQuery>,
    /// Timestamps in ms rather than s.
    pub ms_resolution: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQuery {
    start: Option<serde_json::Value>,
    end: Option<serde_json::Value>,
    #[serde(default)]
    queries: Vec<RawSubQuery>,
    #[serde(default)]
    ms_resolution: Flag,
    #[serde(default)]
    delete: Flag,
    #[serde(default)]
    use_calendar: Flag,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubQuery {
    aggregator: Option<String>,
    metric: Option<String>,
    tsuids: Option<serde_json::Value>,
    downsample: Option<String>,
    #[serde(default)]
    rate: Flag,
    rate_options: Option<RawRate>,
    tags: Option<BTreeMap<String, String>>,
    filters: Option<Vec<RawFilter>>,
    #[serde(default)]
    explicit_tags: Flag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRate {
    #[serde(default)]
    counter: Flag,
    counter_max: Option<f64>,
    reset_value: Option<f64>,
    #[serde(default)]
    drop_resets: Flag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(rename = "type")]
    kind: String,
    tagk: String,
    filter: String,
    #[serde(default)]
    group_by: Flag,
}

/// A boolean that clients also send as `"true"`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(from = "FlagRepr")]
struct Flag(bool);

#[derive(Deserialize)]
#[serde(untagged)]
enum FlagRepr {
    Bool(bool),
    Text(String),
}

impl From<FlagRepr> for Flag {
    fn from(r: FlagRepr) -> Self {
        Flag(match r {
            FlagRepr::Bool(b) => b,
            FlagRepr::Text(s) => s.eq_ignore_ascii_case("true"),
        })
    }
}

/// Parses a `POST /api/query` body.
pub fn from_json(body: &[u8], now_ms: i64) -> Result<TsQuery, QueryError> {
    let raw: RawQuery =
        serde_json::from_slice(body).map_err(|e| QueryError::bad(format!("query body: {e}")))?;
    if raw.delete.0 {
        return Err(QueryError::bad("delete is not supported"));
    }
    if raw.use_calendar.0 {
        return Err(QueryError::bad(
            "useCalendar is not supported (intervals are fixed)",
        ));
    }
    if let Some(tz) = raw.timezone.as_deref() {
        if !matches!(tz, "UTC" | "GMT" | "Etc/UTC") {
            return Err(QueryError::bad(format!(
                "timezone {tz:?} is not supported: dates are read in UTC"
            )));
        }
    }
    let start = raw
        .start
        .as_ref()
        .ok_or_else(|| QueryError::bad("start is required"))?;
    let start = json_time(start, now_ms)?;
    let end = match &raw.end {
        Some(e) => json_time(e, now_ms)?,
        None => now_ms,
    };
    let queries = raw
        .queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| sub_from_json(q).map_err(|e| e.context(&format!("queries[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    finish(start, end, queries, raw.ms_resolution.0)
}

fn sub_from_json(q: RawSubQuery) -> Result<SubQuery, QueryError> {
    if q.tsuids.is_some() {
        return Err(QueryError::bad(
            "tsuids queries are not supported: give a metric",
        ));
    }
    let metric = q
        .metric
        .ok_or_else(|| QueryError::bad("metric is required"))?;
    let aggregator = q
        .aggregator
        .ok_or_else(|| QueryError::bad("aggregator is required"))?
        .parse()?;
    let downsample = q.downsample.as_deref().map(Downsample::parse).transpose()?;
    let rate = q.rate.0.then(|| {
        let mut o = RateOptions::default();
        if let Some(r) = &q.rate_options {
            o.counter = r.counter.0;
            o.counter_max = r.counter_max.unwrap_or(o.counter_max);
            o.reset_value = r.reset_value.unwrap_or(0.0);
            o.drop_resets = r.drop_resets.0;
        }
        o
    });
    let mut filters = Vec::new();
    for (k, v) in q.tags.unwrap_or_default() {
        filters.push(TagFilter::shorthand(&k, &v, true)?);
    }
    for f in q.filters.unwrap_or_default() {
        filters.push(TagFilter::new(&f.kind, &f.tagk, &f.filter, f.group_by.0)?);
    }
    Ok(SubQuery {
        metric,
        aggregator,
        downsample,
        rate,
        filters,
        explicit_tags: q.explicit_tags.0,
    })
}

/// Parses `GET /api/query` parameters (`start`, `end`, `m` (repeatable), `ms` or
/// `msResolution`).
pub fn from_params(params: &[(String, String)], now_ms: i64) -> Result<TsQuery, QueryError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let start = parse_time(
        get("start").ok_or_else(|| QueryError::bad("start is required"))?,
        now_ms,
    )?;
    let end = match get("end") {
        Some(e) => parse_time(e, now_ms)?,
        None => now_ms,
    };
    if get("tsuid").is_some() {
        return Err(QueryError::bad("tsuid queries are not supported: use m="));
    }
    let flag =
        |name: &str| get(name).is_some_and(|v| v.is_empty() || v.eq_ignore_ascii_case("true"));
    let ms = flag("ms") || flag("msResolution");
    let queries = params
        .iter()
        .filter(|(k, _)| k == "m")
        .map(|(_, m)| parse_m(m).map_err(|e| e.context(&format!("m={m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    finish(start, end, queries, ms)
}

fn finish(start: i64, end: i64, queries: Vec<SubQuery>, ms: bool) -> Result<TsQuery, QueryError> {
    if queries.is_empty() {
        return Err(QueryError::bad(
            "at least one sub-query (queries or m=) is required",
        ));
    }
    if start > end {
        return Err(QueryError::bad(format!(
            "start ({start} ms) is after end ({end} ms)"
        )));
    }
    Ok(TsQuery {
        start,
        end,
        queries,
        ms_resolution: ms,
    })
}

/// Parses one `m=` expression:
/// `<aggregator>:[<downsample>:][rate[{counter[,max[,reset]]}]:][explicit_tags:]<metric>[{group-by filters}][{other filters}]`
/// (the optional parts in any order).
pub fn parse_m(m: &str) -> Result<SubQuery, QueryError> {
    let (agg, mut rest) = m
        .split_once(':')
        .ok_or_else(|| QueryError::bad("m must be <aggregator>:[options:]<metric>[{tags}]"))?;
    let aggregator: Aggregator = agg.parse()?;
    let mut downsample = None;
    let mut rate = None;
    let mut explicit_tags = false;
    while let Some((head, tail)) = rest.split_once(':') {
        if head.starts_with("rate") && (head == "rate" || head.starts_with("rate{")) {
            rate = Some(parse_rate(head)?);
        } else if head == "explicit_tags" {
            explicit_tags = true;
        } else if head.as_bytes().first().is_some_and(u8::is_ascii_digit) && head.contains('-') {
            downsample = Some(Downsample::parse(head)?);
        } else {
            break;
        }
        rest = tail;
    }
    let (metric, tags) = match rest.find('{') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if metric.is_empty() {
        return Err(QueryError::bad("the metric name is missing"));
    }
    if !crate::model::valid_name(metric, usize::MAX) {
        let option: String = metric
            .split(':')
            .next()
            .unwrap_or(metric)
            .chars()
            .take(64)
            .collect();
        return Err(QueryError::bad(format!(
            "{option:?} in m is neither an option (a downsample <n><unit>-<aggregator> such as \
             1m-avg, rate, rate{{...}} or explicit_tags) nor a metric name \
             ([A-Za-z_:][A-Za-z0-9_:.-]*)"
        )));
    }
    let mut filters = Vec::new();
    let mut rest = tags;
    for group_by in [true, false] {
        if rest.is_empty() {
            break;
        }
        let (inner, after) = braces(rest)?;
        for item in split_top(inner, ',') {
            if item.is_empty() {
                continue;
            }
            let (k, v) = item.split_once('=').ok_or_else(|| {
                QueryError::bad(format!("tag filter {item:?} must be tagk=filter"))
            })?;
            filters.push(TagFilter::shorthand(k, v, group_by)?);
        }
        rest = after;
    }
    if !rest.is_empty() {
        return Err(QueryError::bad(format!(
            "unexpected {rest:?} after the tag filters"
        )));
    }
    Ok(SubQuery {
        metric: metric.to_owned(),
        aggregator,
        downsample,
        rate,
        filters,
        explicit_tags,
    })
}

/// `rate` or `rate{counter[,max[,reset[,dropResets]]]}`.
fn parse_rate(spec: &str) -> Result<RateOptions, QueryError> {
    let mut o = RateOptions::default();
    let Some(inner) = spec.strip_prefix("rate{") else {
        return Ok(o);
    };
    let inner = inner
        .strip_suffix('}')
        .ok_or_else(|| QueryError::bad(format!("rate options {spec:?} must end with }}")))?;
    let parts: Vec<&str> = inner.split(',').collect();
    if parts.len() > 4 {
        return Err(QueryError::bad(format!(
            "rate options {spec:?}: counter,max,reset"
        )));
    }
    let number = |s: &str| -> Result<Option<f64>, QueryError> {
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Some)
            .ok_or_else(|| QueryError::bad(format!("rate option {s:?} is not a number >= 0")))
    };
    match parts.first().copied() {
        Some("counter") => o.counter = true,
        Some("") | None => {}
        Some(other) => {
            return Err(QueryError::bad(format!(
                "rate option {other:?}: the first one is counter"
            )))
        }
    }
    if let Some(max) = parts.get(1) {
        o.counter_max = number(max)?.unwrap_or(o.counter_max);
    }
    if let Some(reset) = parts.get(2) {
        o.reset_value = number(reset)?.unwrap_or(0.0);
    }
    if let Some(drop) = parts.get(3) {
        o.drop_resets = drop.eq_ignore_ascii_case("true") || *drop == "dropcounter";
    }
    Ok(o)
}

/// The text inside the `{...}` at the start of `s` (parentheses may hold braces), and what
/// follows it.
fn braces(s: &str) -> Result<(&str, &str), QueryError> {
    let bad = || QueryError::bad(format!("tag filters {s:?} must be {{tagk=filter,...}}"));
    if !s.starts_with('{') {
        return Err(bad());
    }
    let mut depth = 0i32;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '}' if depth <= 0 => return Ok((&s[1..i], &s[i + 1..])),
            _ => {}
        }
    }
    Err(bad())
}

/// Splits on `sep` outside parentheses.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut from) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth <= 0 => {
                out.push(&s[from..i]);
                from = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

#[cfg(test)]
mod tests;
