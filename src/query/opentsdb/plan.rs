//! The plan of an OpenTSDB query, pure: for each sub-query, in order, whether its metric
//! exists, the tier it reads, and the bounds on what it answers and reads (both from the
//! pipeline's `max_query_points`). The caller finds the series each sub-query matches; the
//! plan decides, so that a whole query is refused before any history is read.

use super::engine::{asked_interval, choose_tier, point_bound};
use super::{QueryError, TsQuery};
use crate::aggregate::downsample::TierSpec;
use crate::model::SeriesKey;

/// How many buckets a query may read per point it may answer.
pub const READ_FACTOR: u64 = 10;

/// Plans the sub-queries of one query, keeping the running totals of points and buckets.
#[derive(Debug)]
pub struct Plan<'a> {
    query: &'a TsQuery,
    tiers: &'a [TierSpec],
    now_ms: i64,
    limit: u64,
    points: u64,
    buckets: u64,
}

impl<'a> Plan<'a> {
    /// A plan for `query` over `tiers` at `now_ms`, answering at most `max_points` points.
    pub fn new(query: &'a TsQuery, tiers: &'a [TierSpec], now_ms: i64, max_points: u64) -> Self {
        Plan {
            query,
            tiers,
            now_ms,
            limit: max_points,
            points: 0,
            buckets: 0,
        }
    }

    /// Plans sub-query `index` over the series it matched (`keys`); `known` says whether its
    /// metric has any series at all (only asked when none matched). Answers the tier to read,
    /// or why the query cannot be answered: an unknown metric, or more points or buckets
    /// than allowed with the sub-queries planned so far.
    pub fn sub<'k>(
        &mut self,
        index: usize,
        keys: impl Iterator<Item = &'k SeriesKey>,
        known: bool,
    ) -> Result<usize, QueryError> {
        let query = self.query;
        let sub = &query.queries[index];
        let keys: Vec<&SeriesKey> = keys.collect();
        if keys.is_empty() && !known {
            return Err(QueryError::UnknownMetric(sub.metric.clone()));
        }
        let tier = choose_tier(self.tiers, self.now_ms, query.start, asked_interval(sub));
        let spec = &self.tiers[tier];
        let points = point_bound(query, sub, spec, keys.iter().copied());
        self.points = self.points.saturating_add(points);
        // What is read is bounded too: every matched series' buckets in range, at most
        // READ_FACTOR times the answer limit (a coarse downsample over many series).
        let read = (keys.len() as u64).saturating_mul(read_bound(query, spec));
        self.buckets = self.buckets.saturating_add(read);
        if self.points > self.limit {
            return Err(QueryError::TooManyPoints {
                points: self.points,
                limit: self.limit,
            });
        }
        let max_buckets = self.limit.saturating_mul(READ_FACTOR);
        if self.buckets > max_buckets {
            return Err(QueryError::TooManyBuckets {
                buckets: self.buckets,
                limit: max_buckets,
            });
        }
        Ok(tier)
    }
}

/// The buckets of one series a query can read from `tier`.
fn read_bound(query: &TsQuery, tier: &TierSpec) -> u64 {
    let res = tier.resolution_ms.max(1);
    let first = query.start - query.start.rem_euclid(res);
    ((query.end - first) / res + 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;
    use crate::query::opentsdb::parse_m;

    const T: i64 = 1_700_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn tiers() -> Vec<TierSpec> {
        crate::config::Pipeline::default().tier_specs()
    }

    fn query(start: i64, m: &[&str]) -> TsQuery {
        TsQuery {
            start,
            end: T,
            queries: m.iter().map(|m| parse_m(m).unwrap()).collect(),
            ms_resolution: false,
        }
    }

    fn hosts(n: usize) -> Vec<SeriesKey> {
        (0..n)
            .map(|i| {
                SeriesKey::simple(
                    Scope::Application,
                    "m",
                    vec![("host".into(), format!("h{i}").into())],
                )
            })
            .collect()
    }

    #[test]
    fn an_unknown_metric_is_refused_a_known_one_without_matches_is_not() {
        let (tiers, q) = (tiers(), query(T - HOUR, &["sum:m{host=none}"]));
        let mut plan = Plan::new(&q, &tiers, T, 1000);
        assert!(matches!(
            plan.sub(0, std::iter::empty(), false),
            Err(QueryError::UnknownMetric(m)) if m == "m"
        ));
        let mut plan = Plan::new(&q, &tiers, T, 1000);
        assert_eq!(plan.sub(0, std::iter::empty(), true).unwrap(), 0);
    }

    #[test]
    fn the_tier_follows_the_start_and_the_downsample() {
        let tiers = tiers();
        let recent = query(T - HOUR, &["sum:1m-avg:m"]);
        assert_eq!(
            Plan::new(&recent, &tiers, T, 10_000)
                .sub(0, hosts(1).iter(), true)
                .unwrap(),
            0
        );
        // Older than the 10 s tier keeps (6 h): the 1 min tier.
        let old = query(T - 24 * HOUR, &["sum:1h-avg:m"]);
        assert_eq!(
            Plan::new(&old, &tiers, T, 10_000)
                .sub(0, hosts(1).iter(), true)
                .unwrap(),
            1
        );
    }

    #[test]
    fn points_add_up_over_sub_queries_until_the_limit() {
        let tiers = tiers();
        // One hour at 1 min, summed into one group: 61 points per sub-query.
        let q = query(T - HOUR, &["sum:1m-avg:m", "sum:1m-avg:m"]);
        let keys = hosts(2);
        let mut plan = Plan::new(&q, &tiers, T, 100);
        assert_eq!(plan.sub(0, keys.iter(), true).unwrap(), 0);
        assert!(matches!(
            plan.sub(1, keys.iter(), true),
            Err(QueryError::TooManyPoints {
                points: 122,
                limit: 100
            })
        ));
    }

    #[test]
    fn what_is_read_is_bounded_too() {
        let tiers = tiers();
        // One group of 200 series over one hour at 10 s: 200 × 361 buckets read for
        // 1 point answered.
        let q = query(T - HOUR, &["sum:0all-avg:m"]);
        let keys = hosts(200);
        let mut plan = Plan::new(&q, &tiers, T, 1000);
        assert!(matches!(
            plan.sub(0, keys.iter(), true),
            Err(QueryError::TooManyBuckets {
                buckets: 72_200,
                limit: 10_000
            })
        ));
        let mut plan = Plan::new(&q, &tiers, T, 10_000);
        assert_eq!(plan.sub(0, keys.iter(), true).unwrap(), 0);
    }
}
