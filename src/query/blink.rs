//! Alibaba Realtime Compute (Blink) `GetInstanceMetric`, pure: the `metricJson` query (an
//! OpenTSDB query whose metrics are `blink.<project>.<job>.<name>`), the `limit` that keeps
//! some of the lines, and the `summary` of each line.

use super::opentsdb::time::json_time;
use super::opentsdb::{
    Aggregator, Downsample, QueryError, ResultSeries, SubQuery, TagFilter, TsQuery,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The statistic a `limit` ranks lines by (and `summary` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// The largest point.
    Max,
    /// The mean of the points.
    Avg,
    /// The smallest point.
    Min,
}

/// Which lines a `limit` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The `n` lowest by the statistic, lowest first.
    Bottom,
    /// The `n` highest, highest first.
    Above,
    /// `n` lines evenly spread over all of them, in their order.
    Sample,
}

/// `limit`: `<max|avg|min>:<bottom|above|sample>:<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The statistic.
    pub stat: Stat,
    /// Which lines.
    pub keep: Keep,
    /// How many, at least 1.
    pub n: usize,
}

impl Limit {
    /// Parses `avg:sample:50`.
    pub fn parse(text: &str) -> Result<Limit, QueryError> {
        let bad = || {
            QueryError::bad(format!(
                "limit {text:?} must be <max|avg|min>:<bottom|above|sample>:<n>, n >= 1"
            ))
        };
        let mut parts = text.split(':');
        let (Some(stat), Some(keep), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let stat = match stat {
            "max" => Stat::Max,
            "avg" => Stat::Avg,
            "min" => Stat::Min,
            _ => return Err(bad()),
        };
        let keep = match keep {
            "bottom" => Keep::Bottom,
            "above" => Keep::Above,
            "sample" => Keep::Sample,
            _ => return Err(bad()),
        };
        let n = n
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(bad)?;
        Ok(Limit { stat, keep, n })
    }
}

/// A checked request: the OpenTSDB query, the limit, and the job's metric prefix.
#[derive(Debug, Clone)]
pub struct BlinkQuery {
    /// The query (times in ms).
    pub query: TsQuery,
    /// The limit, if any.
    pub limit: Option<Limit>,
    /// `blink.<project>.<job>.`: every series of the job starts with it.
    pub prefix: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetricJson {
    start: Option<serde_json::Value>,
    end: Option<serde_json::Value>,
    limit: Option<String>,
    #[serde(default)]
    queries: Vec<RawBlinkQuery>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlinkQuery {
    metric: Option<String>,
    aggregator: Option<String>,
    downsample: Option<String>,
    granularity: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// A job with no sample for this long is not running.
pub const RUNNING_WINDOW_MS: i64 = 5 * 60 * 1000;

/// `instanceId`: only the running instance (`-1`, or none given) is kept.
pub fn check_instance(instance_id: Option<&str>) -> Result<(), QueryError> {
    match instance_id.filter(|id| *id != "-1") {
        Some(id) => Err(QueryError::bad(format!(
            "instanceId {id:?}: only the running instance (-1) is kept"
        ))),
        None => Ok(()),
    }
}

/// A job is running when one of its series has a sample (`latest`, epoch ms) within
/// [`RUNNING_WINDOW_MS`] of `now_ms`.
pub fn check_running(
    latest: Option<i64>,
    now_ms: i64,
    project: &str,
    job: &str,
) -> Result<(), QueryError> {
    if latest.is_some_and(|t| t >= now_ms - RUNNING_WINDOW_MS) {
        return Ok(());
    }
    Err(QueryError::NotRunning {
        project: project.to_owned(),
        job: job.to_owned(),
    })
}

/// The metric prefix of a project's job.
pub fn job_prefix(project: &str, job: &str) -> String {
    format!("blink.{project}.{job}.")
}

/// Parses a request body: the `metricJson` object itself, or `{"metricJson": "<json>"}`.
pub fn parse(body: &[u8], project: &str, job: &str, now_ms: i64) -> Result<BlinkQuery, QueryError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| QueryError::bad(format!("body: {e}")))?;
    let metric_json = match value.get("metricJson") {
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str(text).map_err(|e| QueryError::bad(format!("metricJson: {e}")))?
        }
        Some(obj @ serde_json::Value::Object(_)) => obj.clone(),
        Some(_) => {
            return Err(QueryError::bad(
                "metricJson must be a JSON string or object",
            ))
        }
        None => value,
    };
    let raw: RawMetricJson = serde_json::from_value(metric_json)
        .map_err(|e| QueryError::bad(format!("metricJson: {e}")))?;
    let prefix = job_prefix(project, job);
    let start = json_time(
        raw.start
            .as_ref()
            .ok_or_else(|| QueryError::bad("start is required"))?,
        now_ms,
    )?;
    let end = match &raw.end {
        Some(e) => json_time(e, now_ms)?,
        None => now_ms,
    };
    if start > end {
        return Err(QueryError::bad("start is after end"));
    }
    if raw.queries.is_empty() {
        return Err(QueryError::bad("queries must hold at least one query"));
    }
    let queries = raw
        .queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| sub_query(q, &prefix).map_err(|e| e.context(&format!("queries[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BlinkQuery {
        query: TsQuery {
            start,
            end,
            queries,
            ms_resolution: false,
        },
        limit: raw.limit.as_deref().map(Limit::parse).transpose()?,
        prefix,
    })
}

fn sub_query(q: RawBlinkQuery, prefix: &str) -> Result<SubQuery, QueryError> {
    let metric = q
        .metric
        .ok_or_else(|| QueryError::bad("metric is required"))?;
    if !metric.starts_with(prefix) || metric.len() == prefix.len() {
        return Err(QueryError::bad(format!(
            "metric {metric:?} is not one of this job's: it must be {prefix}<name>"
        )));
    }
    let aggregator: Aggregator = q.aggregator.as_deref().unwrap_or("avg").parse()?;
    let downsample = match (&q.downsample, &q.granularity) {
        (Some(d), _) => Some(Downsample::parse(d)?),
        (None, Some(g)) => Some(Downsample::parse(&format!("{g}-{aggregator}"))?),
        (None, None) => None,
    };
    let mut filters = Vec::new();
    for (k, v) in q.tags.unwrap_or_default() {
        filters.push(TagFilter::shorthand(&k, &v, true)?);
    }
    Ok(SubQuery {
        metric,
        aggregator,
        downsample,
        rate: None,
        filters,
        explicit_tags: false,
    })
}

/// A line of the answer with its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The OpenTSDB result line.
    pub series: ResultSeries,
    /// The statistic over its points (None without points).
    pub summary: Option<f64>,
}

fn stat(stat: Stat, dps: &[(i64, f64)]) -> Option<f64> {
    let values: Vec<f64> = dps
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| !v.is_nan())
        .collect();
    if values.is_empty() {
        return None;
    }
    Some(match stat {
        Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Stat::Avg => values.iter().sum::<f64>() / values.len() as f64,
    })
}

/// Applies the limit (if any) to the result lines and computes each kept line's summary:
/// the limit's statistic, or the mean of its points without a limit.
pub fn finish(lines: Vec<ResultSeries>, limit: Option<Limit>) -> Vec<Line> {
    let which = limit.map_or(Stat::Avg, |l| l.stat);
    let mut lines: Vec<Line> = lines
        .into_iter()
        .map(|series| Line {
            summary: stat(which, &series.dps),
            series,
        })
        .collect();
    let Some(limit) = limit else {
        return lines;
    };
    let key = |l: &Line| l.summary.unwrap_or(f64::NAN);
    match limit.keep {
        Keep::Bottom => {
            lines.sort_by(|a, b| key(a).total_cmp(&key(b)));
            lines.truncate(limit.n);
        }
        Keep::Above => {
            lines.sort_by(|a, b| key(b).total_cmp(&key(a)));
            lines.truncate(limit.n);
        }
        Keep::Sample if lines.len() > limit.n => {
            let len = lines.len();
            let picks: Vec<usize> = (0..limit.n).map(|i| i * len / limit.n).collect();
            lines = lines
                .into_iter()
                .enumerate()
                .filter(|(i, _)| picks.contains(i))
                .map(|(_, l)| l)
                .collect();
        }
        Keep::Sample => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::opentsdb::FillPolicy;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn only_the_running_instance_is_kept() {
        assert!(check_instance(None).is_ok());
        assert!(check_instance(Some("-1")).is_ok());
        let e = check_instance(Some("7")).unwrap_err();
        assert!(matches!(e, QueryError::BadRequest(m) if m.contains("\"7\"")));
    }

    #[test]
    fn a_job_runs_while_a_sample_is_at_most_five_minutes_old() {
        assert!(check_running(Some(NOW - RUNNING_WINDOW_MS), NOW, "p", "j").is_ok());
        assert!(check_running(Some(NOW), NOW, "p", "j").is_ok());
        let stale = check_running(Some(NOW - RUNNING_WINDOW_MS - 1), NOW, "p", "j");
        assert!(matches!(stale, Err(QueryError::NotRunning { .. })));
        let never = check_running(None, NOW, "p", "j").unwrap_err();
        assert_eq!(
            never.to_string(),
            "job \"j\" of project \"p\" is not running: no sample in the last 5 minutes"
        );
    }

    #[test]
    fn limits() {
        assert_eq!(
            Limit::parse("avg:sample:50").unwrap(),
            Limit {
                stat: Stat::Avg,
                keep: Keep::Sample,
                n: 50
            }
        );
        for bad in [
            "",
            "avg",
            "avg:sample",
            "avg:sample:0",
            "mean:above:1",
            "max:top:1",
            "max:above:1:2",
            "max:above:x",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_body_forms_and_the_job_check() {
        let inner = r#"{"start":1699999000000,"end":1700000000000,"limit":"avg:sample:5","queries":[{"downsample":"20s-avg","metric":"blink.p.j.delay","granularity":"20s","aggregator":"max"}]}"#;
        let direct = parse(inner.as_bytes(), "p", "j", NOW).unwrap();
        let wrapped = serde_json::json!({ "metricJson": inner }).to_string();
        let wrapped = parse(wrapped.as_bytes(), "p", "j", NOW).unwrap();
        assert_eq!(direct.query.start, 1_699_999_000_000);
        assert_eq!(wrapped.query.end, direct.query.end);
        assert_eq!(direct.prefix, "blink.p.j.");
        assert_eq!(direct.query.queries[0].aggregator, Aggregator::Max);
        let granular = r#"{"start":1699999000000,"queries":[{"metric":"blink.p.j.tps.rate","granularity":"1m","aggregator":"min"}]}"#;
        let g = parse(granular.as_bytes(), "p", "j", NOW).unwrap();
        let ds = g.query.queries[0].downsample.unwrap();
        assert_eq!((ds.aggregator, g.query.end), (Aggregator::Min, NOW));
        for (body, needle) in [
            (
                r#"{"start":1,"queries":[{"metric":"blink.q.j.delay"}]}"#,
                "not one of this job's",
            ),
            (
                r#"{"start":1,"queries":[{"metric":"blink.p.j."}]}"#,
                "not one of this job's",
            ),
            (r#"{"start":1,"queries":[]}"#, "at least one"),
            (r#"{"queries":[{"metric":"blink.p.j.x"}]}"#, "start"),
            (r#"{"metricJson":"{"}"#, "metricJson"),
            (r#"{"metricJson":5}"#, "metricJson"),
            (
                r#"{"start":1,"limit":"x","queries":[{"metric":"blink.p.j.x"}]}"#,
                "limit",
            ),
        ] {
            let err = parse(body.as_bytes(), "p", "j", NOW)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }

    fn line(tag: &str, values: &[f64]) -> ResultSeries {
        ResultSeries {
            metric: "m".into(),
            tags: BTreeMap::from([("tm".to_owned(), tag.to_owned())]),
            aggregate_tags: vec![],
            dps: values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as i64, *v))
                .collect(),
            fill: FillPolicy::None,
        }
    }

    #[test]
    fn limit_modes_and_summaries() {
        let lines = || {
            vec![
                line("a", &[1.0, 9.0]),
                line("b", &[4.0, 4.0]),
                line("c", &[0.0, 2.0]),
                line("d", &[7.0]),
            ]
        };
        let tags = |ls: &[Line]| {
            ls.iter()
                .map(|l| l.series.tags["tm"].clone())
                .collect::<Vec<_>>()
        };
        let top = finish(lines(), Limit::parse("max:above:2").ok());
        assert_eq!(tags(&top), ["a", "d"]);
        assert_eq!(top[0].summary, Some(9.0));
        let low = finish(lines(), Limit::parse("min:bottom:2").ok());
        assert_eq!(tags(&low), ["c", "a"]);
        let sample = finish(lines(), Limit::parse("avg:sample:2").ok());
        assert_eq!(tags(&sample), ["a", "c"]);
        assert_eq!(sample[1].summary, Some(1.0));
        let all = finish(lines(), None);
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].summary, Some(5.0), "without a limit: the mean");
        assert_eq!(finish(vec![line("e", &[])], None)[0].summary, None);
    }
}
