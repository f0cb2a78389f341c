//! The sections of a validated pipeline. Their field comments document the pipeline file; the
//! defaults here are the ones `pipelines/default.toml` spells out.

use serde::Deserialize;
use std::time::Duration;

/// `[meter]`: Dropwizard meters and the meter half of timers.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterConfig {
    /// `tick = "5s"`: how often the 1/5/15-minute EWMA rates are updated. Dropwizard and
    /// MicroProfile use 5 s; the smoothing factors follow the tick, so the rates keep their
    /// meaning with another one. Must be more than 0.
    pub tick: Duration,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            tick: Duration::from_secs(5),
        }
    }
}

/// `[histogram]`: histograms and the histogram half of timers.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramConfig {
    /// `significant_digits = 2`: decimal digits of precision of quantiles, 1 to 5. 2 keeps
    /// them within 1 %; each more digit multiplies memory per histogram by about ten.
    pub significant_digits: u8,
    /// `highest_trackable = 3600000000000`: the largest value told apart in quantiles (default:
    /// one hour in nanoseconds); larger values count as this one in quantiles, while count,
    /// sum, min, max, mean and stddev stay exact. At least 2.
    pub highest_trackable: u64,
    /// `quantiles = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999]`: the quantiles rendered for
    /// histograms and timers (`p50` … `p999` in JSON, `{quantile="0.5"}` in Prometheus text),
    /// each strictly between 0 and 1, ascending, without repeats.
    pub quantiles: Vec<f64>,
}

impl Default for HistogramConfig {
    fn default() -> Self {
        HistogramConfig {
            significant_digits: 2,
            highest_trackable: 3_600_000_000_000,
            quantiles: crate::aggregate::DEFAULT_QUANTILES.to_vec(),
        }
    }
}

/// `[limits]`: what one client can make meterd hold. Events beyond a limit are refused (429 for
/// cardinality, 413 for bodies, 400 for names and tags), never half-applied. meterd's own
/// metrics do not count.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `max_series = 1000000`: pushed series in all. At least 1.
    pub max_series: usize,
    /// `max_series_per_service = 100000`: pushed series of one Orion service (tenant). At
    /// least 1 and at most `max_series`.
    pub max_series_per_service: usize,
    /// `max_tags = 32`: tags on one event.
    pub max_tags: usize,
    /// `max_name_bytes = 255`: bytes in a metric name, 1 to 255; also the limit of a tag key.
    pub max_name_bytes: usize,
    /// `max_tag_value_bytes = 1024`: bytes in one tag value, at least 1.
    pub max_tag_value_bytes: usize,
    /// `max_body_bytes = 16777216`: bytes in one ingest request body (16 MiB). At least 1.
    pub max_body_bytes: usize,
    /// `body_timeout = "10s"`: the longest time a request body may take to arrive, from the
    /// moment meterd starts reading it. A client slower than that gets 408 and its
    /// connection is closed (a stalled upload holds a connection for no longer). More than 0.
    pub body_timeout: Duration,
    /// `max_query_points = 1000000`: data points one query may return. At least 1.
    pub max_query_points: usize,
    /// `series_ttl = "30d"` (unset by default): forget a series after this long without
    /// events. Unset keeps series until they are reset. Rules may set their own.
    pub series_ttl: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series: 1_000_000,
            max_series_per_service: 100_000,
            max_tags: 32,
            max_name_bytes: 255,
            max_tag_value_bytes: 1024,
            max_body_bytes: 16 * 1024 * 1024,
            body_timeout: Duration::from_secs(10),
            max_query_points: 1_000_000,
            series_ttl: None,
        }
    }
}

/// `[[tiers]]`: one resolution of downsampled history (count, sum, min, max, first and last
/// per time bucket), kept on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// `resolution = "10s"`: the width of a time bucket. Tiers are listed finest first, each
    /// coarser than the one before.
    pub resolution: Duration,
    /// `retention = "6h"`: how long buckets are kept; at least `resolution`.
    pub retention: Duration,
}

impl Tier {
    /// The tier in the units the downsampler and the history store use.
    pub fn spec(&self) -> crate::aggregate::downsample::TierSpec {
        crate::aggregate::downsample::TierSpec::new(self.resolution, self.retention)
    }

    /// The default tiers: 10 s for 6 h, 1 min for 7 d, 1 h for 90 d.
    pub fn defaults() -> Vec<Tier> {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        const DAY: u64 = 24 * HOUR;
        [(10, 6 * HOUR), (MINUTE, 7 * DAY), (HOUR, 90 * DAY)]
            .into_iter()
            .map(|(resolution, retention)| Tier {
                resolution: Duration::from_secs(resolution),
                retention: Duration::from_secs(retention),
            })
            .collect()
    }
}

/// How an acknowledged batch is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityMode {
    /// `"fsync"`: answer ingest only after the write-ahead log's group commit is fsynced.
    Fsync,
    /// `"interval"`: answer after the write to the log; fsync follows within `interval`.
    #[default]
    Interval,
    /// `"none"`: answer after the write to the log; the operating system flushes it when it
    /// likes. A machine crash may lose acknowledged events (a process crash does not).
    #[serde(rename = "none")]
    NoFsync,
}

/// `[durability]`: when an accepted batch is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// `mode = "interval"`: `"fsync"`, `"interval"` or `"none"`.
    pub mode: DurabilityMode,
    /// `interval = "10ms"`: the longest time between fsyncs in `"interval"` mode. More than 0.
    pub interval: Duration,
    /// `snapshot_interval = "30s"`: how often the state is snapshotted to `state.redb` (and
    /// the write-ahead log before it deleted); also at shutdown. Longer means less work while
    /// running and a longer log to replay at start. More than 0.
    pub snapshot_interval: Duration,
}

impl Default for Durability {
    fn default() -> Self {
        Durability {
            mode: DurabilityMode::Interval,
            interval: Duration::from_millis(10),
            snapshot_interval: Duration::from_secs(30),
        }
    }
}

/// `[queues]`: bounded queues between stages. When one is full, HTTP ingest answers 503 with
/// `Retry-After` and UDP datagrams are dropped and counted; memory stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queues {
    /// `collector = 1024`: batches waiting for the collector. At least 1.
    pub collector: usize,
    /// `shard = 1024`: batches waiting for each aggregation shard. At least 1.
    pub shard: usize,
    /// `udp = 4096`: StatsD datagrams read and parsed, waiting for the collector. When it stays
    /// full for 100 ms the reader drops (and counts) batches. At least 1.
    pub udp: usize,
    /// `wal = 1024`: batches waiting for the write-ahead log's thread. At least 1. Under
    /// `"interval"` and `"none"` the collector writes its own turn's batches, so this mostly
    /// holds resets, removals and checkpoint cuts there (and every batch under `"fsync"`).
    pub wal: usize,
}

impl Default for Queues {
    fn default() -> Self {
        Queues {
            collector: 1024,
            shard: 1024,
            udp: 4096,
            wal: 1024,
        }
    }
}

/// `[entities]`: metric entities listed by the ODSL API (`/api/metric/v1`): every accepted
/// event, kept as a compact record (about 33 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entities {
    /// `retention = "24h"`: how long an entity is kept after it was captured. More than 0.
    pub retention: Duration,
    /// `max = 1000000`: entities kept at most; beyond it the oldest are dropped first
    /// (counted in `meterd.entities.dropped`). At least 1.
    pub max: usize,
}

impl Default for Entities {
    fn default() -> Self {
        Entities {
            retention: Duration::from_secs(24 * 3600),
            max: 1_000_000,
        }
    }
}

/// `[streams]`: Kanto-style subscriptions over WebSocket and Server-Sent Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// `max_subscribers = 1024`: subscriptions open at once; more are refused (0 turns
    /// subscriptions off).
    pub max_subscribers: usize,
    /// `buffer = 16`: data messages queued for one subscriber; a subscriber that falls further
    /// behind loses its oldest messages (counted). At least 1.
    pub buffer: usize,
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            max_subscribers: 1024,
            buffer: 16,
        }
    }
}

/// `[sets]`: StatsD sets (`name:member|s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    /// `exact_members = 1000`: members a set counts exactly; past them it keeps a HyperLogLog
    /// sketch of 1 KiB instead (standard error about 3.3 %), so that a set's memory is bounded.
    /// At least 1.
    pub exact_members: usize,
}

impl Default for Sets {
    fn default() -> Self {
        Sets {
            exact_members: crate::aggregate::DEFAULT_EXACT_MEMBERS,
        }
    }
}

/// `[cluster]`: the partitioned log under a cluster (`meterd serve --cluster`); ignored by a
/// single node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `partitions = 16`: how the series are split over owners, by a fixed hash of the series
    /// key. Fixed for the life of the stream (a node refuses to join a stream with another
    /// count). 1 to 1024.
    pub partitions: u32,
    /// `replicas = 3`: copies JetStream keeps of the stream (1 to 5; at most the servers).
    pub replicas: usize,
    /// `commit_timeout = "10s"`: how long an owner holds a part of a batch over several
    /// partitions without its commit before it settles the batch itself (at least 1 s).
    pub commit_timeout: std::time::Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            partitions: 16,
            replicas: 3,
            commit_timeout: crate::cluster::settings::DEFAULT_COMMIT_TIMEOUT,
        }
    }
}
