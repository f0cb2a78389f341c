//! The collector: admission of validated batches (type checks, metadata), then routing by
//! series key to the aggregation shards. It is the one sequencing point of the pipeline, which
//! is what makes a drain (get-and-reset) an exact cut.

mod actor;
mod lenient;
mod route;

pub use actor::{Collector, CollectorError, DrainAll, Ingest};
pub use lenient::{IngestLenient, LenientOutcome};
pub use route::route;
