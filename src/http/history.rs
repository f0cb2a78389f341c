//! Reading downsampled history through the shards (they own the series and merge what the
//! store holds with what has not reached it), and running OpenTSDB sub-queries over it.

use super::error::unavailable;
use super::{ApiError, AppState};
use crate::aggregate::downsample::TierSpec;
use crate::aggregate::{KeyFilter, LastSample, MatchSeries, ReadHistory, SeriesKeys, SeriesMatch};
use crate::model::SeriesKey;
use crate::query::opentsdb::{
    asked_interval, choose_tier, evaluate, point_bound, QueryError, ResultSeries, SubQuery, TsQuery,
};
use actix_web::web;
use std::sync::Arc;

/// The pipeline's tiers in ms.
pub fn tiers(state: &AppState) -> Vec<TierSpec> {
    state
        .pipeline
        .tiers
        .iter()
        .map(|t| TierSpec::new(t.resolution, t.retention))
        .collect()
}

/// The series named `name` that `filter` keeps, per shard (index into `state.shards`).
pub async fn match_series(
    state: &AppState,
    name: &str,
    filter: KeyFilter,
) -> Result<Vec<Vec<SeriesMatch>>, ApiError> {
    let pending: Vec<_> = state
        .shards
        .iter()
        .map(|s| {
            s.send(MatchSeries {
                name: name.to_owned(),
                filter: filter.clone(),
            })
        })
        .collect();
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        out.push(p.await.map_err(unavailable)??);
    }
    Ok(out)
}

/// Every series key, from every shard.
pub async fn all_keys(state: &AppState) -> Result<Vec<SeriesKey>, ApiError> {
    let pending: Vec<_> = state.shards.iter().map(|s| s.send(SeriesKeys)).collect();
    let mut out = Vec::new();
    for p in pending {
        out.extend(p.await.map_err(unavailable)??);
    }
    Ok(out)
}

/// The latest sample time among series whose name starts with `prefix`.
pub async fn last_sample(state: &AppState, prefix: &str) -> Result<Option<i64>, ApiError> {
    let pending: Vec<_> = state
        .shards
        .iter()
        .map(|s| s.send(LastSample(prefix.to_owned())))
        .collect();
    let mut latest = None;
    for p in pending {
        latest = latest.max(p.await.map_err(unavailable)?);
    }
    Ok(latest)
}

/// How many buckets a query may read per point it may answer.
const READ_FACTOR: u64 = 10;

/// The buckets of one series a query can read from `tier`.
fn read_bound(query: &TsQuery, tier: &TierSpec) -> u64 {
    let res = tier.resolution_ms.max(1);
    let first = query.start - query.start.rem_euclid(res);
    ((query.end - first) / res + 1) as u64
}

/// Answers every sub-query of `query`, in order, refusing the whole query when its answers
/// could hold more than `max_query_points` points.
pub async fn run_query(state: &AppState, query: TsQuery) -> Result<Vec<ResultSeries>, ApiError> {
    let now = state.clock.epoch_millis();
    let tiers = tiers(state);
    let limit = state.pipeline.limits.max_query_points as u64;
    let query = Arc::new(query);
    let mut planned = Vec::with_capacity(query.queries.len());
    let mut total: u64 = 0;
    let mut read: u64 = 0;
    for (i, sub) in query.queries.iter().enumerate() {
        let keep = {
            let sub = sub.clone();
            Arc::new(move |k: &SeriesKey| sub.keeps(k)) as KeyFilter
        };
        let matched = match_series(state, &sub.metric, keep).await?;
        if matched.iter().all(Vec::is_empty) {
            let any = match_series(state, &sub.metric, Arc::new(|_: &SeriesKey| true)).await?;
            if any.iter().all(Vec::is_empty) {
                return Err(QueryError::UnknownMetric(sub.metric.clone()).into());
            }
        }
        let tier = choose_tier(&tiers, now, query.start, asked_interval(sub));
        let keys = matched.iter().flatten().map(|m| &m.key);
        total = total.saturating_add(point_bound(&query, sub, &tiers[tier], keys));
        // What is read is bounded too: every matched series' buckets in range, at most
        // READ_FACTOR times the answer limit (a coarse downsample over many series).
        let series = matched.iter().map(Vec::len).sum::<usize>() as u64;
        let per_series = read_bound(&query, &tiers[tier]);
        read = read.saturating_add(series.saturating_mul(per_series));
        if total > limit {
            return Err(QueryError::TooManyPoints {
                points: total,
                limit,
            }
            .into());
        }
        if read > limit.saturating_mul(READ_FACTOR) {
            return Err(QueryError::TooManyBuckets {
                buckets: read,
                limit: limit.saturating_mul(READ_FACTOR),
            }
            .into());
        }
        planned.push((i, tier, matched));
    }
    let mut results = Vec::new();
    for (i, tier, matched) in planned {
        let pending: Vec<_> = state
            .shards
            .iter()
            .zip(matched)
            .filter(|(_, m)| !m.is_empty())
            .map(|(s, series)| {
                s.send(ReadHistory {
                    series,
                    tier,
                    from: query.start,
                    to: query.end,
                })
            })
            .collect();
        let mut series = Vec::new();
        for p in pending {
            series.extend(p.await.map_err(unavailable)??);
        }
        let (q, spec) = (query.clone(), tiers[tier]);
        let answer = web::block(move || {
            let sub: &SubQuery = &q.queries[i];
            evaluate(&q, sub, &spec, series)
        })
        .await
        .map_err(unavailable)??;
        results.extend(answer);
    }
    Ok(results)
}
