use super::*;
use crate::aggregate::SeriesMatch;
use crate::model::Scope;
use std::time::Duration;

const T: i64 = 1_700_000_000_000; // a multiple of 10 s (the tier), not of 1 min

fn tier() -> TierSpec {
    TierSpec::new(Duration::from_secs(10), Duration::from_secs(6 * 3600))
}

fn series(kind: Kind, host: &str, points: &[(i64, f64)]) -> SeriesBuckets {
    SeriesBuckets {
        series: SeriesMatch {
            id: 0,
            key: SeriesKey::simple(
                Scope::Application,
                "m",
                vec![("dc".into(), "x".into()), ("host".into(), host.into())],
            ),
            kind,
        },
        points: points
            .iter()
            .map(|(t, v)| (T + t, Bucket::of(*v, T + t)))
            .collect(),
    }
}

fn run(m: &str, ms: bool, data: Vec<SeriesBuckets>) -> Vec<ResultSeries> {
    let query = TsQuery {
        start: T,
        end: T + 59_999,
        queries: vec![super::super::parse_m(m).unwrap()],
        ms_resolution: ms,
    };
    evaluate(&query, &query.queries[0], &tier(), data).unwrap()
}

#[test]
fn group_by_splits_and_aggregates_without_interpolation() {
    let data = vec![
        series(Kind::Gauge, "a", &[(0, 1.0), (10_000, 2.0)]),
        series(Kind::Gauge, "b", &[(0, 10.0), (20_000, 30.0)]),
    ];
    let all = run("sum:m", false, data.clone());
    assert_eq!(all.len(), 1);
    let s = T / 1000;
    assert_eq!(all[0].dps, vec![(s, 11.0), (s + 10, 2.0), (s + 20, 30.0)]);
    assert_eq!(all[0].tags.get("dc").map(String::as_str), Some("x"));
    assert_eq!(all[0].aggregate_tags, vec!["host".to_owned()]);
    let split = run("sum:m{host=*}", true, data);
    assert_eq!(split.len(), 2);
    assert_eq!(split[1].dps, vec![(T, 10.0), (T + 20_000, 30.0)]);
    assert!(split[1].aggregate_tags.is_empty());
}

#[test]
fn rates_of_counters_and_gauges() {
    let c = series(Kind::Counter, "a", &[(0, 50.0), (10_000, 20.0)]);
    assert_eq!(
        run("sum:rate:m", true, vec![c]).remove(0).dps,
        vec![(T, 5.0), (T + 10_000, 2.0)]
    );
    let g = series(
        Kind::Gauge,
        "a",
        &[(0, 100.0), (10_000, 150.0), (20_000, 50.0)],
    );
    assert_eq!(
        run("sum:rate:m", true, vec![g.clone()]).remove(0).dps,
        vec![(T + 10_000, 5.0), (T + 20_000, -10.0)]
    );
    // As a counter rolling over at 200: 50 + (200 - 150) = 100 in 10 s.
    assert_eq!(
        run("sum:rate{counter,200}:m", true, vec![g.clone()])
            .remove(0)
            .dps,
        vec![(T + 10_000, 5.0), (T + 20_000, 10.0)]
    );
    // A rate above the reset value is a reset: 0, or dropped.
    assert_eq!(
        run("sum:rate{counter,200,6}:m", true, vec![g.clone()])
            .remove(0)
            .dps,
        vec![(T + 10_000, 5.0), (T + 20_000, 0.0)]
    );
    assert_eq!(
        run("sum:rate{counter,,,true}:m", true, vec![g])
            .remove(0)
            .dps,
        vec![(T + 10_000, 5.0)]
    );
}

#[test]
fn fills_cover_the_gaps() {
    let g = series(Kind::Gauge, "a", &[(0, 1.0), (30_000, 4.0)]);
    let dps = |m| run(m, true, vec![g.clone()]).remove(0).dps;
    assert_eq!(dps("sum:10s-sum:m").len(), 2);
    let zero = dps("sum:10s-sum-zero:m");
    assert_eq!(zero.len(), 6);
    assert_eq!(zero[1], (T + 10_000, 0.0));
    let nan = dps("sum:10s-sum-nan:m");
    assert!(nan[2].1.is_nan());
    assert_eq!(
        run("sum:10s-sum-null:m", true, vec![g.clone()])[0].fill,
        FillPolicy::Null
    );
    assert_eq!(dps("sum:0all-count:m"), vec![(T, 2.0)]);
    assert_eq!(dps("sum:1m-avg:m"), vec![(T - T % 60_000, 2.5)]);
}

#[test]
fn nan_fills_do_not_poison_other_series() {
    let a = series(Kind::Gauge, "a", &[(0, 1.0), (10_000, 2.0)]);
    let b = series(Kind::Gauge, "b", &[(0, 5.0)]);
    let r = run("sum:10s-sum-nan:m", true, vec![a, b]).remove(0).dps;
    assert_eq!(r[0], (T, 6.0));
    assert_eq!(r[1], (T + 10_000, 2.0));
    assert!(r[2].1.is_nan());
}

#[test]
fn tier_choice() {
    let tiers: Vec<TierSpec> = crate::config::Tier::defaults()
        .iter()
        .map(crate::config::Tier::spec)
        .collect();
    let h = 3_600_000;
    assert_eq!(choose_tier(&tiers, T, T - h, None), 0);
    assert_eq!(choose_tier(&tiers, T, T - h, Some(60_000)), 0);
    assert_eq!(
        choose_tier(&tiers, T, T - h, Some(5_000)),
        0,
        "nothing finer: the finest"
    );
    assert_eq!(choose_tier(&tiers, T, T - 24 * h, Some(10_000)), 1);
    assert_eq!(choose_tier(&tiers, T, T - 24 * h, Some(3_600_000)), 1);
    assert_eq!(choose_tier(&tiers, T, T - 30 * 24 * h, None), 2);
    assert_eq!(
        choose_tier(&tiers, T, T - 365 * 24 * h, None),
        2,
        "past all: the longest"
    );
}

#[test]
fn point_bounds() {
    let query = TsQuery {
        start: T,
        end: T + 3_599_999,
        queries: vec![super::super::parse_m("sum:m{host=*}").unwrap()],
        ms_resolution: false,
    };
    let keys = [
        series(Kind::Gauge, "a", &[]).series.key,
        series(Kind::Gauge, "b", &[]).series.key,
    ];
    assert_eq!(
        point_bound(&query, &query.queries[0], &tier(), keys.iter()),
        2 * 360
    );
}

#[test]
fn a_fill_bounds_points_by_series_not_groups() {
    let keys: Vec<SeriesKey> = (0..100)
        .map(|i| {
            SeriesKey::simple(
                Scope::Application,
                "m",
                vec![("host".into(), format!("h{i}").into())],
            )
        })
        .collect();
    let bound = |m: &str| {
        let query = TsQuery {
            start: T,
            end: T + 59_999,
            queries: vec![super::super::parse_m(m).unwrap()],
            ms_resolution: false,
        };
        point_bound(&query, &query.queries[0], &tier(), keys.iter())
    };
    // One group (no group-by): 6 points of 10 s without a fill, clamped to the tier.
    assert_eq!(bound("sum:1s-sum:m"), 6);
    // With a fill every series holds all 60 one-second intervals before aggregation.
    assert_eq!(bound("sum:1s-sum-zero:m"), 100 * 60);
    // Grouped by host without a fill: 100 groups × 6.
    assert_eq!(bound("sum:1s-sum:m{host=*}"), 600);
}
