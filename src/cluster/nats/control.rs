//! The control subjects: each member's heartbeat, and the placement changed by compare-and-set
//! on its subject's last sequence (`Nats-Expected-Last-Subject-Sequence`).

use super::errors;
use super::streams::{member_subject, MEMBER_SUBJECTS, PLACEMENT_SUBJECT};
use crate::cluster::{ClusterError, Placement};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, stream::Stream};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// A heartbeat's payload.
#[derive(Debug, Serialize, Deserialize)]
struct Heartbeat {
    /// The sender.
    node: String,
    /// Set on the last heartbeat of a member that leaves.
    #[serde(default)]
    leaving: bool,
}

/// A member's last heartbeat as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The member's name.
    pub node: String,
    /// The stream sequence of its last heartbeat (a new one means it is alive).
    pub seq: u64,
    /// How long ago the server stored it, by this machine's clock (zero if the clocks disagree).
    pub age: Duration,
    /// Whether it said it is leaving.
    pub leaving: bool,
}

/// Publishes `node`'s heartbeat (or its last one, `leaving`) and waits for the ack.
pub async fn heartbeat(
    js: &jetstream::Context,
    node: &str,
    leaving: bool,
) -> Result<(), ClusterError> {
    let body = serde_json::to_vec(&Heartbeat {
        node: node.to_owned(),
        leaving,
    })
    .expect("a heartbeat serializes");
    let what = "heartbeat";
    js.send_publish(member_subject(node), Publish::build().payload(body.into()))
        .await
        .map_err(|e| errors::publish(what, e))?
        .await
        .map_err(|e| errors::publish(what, e))?;
    Ok(())
}

/// Every member's last heartbeat, as stored now.
pub async fn members(control: &Stream) -> Result<Vec<Seen>, ClusterError> {
    let what = "listing members";
    let subjects: Vec<(String, usize)> = control
        .info_with_subjects(MEMBER_SUBJECTS)
        .await
        .map_err(|e| errors::other(what, e))?
        .try_collect()
        .await
        .map_err(|e| errors::other(what, e))?;
    let now = SystemTime::now();
    let mut seen = Vec::with_capacity(subjects.len());
    for (subject, _) in subjects {
        let message = match control.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => m,
            Err(e) => {
                errors::last_message(what, e)?;
                continue;
            }
        };
        let Ok(beat) = serde_json::from_slice::<Heartbeat>(&message.payload) else {
            tracing::warn!(%subject, "ignoring a heartbeat that is not meterd's");
            continue;
        };
        let stored = SystemTime::from(message.time);
        seen.push(Seen {
            node: beat.node,
            seq: message.sequence,
            age: now.duration_since(stored).unwrap_or_default(),
            leaving: beat.leaving,
        });
    }
    seen.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(seen)
}

/// The stored placement and its subject sequence; `None` before the first one.
pub async fn load_placement(control: &Stream) -> Result<Option<(u64, Placement)>, ClusterError> {
    let what = "reading the placement";
    match control
        .get_last_raw_message_by_subject(PLACEMENT_SUBJECT)
        .await
    {
        Ok(m) => {
            let placement = serde_json::from_slice(&m.payload)
                .map_err(|e| ClusterError::Protocol(format!("{what}: {e}")))?;
            Ok(Some((m.sequence, placement)))
        }
        Err(e) => errors::last_message(what, e).map(|()| None),
    }
}

/// Stores `placement` if the placement subject's last sequence is still `expected` (0: none
/// stored yet). `Ok(Some(seq))` when stored, `Ok(None)` when another node changed it first.
pub async fn store_placement(
    js: &jetstream::Context,
    expected: u64,
    placement: &Placement,
) -> Result<Option<u64>, ClusterError> {
    let what = "storing the placement";
    let body = serde_json::to_vec(placement).expect("a placement serializes");
    let publish = Publish::build()
        .payload(body.into())
        .expected_last_subject_sequence(expected);
    let ack = js
        .send_publish(PLACEMENT_SUBJECT, publish)
        .await
        .map_err(|e| errors::publish(what, e))?
        .await;
    match ack {
        Ok(ack) => Ok(Some(ack.sequence)),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(None),
        Err(e) => Err(errors::publish(what, e)),
    }
}
