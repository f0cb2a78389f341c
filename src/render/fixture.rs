//! A rich scrape for golden tests of every format (and for HTTP tests that want one).
//!
//! It holds the seed's examples (cost in dollars, visitors, the requests meter, fileSizes in bytes,
//! responseTime in nanoseconds), a family with several tagged series, one of them in another
//! service, a dotted camelCase name with a description holding a newline, a backslash and quotes,
//! and base and vendor entries.

use crate::model::{
    Family, HistogramView, Kind, Metadata, MeterView, Scope, Scrape, SeriesView, ValueView,
    DEFAULT_SERVICE,
};

fn meta(unit: Option<&str>, description: Option<&str>, display_name: Option<&str>) -> Metadata {
    Metadata {
        unit: unit.map(Into::into),
        description: description.map(Into::into),
        display_name: display_name.map(Into::into),
    }
}

fn series(tags: &[(&str, &str)], value: ValueView) -> SeriesView {
    SeriesView {
        service: DEFAULT_SERVICE.into(),
        service_path: "/".into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        value,
    }
}

fn family(scope: Scope, name: &str, kind: Kind, meta: Metadata, series: Vec<SeriesView>) -> Family {
    Family {
        service: None,
        scope,
        name: name.into(),
        kind,
        meta,
        series,
    }
}

const QUANTILES: [f64; 6] = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999];

fn quantiles(values: [f64; 6]) -> Vec<(f64, f64)> {
    QUANTILES.into_iter().zip(values).collect()
}

/// The seed's `responseTime` timer (values in nanoseconds).
fn response_time() -> ValueView {
    let meter = MeterView {
        count: 80.0,
        mean_rate: 0.004292520715985437,
        one_min_rate: 2.794076465421066e-14,
        five_min_rate: 4.800392614619373e-4,
        fifteen_min_rate: 0.01063191047532505,
    };
    let histogram = HistogramView {
        count: 80,
        sum: 33_203_280.0,
        min: 169_916.0,
        max: 5_608_694.0,
        mean: 415_041.0,
        stddev: 652_907.9633011606,
        quantiles: quantiles([
            293_324.0,
            344_914.0,
            543_647.0,
            2_706_543.0,
            5_608_694.0,
            5_608_694.0,
        ]),
    };
    ValueView::Timer(meter, histogram)
}

/// The seed's `fileSizes` histogram (values in bytes).
fn file_sizes() -> ValueView {
    ValueView::Histogram(HistogramView {
        count: 2037,
        sum: 9_651_776.547,
        min: 180.0,
        max: 31_716.0,
        mean: 4738.231,
        stddev: 1054.7343037063602,
        quantiles: quantiles([4201.0, 6175.0, 13_560.0, 29_643.0, 31_716.0, 31_716.0]),
    })
}

/// The fixture scrape, sorted by (scope, name) and series by (service, servicePath, tags)
/// as the registry sorts them.
#[doc(hidden)]
pub fn fixture() -> Scrape {
    use Scope::{Application, Base, Vendor};
    let none = Metadata::default;
    let mut in_city = series(&[("method", "GET")], ValueView::Counter(5.0));
    in_city.service = "smartcity".into();
    in_city.service_path = "/gardens".into();
    let families = vec![
        family(
            Base,
            "memory.usedHeap",
            Kind::Gauge,
            meta(
                Some("megabytes"),
                Some("Used heap memory"),
                Some("Used Heap Memory"),
            ),
            vec![series(&[], ValueView::Gauge(50.5))],
        ),
        family(
            Base,
            "thread.count",
            Kind::Gauge,
            none(),
            vec![series(&[], ValueView::Gauge(33.0))],
        ),
        family(
            Base,
            "thread.max.count",
            Kind::Gauge,
            none(),
            vec![series(&[], ValueView::Gauge(47.0))],
        ),
        family(
            Vendor,
            "events.rejected",
            Kind::Counter,
            meta(None, Some("Events rejected at ingest, by reason"), None),
            vec![
                series(&[("reason", "invalid")], ValueView::Counter(3.0)),
                series(&[("reason", "too_large")], ValueView::Counter(1.0)),
            ],
        ),
        family(
            Application,
            "cost",
            Kind::Gauge,
            meta(
                Some("dollars"),
                Some("The running cost of the server in dollars."),
                None,
            ),
            vec![series(&[], ValueView::Gauge(80.0))],
        ),
        family(
            Application,
            "fileSizes",
            Kind::Histogram,
            meta(Some("bytes"), Some("Users file size"), None),
            vec![series(&[], file_sizes())],
        ),
        family(
            Application,
            "http.server.requestCount",
            Kind::Counter,
            meta(
                None,
                Some("Requests served, by method.\nPaths like C:\\www are \"normalised\"."),
                Some("HTTP requests"),
            ),
            vec![
                series(
                    &[("method", "GET"), ("status", "200")],
                    ValueView::Counter(1200.0),
                ),
                series(
                    &[("method", "POST"), ("status", "500")],
                    ValueView::Counter(37.0),
                ),
                in_city,
            ],
        ),
        family(
            Application,
            "requests",
            Kind::Meter,
            meta(
                None,
                Some("Tracks the number of requests to the server"),
                None,
            ),
            vec![series(
                &[],
                ValueView::Meter(MeterView {
                    count: 29382.0,
                    mean_rate: 12.223,
                    one_min_rate: 12.563,
                    five_min_rate: 12.364,
                    fifteen_min_rate: 12.126,
                }),
            )],
        ),
        family(
            Application,
            "responseTime",
            Kind::Timer,
            meta(None, Some("Server response time for /index.html"), None),
            vec![series(&[], response_time())],
        ),
        family(
            Application,
            "visitors",
            Kind::Counter,
            meta(None, Some("The number of unique visitors"), None),
            vec![series(&[], ValueView::Counter(80.0))],
        ),
    ];
    Scrape { families }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixture_is_sorted_like_the_registry() {
        let scrape = super::fixture();
        let keys: Vec<_> = scrape
            .families
            .iter()
            .map(|f| (f.scope, f.name.clone()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for family in &scrape.families {
            assert!(
                family.series.iter().all(|s| s.value.kind() == family.kind),
                "{}",
                family.name
            );
            let order: Vec<_> = family
                .series
                .iter()
                .map(|s| (&s.service, &s.service_path, &s.tags))
                .collect();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted, "{}", family.name);
        }
    }
}
