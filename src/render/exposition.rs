//! The exposition model shared by the Prometheus 0.0.4 and OpenMetrics 1.0 texts: each metric
//! family becomes one or more exposition families (a meter: a count counter and four rate
//! gauges; a histogram: four gauges and a summary; a timer: both halves but the count counter),
//! each with its samples.
//!
//! Distinct metrics can map to the same exposition name once sanitized (`foo.bar` and `fooBar`
//! both become `foo_bar`). To keep the output valid, families are checked in scrape order:
//! a family with the same name and type as an earlier one is merged into it; a family whose
//! name or possible sample names (`_count`, `_sum`, `_total`, `_created`) clash with an earlier
//! family of another type is left out. Identical samples (same name and labels) are written
//! once. Every family is written in one block, so its `# TYPE` line appears exactly once.

use super::names::{
    base_name, effective_unit, escape_help, escape_label_value, label_name, prom_unit, PromUnit,
};
use super::number::write_number;
use crate::model::{
    Family, HistogramView, Kind, MeterView, SeriesView, ValueView, DEFAULT_SERVICE,
};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Which text is being written; they differ in counter naming and `_sum` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Prometheus text 0.0.4, MicroProfile 1.x names.
    Prometheus,
    /// OpenMetrics 1.0: counter samples end in `_total`.
    OpenMetrics,
}

/// The type of an exposition family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpoType {
    Counter,
    Gauge,
    Summary,
}

impl ExpoType {
    /// The word after the name in a `# TYPE` line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExpoType::Counter => "counter",
            ExpoType::Gauge => "gauge",
            ExpoType::Summary => "summary",
        }
    }
}

/// Label pairs of one series, already legal names; shared by all samples of the series.
type Labels = Rc<[(String, String)]>;

/// One sample line.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Appended to the family name: `""`, `_count`, `_sum` or `_total`.
    suffix: &'static str,
    labels: Labels,
    /// The `quantile` label, written last.
    quantile: Option<f64>,
    value: f64,
}

/// One `# TYPE` block.
#[derive(Debug, Clone)]
pub(crate) struct ExpoFamily {
    /// Family name, e.g. `application:file_sizes_bytes`.
    pub(crate) name: String,
    /// Family type.
    pub(crate) ty: ExpoType,
    /// Unescaped description for `# HELP`.
    pub(crate) help: Option<String>,
    samples: Vec<Sample>,
}

impl ExpoFamily {
    /// Appends every sample line of the family.
    pub(crate) fn write_samples(&self, out: &mut String) {
        for sample in &self.samples {
            out.push_str(&self.name);
            out.push_str(sample.suffix);
            if !sample.labels.is_empty() || sample.quantile.is_some() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    escape_label_value(value, out);
                    out.push('"');
                }
                if let Some(q) = sample.quantile {
                    if !sample.labels.is_empty() {
                        out.push(',');
                    }
                    out.push_str("quantile=\"");
                    write_number(out, q);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_number(out, sample.value);
            out.push('\n');
        }
    }

    /// Every name a parser may attribute to this family.
    fn claimed_names(&self, dialect: Dialect) -> Vec<String> {
        let suffixes: &[&str] = match (self.ty, dialect) {
            (ExpoType::Gauge, _) => &[""],
            (ExpoType::Counter, Dialect::Prometheus) => &[""],
            (ExpoType::Counter, Dialect::OpenMetrics) => &["", "_total", "_created"],
            (ExpoType::Summary, Dialect::Prometheus) => &["", "_count", "_sum"],
            (ExpoType::Summary, Dialect::OpenMetrics) => &["", "_count", "_sum", "_created"],
        };
        suffixes
            .iter()
            .map(|s| format!("{}{s}", self.name))
            .collect()
    }
}

/// Writes `families` as exposition text in `dialect`: `# TYPE`, `# HELP` (escaped as the
/// dialect says: 0.0.4 escapes `\\` and newlines, OpenMetrics also `"`), the samples, and
/// OpenMetrics' closing `# EOF`.
pub(crate) fn write_text(families: &[Family], dialect: Dialect, out: &mut String) {
    for family in expo_families(families, dialect) {
        out.push_str("# TYPE ");
        out.push_str(&family.name);
        out.push(' ');
        out.push_str(family.ty.as_str());
        out.push('\n');
        if let Some(help) = &family.help {
            out.push_str("# HELP ");
            out.push_str(&family.name);
            out.push(' ');
            match dialect {
                Dialect::Prometheus => escape_help(help, out),
                Dialect::OpenMetrics => escape_label_value(help, out),
            }
            out.push('\n');
        }
        family.write_samples(out);
    }
    if dialect == Dialect::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

/// The exposition families of `families`, in order, merged and collision-free (see the module doc).
pub(crate) fn expo_families(families: &[Family], dialect: Dialect) -> Vec<ExpoFamily> {
    let mut built = Vec::new();
    for family in families {
        build(family, dialect, &mut built);
    }
    let mut result: Vec<ExpoFamily> = Vec::with_capacity(built.len());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut claimed: HashSet<String> = HashSet::new();
    // Only families that absorbed another can hold duplicate samples.
    let mut merged: Vec<usize> = Vec::new();
    for family in built {
        if family.samples.is_empty() {
            continue;
        }
        if let Some(&i) = by_name.get(&family.name) {
            if result[i].ty == family.ty {
                result[i].samples.extend(family.samples);
                merged.push(i);
            }
            continue;
        }
        let names = family.claimed_names(dialect);
        if names.iter().any(|n| claimed.contains(n)) {
            continue;
        }
        claimed.extend(names);
        by_name.insert(family.name.clone(), result.len());
        result.push(family);
    }
    merged.sort_unstable();
    merged.dedup();
    for i in merged {
        dedup_samples(&mut result[i].samples);
    }
    result
}

fn dedup_samples(samples: &mut Vec<Sample>) {
    let mut seen = HashSet::with_capacity(samples.len());
    samples.retain(|s| seen.insert((s.suffix, s.labels.clone(), s.quantile.map(f64::to_bits))));
}

/// The labels of a series: `service` and `servicePath` first when the service is not the
/// default one, then the tags. A tag named `quantile`, or one clashing with an earlier label
/// once sanitized, is renamed `exported_<name>` (as Prometheus does on clashes).
fn series_labels(series: &SeriesView) -> Labels {
    let mut labels: Vec<(String, String)> = Vec::with_capacity(series.tags.len() + 2);
    if series.service != DEFAULT_SERVICE {
        push_label(&mut labels, "service".to_owned(), &series.service);
        push_label(&mut labels, "servicePath".to_owned(), &series.service_path);
    }
    for (key, value) in &series.tags {
        push_label(&mut labels, label_name(key), value);
    }
    labels.into()
}

fn push_label(labels: &mut Vec<(String, String)>, mut name: String, value: &str) {
    while name == "quantile" || labels.iter().any(|(n, _)| *n == name) {
        name.insert_str(0, "exported_");
    }
    labels.push((name, value.to_owned()));
}

/// A named reading of a view, rendered as one gauge family.
type Reading<T> = (&'static str, fn(&T) -> f64);

/// The meter rates, as the gauges `<base>_<name>`, in the seed's order.
const RATES: [Reading<MeterView>; 4] = [
    ("rate_per_second", |m| m.mean_rate),
    ("one_min_rate_per_second", |m| m.one_min_rate),
    ("five_min_rate_per_second", |m| m.five_min_rate),
    ("fifteen_min_rate_per_second", |m| m.fifteen_min_rate),
];

/// The histogram statistics, as the gauges `<base>_<name><unit suffix>`, in the seed's order.
const STATS: [Reading<HistogramView>; 4] = [
    ("mean", |h| h.mean),
    ("max", |h| h.max),
    ("min", |h| h.min),
    ("stddev", |h| h.stddev),
];

fn meter_of(value: &ValueView) -> Option<&MeterView> {
    match value {
        ValueView::Meter(m) | ValueView::Timer(m, _) => Some(m),
        _ => None,
    }
}

fn histogram_of(value: &ValueView) -> Option<&HistogramView> {
    match value {
        ValueView::Histogram(h) | ValueView::Timer(_, h) => Some(h),
        _ => None,
    }
}

/// Builds the exposition families of one metric family (unmerged, in output order).
fn build(family: &Family, dialect: Dialect, out: &mut Vec<ExpoFamily>) {
    let base = base_name(family.scope, &family.name);
    let help = family.meta.description.clone().filter(|d| !d.is_empty());
    let series: Vec<(Labels, &ValueView)> = family
        .series
        .iter()
        .map(|s| (series_labels(s), &s.value))
        .collect();
    let unit = prom_unit(effective_unit(family.kind, &family.meta));
    let mut add = |name: String, ty: ExpoType, help: Option<String>, samples: Vec<Sample>| {
        out.push(ExpoFamily {
            name,
            ty,
            help,
            samples,
        });
    };
    let one = |labels: &Labels, suffix: &'static str, value: f64| Sample {
        suffix,
        labels: labels.clone(),
        quantile: None,
        value,
    };
    // Counter-like families: `name` in 0.0.4; `name` without `_total`, samples `_total` in OpenMetrics.
    let counter_name = |name: String| match dialect {
        Dialect::Prometheus => (name, ""),
        Dialect::OpenMetrics => match name.strip_suffix("_total") {
            Some(stripped) => (stripped.to_owned(), "_total"),
            None => (name, "_total"),
        },
    };
    match family.kind {
        Kind::Counter => {
            let (name, suffix) = counter_name(base);
            let samples = series
                .iter()
                .filter_map(|(l, v)| match v {
                    ValueView::Counter(x) => Some(one(l, suffix, *x)),
                    _ => None,
                })
                .collect();
            add(name, ExpoType::Counter, help, samples);
        }
        Kind::Gauge => {
            let samples = series
                .iter()
                .filter_map(|(l, v)| match v {
                    ValueView::Gauge(x) => Some(one(l, "", unit.scale(*x))),
                    _ => None,
                })
                .collect();
            add(
                format!("{base}{}", unit.name_suffix()),
                ExpoType::Gauge,
                help,
                samples,
            );
        }
        Kind::Meter | Kind::Timer => {
            let meters: Vec<(&Labels, &MeterView)> = series
                .iter()
                .filter_map(|(l, v)| Some((l, meter_of(v)?)))
                .collect();
            if family.kind == Kind::Meter {
                let count_name = match dialect {
                    Dialect::Prometheus => format!("{base}_count"),
                    Dialect::OpenMetrics => base.clone(),
                };
                let (name, suffix) = counter_name(count_name);
                let samples = meters
                    .iter()
                    .map(|(l, m)| one(l, suffix, m.count))
                    .collect();
                add(name, ExpoType::Counter, help.clone(), samples);
            }
            for (suffix, rate) in RATES {
                let samples = meters.iter().map(|(l, m)| one(l, "", rate(m))).collect();
                add(format!("{base}_{suffix}"), ExpoType::Gauge, None, samples);
            }
            if family.kind == Kind::Timer {
                build_histogram(&base, &series, &unit, help, dialect, &mut add);
            }
        }
        Kind::Histogram => build_histogram(&base, &series, &unit, help, dialect, &mut add),
    }
}

/// The mean/max/min/stddev gauges and the summary of a histogram or timer, in the base unit.
fn build_histogram(
    base: &str,
    series: &[(Labels, &ValueView)],
    unit: &PromUnit,
    help: Option<String>,
    dialect: Dialect,
    add: &mut impl FnMut(String, ExpoType, Option<String>, Vec<Sample>),
) {
    let hists: Vec<(&Labels, &HistogramView)> = series
        .iter()
        .filter_map(|(l, v)| Some((l, histogram_of(v)?)))
        .collect();
    let unit_suffix = unit.name_suffix();
    for (stat, get) in STATS {
        let samples = hists
            .iter()
            .map(|(l, h)| Sample {
                suffix: "",
                labels: Rc::clone(l),
                quantile: None,
                value: unit.scale(get(h)),
            })
            .collect();
        add(
            format!("{base}_{stat}{unit_suffix}"),
            ExpoType::Gauge,
            None,
            samples,
        );
    }
    let mut samples = Vec::with_capacity(hists.len() * 8);
    for (labels, h) in &hists {
        let sample = |suffix, quantile, value| Sample {
            suffix,
            labels: Rc::clone(labels),
            quantile,
            value,
        };
        samples.push(sample("_count", None, h.count as f64));
        let sum = unit.scale(h.sum);
        // OpenMetrics: a summary's Sum is a counter, so it must not be negative or NaN.
        if dialect == Dialect::Prometheus || sum >= 0.0 {
            samples.push(sample("_sum", None, sum));
        }
        for &(q, value) in &h.quantiles {
            samples.push(sample("", Some(q), unit.scale(value)));
        }
    }
    add(
        format!("{base}{unit_suffix}"),
        ExpoType::Summary,
        help,
        samples,
    );
}
