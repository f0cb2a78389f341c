//! MicroProfile Metrics JSON (seed 001): counters and gauges as plain numbers, meters as
//! `{count, meanRate, oneMinRate, fiveMinRate, fifteenMinRate}`, histograms as
//! `{count, min, max, mean, stddev, p50, ..., p999}`, timers with both sets of keys.
//!
//! Values stay in the metric's own unit (a timer in nanoseconds stays in nanoseconds, as
//! MicroProfile reports it). Names are kept as pushed; a series with tags, or in a service other
//! than `default-service`, is keyed `name;k=v;k2=v2` (MicroProfile 2 style) with `service` and
//! `servicePath` sorted in among the tags.

use super::number::{json_float, json_number};
use crate::model::{
    Family, HistogramView, MeterView, Scrape, SeriesView, ValueView, DEFAULT_SERVICE,
};
use serde_json::{Map, Value};

/// `{"base": {...}, "vendor": {...}, "application": {...}}` with only the scopes that have
/// families; the answer of `GET /metrics` for JSON.
pub fn json_tree(scrape: &Scrape) -> Value {
    let mut tree = Map::new();
    for family in &scrape.families {
        let scope = tree
            .entry(family.scope.as_str())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = scope {
            insert_family(map, family);
        }
    }
    Value::Object(tree)
}

/// `{name: value, ...}` for the given families; the answer of `GET /metrics/{scope}` and
/// `GET /metrics/{scope}/{name}` for JSON.
pub fn json_scope(families: &[Family]) -> Value {
    let mut map = Map::new();
    for family in families {
        insert_family(&mut map, family);
    }
    Value::Object(map)
}

fn insert_family(map: &mut Map<String, Value>, family: &Family) {
    for series in &family.series {
        map.insert(
            series_key(&family.name, series),
            series_value(&series.value),
        );
    }
}

/// `name`, or `name;k=v;...` when the series has tags or a non-default service.
pub fn series_key(name: &str, series: &SeriesView) -> String {
    let mut tags: Vec<(&str, &str)> = series
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if series.service != DEFAULT_SERVICE {
        tags.push(("service", &series.service));
        tags.push(("servicePath", &series.service_path));
    }
    tags.sort_unstable();
    let mut key = name.to_owned();
    for (k, v) in tags {
        key.push(';');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}

/// The JSON value of one series.
pub fn series_value(value: &ValueView) -> Value {
    match value {
        ValueView::Counter(v) | ValueView::Gauge(v) => json_number(*v),
        ValueView::Meter(m) => {
            let mut map = Map::new();
            map.insert("count".into(), json_number(m.count));
            insert_rates(&mut map, m);
            Value::Object(map)
        }
        ValueView::Histogram(h) => {
            let mut map = Map::new();
            insert_distribution(&mut map, h);
            Value::Object(map)
        }
        ValueView::Timer(m, h) => {
            let mut map = Map::new();
            insert_rates(&mut map, m);
            insert_distribution(&mut map, h);
            Value::Object(map)
        }
    }
}

fn insert_rates(map: &mut Map<String, Value>, m: &MeterView) {
    map.insert("meanRate".into(), json_float(m.mean_rate));
    map.insert("oneMinRate".into(), json_float(m.one_min_rate));
    map.insert("fiveMinRate".into(), json_float(m.five_min_rate));
    map.insert("fifteenMinRate".into(), json_float(m.fifteen_min_rate));
}

fn insert_distribution(map: &mut Map<String, Value>, h: &HistogramView) {
    map.insert("count".into(), Value::from(h.count));
    map.insert("min".into(), json_number(h.min));
    map.insert("max".into(), json_number(h.max));
    map.insert("mean".into(), json_float(h.mean));
    map.insert("stddev".into(), json_float(h.stddev));
    for &(q, v) in &h.quantiles {
        map.insert(quantile_key(q), json_float(v));
    }
}

/// MicroProfile's key for a quantile: `p` and the digits after `0.`, at least two
/// (0.5 → `p50`, 0.75 → `p75`, 0.9 → `p90`, 0.999 → `p999`); 0 → `p0`, 1 → `p100`.
pub fn quantile_key(q: f64) -> String {
    if q == 0.0 {
        return "p0".into();
    }
    if q == 1.0 {
        return "p100".into();
    }
    let text = q.to_string();
    match text.strip_prefix("0.") {
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => format!("p{digits:0<2}"),
        // Out of range or exotic: still a usable key.
        _ => format!("p{}", text.replace(['.', '-'], "_")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Metadata, Scope};
    use crate::render::fixture::fixture;
    use serde_json::json;

    #[test]
    fn golden_tree() {
        let json = serde_json::to_string_pretty(&json_tree(&fixture())).unwrap();
        insta::assert_snapshot!("mp_json_tree", json);
    }

    #[test]
    fn scope_and_single_metric() {
        let scrape = fixture();
        let app: Vec<Family> = scrape
            .families
            .iter()
            .filter(|f| f.scope == Scope::Application)
            .cloned()
            .collect();
        assert_eq!(json_scope(&app), json_tree(&scrape)["application"]);
        let visitors: Vec<Family> = app
            .iter()
            .filter(|f| f.name == "visitors")
            .cloned()
            .collect();
        assert_eq!(json_scope(&visitors), json!({"visitors": 80}));
        assert_eq!(json_scope(&[]), json!({}));
    }

    #[test]
    fn only_scopes_with_families() {
        let family = Family {
            service: None,
            scope: Scope::Application,
            name: "hitCount".into(),
            kind: Kind::Counter,
            meta: Metadata::default(),
            series: vec![SeriesView {
                service: DEFAULT_SERVICE.into(),
                service_path: "/".into(),
                tags: vec![],
                value: ValueView::Counter(45.0),
            }],
        };
        let scrape = Scrape {
            families: vec![family],
        };
        assert_eq!(
            json_tree(&scrape).to_string(),
            r#"{"application":{"hitCount":45}}"#
        );
    }

    #[test]
    fn keys_for_tags_and_services() {
        let mut series = SeriesView {
            service: DEFAULT_SERVICE.into(),
            service_path: "/".into(),
            tags: vec![("zone".into(), "b".into()), ("app".into(), "shop".into())],
            value: ValueView::Gauge(1.0),
        };
        assert_eq!(series_key("m", &series), "m;app=shop;zone=b");
        series.service = "city".into();
        series.service_path = "/parks".into();
        assert_eq!(
            series_key("m", &series),
            "m;app=shop;service=city;servicePath=/parks;zone=b"
        );
        series.tags.clear();
        assert_eq!(
            series_key("m", &series),
            "m;service=city;servicePath=/parks"
        );
    }

    #[test]
    fn quantile_keys() {
        assert_eq!(quantile_key(0.5), "p50");
        assert_eq!(quantile_key(0.75), "p75");
        assert_eq!(quantile_key(0.9), "p90");
        assert_eq!(quantile_key(0.95), "p95");
        assert_eq!(quantile_key(0.999), "p999");
        assert_eq!(quantile_key(0.0), "p0");
        assert_eq!(quantile_key(1.0), "p100");
        assert_eq!(quantile_key(1.5), "p1_5");
    }

    #[test]
    fn seed_histogram_shape() {
        let h = HistogramView {
            count: 2,
            sum: -1598.0,
            min: -1624.0,
            max: 26.0,
            mean: -799.0,
            stddev: 825.0,
            quantiles: vec![(0.5, 26.0), (0.999, 26.0)],
        };
        assert_eq!(
            series_value(&ValueView::Histogram(h)).to_string(),
            r#"{"count":2,"max":26,"mean":-799.0,"min":-1624,"p50":26.0,"p999":26.0,"stddev":825.0}"#
        );
        assert_eq!(series_value(&ValueView::Gauge(f64::NAN)), Value::Null);
    }
}
