//! The control subjects: each member's heartbeat, and the placement changed by compare-and-set
//! on its stream's last sequence (`Nats-Expected-Last-Sequence`, see [`super::cas`]).

use super::streams::{member_subject, MEMBER_SUBJECTS, PLACEMENT_SUBJECT};
use super::{cas, errors};
use crate::cluster::{ClusterError, Placement};
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
    /// The sending process's random id: two processes with one node name differ here.
    #[serde(default)]
    incarnation: String,
}

/// A member's last heartbeat as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The member's name.
    pub node: String,
    /// The stream sequence of its last heartbeat (a new one means it is alive).
    pub seq: u64,
    /// How long ago the server stored it, by this machine's clock; [`Duration::MAX`] (old) when
    /// it is dated in the future, as a skewed clock would have it.
    pub age: Duration,
    /// Whether it said it is leaving.
    pub leaving: bool,
    /// The random id of the process that sent it (empty from a sender that has none).
    pub incarnation: String,
}

/// Publishes `node`'s heartbeat (or its last one, `leaving`) and waits for the ack.
pub async fn heartbeat(
    js: &jetstream::Context,
    node: &str,
    incarnation: &str,
    leaving: bool,
) -> Result<(), ClusterError> {
    let body = serde_json::to_vec(&Heartbeat {
        node: node.to_owned(),
        incarnation: incarnation.to_owned(),
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
            age: age(now, stored),
            leaving: beat.leaving,
            incarnation: beat.incarnation,
        });
    }
    seen.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(seen)
}

/// The stored placement (`None` before the first one) with the placement stream's last
/// sequence, which a compare-and-set must name.
pub async fn load_placement(placement: &Stream) -> Result<(u64, Option<Placement>), ClusterError> {
    let what = "reading the placement";
    let (last, message) = cas::read_at(placement, PLACEMENT_SUBJECT, what).await?;
    let Some((_, payload)) = message else {
        return Ok((last, None));
    };
    let placement = serde_json::from_slice(&payload)
        .map_err(|e| ClusterError::Protocol(format!("{what}: {e}")))?;
    Ok((last, Some(placement)))
}

/// Stores `placement` if the placement stream's last sequence is still `expected` (as read by
/// [`load_placement`]). `Ok(Some(seq))` when stored, `Ok(None)` when another node changed it
/// first.
pub async fn store_placement(
    js: &jetstream::Context,
    expected: u64,
    placement: &Placement,
) -> Result<Option<u64>, ClusterError> {
    let body = serde_json::to_vec(placement).expect("a placement serializes");
    cas::store(
        js,
        PLACEMENT_SUBJECT,
        body.into(),
        expected,
        "storing the placement",
    )
    .await
}

/// How long before `now` a heartbeat `stored` then is; one dated after `now` counts as old.
fn age(now: SystemTime, stored: SystemTime) -> Duration {
    now.duration_since(stored).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_from_the_future_is_old() {
        let now = SystemTime::now();
        assert_eq!(age(now, now + Duration::from_secs(30)), Duration::MAX);
        assert_eq!(
            age(now, now - Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }
}
