//! Bytes → validated events: native JSON / NDJSON, StatsD lines, OpenTSDB put and OTLP. Nothing here does I/O or
//! talks to actors, except [`udp`], the StatsD UDP receiver, which reads its socket and hands
//! batches to the collector.

mod context;
mod elements;
mod error;
pub mod json;
mod object;
pub mod opentsdb_put;
pub mod otlp;
mod raw_tags;
pub mod statsd;
mod timestamp;
pub mod udp;

#[cfg(test)]
mod json_proptests;

pub use context::IngestContext;
pub use error::{clip_echoes, IngestError, ItemErrors, MAX_DETAILS, MAX_ECHO};
pub use timestamp::{check_window, to_epoch_millis, MAX_FUTURE_MS};
