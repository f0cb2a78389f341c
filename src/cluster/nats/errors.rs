//! async-nats' many error kinds mapped onto [`ClusterError`]: what a caller can retry
//! (unreachable, timed out, busy) apart from what it cannot.

use crate::cluster::ClusterError;
use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::stream::{ConsumerErrorKind, LastRawMessageErrorKind};

/// JetStream's "insufficient resources" (e.g. more replicas than servers).
const INSUFFICIENT_RESOURCES: u64 = 10023;
/// JetStream's "replicas > 1 not supported in non-clustered mode".
const REPLICAS_NOT_SUPPORTED: u64 = 10074;
/// JetStream's "stream not found".
pub const STREAM_NOT_FOUND: u64 = 10059;
/// JetStream's "stream name already in use with a different configuration".
pub const STREAM_NAME_IN_USE: u64 = 10058;
/// JetStream's "JetStream system temporarily unavailable" (no meta leader, no stream leader).
const TEMPORARILY_UNAVAILABLE: u64 = 10008;

/// A JetStream API error with a code: what it means for meterd.
fn api(what: &str, e: &async_nats::jetstream::Error) -> ClusterError {
    let code = e.error_code().0;
    let msg = format!("{what}: {e}");
    match code {
        INSUFFICIENT_RESOURCES | REPLICAS_NOT_SUPPORTED => ClusterError::Config(format!(
            "{msg} (are there as many NATS servers with JetStream as replicas?)"
        )),
        TEMPORARILY_UNAVAILABLE => ClusterError::Unavailable(msg),
        _ if e.code() == 503 => ClusterError::Unavailable(msg),
        _ => ClusterError::Protocol(msg),
    }
}

/// A failed publish.
pub fn publish(what: &str, e: async_nats::jetstream::context::PublishError) -> ClusterError {
    let msg = format!("{what}: {e}");
    match e.kind() {
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => ClusterError::Unavailable(msg),
        PublishErrorKind::MaxAckPending => ClusterError::Busy(msg),
        PublishErrorKind::StreamNotFound => ClusterError::Unavailable(msg),
        // Text matched only for a status JetStream gives without a kind of its own.
        _ if msg.contains("no responders") || msg.contains("insufficient resources") => {
            ClusterError::Unavailable(msg)
        }
        _ => ClusterError::Protocol(msg),
    }
}

/// A failed stream lookup.
pub fn get_stream(what: &str, e: async_nats::jetstream::context::GetStreamError) -> ClusterError {
    match e.kind() {
        GetStreamErrorKind::JetStream(err) => api(what, &err),
        GetStreamErrorKind::Request => ClusterError::Unavailable(format!("{what}: {e}")),
        _ => ClusterError::Protocol(format!("{what}: {e}")),
    }
}

/// A failed stream creation.
pub fn create_stream(
    what: &str,
    e: async_nats::jetstream::context::CreateStreamError,
) -> ClusterError {
    match e.kind() {
        CreateStreamErrorKind::JetStream(err) => api(what, &err),
        CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable => {
            ClusterError::Unavailable(format!("{what}: {e}"))
        }
        _ => ClusterError::Protocol(format!("{what}: {e}")),
    }
}

/// A failed read of the last message of a subject (`Ok(None)`: there is none).
pub fn last_message(
    what: &str,
    e: async_nats::jetstream::stream::LastRawMessageError,
) -> Result<(), ClusterError> {
    match e.kind() {
        LastRawMessageErrorKind::NoMessageFound => Ok(()),
        LastRawMessageErrorKind::JetStream(err) => Err(api(what, &err)),
        LastRawMessageErrorKind::Other => Err(ClusterError::Unavailable(format!("{what}: {e}"))),
        _ => Err(ClusterError::Protocol(format!("{what}: {e}"))),
    }
}

/// A failed consumer creation.
pub fn consumer(what: &str, e: async_nats::jetstream::stream::ConsumerError) -> ClusterError {
    match e.kind() {
        ConsumerErrorKind::JetStream(err) => api(what, &err),
        ConsumerErrorKind::TimedOut | ConsumerErrorKind::Request => {
            ClusterError::Unavailable(format!("{what}: {e}"))
        }
        _ => ClusterError::Protocol(format!("{what}: {e}")),
    }
}

/// Any other failure of a request to JetStream: retryable unless proven otherwise.
pub fn other(what: &str, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unavailable(format!("{what}: {e}"))
}

/// A whole operation that did not finish within its bound.
pub fn timed_out(what: &str, bound: std::time::Duration) -> ClusterError {
    ClusterError::Unavailable(format!("{what}: no answer within {bound:?}"))
}
