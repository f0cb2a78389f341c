//! Bytes → validated events: native JSON / NDJSON (and, beside it, StatsD and OpenTSDB put).

mod context;
mod error;
pub mod json;
mod timestamp;

pub use context::IngestContext;
pub use error::{IngestError, ItemError};
pub use timestamp::to_epoch_millis;
