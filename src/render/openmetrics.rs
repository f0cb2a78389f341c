//! OpenMetrics 1.0 text, with the same names as the Prometheus text except for counters.
//!
//! Naming: a counter family keeps the Prometheus name without a trailing `_total` and its
//! samples end in `_total` (counter `visitors`: family `application:visitors`, sample
//! `application:visitors_total`). A meter's count is a counter family named after the meter
//! itself, as MicroProfile Metrics 2+ does (meter `requests`: family `application:requests`,
//! sample `application:requests_total`), next to the rate gauges
//! `application:requests_rate_per_second`, ... Histograms and timers give the same gauges and
//! summary as in the Prometheus text. No `# UNIT` lines are written (OpenMetrics requires the
//! family name to end in `_<unit>` then, which counters and rate gauges do not).
//!
//! OpenMetrics says a summary's sum is a counter (never negative): a summary whose sum is
//! negative or NaN (a histogram of negative values) is written without `_sum`. Negative quantile
//! values, which OpenMetrics also frowns upon, are written as they are (Prometheus takes them).

use super::exposition::{write_text, Dialect};
use crate::model::{Family, Scrape};

/// The `Content-Type` of this format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Appends the whole scrape as OpenMetrics 1.0 text, ending with `# EOF`.
pub fn openmetrics(scrape: &Scrape, out: &mut String) {
    openmetrics_families(&scrape.families, out);
}

/// Appends the given families (e.g. one scope, or one metric) as OpenMetrics 1.0 text,
/// ending with `# EOF`.
pub fn openmetrics_families(families: &[Family], out: &mut String) {
    write_text(families, Dialect::OpenMetrics, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HistogramView, Kind, Metadata, Scope, SeriesView, ValueView};
    use crate::render::fixture::fixture;

    fn render(name: &str, kind: Kind, value: ValueView) -> String {
        let family = Family {
            service: None,
            scope: Scope::Application,
            name: name.into(),
            kind,
            meta: Metadata {
                description: Some("say \"hi\"\\\n".into()),
                ..Metadata::default()
            },
            series: vec![SeriesView {
                service: "default-service".into(),
                service_path: "/".into(),
                tags: vec![],
                value,
            }],
        };
        let mut out = String::new();
        openmetrics_families(&[family], &mut out);
        out
    }

    #[test]
    fn golden() {
        let mut out = String::new();
        openmetrics(&fixture(), &mut out);
        insta::assert_snapshot!("openmetrics", out);
    }

    #[test]
    fn ends_with_eof_even_when_empty() {
        let mut out = String::new();
        openmetrics(&Scrape::default(), &mut out);
        assert_eq!(out, "# EOF\n");
    }

    #[test]
    fn counters_end_in_total_once() {
        let out = render("jobs_total", Kind::Counter, ValueView::Counter(4.0));
        assert_eq!(
            out,
            "# TYPE application:jobs counter\n\
             # HELP application:jobs say \\\"hi\\\"\\\\\\n\n\
             application:jobs_total 4\n# EOF\n"
        );
    }

    #[test]
    fn negative_sums_are_left_out() {
        let hist = HistogramView {
            count: 2,
            sum: -1598.0,
            quantiles: vec![(0.5, 26.0)],
            ..HistogramView::default()
        };
        let out = render("delta", Kind::Histogram, ValueView::Histogram(hist));
        assert!(out.contains("application:delta_count 2\n"), "{out}");
        assert!(!out.contains("_sum"), "{out}");
        assert!(
            out.contains("application:delta{quantile=\"0.5\"} 26\n"),
            "{out}"
        );
    }
}
