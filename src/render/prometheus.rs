//! Prometheus text exposition format 0.0.4 in the style of MicroProfile Metrics 1.x (seed 001):
//! `scope:snake_name`, unit suffixes in base units, meters as a `_count` counter plus
//! `_rate_per_second` gauges, histograms and timers as `_mean`/`_max`/`_min`/`_stddev` gauges plus
//! a summary with `_count`, `_sum` and `{quantile="..."}` samples.

use super::exposition::{write_text, Dialect};
use crate::model::{Family, Scrape};

/// The `Content-Type` of this format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends the whole scrape as Prometheus 0.0.4 text.
pub fn prometheus(scrape: &Scrape, out: &mut String) {
    prometheus_families(&scrape.families, out);
}

/// Appends the given families (e.g. one scope, or one metric) as Prometheus 0.0.4 text.
pub fn prometheus_families(families: &[Family], out: &mut String) {
    write_text(families, Dialect::Prometheus, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistogramView, Kind, Metadata, Scope, SeriesView, ValueView};
    use crate::render::fixture::fixture;

    fn render(families: &[Family]) -> String {
        let mut out = String::new();
        prometheus_families(families, &mut out);
        out
    }

    fn family(name: &str, kind: Kind, values: Vec<ValueView>) -> Family {
        let series = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| SeriesView {
                service: "default-service".into(),
                service_path: "/".into(),
                tags: if i == 0 {
                    vec![]
                } else {
                    vec![("n".into(), i.to_string().into())]
                },
                value,
            })
            .collect();
        Family {
            service: None,
            scope: Scope::Application,
            name: name.into(),
            kind,
            meta: Metadata::default(),
            series,
        }
    }

    #[test]
    fn golden() {
        let mut out = String::new();
        prometheus(&fixture(), &mut out);
        insta::assert_snapshot!("prometheus", out);
    }

    #[test]
    fn each_type_line_appears_once() {
        let mut out = String::new();
        prometheus(&fixture(), &mut out);
        let types: Vec<&str> = out.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let mut names: Vec<&str> = types.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "{out}");
    }

    #[test]
    fn sanitized_collisions_merge_or_drop() {
        let out = render(&[
            family("foo.bar", Kind::Counter, vec![ValueView::Counter(1.0)]),
            family(
                "fooBar",
                Kind::Counter,
                vec![ValueView::Counter(1.0), ValueView::Counter(2.0)],
            ),
            family("foo_bar", Kind::Gauge, vec![ValueView::Gauge(3.0)]),
        ]);
        assert_eq!(
            out,
            "# TYPE application:foo_bar counter\n\
             application:foo_bar 1\n\
             application:foo_bar{n=\"1\"} 2\n"
        );
    }

    #[test]
    fn gauge_cannot_shadow_a_summary_sample() {
        let hist = HistogramView {
            count: 1,
            sum: 2.0,
            ..HistogramView::default()
        };
        let out = render(&[
            family("lat", Kind::Histogram, vec![ValueView::Histogram(hist)]),
            family("lat.count", Kind::Gauge, vec![ValueView::Gauge(9.0)]),
        ]);
        assert!(out.contains("application:lat_count 1\n"), "{out}");
        assert!(!out.contains("application:lat_count 9"), "{out}");
    }

    #[test]
    fn quantile_tag_is_renamed() {
        let mut f = family("h", Kind::Histogram, vec![]);
        f.series.push(SeriesView {
            service: "default-service".into(),
            service_path: "/".into(),
            tags: vec![("quantile".into(), "x".into())],
            value: ValueView::Histogram(HistogramView {
                quantiles: vec![(0.5, 1.0)],
                ..HistogramView::default()
            }),
        });
        let out = render(&[f]);
        assert!(
            out.contains("application:h{exported_quantile=\"x\",quantile=\"0.5\"} 1\n"),
            "{out}"
        );
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        let mut f = family("g", Kind::Gauge, vec![ValueView::Gauge(1.0)]);
        f.meta.description = Some("a \"b\"\\c\nd".into());
        assert!(render(&[f]).contains("# HELP application:g a \"b\"\\\\c\\nd\n"));
    }
}
