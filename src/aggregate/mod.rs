//! Aggregation of series, as plain structs with no actix and no I/O: counters, gauges,
//! Dropwizard meters (EWMA), HdrHistogram histograms and timers. Time comes from the caller
//! as monotonic nanoseconds (see [`crate::clock`]), so every struct is tested exactly.

mod hdr;
mod histogram;
mod meter;

pub use histogram::{Histogram, HistogramSettings};
pub use meter::{Ewma, Meter, DEFAULT_TICK};
