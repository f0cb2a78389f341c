//! Partition checkpoints: `{state, position, epoch}` stored so that any node can take a
//! partition over.
//!
//! A checkpoint is a small head on `meterd.ckpt.<p>` (one kept per subject) naming the stream
//! sequences of its data chunks on `meterd.ckd.<p>`; a state larger than the server's
//! `max_payload` is split into several chunks. A save writes its chunks, then stores its head
//! by compare-and-set on the head stream's last sequence ([`super::cas`]; a race lost to a
//! save of any partition reads again and retries), and finally purges the partition's chunks
//! below its first one. A failed or refused save leaves chunks that the next successful save
//! purges.
//!
//! Fencing rides on the head itself: a save is refused ([`ClusterError::Fenced`]) when the
//! stored head has a newer epoch (or the same epoch from another node), or when its node does
//! not own the partition in the stored placement. A new owner taking a partition over writes a
//! claim head at its epoch in [`load`] before it serves, so a save of the former owner still
//! in flight (its chunks uploading) fails its compare-and-set and then sees the newer epoch.

use super::cas;
use super::control::load_placement;
use super::errors;
use super::streams::{checkpoint_data_subject, checkpoint_subject, Streams};
use crate::cluster::{ClusterError, PartitionCheckpoint};
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How many times a save or load starts over after losing a race with another writer (all
/// partitions share the head stream's sequence, so races are frequent but short).
const ATTEMPTS: usize = 64;
/// Room left in a message for headers and framing.
const CHUNK_MARGIN: usize = 4096;
/// The largest state a checkpoint may hold; a save above it is refused, a head claiming more
/// is not believed.
pub const MAX_STATE_BYTES: u64 = 1 << 30;

/// A checkpoint head as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    /// The fencing epoch: of the save, or of the claim that took the partition over.
    epoch: u64,
    position: u64,
    /// The node that saved (or claimed) it.
    node: String,
    /// The state's length and CRC-32, checked when the chunks are put together again.
    len: u64,
    crc: u32,
    /// The stream sequences of the data chunks, in order.
    chunks: Vec<u64>,
    /// The epoch of the save whose state this is, when a claim carried it over (else `epoch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    saved_epoch: Option<u64>,
    /// A claim of a partition that had no checkpoint: it holds no state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    empty: bool,
}

impl Head {
    /// Whether a save at `epoch` by `node` may replace this head.
    fn admits(&self, epoch: u64, node: &str) -> bool {
        self.epoch < epoch || (self.epoch == epoch && self.node == node)
    }

    /// The capacity to reserve for the state: never more than its chunks can hold, nor
    /// [`MAX_STATE_BYTES`].
    fn capacity(&self, max_payload: usize) -> usize {
        let most = (self.chunks.len() as u64).saturating_mul(max_payload as u64);
        self.len.min(most).min(MAX_STATE_BYTES) as usize
    }
}

/// Reads partition `p`'s head with the head stream's last sequence (what a compare-and-set
/// names).
async fn read_head(streams: &Streams, p: u32) -> Result<(u64, Option<Head>), ClusterError> {
    let what = "reading a checkpoint";
    let (last, message) = cas::read_at(&streams.checkpoints, &checkpoint_subject(p), what).await?;
    let Some((_, payload)) = message else {
        return Ok((last, None));
    };
    let head = serde_json::from_slice(&payload)
        .map_err(|e| ClusterError::Protocol(format!("{what}: {e}")))?;
    Ok((last, Some(head)))
}

/// Stores `head` as partition `p`'s if the head stream is still at `expected`.
async fn store_head(
    js: &jetstream::Context,
    p: u32,
    head: &Head,
    expected: u64,
    what: &str,
) -> Result<Option<u64>, ClusterError> {
    let body = serde_json::to_vec(head).expect("a checkpoint head serializes");
    cas::store(js, &checkpoint_subject(p), body.into(), expected, what).await
}

/// Saves partition `p`'s checkpoint for `node`; see the module doc.
pub async fn save(
    js: &jetstream::Context,
    streams: &Streams,
    node: &str,
    p: u32,
    cp: &PartitionCheckpoint,
) -> Result<(), ClusterError> {
    let what = "saving a checkpoint";
    if cp.state.len() as u64 > MAX_STATE_BYTES {
        return Err(ClusterError::Config(format!(
            "{what}: partition {p}'s state has {} bytes, the most is {MAX_STATE_BYTES}",
            cp.state.len()
        )));
    }
    let chunk = js
        .client()
        .server_info()
        .max_payload
        .saturating_sub(CHUNK_MARGIN)
        .max(1024);
    // Fail early (before uploading) when fenced already; the head's compare-and-set decides.
    check_fence(streams, node, p, cp, &read_head(streams, p).await?.1).await?;
    let mut chunks = Vec::new();
    // An empty state still gets one (empty) chunk: every head names a first chunk.
    let parts: Vec<&[u8]> = if cp.state.is_empty() {
        vec![&[][..]]
    } else {
        cp.state.chunks(chunk).collect()
    };
    for part in parts {
        let ack = js
            .send_publish(
                checkpoint_data_subject(p),
                Publish::build().payload(cp.state.slice_ref(part)),
            )
            .await
            .map_err(|e| errors::publish(what, e))?
            .await
            .map_err(|e| errors::publish(what, e))?;
        chunks.push(ack.sequence);
    }
    let head = Head {
        epoch: cp.epoch,
        position: cp.position,
        node: node.to_owned(),
        len: cp.state.len() as u64,
        crc: crc32fast::hash(&cp.state),
        chunks: chunks.clone(),
        saved_epoch: None,
        empty: false,
    };
    for attempt in 0..ATTEMPTS {
        let (last, stored) = read_head(streams, p).await?;
        check_fence(streams, node, p, cp, &stored).await?;
        if store_head(js, p, &head, last, what).await?.is_some() {
            purge_below(streams, p, chunks[0]).await;
            return Ok(());
        }
        cas::backoff(attempt).await;
    }
    Err(ClusterError::Unavailable(format!(
        "{what}: partition {p}'s checkpoint stream kept changing under {ATTEMPTS} attempts"
    )))
}

/// Refuses a save of `cp` by `node` that the `stored` head or the stored placement fences.
async fn check_fence(
    streams: &Streams,
    node: &str,
    p: u32,
    cp: &PartitionCheckpoint,
    stored: &Option<Head>,
) -> Result<(), ClusterError> {
    if let Some(head) = stored {
        if !head.admits(cp.epoch, node) {
            return Err(ClusterError::Fenced {
                partition: p,
                epoch: cp.epoch,
                current: head.epoch,
            });
        }
    }
    let (_, current) = load_placement(&streams.placement).await?;
    let owner = current.as_ref().and_then(|pl| pl.owner(p));
    if owner != Some(node) {
        return Err(ClusterError::Fenced {
            partition: p,
            epoch: cp.epoch,
            current: current.map_or(0, |pl| pl.epoch),
        });
    }
    Ok(())
}

/// Purges partition `p`'s chunks stored before `first` (the first chunk of the head just
/// stored). A failure only leaves garbage that the next save purges.
async fn purge_below(streams: &Streams, p: u32, first: u64) {
    // A purge "below 1" is taken for a purge of the whole subject: never ask for one.
    if first <= 1 {
        return;
    }
    let purge = streams
        .checkpoint_data
        .purge()
        .filter(checkpoint_data_subject(p))
        .sequence(first);
    if let Err(e) = purge.await {
        tracing::debug!(partition = p, first, error = %e, "old checkpoint chunks stay");
    }
}

/// Loads partition `p`'s last checkpoint, `None` when it has none. When `node` owns `p` in
/// the stored placement at a newer epoch than the head's, it first claims `p` (a head at that
/// epoch naming the same state), which fences any save of the former owner still in flight.
pub async fn load(
    js: &jetstream::Context,
    streams: &Streams,
    node: &str,
    p: u32,
) -> Result<Option<PartitionCheckpoint>, ClusterError> {
    let what = "loading a checkpoint";
    let max_payload = js.client().server_info().max_payload;
    let mut why = String::new();
    'attempt: for attempt in 0..ATTEMPTS {
        let (last, stored) = read_head(streams, p).await?;
        let (_, placement) = load_placement(&streams.placement).await?;
        if let Some(pl) = placement.filter(|pl| pl.owner(p) == Some(node)) {
            let claim = claim_of(stored.as_ref(), node, pl.epoch);
            if let Some(claim) = claim {
                if store_head(js, p, &claim, last, "claiming a partition")
                    .await?
                    .is_none()
                {
                    why = "the checkpoint stream moved while claiming".into();
                    cas::backoff(attempt).await;
                    continue 'attempt;
                }
            }
        }
        let Some(head) = stored.filter(|h| !h.empty) else {
            return Ok(None);
        };
        let mut state = Vec::with_capacity(head.capacity(max_payload));
        for seq in &head.chunks {
            match streams.checkpoint_data.get_raw_message(*seq).await {
                Ok(m) => {
                    if (state.len() + m.payload.len()) as u64 > head.len.min(MAX_STATE_BYTES) {
                        return Err(ClusterError::Protocol(format!(
                            "{what}: partition {p}'s chunks hold more than its head's {} bytes",
                            head.len
                        )));
                    }
                    state.extend_from_slice(&m.payload)
                }
                Err(e) => {
                    // A newer save purged this one's chunks meanwhile: read its head instead.
                    errors::last_message(what, e)?;
                    why = format!("chunk {seq} is gone");
                    continue 'attempt;
                }
            }
        }
        if state.len() as u64 != head.len || crc32fast::hash(&state) != head.crc {
            why = format!("{} bytes read, {} stored", state.len(), head.len);
            continue 'attempt;
        }
        return Ok(Some(PartitionCheckpoint {
            epoch: head.saved_epoch.unwrap_or(head.epoch),
            position: head.position,
            state: Bytes::from(state),
        }));
    }
    Err(ClusterError::Unavailable(format!(
        "{what}: partition {p}'s checkpoint did not read whole in {ATTEMPTS} attempts ({why})"
    )))
}

/// The claim head `node` must store to own a partition at `epoch` whose head is `stored`;
/// `None` when the stored head is already at that epoch or newer.
fn claim_of(stored: Option<&Head>, node: &str, epoch: u64) -> Option<Head> {
    match stored {
        Some(h) if h.epoch >= epoch => None,
        Some(h) => Some(Head {
            epoch,
            node: node.to_owned(),
            saved_epoch: Some(h.saved_epoch.unwrap_or(h.epoch)),
            ..h.clone()
        }),
        None => Some(Head {
            epoch,
            position: 0,
            node: node.to_owned(),
            len: 0,
            crc: 0,
            chunks: Vec::new(),
            saved_epoch: None,
            empty: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(epoch: u64, node: &str) -> Head {
        Head {
            epoch,
            position: 7,
            node: node.into(),
            len: 3,
            crc: 1,
            chunks: vec![5],
            saved_epoch: None,
            empty: false,
        }
    }

    #[test]
    fn a_hostile_length_reserves_no_more_than_the_chunks_hold() {
        let mut h = head(1, "a");
        h.len = u64::MAX;
        assert_eq!(h.capacity(1 << 20), 1 << 20);
        h.chunks = vec![1; 1 << 16];
        assert_eq!(h.capacity(1 << 20), MAX_STATE_BYTES as usize);
        h.chunks.clear();
        assert_eq!(h.capacity(1 << 20), 0);
    }

    #[test]
    fn a_head_admits_newer_epochs_and_its_own_node_only() {
        let h = head(5, "a");
        assert!(h.admits(6, "b"));
        assert!(h.admits(5, "a"));
        assert!(!h.admits(5, "b"));
        assert!(!h.admits(4, "a"));
    }

    #[test]
    fn a_claim_carries_the_state_over_at_the_new_epoch() {
        let old = head(3, "a");
        let claim = claim_of(Some(&old), "b", 4).unwrap();
        assert_eq!((claim.epoch, claim.node.as_str()), (4, "b"));
        assert_eq!(claim.saved_epoch, Some(3));
        assert_eq!((claim.chunks, claim.position), (old.chunks.clone(), 7));
        assert!(claim_of(Some(&old), "b", 3).is_none());
        assert!(claim_of(None, "b", 1).unwrap().empty);
    }
}
