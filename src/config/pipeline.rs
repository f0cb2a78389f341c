//! The validated pipeline: how events are aggregated, limited, kept and made durable.

use super::error::ConfigError;
use super::raw::RawPipeline;
use super::rules::{Rule, Rules};
use super::sections::{
    ClusterConfig, Durability, Entities, HistogramConfig, Limits, MeterConfig, Queues, Sets,
    Streams, Tier,
};
use super::validate::validate;
use crate::aggregate::{AggregateSettings, HistogramSettings};
use std::path::Path;

/// A pipeline file, checked and with defaults filled in. [`Pipeline::default()`] is what
/// `pipelines/default.toml` says, and every key of a file is optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// `shards = 0`: aggregation shards, the actors that own the series (each series lives in
    /// one, chosen by a hash of its key). 0 means one per CPU core.
    pub shards: usize,
    /// `[meter]`: meter and timer rates.
    pub meter: MeterConfig,
    /// `[histogram]`: histogram and timer distributions.
    pub histogram: HistogramConfig,
    /// `[limits]`: series, tags, names, bodies and query sizes.
    pub limits: Limits,
    /// `[[tiers]]`: downsampled history, finest first.
    pub tiers: Vec<Tier>,
    /// `[durability]`: when an accepted batch is safe on disk.
    pub durability: Durability,
    /// `[queues]`: bounded queues between stages.
    pub queues: Queues,
    /// `[entities]`: ODSL metric entities.
    pub entities: Entities,
    /// `[streams]`: WebSocket and SSE subscriptions.
    pub streams: Streams,
    /// `[sets]`: StatsD sets.
    pub sets: Sets,
    /// `[cluster]`: partitions and replicas of a cluster's log.
    pub cluster: ClusterConfig,
    /// `[[rules]]`: per-metric settings by name glob, first match wins.
    pub rules: Rules,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            shards: 0,
            meter: MeterConfig::default(),
            histogram: HistogramConfig::default(),
            limits: Limits::default(),
            tiers: Tier::defaults(),
            durability: Durability::default(),
            queues: Queues::default(),
            entities: Entities::default(),
            streams: Streams::default(),
            sets: Sets::default(),
            cluster: ClusterConfig::default(),
            rules: Rules::default(),
        }
    }
}

impl Pipeline {
    /// The tiers of history, finest first, as the downsampler and the history store use them.
    pub fn tier_specs(&self) -> Vec<crate::aggregate::downsample::TierSpec> {
        self.tiers.iter().map(super::Tier::spec).collect()
    }

    /// Reads and checks the pipeline file at `path`.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: origin.clone(),
            source,
        })?;
        Pipeline::parse(&text, &origin)
    }

    /// Checks pipeline `text`; `origin` names it in errors (usually the file's path).
    ///
    /// A file that is not valid TOML, has an unknown key or a value of the wrong type yields
    /// that one problem; otherwise every value is checked and every problem is reported.
    pub fn parse(text: &str, origin: &str) -> Result<Pipeline, ConfigError> {
        let invalid = |problems| ConfigError::Invalid {
            origin: origin.to_owned(),
            problems,
        };
        let raw: RawPipeline = super::error::parse_toml(text).map_err(|p| invalid(vec![p]))?;
        validate(raw, text).map_err(invalid)
    }

    /// The longest retention of the tiers, in ms (0 when there are none): events older than
    /// this are refused, since no tier would keep them.
    pub fn longest_retention_ms(&self) -> i64 {
        self.tiers
            .iter()
            .map(|t| i64::try_from(t.retention.as_millis()).unwrap_or(i64::MAX))
            .max()
            .unwrap_or(0)
    }

    /// The first rule whose glob matches metric `name`.
    pub fn rule_for(&self, name: &str) -> Option<&Rule> {
        self.rules.first_match(name)
    }

    /// What the aggregation shards need: tick, histogram sizing and quantiles.
    pub fn aggregate_settings(&self) -> AggregateSettings {
        AggregateSettings {
            tick: self.meter.tick,
            histogram: HistogramSettings {
                significant_digits: self.histogram.significant_digits,
                highest_trackable: self.histogram.highest_trackable,
                auto_resize: true,
            },
            quantiles: self.histogram.quantiles.clone(),
            exact_members: self.sets.exact_members,
        }
    }

    /// The number of shards to start: `shards`, or one per CPU core when it is 0.
    pub fn shard_count(&self) -> usize {
        match self.shards {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}
