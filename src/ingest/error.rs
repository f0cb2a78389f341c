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
    /// Some lines of a text body (StatsD) are invalid; `index` is the 1-based line number.
    #[error("{} invalid line(s) in the body; nothing was applied", .0.len())]
    InvalidLines(Vec<ItemError>),
    /// The request itself is wrong (a bad header, an empty body): fix it.
    #[error("{0}")]
    BadRequest(String),
    /// The body, once inflated, is larger than `limits.max_body_bytes`: send smaller batches.
    #[error("{0}")]
    TooLarge(String),
}

/// Gathers per-item results into one all-or-nothing answer: every event, or every bad index
/// with its reason.
pub(crate) fn all_or_nothing<T>(
    items: impl IntoIterator<Item = (usize, Result<T, String>)>,
) -> Result<Vec<T>, IngestError> {
    let items = items.into_iter();
    let mut good = Vec::with_capacity(items.size_hint().0);
    let mut errors = Vec::new();
    for (index, item) in items {
        match item {
            Ok(v) => good.push(v),
            Err(message) => errors.push(ItemError { index, message }),
        }
    }
    if errors.is_empty() {
        Ok(good)
    } else {
        Err(IngestError::Invalid(errors))
    }
}
