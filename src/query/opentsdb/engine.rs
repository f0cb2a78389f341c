//! Evaluation of one sub-query over the buckets of its series: per series downsample, rate
//! and fill, then group-by aggregation. No interpolation: a series without a point at a
//! timestamp contributes nothing to it.

use super::request::{RateOptions, SubQuery, TsQuery};
use super::{Downsample, FillPolicy, Interval, QueryError};
use crate::aggregate::downsample::{sums, Bucket, TierSpec};
use crate::aggregate::SeriesBuckets;
use crate::model::{Kind, SeriesKey};
use std::collections::{BTreeMap, BTreeSet};

/// One line of the answer: a group of series aggregated into one.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSeries {
    /// The metric.
    pub metric: String,
    /// Tags every series of the group has, with the same value.
    pub tags: BTreeMap<String, String>,
    /// Other tag keys of the group's series (aggregated over).
    pub aggregate_tags: Vec<String>,
    /// (timestamp in s, or ms with `msResolution`; value), ascending. A NaN is a filled
    /// interval: written `NaN`, or `null` under the `null` fill policy.
    pub dps: Vec<(i64, f64)>,
    /// The fill policy, which says how NaN values are written.
    pub fill: FillPolicy,
}

/// The tier a query reads: the finest one whose retention covers `start` at a resolution no
/// coarser than `asked` (the downsample interval); else the finest that covers `start`; else
/// (a start before every retention) the one kept longest.
pub fn choose_tier(tiers: &[TierSpec], now_ms: i64, start: i64, asked: Option<i64>) -> usize {
    let covering = || {
        tiers
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.horizon(now_ms) <= start)
    };
    let finest = |it: &mut dyn Iterator<Item = (usize, &TierSpec)>| {
        it.min_by_key(|(_, t)| t.resolution_ms).map(|(i, _)| i)
    };
    finest(&mut covering().filter(|(_, t)| asked.is_none_or(|a| t.resolution_ms <= a)))
        .or_else(|| finest(&mut covering()))
        .or_else(|| {
            tiers
                .iter()
                .enumerate()
                .max_by_key(|(_, t)| t.retention_ms)
                .map(|(i, _)| i)
        })
        .unwrap_or(0)
}

/// The interval a sub-query asks for (None for no downsample or `all`).
pub fn asked_interval(sub: &SubQuery) -> Option<i64> {
    match sub.downsample.map(|d| d.interval) {
        Some(Interval::Millis(ms)) => Some(ms),
        _ => None,
    }
}

/// The group of a series: its values of the group-by tag keys.
fn group_of(keys: &[String], key: &SeriesKey) -> Vec<String> {
    keys.iter()
        .map(|k| {
            key.tags
                .iter()
                .find(|(t, _)| t == k)
                .map_or_else(String::new, |(_, v)| v.to_string())
        })
        .collect()
}

/// The most points a sub-query over these series can answer or hold: groups × intervals in
/// range — and with a fill policy, series × intervals, since every series is filled before the
/// groups are aggregated.
pub fn point_bound<'a>(
    query: &TsQuery,
    sub: &SubQuery,
    tier: &TierSpec,
    keys: impl Iterator<Item = &'a SeriesKey>,
) -> u64 {
    let group_keys = sub.group_keys();
    let mut series = 0u64;
    let groups: BTreeSet<Vec<String>> = keys
        .inspect(|_| series += 1)
        .map(|k| group_of(&group_keys, k))
        .collect();
    // Without a fill, a series has at most one point per bucket of the tier, however fine
    // the downsample; a fill gives one per interval to every series.
    let (units, per_unit) = match sub.downsample {
        Some(d) => match d.interval {
            Interval::All => (groups.len() as u64, 1),
            Interval::Millis(step) if d.fill == FillPolicy::None => (
                groups.len() as u64,
                intervals(query.start, query.end, step.max(tier.resolution_ms)),
            ),
            Interval::Millis(step) => (series, intervals(query.start, query.end, step)),
        },
        None => (
            groups.len() as u64,
            intervals(query.start, query.end, tier.resolution_ms),
        ),
    };
    units.saturating_mul(per_unit)
}

fn align(ts: i64, step: i64) -> i64 {
    ts - ts.rem_euclid(step)
}

fn intervals(start: i64, end: i64, step: i64) -> u64 {
    let step = step.max(1);
    ((align(end, step) - align(start, step)) / step + 1) as u64
}

/// Answers `sub` from the buckets of its series in tier `tier` (bucket starts within
/// `[query.start, query.end]`).
pub fn evaluate(
    query: &TsQuery,
    sub: &SubQuery,
    tier: &TierSpec,
    series: Vec<SeriesBuckets>,
) -> Result<Vec<ResultSeries>, QueryError> {
    let group_keys = sub.group_keys();
    let mut groups: BTreeMap<Vec<String>, Vec<SeriesBuckets>> = BTreeMap::new();
    for s in series.into_iter().filter(|s| !s.points.is_empty()) {
        groups
            .entry(group_of(&group_keys, &s.series.key))
            .or_default()
            .push(s);
    }
    let fill = sub.downsample.map_or(FillPolicy::None, |d| d.fill);
    let mut out = Vec::with_capacity(groups.len());
    for (_, mut members) in groups {
        members.sort_by(|a, b| a.series.key.cmp(&b.series.key));
        let (tags, aggregate_tags) = tag_split(members.iter().map(|m| &m.series.key));
        let mut at: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for m in &members {
            for (t, v) in series_points(query, sub, tier, m.series.kind, &m.points) {
                at.entry(t).or_default().push(v);
            }
        }
        let mut dps: Vec<(i64, f64)> = at
            .into_iter()
            .map(|(t, values)| (t, combine(sub, &values)))
            .collect();
        if !query.ms_resolution {
            dps = to_seconds(sub, dps);
        }
        out.push(ResultSeries {
            metric: sub.metric.clone(),
            tags,
            aggregate_tags,
            dps,
            fill,
        });
    }
    Ok(out)
}

/// The group aggregate of the values at one timestamp; NaN (a filled gap) counts only when
/// every value is NaN.
fn combine(sub: &SubQuery, values: &[f64]) -> f64 {
    let real: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if real.is_empty() {
        f64::NAN
    } else {
        sub.aggregator.apply(&real)
    }
}

/// Without `msResolution`, timestamps are seconds; points within one second merge with the
/// query's aggregator.
fn to_seconds(sub: &SubQuery, dps: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, Vec<f64>)> = Vec::with_capacity(dps.len());
    for (t, v) in dps {
        let s = t.div_euclid(1000);
        match out.last_mut() {
            Some((last, values)) if *last == s => values.push(v),
            _ => out.push((s, vec![v])),
        }
    }
    out.into_iter()
        .map(|(s, values)| {
            let v = if values.len() == 1 {
                values[0]
            } else {
                combine(sub, &values)
            };
            (s, v)
        })
        .collect()
}

/// Tags common to every key (same value), and the other keys seen.
fn tag_split<'a>(
    keys: impl Iterator<Item = &'a SeriesKey>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut common: Option<BTreeMap<String, String>> = None;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for key in keys {
        seen.extend(key.tags.iter().map(|(k, _)| k.to_string()));
        let tags: BTreeMap<String, String> = key
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        common = Some(match common {
            None => tags,
            Some(c) => c
                .into_iter()
                .filter(|(k, v)| tags.get(k) == Some(v))
                .collect(),
        });
    }
    let common = common.unwrap_or_default();
    let aggregate = seen
        .into_iter()
        .filter(|k| !common.contains_key(k))
        .collect();
    (common, aggregate)
}

/// One series' points: its buckets, downsampled, as rates, with gaps filled.
fn series_points(
    query: &TsQuery,
    sub: &SubQuery,
    tier: &TierSpec,
    kind: Kind,
    buckets: &[(i64, Bucket)],
) -> Vec<(i64, f64)> {
    let value = |b: &Bucket| b.value(kind);
    let (points, step) = match sub.downsample {
        None => (
            buckets.iter().map(|(t, b)| (*t, value(b))).collect(),
            tier.resolution_ms,
        ),
        Some(ds) => downsample(query, ds, buckets, value),
    };
    let points = match sub.rate {
        Some(_) if sums(kind) => {
            let secs = step as f64 / 1000.0;
            points.into_iter().map(|(t, v)| (t, v / secs)).collect()
        }
        Some(opts) => derivative(&points, opts),
        None => points,
    };
    match sub.downsample {
        Some(ds) if ds.fill != FillPolicy::None => fill(query, ds, points),
        _ => points,
    }
}

fn downsample(
    query: &TsQuery,
    ds: Downsample,
    buckets: &[(i64, Bucket)],
    value: impl Fn(&Bucket) -> f64 + Copy,
) -> (Vec<(i64, f64)>, i64) {
    match ds.interval {
        Interval::All => {
            let all: Vec<Bucket> = buckets.iter().map(|(_, b)| *b).collect();
            let points = if all.is_empty() {
                Vec::new()
            } else {
                vec![(query.start, ds.aggregator.downsample(&all, value))]
            };
            (points, (query.end - query.start).max(1))
        }
        Interval::Millis(step) => {
            let mut out = Vec::new();
            let mut current: Vec<Bucket> = Vec::new();
            let mut current_start = i64::MIN;
            for (t, b) in buckets {
                let s = align(*t, step);
                if s != current_start && !current.is_empty() {
                    out.push((current_start, ds.aggregator.downsample(&current, value)));
                    current.clear();
                }
                current_start = s;
                current.push(*b);
            }
            if !current.is_empty() {
                out.push((current_start, ds.aggregator.downsample(&current, value)));
            }
            (out, step)
        }
    }
}

/// OpenTSDB's rate of a sampled series: the change per second between consecutive points,
/// stamped at the later one, with its counter options.
fn derivative(points: &[(i64, f64)], o: RateOptions) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(points.len().saturating_sub(1));
    for pair in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        let secs = (t1 - t0) as f64 / 1000.0;
        if secs <= 0.0 {
            continue;
        }
        let mut delta = v1 - v0;
        if o.counter && delta < 0.0 {
            if o.drop_resets {
                continue;
            }
            delta = o.counter_max - v0 + v1;
        }
        let mut rate = delta / secs;
        if o.counter && o.reset_value > 0.0 && rate > o.reset_value {
            if o.drop_resets {
                continue;
            }
            rate = 0.0;
        }
        out.push((t1, rate));
    }
    out
}

/// Adds the fill value at every interval of the query without a point.
fn fill(query: &TsQuery, ds: Downsample, points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    let value = match ds.fill {
        FillPolicy::Zero => 0.0,
        _ => f64::NAN,
    };
    match ds.interval {
        Interval::All => {
            if points.is_empty() {
                vec![(query.start, value)]
            } else {
                points
            }
        }
        Interval::Millis(step) => {
            let have: BTreeMap<i64, f64> = points.into_iter().collect();
            let (first, last) = (align(query.start, step), align(query.end, step));
            let mut out = Vec::with_capacity(((last - first) / step + 1) as usize);
            let mut t = first;
            while t <= last {
                out.push((t, have.get(&t).copied().unwrap_or(value)));
                t += step;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
