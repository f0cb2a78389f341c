//! Downsampled history: the embedded store (redb) that holds it, and the history
//! writer actor that merges closed buckets into it in batches. Handlers never call this
//! module; the shards read it for queries and hand it their closed buckets.

pub mod codec;
mod store;
mod writer;

pub use store::{HistoryStore, StoreStats, StoredPoints, StoredSeries, CACHE_BYTES};
pub use writer::{Barrier, HistoryWriter, Persist, SWEEP_EVERY};

use thiserror::Error;

/// A failure of the store; the batch or read it concerns did not happen.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The data directory cannot be used: check its path and permissions.
    #[error("data directory: {0}")]
    Io(String),
    /// The store failed (disk full, corrupt file): see the message; restoring the data
    /// directory from a backup or removing `history.redb` starts history afresh.
    #[error("history store: {0}")]
    Store(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for HistoryError {
            fn from(e: $t) -> Self {
                HistoryError::Store(e.to_string())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
