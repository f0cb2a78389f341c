//! Step two of loading a pipeline: from the raw file to a [`Pipeline`], checking every value
//! and collecting every problem (with its line) rather than stopping at the first.

use super::duration::{format_duration, parse_duration};
use super::error::Problem;
use super::raw::{RawDuration, RawHistogram, RawLimits, RawPipeline, RawRule, RawTier};
use super::rules::{compile, Rule, Rules};
use super::sections::{
    ClusterConfig, Durability, Entities, HistogramConfig, Limits, MeterConfig, Queues, Sets,
    Streams, Tier,
};
use super::Pipeline;
use std::fmt::Display;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Most downsampling tiers a pipeline may have: each is its own resolution, coarser than the
/// one before; a series' open buckets name their tiers in one byte.
pub const MAX_TIERS: usize = 32;

/// Checks `raw` (parsed from `text`) and fills in defaults for whatever it leaves out.
pub(super) fn validate(raw: RawPipeline, text: &str) -> Result<Pipeline, Vec<Problem>> {
    let mut check = Checker {
        text,
        problems: Vec::new(),
    };
    let d = Pipeline::default();
    let meter = MeterConfig {
        tick: check.duration("meter.tick", raw.meter.tick.as_ref(), d.meter.tick),
    };
    let histogram = check.histogram(raw.histogram, d.histogram);
    let limits = check.limits(raw.limits, d.limits);
    let tiers = match raw.tiers {
        Some(tiers) => check.tiers(tiers),
        None => d.tiers,
    };
    let durability = Durability {
        mode: raw.durability.mode.unwrap_or(d.durability.mode),
        interval: check.duration(
            "durability.interval",
            raw.durability.interval.as_ref(),
            d.durability.interval,
        ),
        snapshot_interval: check.duration(
            "durability.snapshot_interval",
            raw.durability.snapshot_interval.as_ref(),
            d.durability.snapshot_interval,
        ),
    };
    let q = raw.queues;
    let queues = Queues {
        collector: check.within("queues.collector", q.collector, d.queues.collector, 1, None),
        shard: check.within("queues.shard", q.shard, d.queues.shard, 1, None),
        udp: check.within("queues.udp", q.udp, d.queues.udp, 1, None),
        wal: check.within("queues.wal", q.wal, d.queues.wal, 1, None),
    };
    let e = raw.entities;
    let entities = Entities {
        retention: check.duration(
            "entities.retention",
            e.retention.as_ref(),
            d.entities.retention,
        ),
        max: check.within("entities.max", e.max, d.entities.max, 1, None),
    };
    let s = raw.streams;
    let streams = Streams {
        max_subscribers: check.within(
            "streams.max_subscribers",
            s.max_subscribers,
            d.streams.max_subscribers,
            0,
            None,
        ),
        buffer: check.within("streams.buffer", s.buffer, d.streams.buffer, 1, None),
    };
    let sets = Sets {
        exact_members: check.within(
            "sets.exact_members",
            raw.sets.exact_members,
            d.sets.exact_members,
            1,
            None,
        ),
    };
    let cluster = ClusterConfig {
        partitions: check.within(
            "cluster.partitions",
            raw.cluster.partitions,
            d.cluster.partitions,
            1,
            Some(1024),
        ),
        replicas: check.within(
            "cluster.replicas",
            raw.cluster.replicas,
            d.cluster.replicas,
            1,
            Some(5),
        ),
        // The node refuses less (`cluster::Settings::check`): said here, with the line.
        commit_timeout: check.duration_at_least(
            "cluster.commit_timeout",
            raw.cluster.commit_timeout.as_ref(),
            d.cluster.commit_timeout,
            Duration::from_secs(1),
        ),
    };
    let rules = check.rules(raw.rules, &tiers);
    let pipeline = Pipeline {
        shards: raw.shards.unwrap_or(d.shards),
        meter,
        histogram,
        limits,
        tiers,
        durability,
        queues,
        entities,
        streams,
        sets,
        cluster,
        rules,
    };
    if check.problems.is_empty() {
        Ok(pipeline)
    } else {
        let mut problems = check.problems;
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

/// Collects problems while checking values; every check returns a usable value (the default
/// on error) so that checking goes on.
struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, message: String) {
        self.problems.push(Problem::at(self.text, span, message));
    }

    /// A duration of more than 0, or `default` when absent or wrong.
    fn duration(&mut self, key: &str, value: Option<&RawDuration>, default: Duration) -> Duration {
        value
            .and_then(|value| self.positive_duration(key, value))
            .unwrap_or(default)
    }

    /// A duration of at least `min`, or `default` when absent or wrong.
    fn duration_at_least(
        &mut self,
        key: &str,
        value: Option<&RawDuration>,
        default: Duration,
        min: Duration,
    ) -> Duration {
        let Some(value) = value else {
            return default;
        };
        match self.positive_duration(key, value) {
            Some(duration) if duration < min => {
                let message = format!("{key} must be at least {}", format_duration(min));
                self.report(value.span(), message);
                default
            }
            Some(duration) => duration,
            None => default,
        }
    }

    /// A duration of more than 0, or `None` after reporting why not.
    fn positive_duration(&mut self, key: &str, value: &RawDuration) -> Option<Duration> {
        match parse_duration(value.get_ref()) {
            Ok(duration) if duration.is_zero() => {
                self.report(value.span(), format!("{key} must be more than 0"));
                None
            }
            Ok(duration) => Some(duration),
            Err(err) => {
                self.report(value.span(), format!("{key}: {err}"));
                None
            }
        }
    }

    /// A number in `min..=max` (no upper bound when `max` is `None`), or `default`.
    fn within<T: PartialOrd + Copy + Display>(
        &mut self,
        key: &str,
        value: Option<Spanned<T>>,
        default: T,
        min: T,
        max: Option<T>,
    ) -> T {
        let Some(value) = value else {
            return default;
        };
        let v = *value.get_ref();
        match max {
            Some(max) if v < min || v > max => {
                self.report(
                    value.span(),
                    format!("{key} must be {min} to {max}, not {v}"),
                );
                default
            }
            None if v < min => {
                self.report(
                    value.span(),
                    format!("{key} must be at least {min}, not {v}"),
                );
                default
            }
            _ => v,
        }
    }

    fn histogram(&mut self, raw: RawHistogram, d: HistogramConfig) -> HistogramConfig {
        let significant_digits = self.within(
            "histogram.significant_digits",
            raw.significant_digits,
            d.significant_digits,
            1,
            Some(5),
        );
        let highest_trackable = self.within(
            "histogram.highest_trackable",
            raw.highest_trackable,
            d.highest_trackable,
            2,
            None,
        );
        let quantiles = match raw.quantiles {
            None => d.quantiles,
            Some(list) => {
                let mut previous: Option<f64> = None;
                for q in list.get_ref() {
                    let v = *q.get_ref();
                    if !(v > 0.0 && v < 1.0) {
                        let message = format!("histogram.quantiles: {v} is not between 0 and 1");
                        self.report(q.span(), message);
                    } else if previous.is_some_and(|p| v <= p) {
                        let message = format!(
                            "histogram.quantiles must ascend without repeats: {v} follows {}",
                            previous.unwrap_or_default()
                        );
                        self.report(q.span(), message);
                    }
                    previous = Some(v);
                }
                list.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect()
            }
        };
        HistogramConfig {
            significant_digits,
            highest_trackable,
            quantiles,
        }
    }

    fn limits(&mut self, raw: RawLimits, d: Limits) -> Limits {
        let max_series = self.within("limits.max_series", raw.max_series, d.max_series, 1, None);
        let per_service_span = raw.max_series_per_service.as_ref().map(Spanned::span);
        // Left out, the per-service limit is lowered to max_series rather than refused.
        let default_per_service = d.max_series_per_service.min(max_series);
        let mut max_series_per_service = self.within(
            "limits.max_series_per_service",
            raw.max_series_per_service,
            default_per_service,
            1,
            None,
        );
        if let Some(span) = per_service_span.filter(|_| max_series_per_service > max_series) {
            let message = format!(
                "limits.max_series_per_service {max_series_per_service} exceeds \
                 limits.max_series {max_series}"
            );
            self.report(span, message);
            max_series_per_service = default_per_service;
        }
        Limits {
            max_series,
            max_series_per_service,
            max_tags: self.within("limits.max_tags", raw.max_tags, d.max_tags, 0, None),
            max_name_bytes: self.within(
                "limits.max_name_bytes",
                raw.max_name_bytes,
                d.max_name_bytes,
                1,
                Some(255),
            ),
            max_tag_value_bytes: self.within(
                "limits.max_tag_value_bytes",
                raw.max_tag_value_bytes,
                d.max_tag_value_bytes,
                1,
                None,
            ),
            max_body_bytes: self.within(
                "limits.max_body_bytes",
                raw.max_body_bytes,
                d.max_body_bytes,
                1,
                None,
            ),
            body_timeout: raw
                .body_timeout
                .and_then(|t| self.positive_duration("limits.body_timeout", &t))
                .unwrap_or(d.body_timeout),
            max_query_points: self.within(
                "limits.max_query_points",
                raw.max_query_points,
                d.max_query_points,
                1,
                None,
            ),
            series_ttl: raw
                .series_ttl
                .and_then(|ttl| self.positive_duration("limits.series_ttl", &ttl)),
        }
    }

    fn tiers(&mut self, raw: Spanned<Vec<RawTier>>) -> Vec<Tier> {
        if raw.get_ref().is_empty() {
            self.report(raw.span(), "tiers: at least one tier is needed".to_owned());
            return Tier::defaults();
        }
        if raw.get_ref().len() > MAX_TIERS {
            let message = format!(
                "tiers: at most {MAX_TIERS} tiers, not {}",
                raw.get_ref().len()
            );
            self.report(raw.span(), message);
            return Tier::defaults();
        }
        let mut tiers: Vec<Tier> = Vec::new();
        for (i, tier) in raw.into_inner().into_iter().enumerate() {
            let resolution =
                self.positive_duration(&format!("tiers[{i}].resolution"), &tier.resolution);
            let retention =
                self.positive_duration(&format!("tiers[{i}].retention"), &tier.retention);
            let (Some(resolution), Some(retention)) = (resolution, retention) else {
                continue;
            };
            if let Some(before) = tiers.last().filter(|t| t.resolution >= resolution) {
                let message = format!(
                    "tiers[{i}].resolution {} must be coarser than the tier before it ({})",
                    format_duration(resolution),
                    format_duration(before.resolution)
                );
                self.report(tier.resolution.span(), message);
                continue;
            }
            if retention < resolution {
                let message = format!(
                    "tiers[{i}].retention {} is shorter than its resolution {}",
                    format_duration(retention),
                    format_duration(resolution)
                );
                self.report(tier.retention.span(), message);
            }
            tiers.push(Tier {
                resolution,
                retention,
            });
        }
        tiers
    }

    fn rules(&mut self, raw: Vec<RawRule>, tiers: &[Tier]) -> Rules {
        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let glob = compile(r.pattern.get_ref());
            if let Err(err) = &glob {
                let message = format!(
                    "rules[{i}].match: {:?} is not a valid glob: {err}",
                    r.pattern.get_ref()
                );
                self.report(r.pattern.span(), message);
            }
            if let Some(unit) = &r.unit {
                let valid = !unit.get_ref().is_empty()
                    && unit
                        .get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    let message = format!(
                        "rules[{i}].unit {:?} must be letters, digits and _ (it becomes part of Prometheus names)",
                        unit.get_ref()
                    );
                    self.report(unit.span(), message);
                }
            }
            let series_ttl = r
                .series_ttl
                .and_then(|ttl| self.positive_duration(&format!("rules[{i}].series_ttl"), &ttl));
            let tier = r.tier.and_then(|tier| self.tier_index(i, &tier, tiers));
            if glob.is_err() {
                continue;
            }
            rules.push(Rule {
                pattern: r.pattern.into_inner(),
                kind: r.kind,
                unit: r.unit.map(Spanned::into_inner),
                description: r.description,
                display_name: r.display_name,
                series_ttl,
                entities: r.entities.unwrap_or(true),
                tier,
            });
        }
        Rules::new(rules).unwrap_or_else(|err| {
            self.problems.push(Problem {
                line: None,
                message: format!("rules: {err}"),
            });
            Rules::default()
        })
    }

    /// The index of the tier whose resolution a rule names.
    fn tier_index(&mut self, rule: usize, tier: &RawDuration, tiers: &[Tier]) -> Option<usize> {
        let resolution = self.positive_duration(&format!("rules[{rule}].tier"), tier)?;
        let index = tiers.iter().position(|t| t.resolution == resolution);
        if index.is_none() {
            let known: Vec<String> = tiers
                .iter()
                .map(|t| format_duration(t.resolution))
                .collect();
            let message = format!(
                "rules[{rule}].tier: no tier has resolution {}; the tiers are {}",
                format_duration(resolution),
                known.join(", ")
            );
            self.report(tier.span(), message);
        }
        index
    }
}
