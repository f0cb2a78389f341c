//! Reading downsampled history through the shards (they own the series and merge what the
//! store holds with what has not reached it), and running OpenTSDB sub-queries over it as the
//! query's [`Plan`] says.

use super::error::unavailable;
use super::{ApiError, AppState};
use crate::aggregate::KeyFilter;
use crate::model::SeriesKey;
use crate::query::opentsdb::{evaluate, Plan, ResultSeries, SubQuery, TsQuery};
use actix_web::web;
use std::sync::Arc;

/// Answers every sub-query of `query`, in order, refusing the whole query before reading any
/// history when its plan says so (an unknown metric, too many points or buckets).
pub async fn run_query(state: &AppState, query: TsQuery) -> Result<Vec<ResultSeries>, ApiError> {
    let now = state.clock.epoch_millis();
    let tiers = state.pipeline.tier_specs();
    let limit = state.pipeline.limits.max_query_points as u64;
    let query = Arc::new(query);
    let mut plan = Plan::new(&query, &tiers, now, limit);
    let mut planned = Vec::with_capacity(query.queries.len());
    for (i, sub) in query.queries.iter().enumerate() {
        let keep = {
            let sub = sub.clone();
            Arc::new(move |k: &SeriesKey| sub.keeps(k)) as KeyFilter
        };
        let matched = state.shards.match_series(&sub.metric, keep).await?;
        let known = !matched.is_empty()
            || !state
                .shards
                .match_series(&sub.metric, Arc::new(|_: &SeriesKey| true))
                .await?
                .is_empty();
        let tier = plan.sub(i, matched.keys(), known)?;
        planned.push((i, tier, matched));
    }
    let mut results = Vec::new();
    for (i, tier, matched) in planned {
        let series = state
            .shards
            .read_history(matched, tier, (query.start, query.end))
            .await?;
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
