//! OTLP metrics → meterd events (the README's table): sums, gauges, histograms, exponential
//! histograms and summaries, each data point on its own; a point that cannot be taken is
//! rejected alone (OTLP's partial success), the others go on.

use super::book::{Advance, CumulativeBook, Undo};
use super::buckets::{self, Buckets};
use super::labels::{self, metric_name, point_tags, resource_tags};
use crate::ingest::IngestContext;
use crate::model::{
    check_tag, check_value, valid_name, Distribution, Event, Kind, Metadata, Op, Scope, SeriesKey,
    Tags,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Metric, NumberDataPoint,
};

/// The fields every OTLP data point type has (they share no trait), its attributes taken out.
macro_rules! common_of {
    ($p:expr) => {
        Common::of(
            $p.flags,
            $p.time_unix_nano,
            $p.start_time_unix_nano,
            std::mem::take(&mut $p.attributes),
        )
    };
}

/// Reasons kept for the answer's `errorMessage` (the count of rejected points is complete).
const MAX_REASONS: usize = 5;

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point marks a series as stale; it is skipped.
const NO_RECORDED_VALUE: u32 = 1;

/// The events of one request, and the points that were not taken.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Events to submit, all or nothing.
    pub events: Vec<Event>,
    /// Data points rejected (each with its reason in `reasons`, the first few only).
    pub rejected: u64,
    /// Why points were rejected, e.g. `metric "x": value NaN is not finite`.
    pub reasons: Vec<String>,
    /// What the request wrote into the cumulative book (to take back if the batch is refused).
    pub undo: Undo,
}

impl Mapped {
    /// The answer's `errorMessage`: empty when every point was taken.
    pub fn message(&self) -> String {
        if self.rejected == 0 {
            return String::new();
        }
        let more = if self.rejected as usize > self.reasons.len() {
            "; ..."
        } else {
            ""
        };
        format!(
            "{} data point(s) rejected: {}{more}",
            self.rejected,
            self.reasons.join("; ")
        )
    }

    fn reject(&mut self, metric: &str, why: impl std::fmt::Display) {
        self.rejected += 1;
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(format!("metric {metric:?}: {why}"));
        }
    }
}

/// Maps every data point of `request` into events for the request's tenancy (`ctx`),
/// advancing `book` for cumulative sums and histograms.
pub fn map_request(
    request: ExportMetricsServiceRequest,
    ctx: &IngestContext,
    book: &mut CumulativeBook,
) -> Mapped {
    let mut out = Mapped::default();
    for rm in request.resource_metrics {
        let resource = resource_tags(rm.resource.as_ref().map_or(&[], |r| &r.attributes[..]));
        for sm in rm.scope_metrics {
            for mut metric in sm.metrics {
                // Points are consumed: their attribute strings become tags without copies.
                let data = metric.data.take();
                MetricMapper::new(&metric, &resource, ctx).map(data, book, &mut out);
            }
        }
    }
    out
}

/// What every point of one metric shares.
struct MetricMapper<'a> {
    name: String,
    /// The name as sent, for messages.
    sent: &'a str,
    resource: &'a Tags,
    /// Taken by the metric's first event.
    meta: std::cell::Cell<Option<Box<Metadata>>>,
    ctx: &'a IngestContext<'a>,
}

impl<'a> MetricMapper<'a> {
    fn new(metric: &'a Metric, resource: &'a Tags, ctx: &'a IngestContext<'a>) -> Self {
        let name = metric_name(&metric.name);
        let rule = ctx.pipeline.rule_for(&name);
        let unit = labels::unit(&metric.unit).or_else(|| rule.and_then(|r| r.unit.clone()));
        let description = Some(metric.description.trim())
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .or_else(|| rule.and_then(|r| r.description.clone()));
        let meta = Metadata {
            unit,
            description,
            display_name: rule.and_then(|r| r.display_name.clone()),
        };
        MetricMapper {
            name,
            sent: &metric.name,
            resource,
            meta: std::cell::Cell::new((!meta.is_empty()).then(|| Box::new(meta))),
            ctx,
        }
    }

    fn map(&self, data: Option<Data>, book: &mut CumulativeBook, out: &mut Mapped) {
        let points = match &data {
            None => 0,
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
        };
        let max = self.ctx.pipeline.limits.max_name_bytes;
        // Summaries add `.count` and `.sum` to the name.
        if !valid_name(&self.name, max.saturating_sub(6)) {
            for _ in 0..points {
                out.reject(
                    self.sent,
                    format!(
                        "the name must be 1 to {} bytes after mapping",
                        max.saturating_sub(6)
                    ),
                );
            }
            return;
        }
        match data {
            None => {}
            Some(Data::Gauge(g)) => {
                for p in g.data_points {
                    self.number(p, NumberAs::Gauge, book, out);
                }
            }
            Some(Data::Sum(s)) => {
                let temporality = AggregationTemporality::try_from(s.aggregation_temporality);
                let delta = match temporality {
                    Ok(AggregationTemporality::Delta) => true,
                    Ok(AggregationTemporality::Cumulative) => false,
                    _ => {
                        for _ in &s.data_points {
                            out.reject(
                                self.sent,
                                "the sum's aggregation temporality is unspecified",
                            );
                        }
                        return;
                    }
                };
                let how = match (s.is_monotonic, delta) {
                    (true, true) => NumberAs::Increment,
                    (true, false) => NumberAs::Cumulative,
                    (false, true) => NumberAs::GaugeDelta,
                    (false, false) => NumberAs::Gauge,
                };
                for p in s.data_points {
                    self.number(p, how, book, out);
                }
            }
            Some(Data::Histogram(h)) => {
                for mut p in h.data_points {
                    let common = common_of!(p);
                    self.histogram(
                        common,
                        h.aggregation_temporality,
                        buckets::explicit(&p),
                        book,
                        out,
                    );
                }
            }
            Some(Data::ExponentialHistogram(h)) => {
                for mut p in h.data_points {
                    let common = common_of!(p);
                    self.histogram(
                        common,
                        h.aggregation_temporality,
                        buckets::exponential(&p),
                        book,
                        out,
                    );
                }
            }
            Some(Data::Summary(s)) => {
                for mut p in s.data_points {
                    let common = common_of!(p);
                    self.summary(common, &p, out);
                }
            }
        }
    }

    /// The series key and timestamp of a point, or why it is rejected; `None` inside for a
    /// point flagged as having no recorded value (skipped).
    fn locate(&self, c: &mut Common, name: &str) -> Result<Option<(SeriesKey, i64)>, String> {
        if c.flags & NO_RECORDED_VALUE != 0 {
            return Ok(None);
        }
        let timestamp_ms = if c.time_unix_nano == 0 {
            self.ctx.now_ms
        } else {
            i64::try_from(c.time_unix_nano / 1_000_000).unwrap_or(i64::MAX)
        };
        self.ctx.check_timestamp(timestamp_ms)?;
        let tags = point_tags(self.resource, std::mem::take(&mut c.attributes));
        let limits = &self.ctx.pipeline.limits;
        if tags.len() > limits.max_tags {
            return Err(format!(
                "{} tags, at most {} allowed",
                tags.len(),
                limits.max_tags
            ));
        }
        for (k, v) in &tags {
            check_tag(k, v, limits.max_name_bytes, limits.max_tag_value_bytes)?;
        }
        let key = SeriesKey {
            service: self.ctx.service.into(),
            service_path: self.ctx.service_path.clone(),
            scope: Scope::Application,
            name: name.into(),
            tags,
        };
        Ok(Some((key, timestamp_ms)))
    }

    /// An event; the metric's metadata rides on its first event only (the first writer sets
    /// metadata, and a batch is applied whole).
    fn event(&self, key: SeriesKey, kind: Kind, value: f64, op: Op, timestamp_ms: i64) -> Event {
        Event {
            key,
            kind,
            value,
            op,
            timestamp_ms,
            meta: self.meta.take(),
        }
    }

    fn number(
        &self,
        p: NumberDataPoint,
        how: NumberAs,
        book: &mut CumulativeBook,
        out: &mut Mapped,
    ) {
        let mut p = p;
        let mut c = common_of!(p);
        let (key, ts) = match self.locate(&mut c, &self.name) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(why) => return out.reject(self.sent, why),
        };
        let value = match p.value {
            Some(number_data_point::Value::AsDouble(v)) => v,
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            None => return out.reject(self.sent, "the data point has no value"),
        };
        if let Err(why) = check_value(value) {
            return out.reject(self.sent, why);
        }
        let event = match how {
            NumberAs::Gauge => self.event(key, Kind::Gauge, value, Op::Observe, ts),
            NumberAs::GaugeDelta => self.event(key, Kind::Gauge, value, Op::GaugeDelta, ts),
            NumberAs::Increment if value < 0.0 => {
                return out.reject(
                    self.sent,
                    format!("a monotonic delta sum cannot be negative ({value})"),
                )
            }
            NumberAs::Increment => self.event(key, Kind::Counter, value, Op::Observe, ts),
            NumberAs::Cumulative if value < 0.0 => {
                return out.reject(
                    self.sent,
                    format!("a monotonic sum cannot be negative ({value})"),
                )
            }
            NumberAs::Cumulative => {
                let now = self.ctx.now_ms;
                let increment =
                    match book.sum(&key, p.start_time_unix_nano, value, now, &mut out.undo) {
                        Ok(Advance::Counted(d)) => d,
                        // The series is still created (reading 0 until the next point).
                        Ok(Advance::Baseline) => 0.0,
                        Err(why) => return out.reject(self.sent, why),
                    };
                self.event(key, Kind::Counter, increment, Op::Observe, ts)
            }
        };
        out.events.push(event);
    }

    fn histogram(
        &self,
        mut c: Common,
        temporality: i32,
        point: Result<Buckets, String>,
        book: &mut CumulativeBook,
        out: &mut Mapped,
    ) {
        let (key, ts) = match self.locate(&mut c, &self.name) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(why) => return out.reject(self.sent, why),
        };
        let point = match point {
            Ok(p) => p,
            Err(why) => return out.reject(self.sent, why),
        };
        let delta = match AggregationTemporality::try_from(temporality) {
            Ok(AggregationTemporality::Delta) => point,
            Ok(AggregationTemporality::Cumulative) => {
                match book.histogram(&key, c.start, point, self.ctx.now_ms, &mut out.undo) {
                    Ok(Advance::Counted(d)) => d,
                    Ok(Advance::Baseline) => return,
                    Err(why) => return out.reject(self.sent, why),
                }
            }
            _ => {
                return out.reject(
                    self.sent,
                    "the histogram's aggregation temporality is unspecified",
                )
            }
        };
        if delta.count == 0 {
            return;
        }
        let dist = Distribution {
            count: delta.count,
            sum: delta.sum,
            min: delta.min,
            max: delta.max,
            buckets: delta.buckets.iter().map(|b| (b.1, b.2)).collect(),
        };
        let magnitudes = [dist.sum, dist.min, dist.max];
        if let Some(why) = magnitudes.iter().find_map(|v| check_value(*v).err()) {
            return out.reject(self.sent, why);
        }
        if !dist.is_consistent() {
            return out.reject(
                self.sent,
                "the histogram's count, sum, min, max and buckets disagree",
            );
        }
        out.events.push(self.event(
            key,
            Kind::Histogram,
            dist.sum,
            Op::Distribution(Box::new(dist)),
            ts,
        ));
    }

    /// A summary: a gauge per quantile (tag `quantile`), and gauges `<name>.count` and
    /// `<name>.sum` with the values as sent.
    fn summary(
        &self,
        mut c: Common,
        p: &opentelemetry_proto::tonic::metrics::v1::SummaryDataPoint,
        out: &mut Mapped,
    ) {
        let (base, ts) = match self.locate(&mut c, &self.name) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(why) => return out.reject(self.sent, why),
        };
        let max_tags = self.ctx.pipeline.limits.max_tags;
        let mut values = Vec::with_capacity(p.quantile_values.len() + 2);
        for q in &p.quantile_values {
            if !(0.0..=1.0).contains(&q.quantile) {
                let why = format!("quantile {} is outside [0, 1]", q.quantile);
                return out.reject(self.sent, why);
            }
            let mut key = base.clone();
            key.tags.retain(|t| t.0 != "quantile");
            let at = key.tags.partition_point(|t| t.0.as_str() < "quantile");
            // std's float text, as every build wrote it: the tag is part of the series'
            // identity (its stable hash is stored). compact_str's own float formatting
            // (`to_compact_string`, `format_compact!`) writes some numbers differently.
            key.tags
                .insert(at, ("quantile".into(), q.quantile.to_string().into()));
            if key.tags.len() > max_tags {
                let why = format!("{} tags, at most {max_tags} allowed", key.tags.len());
                return out.reject(self.sent, why);
            }
            values.push((key, q.value));
        }
        for (suffix, value) in [("count", p.count as f64), ("sum", p.sum)] {
            let mut key = base.clone();
            key.name = compact_str::format_compact!("{}.{suffix}", self.name);
            values.push((key, value));
        }
        if let Some(why) = values.iter().find_map(|(_, v)| check_value(*v).err()) {
            return out.reject(self.sent, why);
        }
        // Quantiles first: the metric's metadata goes with its first event, under its own name.
        for (key, value) in values {
            out.events
                .push(self.event(key, Kind::Gauge, value, Op::Observe, ts));
        }
    }
}

/// How a number point applies to its series.
#[derive(Debug, Clone, Copy)]
enum NumberAs {
    /// A gauge sample (gauges, cumulative non-monotonic sums).
    Gauge,
    /// A change of a gauge (delta non-monotonic sums).
    GaugeDelta,
    /// A counter increment (delta monotonic sums).
    Increment,
    /// A counter total since the start time (cumulative monotonic sums).
    Cumulative,
}

/// The fields every kind of data point has.
struct Common {
    flags: u32,
    time_unix_nano: u64,
    start: u64,
    attributes: Vec<KeyValue>,
}

impl Common {
    fn of(flags: u32, time_unix_nano: u64, start: u64, attributes: Vec<KeyValue>) -> Self {
        Common {
            flags,
            time_unix_nano,
            start,
            attributes,
        }
    }
}
