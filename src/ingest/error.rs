//! Why a batch was refused at decode or validation time.

use thiserror::Error;

/// One bad item of a batch: its 0-based index (event or line) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemError {
    /// 0-based index of the event in the batch (for StatsD, the 1-based line number).
    pub index: usize,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

/// A batch that cannot be accepted; nothing of it is applied.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The body is not valid JSON / NDJSON at all: fix the syntax.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// Some events are invalid: fix every listed one and resend the batch.
    #[error("{} invalid event(s) in the batch; nothing was applied", .0.len())]
    Invalid(Vec<ItemError>),
    /// The request itself is wrong (a bad header, an empty body): fix it.
    #[error("{0}")]
    BadRequest(String),
}
