//! A partition's events from a stream sequence on: history first, then live, in order.
//!
//! A task pulls from an ephemeral consumer (one replica, in memory, no acks) filtered on the
//! partition's subject and hands `(sequence, payload)` over a bounded channel. When the
//! consumer fails (its server lost, two missed idle heartbeats, a consumer found gone while
//! idle) the task makes a new one starting after the last sequence handed out, so the reader
//! survives the loss of a nats-server without gaps or repeats.

use super::errors;
use super::streams::event_subject;
use crate::cluster::ClusterError;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::Stream as JsStream;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long one pull request waits on the server (idle heartbeats come at half this).
const PULL_EXPIRES: Duration = Duration::from_secs(2);
/// Silence after which the reader asks whether its consumer still exists.
const IDLE_PROBE: Duration = Duration::from_secs(3);
/// The wait before making a consumer again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// How long the server keeps a consumer nobody pulls from.
const INACTIVE: Duration = Duration::from_secs(30);
/// Messages handed over but not yet taken by the reader's user.
const CHANNEL: usize = 1024;

type Item = Result<(u64, Bytes), ClusterError>;

/// The stream of `(sequence, payload)` that [`crate::cluster::Jet::read_partition`] returns.
/// It never ends on its own; an `Err` item is transient (logged by the caller, the reader goes
/// on). Dropping it stops its task and lets the server drop its consumer.
pub struct PartitionReader {
    rx: mpsc::Receiver<Item>,
    task: JoinHandle<()>,
    last: u64,
}

impl PartitionReader {
    /// Starts reading partition `p` of `events` after sequence `after`; the first consumer is
    /// made before this returns, so a cluster that cannot serve it is an error here.
    pub async fn start(events: JsStream, p: u32, after: u64) -> Result<Self, ClusterError> {
        let first = consume(&events, p, after).await?;
        let (tx, rx) = mpsc::channel(CHANNEL);
        let task = tokio::spawn(run(events, p, after, first, tx));
        Ok(PartitionReader {
            rx,
            task,
            last: after,
        })
    }

    /// The last sequence handed out (the `after` given at the start until the first message).
    pub fn position(&self) -> u64 {
        self.last
    }
}

impl Drop for PartitionReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for PartitionReader {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(Ok((seq, _)))) = &polled {
            self.last = *seq;
        }
        polled
    }
}

/// A consumer of partition `p` from `after + 1` and its message stream, with its name.
async fn consume(
    events: &JsStream,
    p: u32,
    after: u64,
) -> Result<(pull::Stream, String), ClusterError> {
    let what = "reading a partition";
    let config = pull::Config {
        filter_subject: event_subject(p),
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: after + 1,
        },
        ack_policy: AckPolicy::None,
        inactive_threshold: INACTIVE,
        num_replicas: 1,
        memory_storage: true,
        ..Default::default()
    };
    let start = async {
        let consumer = events
            .create_consumer(config)
            .await
            .map_err(|e| errors::consumer(what, e))?;
        let name = consumer.cached_info().name.clone();
        let messages = consumer
            .stream()
            .expires(PULL_EXPIRES)
            .heartbeat(PULL_EXPIRES / 2)
            .messages()
            .await
            .map_err(|e| errors::other(what, e))?;
        Ok((messages, name))
    };
    let bound = super::super::jet::REQUEST_TIMEOUT + Duration::from_secs(1);
    tokio::time::timeout(bound, start)
        .await
        .map_err(|_| errors::timed_out(what, bound))?
}

/// The reader's task: hands messages over, and makes a new consumer whenever one fails.
async fn run(
    events: JsStream,
    p: u32,
    mut last: u64,
    first: (pull::Stream, String),
    tx: mpsc::Sender<Item>,
) {
    let mut current = Some(first);
    loop {
        let (mut messages, name) = match current.take() {
            Some(c) => c,
            None => match consume(&events, p, last).await {
                Ok(c) => c,
                Err(e) => {
                    if tx.send(Err(e)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            },
        };
        loop {
            match tokio::time::timeout(IDLE_PROBE, messages.next()).await {
                Ok(Some(Ok(message))) => {
                    let seq = match message.info() {
                        Ok(info) => info.stream_sequence,
                        Err(e) => {
                            // Surfaced, then a new consumer: never a silent loop.
                            let e = ClusterError::Protocol(format!(
                                "reading partition {p}: a message without its sequence: {e}"
                            ));
                            if tx.send(Err(e)).await.is_err() {
                                return;
                            }
                            break;
                        }
                    };
                    if seq <= last {
                        continue;
                    }
                    last = seq;
                    let payload = message.message.payload.clone();
                    if tx.send(Ok((seq, payload))).await.is_err() {
                        return;
                    }
                }
                Ok(Some(Err(e))) => {
                    tracing::debug!(partition = p, error = %e, "partition consumer failed; making a new one");
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    // Quiet: fine if the consumer is still there, else make a new one.
                    let alive = tokio::time::timeout(IDLE_PROBE, events.consumer_info(&name))
                        .await
                        .is_ok_and(|r| r.is_ok());
                    if !alive {
                        tracing::debug!(partition = p, "partition consumer gone; making a new one");
                        break;
                    }
                }
            }
            if tx.is_closed() {
                return;
            }
        }
        drop(messages);
        let _ = tokio::time::timeout(IDLE_PROBE, events.delete_consumer(&name)).await;
        tokio::time::sleep(RETRY_AFTER).await;
    }
}
