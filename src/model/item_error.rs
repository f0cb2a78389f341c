//! One bad item of a batch, as every refusal that lists items names it.

/// One bad item of a batch: its 0-based index (event or line) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemError {
    /// 0-based index of the event in the batch (for StatsD, the 1-based line number).
    pub index: usize,
    /// What is wrong, in words a user can act on.
    pub message: String,
}
