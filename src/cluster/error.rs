//! What can go wrong talking to the cluster, and what the caller should do about it.

/// An error of the cluster layer. [`ClusterError::Unavailable`] and [`ClusterError::Busy`] are
/// worth retrying (HTTP 503 with `Retry-After`); the others are not.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No server reachable, a request timed out, or a stream has no quorum: retry later.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// JetStream refuses more work for now (too many publishes in flight): retry later.
    #[error("cluster busy: {0}")]
    Busy(String),
    /// A write of a partition's former owner refused: the placement moved on.
    #[error("partition {partition} fenced: epoch {epoch} is stale (current {current})")]
    Fenced {
        /// The partition written.
        partition: u32,
        /// The epoch the writer claimed.
        epoch: u64,
        /// The epoch of the stored placement (or of a newer checkpoint).
        current: u64,
    },
    /// The settings or the streams found do not fit (e.g. an existing event stream with another
    /// partition count): fix the configuration.
    #[error("cluster configuration: {0}")]
    Config(String),
    /// JetStream was lost after a batch's commit may have been stored and before its outcome
    /// could be read back: the batch is applied wholly or not at all, which is not known yet.
    /// Not worth retrying blindly (a retry may count the batch twice): read to find out.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// Anything else unexpected from NATS (logged; answered 503).
    #[error("cluster protocol: {0}")]
    Protocol(String),
}

impl ClusterError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClusterError::Unavailable(_) | ClusterError::Busy(_))
    }
}
