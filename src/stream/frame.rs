//! One picture of every measurement at one moment, shared by all subscribers served from it:
//! `SYSTEM` from the host sampler, `Service:<service>` from the shards' series.

use crate::model::{Scope, SeriesKey, ValueView};
use std::collections::BTreeMap;

/// The originator prefix of pushed metrics: `Service:<service>`.
pub const SERVICE_PREFIX: &str = "Service:";

/// One measurement of an originator.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The measurement id (a SYSTEM id, or a pushed metric's name).
    pub id: String,
    /// Its value.
    pub value: f64,
}

/// Every measurement of one originator.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginatorReading {
    /// `SYSTEM` or `Service:<service>`.
    pub originator: String,
    /// Measurements in a stable order (SYSTEM's ids in the seed's order, services by id).
    pub measurements: Vec<Measurement>,
}

/// Every originator's measurements at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// When it was read, epoch ms.
    pub timestamp_ms: i64,
    /// `SYSTEM` first, then services sorted by name.
    pub originators: Vec<OriginatorReading>,
    /// Whether the shards were read: a frame without them serves only subscribers who want
    /// no `Service:` originator.
    pub has_services: bool,
}

impl Frame {
    /// Builds a frame from the host readings and, when the shards were read, their series.
    pub fn build(
        timestamp_ms: i64,
        system: &[(&'static str, f64)],
        series: Option<Vec<(SeriesKey, ValueView)>>,
    ) -> Frame {
        let mut originators = vec![OriginatorReading {
            originator: crate::telemetry::ORIGINATOR.to_owned(),
            measurements: system
                .iter()
                .map(|&(id, value)| Measurement {
                    id: id.to_owned(),
                    value,
                })
                .collect(),
        }];
        let has_services = series.is_some();
        originators.extend(services(series.unwrap_or_default()));
        Frame {
            timestamp_ms,
            originators,
            has_services,
        }
    }
}

/// A measurement's value gathered over the series of one (service, id).
#[derive(Debug, Clone, Copy)]
enum Gather {
    /// Counter totals, gauge values and meter one-minute rates add up.
    Sum(f64),
    /// Histogram and timer means, weighted by their counts.
    Mean { sum: f64, count: u64 },
}

impl Gather {
    fn of(value: &ValueView) -> Gather {
        match value {
            ValueView::Counter(v) | ValueView::Gauge(v) => Gather::Sum(*v),
            ValueView::Meter(m) => Gather::Sum(m.one_min_rate),
            ValueView::Histogram(h) | ValueView::Timer(_, h) => Gather::Mean {
                sum: h.sum,
                count: h.count,
            },
        }
    }

    fn add(self, other: Gather) -> Gather {
        match (self, other) {
            (Gather::Sum(a), Gather::Sum(b)) => Gather::Sum(a + b),
            (Gather::Mean { sum, count }, Gather::Mean { sum: s, count: c }) => Gather::Mean {
                sum: sum + s,
                count: count + c,
            },
            // A family has one kind per (scope, name) and ids carry the scope, so kinds never
            // mix; keep the first should they ever.
            (first, _) => first,
        }
    }

    fn value(self) -> f64 {
        match self {
            Gather::Sum(v) => v,
            Gather::Mean { count: 0, .. } => 0.0,
            Gather::Mean { sum, count } => sum / count as f64,
        }
    }
}

/// The measurement id of a pushed series: its name, prefixed with `base/` or `vendor/` outside
/// the application scope (a `/` never occurs in a metric name, so ids never collide).
pub fn measurement_id(scope: Scope, name: &str) -> String {
    match scope {
        Scope::Application => name.to_owned(),
        other => format!("{other}/{name}"),
    }
}

/// One `Service:<service>` originator per service. Series of the same name in one service
/// (other tags or service paths) become one measurement: counter totals, gauge values and
/// meter one-minute rates add up; histogram and timer means are weighted by count.
fn services(series: Vec<(SeriesKey, ValueView)>) -> Vec<OriginatorReading> {
    let mut by_service: BTreeMap<String, BTreeMap<String, Gather>> = BTreeMap::new();
    for (key, value) in series {
        let id = measurement_id(key.scope, &key.name);
        let gather = Gather::of(&value);
        let ids = by_service.entry(key.service.into()).or_default();
        match ids.get_mut(&id) {
            Some(g) => *g = g.add(gather),
            None => {
                ids.insert(id, gather);
            }
        }
    }
    by_service
        .into_iter()
        .map(|(service, ids)| OriginatorReading {
            originator: format!("{SERVICE_PREFIX}{service}"),
            measurements: ids
                .into_iter()
                .map(|(id, g)| Measurement {
                    id,
                    value: g.value(),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistogramView, MeterView, ServicePath};

    fn key(service: &str, path: &str, scope: Scope, name: &str, tag: &str) -> SeriesKey {
        SeriesKey {
            service: service.into(),
            service_path: ServicePath::parse(path).unwrap(),
            scope,
            name: name.into(),
            tags: vec![("t".into(), tag.into())],
        }
    }

    fn hist(sum: f64, count: u64) -> HistogramView {
        HistogramView {
            count,
            sum,
            mean: if count == 0 { 0.0 } else { sum / count as f64 },
            ..HistogramView::default()
        }
    }

    #[test]
    fn system_first_then_services_by_name() {
        let app = Scope::Application;
        let series = vec![
            (key("shop", "/", app, "b", "1"), ValueView::Counter(2.0)),
            (key("a-svc", "/", app, "g", "1"), ValueView::Gauge(-1.5)),
            (key("shop", "/", app, "a", "1"), ValueView::Gauge(7.0)),
        ];
        let frame = Frame::build(42, &[("pids", 3.0)], Some(series));
        let names: Vec<_> = frame.originators.iter().map(|o| &o.originator).collect();
        assert_eq!(names, ["SYSTEM", "Service:a-svc", "Service:shop"]);
        assert_eq!(frame.originators[0].measurements[0].id, "pids");
        let shop: Vec<_> = frame.originators[2]
            .measurements
            .iter()
            .map(|m| (m.id.as_str(), m.value))
            .collect();
        assert_eq!(shop, [("a", 7.0), ("b", 2.0)]);
        assert!(frame.has_services);
        assert_eq!(frame.timestamp_ms, 42);
    }

    #[test]
    fn values_by_kind_and_series_of_one_name_gather() {
        let app = Scope::Application;
        let meter = MeterView {
            count: 10.0,
            one_min_rate: 0.5,
            ..MeterView::default()
        };
        let series = vec![
            (key("s", "/", app, "c", "1"), ValueView::Counter(2.0)),
            (key("s", "/a", app, "c", "2"), ValueView::Counter(3.0)),
            (key("s", "/", app, "m", "1"), ValueView::Meter(meter)),
            (key("s", "/", app, "m", "2"), ValueView::Meter(meter)),
            (
                key("s", "/", app, "h", "1"),
                ValueView::Histogram(hist(10.0, 2)),
            ),
            (
                key("s", "/", app, "h", "2"),
                ValueView::Histogram(hist(20.0, 8)),
            ),
            (
                key("s", "/", app, "e", "1"),
                ValueView::Histogram(hist(0.0, 0)),
            ),
            (
                key("s", "/", app, "t", "1"),
                ValueView::Timer(meter, hist(900.0, 3)),
            ),
            (key("s", "/", Scope::Base, "c", "1"), ValueView::Gauge(9.0)),
        ];
        let frame = Frame::build(0, &[], Some(series));
        let s: Vec<_> = frame.originators[1]
            .measurements
            .iter()
            .map(|m| (m.id.as_str(), m.value))
            .collect();
        assert_eq!(
            s,
            [
                ("base/c", 9.0),
                ("c", 5.0),
                ("e", 0.0),
                ("h", 3.0),
                ("m", 1.0),
                ("t", 300.0)
            ]
        );
    }

    #[test]
    fn without_shards_only_system() {
        let frame = Frame::build(1, &[("pids", 1.0), ("memory.used", 2.0)], None);
        assert_eq!(frame.originators.len(), 1);
        assert!(!frame.has_services);
    }
}
