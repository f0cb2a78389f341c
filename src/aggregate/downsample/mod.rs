//! The windowed downsampler: tiers of time buckets (count, sum, min, max, first, last) per
//! series. Memory holds each tier's open bucket only; closed buckets leave through a shard's
//! [`History`] for the history writer, which merges them into the embedded store
//! ([`crate::persist::history`]). Counters record their increments, gauges their samples, histograms
//! and timers their values, meters their marks.

mod bucket;
mod history;
mod series;
mod tier;

pub use bucket::{sums, Bucket};
pub use history::{
    ClosedBucket, Flush, FlushImage, History, NewSeries, Pending, Unnamed, MAX_IN_FLIGHT,
};
pub use series::{Downsampler, DownsamplerImage};
pub use tier::TierSpec;
