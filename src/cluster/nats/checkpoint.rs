//! Partition checkpoints: `{state, position, epoch}` stored so that any node can take a
//! partition over.
//!
//! A checkpoint is a small head on `meterd.ckpt.<p>` (one kept per subject) naming the stream
//! sequences of its data chunks on `meterd.ckd.<p>`; a state larger than the server's
//! `max_payload` is split into several chunks. A save reads the head first, writes its chunks,
//! then stores its head by compare-and-set on the head subject's last sequence, and finally
//! deletes the chunks of the head it replaced (a save that lost the race deletes its own).
//! (A purge of the subject below the new first chunk would be one request, but nats-server
//! takes a purge below sequence 1 for a purge of the whole subject, new chunks included.) A save whose epoch is older than the stored head's, or
//! whose node no longer owns the partition in the stored placement, is refused
//! ([`ClusterError::Fenced`]).

use super::control::load_placement;
use super::errors;
use super::streams::{checkpoint_data_subject, checkpoint_subject, Streams};
use crate::cluster::{ClusterError, PartitionCheckpoint};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How many times a save or load starts over after losing a race with another writer.
const ATTEMPTS: usize = 5;
/// Room left in a message for headers and framing.
const CHUNK_MARGIN: usize = 4096;

/// A checkpoint head as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    epoch: u64,
    position: u64,
    /// The node that saved it.
    node: String,
    /// The state's length and CRC-32, checked when the chunks are put together again.
    len: u64,
    crc: u32,
    /// The stream sequences of the data chunks, in order.
    chunks: Vec<u64>,
}

/// Reads partition `p`'s head: its subject sequence (0 when none) and the head.
async fn read_head(streams: &Streams, p: u32) -> Result<(u64, Option<Head>), ClusterError> {
    let what = "reading a checkpoint";
    match streams
        .checkpoints
        .get_last_raw_message_by_subject(&checkpoint_subject(p))
        .await
    {
        Ok(m) => {
            let head = serde_json::from_slice(&m.payload)
                .map_err(|e| ClusterError::Protocol(format!("{what}: {e}")))?;
            Ok((m.sequence, Some(head)))
        }
        Err(e) => errors::last_message(what, e).map(|()| (0, None)),
    }
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
    let chunk = js
        .client()
        .server_info()
        .max_payload
        .saturating_sub(CHUNK_MARGIN)
        .max(1024);
    for _ in 0..ATTEMPTS {
        let (head_seq, head) = read_head(streams, p).await?;
        if let Some(head) = &head {
            if head.epoch > cp.epoch {
                return Err(ClusterError::Fenced {
                    partition: p,
                    epoch: cp.epoch,
                    current: head.epoch,
                });
            }
        }
        let current = load_placement(&streams.control).await?;
        let owner = current.as_ref().and_then(|(_, pl)| pl.owner(p));
        if owner != Some(node) {
            return Err(ClusterError::Fenced {
                partition: p,
                epoch: cp.epoch,
                current: current.map_or(0, |(_, pl)| pl.epoch),
            });
        }
        let mut chunks = Vec::new();
        for part in cp.state.chunks(chunk) {
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
        let body = serde_json::to_vec(&Head {
            epoch: cp.epoch,
            position: cp.position,
            node: node.to_owned(),
            len: cp.state.len() as u64,
            crc: crc32fast::hash(&cp.state),
            chunks: chunks.clone(),
        })
        .expect("a checkpoint head serializes");
        let stored = js
            .send_publish(
                checkpoint_subject(p),
                Publish::build()
                    .payload(body.into())
                    .expected_last_subject_sequence(head_seq),
            )
            .await
            .map_err(|e| errors::publish(what, e))?
            .await;
        match stored {
            Ok(_) => {
                let replaced = head.map(|h| h.chunks).unwrap_or_default();
                delete_chunks(streams, p, &replaced).await;
                return Ok(());
            }
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                // Another save came first: drop this one's chunks and look again.
                delete_chunks(streams, p, &chunks).await;
            }
            Err(e) => return Err(errors::publish(what, e)),
        }
    }
    Err(ClusterError::Unavailable(format!(
        "{what}: partition {p}'s checkpoint kept changing under {ATTEMPTS} attempts"
    )))
}

/// Deletes partition `p`'s data chunks `seqs`. A failure only leaves garbage behind.
async fn delete_chunks(streams: &Streams, p: u32, seqs: &[u64]) {
    for seq in seqs {
        if let Err(e) = streams.checkpoint_data.delete_message(*seq).await {
            tracing::debug!(partition = p, seq, error = %e, "an old checkpoint chunk stays");
        }
    }
}

/// Loads partition `p`'s last checkpoint, `None` when it has none.
pub async fn load(streams: &Streams, p: u32) -> Result<Option<PartitionCheckpoint>, ClusterError> {
    let what = "loading a checkpoint";
    let mut why = String::new();
    'attempt: for _ in 0..ATTEMPTS {
        let (_, Some(head)) = read_head(streams, p).await? else {
            return Ok(None);
        };
        let mut state = Vec::with_capacity(head.len as usize);
        for seq in &head.chunks {
            match streams.checkpoint_data.get_raw_message(*seq).await {
                Ok(m) => state.extend_from_slice(&m.payload),
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
            epoch: head.epoch,
            position: head.position,
            state: Bytes::from(state),
        }));
    }
    Err(ClusterError::Protocol(format!(
        "{what}: partition {p}'s checkpoint did not read whole in {ATTEMPTS} attempts ({why})"
    )))
}
