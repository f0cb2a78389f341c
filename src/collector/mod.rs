//! The collector: admission of validated batches (series limits, type checks, metadata), the
//! hand-off to the write-ahead log, then routing by series key to the aggregation shards. It
//! is the one sequencing point of the pipeline, which is what makes a drain (get-and-reset)
//! and a checkpoint (snapshot) exact cuts. Recovery replays the log through the same
//! admission code.

mod actor;
mod admission;
mod answer;
mod book;
mod checkpoint;
mod lenient;
mod recover;
mod route;

pub use actor::{Collector, CollectorSetup, DrainAll, RemoveSeries, Submit, EXPIRY_SWEEP};
pub use admission::{Admission, CollectorError};
pub use book::{LimitBreach, SeriesBook};
pub use checkpoint::{
    checkpoint_now, encode_registry, restore_registry, Checkpoint, Snapshots, BOOK_SECTION,
    REGISTRY_SECTION, SERIES_SECTIONS,
};
pub use lenient::{IngestLenient, LenientOutcome};
pub use recover::{recover, RecoverError, Recovered, Replay};
pub use route::{route, shard_of, split_by};
