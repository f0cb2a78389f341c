//! FIWARE Orion's `/admin/metrics` tree (seed 003): services → subservices → metrics, with a
//! `sum` at every level.
//!
//! ```text
//! {"services": {svc: {"subservs": {sub: {metric: value}}, "sum": {metric: value}}},
//!  "sum": {"subservs": {sub: {... across all services}}, "sum": {... grand total}}}
//! ```
//!
//! A metric's value by type: counter → its total; meter → its count; gauge → its last value
//! (sums add the last values); histogram and timer → the mean, and every `sum` level is the
//! ratio of sums (total of values / total count), never an average of averages. Series that
//! differ only in tags or scope are combined under the metric's name by the same rules (should
//! one name be additive in one scope and a mean in another, the lowest scope — base, vendor,
//! application — decides and the other series are left out). Types are per service, so this is
//! decided in each service for its own part of the tree; the top-level `sum` across services
//! decides the same way over every service (then additive before mean), so one tenant's types
//! never change another tenant's part. As Orion does, zero values are
//! left out, and so are subservices and services left with nothing to show. Subservice keys
//! drop the leading `/` of the path; `/` is `root-subserv`. Keys are sorted.

use super::number::json_number;
use crate::model::{Scope, SeriesKey, ValueView};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// How one metric adds up along the tree.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Acc {
    /// Counter total, meter count, gauge last value: the values add.
    Additive(f64),
    /// Histogram or timer: the mean is `sum / count` at every level.
    Mean { sum: f64, count: f64 },
}

impl Acc {
    fn of(value: &ValueView) -> Acc {
        match value {
            ValueView::Counter(v) | ValueView::Gauge(v) => Acc::Additive(*v),
            ValueView::Meter(m) => Acc::Additive(m.count),
            ValueView::Histogram(h) | ValueView::Timer(_, h) => Acc::Mean {
                sum: h.sum,
                count: h.count as f64,
            },
        }
    }

    fn is_mean(self) -> bool {
        matches!(self, Acc::Mean { .. })
    }

    fn add(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Additive(a), Acc::Additive(b)) => *a += b,
            (Acc::Mean { sum, count }, Acc::Mean { sum: s, count: c }) => {
                *sum += s;
                *count += c;
            }
            // Callers add only accumulators of one class per name.
            _ => {}
        }
    }

    fn value(self) -> f64 {
        match self {
            Acc::Additive(v) => v,
            Acc::Mean { count: 0.0, .. } => 0.0,
            Acc::Mean { sum, count } => sum / count,
        }
    }
}

/// Metric name → accumulator.
type Metrics = BTreeMap<String, Acc>;

fn merge(into: &mut Metrics, from: &Metrics) {
    for (name, acc) in from {
        match into.get_mut(name) {
            Some(a) => a.add(*acc),
            None => {
                into.insert(name.clone(), *acc);
            }
        }
    }
}

/// `{metric: value}` without the zero values.
fn metrics_json(metrics: &Metrics) -> Map<String, Value> {
    metrics
        .iter()
        .filter_map(|(name, acc)| {
            let v = acc.value();
            (v != 0.0).then(|| (name.clone(), json_number(v)))
        })
        .collect()
}

/// `{"subservs": {...}, "sum": {...}}` over `subservs`, without empty subservices.
fn level_json(subservs: &BTreeMap<String, Metrics>) -> Map<String, Value> {
    let mut sum = Metrics::new();
    let mut shown = Map::new();
    for (key, metrics) in subservs {
        merge(&mut sum, metrics);
        let m = metrics_json(metrics);
        if !m.is_empty() {
            shown.insert(key.clone(), Value::Object(m));
        }
    }
    let mut out = Map::new();
    out.insert("subservs".to_owned(), Value::Object(shown));
    out.insert("sum".to_owned(), Value::Object(metrics_json(&sum)));
    out
}

/// Orion's tree over series views (pushed series and meterd's own traffic alike).
pub fn orion_tree(views: &[(SeriesKey, ValueView)]) -> Value {
    // Which class (additive or mean) each name has in each service, and across services:
    // that of its lowest scope.
    let mut class: HashMap<(&str, &str), (Scope, bool)> = HashMap::new();
    let mut across_class: HashMap<&str, (Scope, bool)> = HashMap::new();
    for (key, value) in views {
        let mine = (key.scope, Acc::of(value).is_mean());
        class
            .entry((key.service.as_str(), key.name.as_str()))
            .and_modify(|c| *c = (*c).min(mine))
            .or_insert(mine);
        across_class
            .entry(key.name.as_str())
            .and_modify(|c| *c = (*c).min(mine))
            .or_insert(mine);
    }
    let mut services: BTreeMap<&str, BTreeMap<String, Metrics>> = BTreeMap::new();
    for (key, value) in views {
        let acc = Acc::of(value);
        if class[&(key.service.as_str(), key.name.as_str())].1 != acc.is_mean() {
            continue;
        }
        let metrics = services
            .entry(key.service.as_str())
            .or_default()
            .entry(key.service_path.subserv_key().to_owned())
            .or_default();
        match metrics.get_mut(key.name.as_str()) {
            Some(a) => a.add(acc),
            None => {
                metrics.insert(key.name.to_string(), acc);
            }
        }
    }
    let mut across: BTreeMap<String, Metrics> = BTreeMap::new();
    let mut shown = Map::new();
    for (service, subservs) in &services {
        for (key, metrics) in subservs {
            let into = across.entry(key.clone()).or_default();
            for (name, acc) in metrics {
                if across_class[name.as_str()].1 != acc.is_mean() {
                    continue;
                }
                match into.get_mut(name) {
                    Some(a) => a.add(*acc),
                    None => {
                        into.insert(name.clone(), *acc);
                    }
                }
            }
        }
        let level = level_json(subservs);
        let empty = level["subservs"].as_object().is_some_and(Map::is_empty);
        if !empty {
            shown.insert((*service).to_owned(), Value::Object(level));
        }
    }
    let mut out = Map::new();
    out.insert("services".to_owned(), Value::Object(shown));
    out.insert("sum".to_owned(), Value::Object(level_json(&across)));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistogramView, MeterView, ServicePath};
    use serde_json::json;

    fn key(service: &str, path: &str, scope: Scope, name: &str) -> SeriesKey {
        SeriesKey {
            service: service.into(),
            service_path: ServicePath::parse(path).unwrap(),
            scope,
            name: name.into(),
            tags: Vec::new(),
        }
    }

    fn app(service: &str, path: &str, name: &str, value: ValueView) -> (SeriesKey, ValueView) {
        (key(service, path, Scope::Application, name), value)
    }

    fn hist(sum: f64, count: u64) -> ValueView {
        ValueView::Histogram(HistogramView {
            count,
            sum,
            mean: if count == 0 { 0.0 } else { sum / count as f64 },
            ..HistogramView::default()
        })
    }

    fn meter(count: f64) -> ValueView {
        ValueView::Meter(MeterView {
            count,
            ..MeterView::default()
        })
    }

    #[test]
    fn empty_tree() {
        assert_eq!(
            orion_tree(&[]),
            json!({"services": {}, "sum": {"subservs": {}, "sum": {}}})
        );
    }

    #[test]
    fn means_are_ratios_of_sums_at_every_level() {
        // city/a: 1,2,3 (mean 2); city/b: 10 (mean 10); farm/a: 4,4 (mean 4).
        let views = vec![
            app("city", "/a", "serviceTime", hist(6.0, 3)),
            app("city", "/b", "serviceTime", hist(10.0, 1)),
            app("farm", "/a", "serviceTime", hist(8.0, 2)),
        ];
        let tree = orion_tree(&views);
        assert_eq!(tree["services"]["city"]["subservs"]["a"]["serviceTime"], 2);
        assert_eq!(tree["services"]["city"]["subservs"]["b"]["serviceTime"], 10);
        // 16 / 4, not (2 + 10) / 2.
        assert_eq!(tree["services"]["city"]["sum"]["serviceTime"], 4);
        // Across services, subservice a: 14 / 5; grand total 24 / 6.
        assert_eq!(tree["sum"]["subservs"]["a"]["serviceTime"], 2.8);
        assert_eq!(tree["sum"]["sum"]["serviceTime"], 4);
    }

    #[test]
    fn values_by_type_combined_across_tags_and_scopes() {
        let mut tagged = key("city", "/", Scope::Application, "hits");
        tagged.tags = vec![("route".into(), "a".into())];
        let views = vec![
            app("city", "/", "hits", ValueView::Counter(2.0)),
            (tagged, ValueView::Counter(3.0)),
            (
                key("city", "/", Scope::Vendor, "hits"),
                ValueView::Counter(1.0),
            ),
            app("city", "/", "temp", ValueView::Gauge(20.5)),
            app("city", "/x", "temp", ValueView::Gauge(-0.5)),
            app("city", "/", "marks", meter(7.0)),
            app(
                "city",
                "/",
                "latency",
                ValueView::Timer(
                    MeterView::default(),
                    HistogramView {
                        count: 2,
                        sum: 3.0,
                        ..HistogramView::default()
                    },
                ),
            ),
        ];
        let tree = orion_tree(&views);
        assert_eq!(
            tree["services"]["city"],
            json!({
                "subservs": {
                    "root-subserv": {"hits": 6, "latency": 1.5, "marks": 7, "temp": 20.5},
                    "x": {"temp": -0.5}
                },
                "sum": {"hits": 6, "latency": 1.5, "marks": 7, "temp": 20}
            })
        );
    }

    #[test]
    fn zeros_and_empty_services_are_left_out() {
        let views = vec![
            app("city", "/a", "hits", ValueView::Counter(0.0)),
            app("city", "/a", "lat", hist(0.0, 0)),
            app("farm", "/b", "hits", ValueView::Counter(0.0)),
            app("farm", "/c", "hits", ValueView::Counter(4.0)),
        ];
        let tree = orion_tree(&views);
        assert_eq!(
            tree,
            json!({
                "services": {"farm": {"subservs": {"c": {"hits": 4}}, "sum": {"hits": 4}}},
                "sum": {"subservs": {"c": {"hits": 4}}, "sum": {"hits": 4}}
            })
        );
    }

    #[test]
    fn a_name_with_two_classes_follows_its_lowest_scope() {
        let views = vec![
            app("city", "/", "n", hist(9.0, 3)),
            (
                key("city", "/", Scope::Vendor, "n"),
                ValueView::Counter(5.0),
            ),
        ];
        assert_eq!(orion_tree(&views)["sum"]["sum"], json!({"n": 5}));
    }

    #[test]
    fn each_service_decides_its_own_classes() {
        // `orders` is a histogram in city and a counter in farm: each service shows its own.
        let views = vec![
            app("city", "/", "orders", hist(9.0, 3)),
            app("farm", "/", "orders", ValueView::Counter(5.0)),
        ];
        let tree = orion_tree(&views);
        assert_eq!(tree["services"]["city"]["sum"], json!({"orders": 3}));
        assert_eq!(tree["services"]["farm"]["sum"], json!({"orders": 5}));
        assert_eq!(tree["sum"]["sum"], json!({"orders": 5}), "additive first");
    }
}
