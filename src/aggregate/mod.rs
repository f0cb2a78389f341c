//! Aggregation of series, as plain structs with no actix and no I/O: counters, gauges,
//! Dropwizard meters (EWMA), HdrHistogram histograms and timers. Time comes from the caller
//! as monotonic nanoseconds (see [`crate::clock`]), so every struct is tested exactly.

mod counter;
mod gauge;
mod hdr;
mod histogram;
mod meter;
mod series;
mod settings;
mod timer;

pub use counter::Counter;
pub use gauge::{Gauge, DEFAULT_EXACT_MEMBERS};
pub use histogram::{Histogram, HistogramSettings};
pub use meter::{Ewma, Meter, DEFAULT_TICK};
pub use series::SeriesState;
pub use settings::{AggregateSettings, DEFAULT_QUANTILES};
pub use timer::Timer;

pub mod downsample;
mod image;
mod series_table;
mod shard;
mod shard_history;
mod shard_state;
mod shards;

pub use image::{decode_series, encode_series, ImageError, ShardImage};

pub use shard::{
    Apply, Collect, Drain, FlushNow, Forget, KeyFilter, LastSample, MatchSeries, Measure,
    ReadHistory, Remove, Save, SeriesKeys, Shard, FLUSH_EVERY,
};
pub use shard_history::{FirstTier, HistorySetup, SeriesBuckets, SeriesMatch};
pub use shard_state::ShardState;
pub use shards::{Matched, Shards, ShardsError, Views};
