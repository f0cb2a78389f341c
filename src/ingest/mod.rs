//! Bytes → validated events: native JSON / NDJSON and StatsD lines. Nothing here does I/O or
//! talks to actors.

mod context;
mod error;
pub mod json;
pub mod opentsdb_put;
pub mod statsd;
mod timestamp;

pub use context::IngestContext;
pub use error::{IngestError, ItemError};
pub use timestamp::{check_window, to_epoch_millis, MAX_FUTURE_MS};
