//! Compare-and-set on a whole stream's last sequence (`Nats-Expected-Last-Sequence`), the one
//! JetStream checks serializably on a replicated stream in every 2.9 release: the stream leader
//! compares it with the sequence of its last proposal, publishes in flight included. (The
//! per-subject `Nats-Expected-Last-Subject-Sequence` is not: before 2.9.21 two racing
//! publishes naming the same subject sequence can both be stored, nats-server issue 4320.)
//!
//! Every stream used this way is seeded with one message on its seed subject when created,
//! so a compare-and-set never names sequence 0 (an expected 0 is "no check" to some
//! releases).

use super::errors;
use crate::cluster::ClusterError;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, stream::Stream};
use bytes::Bytes;

/// How many times a consistent read starts over when the stream moved under it.
const READS: usize = 8;

/// The stream's last sequence now (never 0 once seeded).
pub async fn last_sequence(stream: &Stream, what: &str) -> Result<u64, ClusterError> {
    let info = stream
        .get_info()
        .await
        .map_err(|e| errors::other(what, e))?;
    Ok(info.state.last_sequence)
}

/// Reads the stream's last sequence `L`, then the last message on `subject` (`None` if none),
/// retried until the message is not newer than `L`: what a compare-and-set on `L` may replace.
pub async fn read_at(
    stream: &Stream,
    subject: &str,
    what: &str,
) -> Result<(u64, Option<(u64, Bytes)>), ClusterError> {
    for _ in 0..READS {
        let last = last_sequence(stream, what).await?;
        let message = match stream.get_last_raw_message_by_subject(subject).await {
            Ok(m) => Some((m.sequence, m.payload)),
            Err(e) => {
                errors::last_message(what, e)?;
                None
            }
        };
        if message.as_ref().is_none_or(|(seq, _)| *seq <= last) {
            return Ok((last, message));
        }
    }
    Err(ClusterError::Unavailable(format!(
        "{what}: the stream kept moving under {READS} reads"
    )))
}

/// Publishes `body` on `subject` if the stream's last sequence is still `expected` (never 0):
/// `Ok(Some(seq))` when stored, `Ok(None)` when something else was stored first.
pub async fn store(
    js: &jetstream::Context,
    subject: &str,
    body: Bytes,
    expected: u64,
    what: &str,
) -> Result<Option<u64>, ClusterError> {
    if expected == 0 {
        return Err(ClusterError::Protocol(format!(
            "{what}: a compare-and-set on an unseeded stream"
        )));
    }
    let publish = Publish::build()
        .payload(body)
        .expected_last_sequence(expected);
    let ack = js
        .send_publish(subject.to_owned(), publish)
        .await
        .map_err(|e| errors::publish(what, e))?
        .await;
    match ack {
        Ok(ack) => Ok(Some(ack.sequence)),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(None),
        Err(e) => Err(errors::publish(what, e)),
    }
}

/// Stores one message on `subject` when `stream` has none yet (`Nats-Msg-Id` keeps racing
/// seeders to one message within the duplicate window; a second seed is harmless).
pub async fn seed(
    js: &jetstream::Context,
    stream: &Stream,
    subject: &str,
) -> Result<(), ClusterError> {
    let what = format!("seeding {subject}");
    if last_sequence(stream, &what).await? > 0 {
        return Ok(());
    }
    let publish = Publish::build()
        .payload(Bytes::from_static(b"seed"))
        .message_id(subject);
    js.send_publish(subject.to_owned(), publish)
        .await
        .map_err(|e| errors::publish(&what, e))?
        .await
        .map_err(|e| errors::publish(&what, e))?;
    Ok(())
}

/// A short pause after a lost race, different each time so racers spread out.
pub async fn backoff(attempt: usize) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let ms = 1 + (nanos as u64 ^ attempt as u64) % (2 + attempt.min(20) as u64);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}
