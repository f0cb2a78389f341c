//! The pipeline file as written: every key optional, unknown keys refused, values that need
//! checking kept with their position (`Spanned`). See [`super::Pipeline`] and its sections for
//! what each key means.

use super::DurabilityMode;
use crate::model::Kind;
use serde::Deserialize;
use toml::Spanned;

/// A duration string (`"5s"`) with its position.
pub(super) type RawDuration = Spanned<String>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    pub shards: Option<usize>,
    #[serde(default)]
    pub meter: RawMeter,
    #[serde(default)]
    pub histogram: RawHistogram,
    #[serde(default)]
    pub limits: RawLimits,
    pub tiers: Option<Spanned<Vec<RawTier>>>,
    #[serde(default)]
    pub durability: RawDurability,
    #[serde(default)]
    pub queues: RawQueues,
    #[serde(default)]
    pub entities: RawEntities,
    #[serde(default)]
    pub streams: RawStreams,
    #[serde(default)]
    pub sets: RawSets,
    #[serde(default)]
    pub cluster: RawCluster,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// `[meter]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeter {
    pub tick: Option<RawDuration>,
}

/// `[cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub partitions: Option<Spanned<u32>>,
    pub replicas: Option<Spanned<usize>>,
    pub commit_timeout: Option<RawDuration>,
}

/// `[sets]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSets {
    pub exact_members: Option<Spanned<usize>>,
}

/// `[histogram]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHistogram {
    pub significant_digits: Option<Spanned<u8>>,
    pub highest_trackable: Option<Spanned<u64>>,
    pub quantiles: Option<Spanned<Vec<Spanned<f64>>>>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub max_series: Option<Spanned<usize>>,
    pub max_series_per_service: Option<Spanned<usize>>,
    pub max_tags: Option<Spanned<usize>>,
    pub max_name_bytes: Option<Spanned<usize>>,
    pub max_tag_value_bytes: Option<Spanned<usize>>,
    pub max_body_bytes: Option<Spanned<usize>>,
    pub body_timeout: Option<RawDuration>,
    pub max_query_points: Option<Spanned<usize>>,
    pub series_ttl: Option<RawDuration>,
}

/// One `[[tiers]]` entry; both keys are required in an entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTier {
    pub resolution: RawDuration,
    pub retention: RawDuration,
}

/// `[durability]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDurability {
    pub mode: Option<DurabilityMode>,
    pub interval: Option<RawDuration>,
    pub snapshot_interval: Option<RawDuration>,
}

/// `[queues]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueues {
    pub collector: Option<Spanned<usize>>,
    pub shard: Option<Spanned<usize>>,
    pub udp: Option<Spanned<usize>>,
    pub wal: Option<Spanned<usize>>,
}

/// `[entities]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntities {
    pub retention: Option<RawDuration>,
    pub max: Option<Spanned<usize>>,
}

/// `[streams]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStreams {
    pub max_subscribers: Option<Spanned<usize>>,
    pub buffer: Option<Spanned<usize>>,
}

/// One `[[rules]]` entry; `match` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Option<Kind>,
    pub unit: Option<Spanned<String>>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub series_ttl: Option<RawDuration>,
    pub entities: Option<bool>,
    pub tier: Option<RawDuration>,
}
