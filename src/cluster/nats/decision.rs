//! The outcome of a batch that spans several partitions, decided once for all of them.
//!
//! Each such batch has a subject of its own on `METERD_TX`; the first message stored on it is
//! the outcome, whoever wrote it: the ingesting node writes [`Decision::Commit`] once every
//! part is stored, and an owner that has held a part too long without its marker writes
//! [`Decision::Abort`]. Both then read the first message back, so they cannot disagree, and
//! nothing needs a compare-and-set (see [`super::cas`] for why those are kept rare). Reads go
//! to the stream's leader, which has every acknowledged message.

use super::errors;
use super::streams::decision_subject;
use crate::cluster::ClusterError;
use async_nats::jetstream::stream::Stream;
use bytes::Bytes;

/// What became of a batch over several partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Every part is applied, each at its partition's commit marker.
    Commit,
    /// No part is applied.
    Abort,
}

impl Decision {
    fn payload(self) -> &'static [u8] {
        match self {
            Decision::Commit => b"commit",
            Decision::Abort => b"abort",
        }
    }

    fn parse(payload: &[u8]) -> Option<Decision> {
        match payload {
            b"commit" => Some(Decision::Commit),
            b"abort" => Some(Decision::Abort),
            _ => None,
        }
    }
}

/// What stores `decision` on batch `tx`'s subject: the subject, a message id (a retry of the
/// same decision is stored once) and the payload. Whether it is the outcome depends on what
/// was stored first: see [`first`].
pub fn message(tx: &str, decision: Decision) -> (String, String, Bytes) {
    let id = match decision {
        Decision::Commit => format!("{tx}-commit"),
        Decision::Abort => format!("{tx}-abort"),
    };
    (
        decision_subject(tx),
        id,
        Bytes::from_static(decision.payload()),
    )
}

/// Batch `tx`'s outcome: the first decision stored on its subject, `None` before any.
pub async fn first(decisions: &Stream, tx: &str) -> Result<Option<Decision>, ClusterError> {
    let what = "reading a batch's outcome";
    match decisions
        .get_first_raw_message_by_subject(decision_subject(tx), 0)
        .await
    {
        Ok(m) => Decision::parse(&m.payload).map(Some).ok_or_else(|| {
            ClusterError::Protocol(format!("{what}: message {} is not an outcome", m.sequence))
        }),
        Err(e) => errors::last_message(what, e).map(|()| None),
    }
}
