//! [`Jet`]: a node's connection to the cluster's JetStream — publish events, read a partition,
//! store and load checkpoints.

use super::nats::decision::{self, Decision};
use super::nats::{checkpoint, control, errors, reader::PartitionReader, streams};
use super::{ClusterError, ClusterSettings, Placement};
use async_nats::jetstream::message::PublishMessage as Publish;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// The bound on each request to JetStream (a publish's ack, a stream lookup, a read).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on connecting to the first server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most publishes in flight awaiting their acks before a publish is refused as busy.
pub const MAX_IN_FLIGHT: usize = 8192;
/// How long a publish waits for its PubAck before sending it again (same `Nats-Msg-Id`, so
/// JetStream stores it once): a publish lost with a dead server is re-sent through the
/// reconnected client instead of waiting out [`REQUEST_TIMEOUT`].
pub const ACK_RESEND_AFTER: Duration = Duration::from_secs(2);
/// How long a call waits for a lost connection to come back before it answers Unavailable.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(1);
/// The longest wait between two reconnect attempts after a server is lost.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// One partition's share of an ingest, to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The partition, below the settings' `partitions`.
    pub partition: u32,
    /// A unique id per part: a retried publish with the same id within two minutes is stored
    /// once (JetStream's `Nats-Msg-Id`).
    pub msg_id: String,
    /// The encoded events.
    pub payload: Bytes,
}

/// A partition's checkpoint: its owner's state after applying the partition up to `position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionCheckpoint {
    /// The placement epoch of the owner that saved it.
    pub epoch: u64,
    /// The stream sequence of the last event the state includes.
    pub position: u64,
    /// The owner's encoded state.
    pub state: Bytes,
}

/// A connection to the cluster's JetStream with meterd's streams in place. Cheap to clone.
#[derive(Clone)]
pub struct Jet {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    streams: streams::Streams,
    settings: ClusterSettings,
    /// This connection's random id, sent in its heartbeats.
    incarnation: String,
}

impl Jet {
    /// Connects and makes sure the streams exist (creating them if missing): the event log
    /// (`METERD_EV`, subjects `meterd.ev.<p>`, Limits retention, a duplicate window of 2 min
    /// for `Nats-Msg-Id`), the outcomes of batches over several partitions (`METERD_TX`),
    /// the control streams (membership, placement) and the checkpoint streams (`meterd.ckpt.<p>` heads, one kept per subject, with their data chunks; a state
    /// above the server's max_payload is chunked). An existing event stream with another
    /// partition count is [`ClusterError::Config`]; no reachable server, or a stream without
    /// a leader (an election after a server loss takes seconds), is
    /// [`ClusterError::Unavailable`] within a few seconds: retry.
    pub async fn connect(s: &ClusterSettings) -> Result<Jet, ClusterError> {
        s.validate()?;
        let options = async_nats::ConnectOptions::new()
            .name(format!("meterd-{}", s.node))
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(REQUEST_TIMEOUT))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(10 * attempts as u64).min(MAX_RECONNECT_DELAY)
            });
        // Each server is tried once, each within CONNECT_TIMEOUT; the outer bound caps a list.
        let bound = CONNECT_TIMEOUT * 2;
        let client = tokio::time::timeout(bound, options.connect(s.urls.as_slice()))
            .await
            .map_err(|_| errors::timed_out("connecting to NATS", bound))?
            .map_err(|e| ClusterError::Unavailable(format!("connecting to {:?}: {e}", s.urls)))?;
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .max_ack_inflight(MAX_IN_FLIGHT)
            .backpressure_on_inflight(false)
            .build(client.clone());
        let bound = REQUEST_TIMEOUT * 3;
        let streams = tokio::time::timeout(bound, streams::Streams::ensure(&js, s))
            .await
            .map_err(|_| errors::timed_out("finding or creating the streams", bound))??;
        Ok(Jet {
            inner: Arc::new(Inner {
                client,
                js,
                streams,
                settings: s.clone(),
                incarnation: uuid::Uuid::new_v4().simple().to_string(),
            }),
        })
    }

    /// The settings this connection was made with.
    pub fn settings(&self) -> &ClusterSettings {
        &self.inner.settings
    }

    /// Publishes every part concurrently (payload = bytes the caller encodes; msg_id for
    /// de-duplication); Ok with each part's stream sequence, in the order given, only when
    /// every PubAck came. A part for a partition out of range is [`ClusterError::Config`] and
    /// nothing is published.
    pub async fn publish_all(&self, parts: Vec<Outgoing>) -> Result<Vec<u64>, ClusterError> {
        let partitions = self.inner.settings.partitions;
        if let Some(bad) = parts.iter().find(|o| o.partition >= partitions) {
            return Err(ClusterError::Config(format!(
                "partition {} out of range (the cluster has {partitions})",
                bad.partition
            )));
        }
        let js = &self.inner.js;
        let publishes = parts.into_iter().map(|o| {
            let subject = streams::event_subject(o.partition);
            publish_one(js, "publishing events", subject, o.msg_id, o.payload)
        });
        let all = futures_util::future::try_join_all(publishes);
        self.call(
            "publishing events",
            REQUEST_TIMEOUT + Duration::from_secs(1),
            all,
        )
        .await
    }

    /// Stores `decision` as batch `tx`'s outcome if none is stored yet (a retry is stored
    /// once); the caller learns which outcome stands from [`Jet::outcome`], unless it knows no
    /// other could have been stored first.
    pub async fn propose(&self, tx: &str, decision: Decision) -> Result<(), ClusterError> {
        let what = "storing a batch's outcome";
        let (subject, msg_id, payload) = decision::message(tx, decision);
        let store = publish_one(&self.inner.js, what, subject, msg_id, payload);
        self.call(what, REQUEST_TIMEOUT + Duration::from_secs(1), store)
            .await
            .map(|_| ())
    }

    /// Batch `tx`'s outcome: the first decision stored for it, `None` before any.
    pub async fn outcome(&self, tx: &str) -> Result<Option<Decision>, ClusterError> {
        let read = decision::first(&self.inner.streams.decisions, tx);
        self.call("reading a batch's outcome", REQUEST_TIMEOUT, read)
            .await
    }

    /// Proposes `decision` for batch `tx` and answers the outcome that stands (the first
    /// stored: `decision` or one stored before it).
    pub async fn decide(&self, tx: &str, decision: Decision) -> Result<Decision, ClusterError> {
        self.propose(tx, decision).await?;
        self.outcome(tx).await?.ok_or_else(|| {
            ClusterError::Protocol(format!(
                "batch {tx}: an outcome was stored but none reads back"
            ))
        })
    }

    /// Every message of partition `p` after stream sequence `after`, in order, then live ones
    /// as they come. The consumer underneath is made again after a server loss (from the last
    /// sequence handed out); the stream never yields a sequence twice and never ends on its
    /// own (its `Err` items are transient).
    pub async fn read_partition(
        &self,
        p: u32,
        after: u64,
    ) -> Result<PartitionReader, ClusterError> {
        self.check_partition(p)?;
        PartitionReader::start(self.inner.streams.events.clone(), p, after).await
    }

    /// The last sequence stored for partition p (for lag): 0 when none.
    pub async fn last_sequence(&self, p: u32) -> Result<u64, ClusterError> {
        self.check_partition(p)?;
        let what = "reading a partition's last sequence";
        let subject = streams::event_subject(p);
        let events = &self.inner.streams.events;
        let read = async {
            match events.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Ok(m.sequence),
                Err(e) => errors::last_message(what, e).map(|()| 0),
            }
        };
        self.call(what, REQUEST_TIMEOUT, read).await
    }

    /// Stores partition p's checkpoint if this node still owns p in the stored placement and
    /// no checkpoint or claim of a newer epoch is stored (else [`ClusterError::Fenced`]) —
    /// compare-and-set with `Nats-Expected-Last-Sequence` on the checkpoint head stream (the
    /// fence is checked against the head the compare-and-set replaces).
    pub async fn save_checkpoint(
        &self,
        p: u32,
        cp: &PartitionCheckpoint,
    ) -> Result<(), ClusterError> {
        self.check_partition(p)?;
        let i = &self.inner;
        let save = checkpoint::save(&i.js, &i.streams, &i.settings.node, p, cp);
        self.call("saving a checkpoint", REQUEST_TIMEOUT * 4, save)
            .await
    }

    /// Partition p's last checkpoint, `None` when it has none. When this node owns p in the
    /// stored placement at a newer epoch than the checkpoint's, it first claims p (a head at
    /// its epoch), so a save of p's former owner still in flight is [`ClusterError::Fenced`].
    pub async fn load_checkpoint(
        &self,
        p: u32,
    ) -> Result<Option<PartitionCheckpoint>, ClusterError> {
        self.check_partition(p)?;
        let i = &self.inner;
        let load = checkpoint::load(&i.js, &i.streams, &i.settings.node, p);
        self.call("loading a checkpoint", REQUEST_TIMEOUT * 4, load)
            .await
    }

    /// The stored placement, `None` before the first one (what [`super::Membership`] watches).
    pub async fn placement(&self) -> Result<Option<Placement>, ClusterError> {
        Ok(self.placement_with_seq().await?.1)
    }

    /// The stored placement with the sequence a compare-and-set must name.
    pub(crate) async fn placement_with_seq(
        &self,
    ) -> Result<(u64, Option<Placement>), ClusterError> {
        let read = control::load_placement(&self.inner.streams.placement);
        self.call("reading the placement", REQUEST_TIMEOUT, read)
            .await
    }

    /// Stores `placement` if the stored one's sequence is still `expected`; `None` when another
    /// node changed it first.
    pub(crate) async fn store_placement(
        &self,
        expected: u64,
        placement: &Placement,
    ) -> Result<Option<u64>, ClusterError> {
        let store = control::store_placement(&self.inner.js, expected, placement);
        self.call(
            "storing the placement",
            REQUEST_TIMEOUT + Duration::from_secs(1),
            store,
        )
        .await
    }

    /// Publishes this node's heartbeat (`leaving` on its last), acked within `bound`.
    pub(crate) async fn heartbeat(
        &self,
        leaving: bool,
        bound: Duration,
    ) -> Result<(), ClusterError> {
        let i = &self.inner;
        let beat = control::heartbeat(&i.js, &i.settings.node, &i.incarnation, leaving);
        self.call("heartbeat", bound, beat).await
    }

    /// Every member's last stored heartbeat.
    pub(crate) async fn members_seen(&self) -> Result<Vec<control::Seen>, ClusterError> {
        let list = control::members(&self.inner.streams.control);
        self.call("listing members", REQUEST_TIMEOUT * 2, list)
            .await
    }

    /// This connection's random incarnation id, sent in its heartbeats so that two processes
    /// started with the same node name are told apart.
    pub fn incarnation(&self) -> &str {
        &self.inner.incarnation
    }

    /// The plain NATS client, for request/reply between nodes (reads, reset answers).
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// The JetStream context (for callers that need a stream operation this type lacks).
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.inner.js
    }

    /// Runs one call to JetStream within `bound`, answering Unavailable as soon as the client
    /// has been without a server for [`RECONNECT_GRACE`] rather than when the bound runs out.
    /// (async-nats holds requests while it reconnects, so a quick failover between servers
    /// needs no error; a request already sent to a server that died waits for its bound.)
    async fn call<T>(
        &self,
        what: &str,
        bound: Duration,
        call: impl std::future::Future<Output = Result<T, ClusterError>>,
    ) -> Result<T, ClusterError> {
        tokio::select! {
            done = tokio::time::timeout(bound, call) => {
                done.map_err(|_| errors::timed_out(what, bound))?
            }
            lost = self.disconnected_for(RECONNECT_GRACE) => Err(ClusterError::Unavailable(
                format!("{what}: {lost}")
            )),
        }
    }

    /// Completes once the client has been disconnected for `grace` without a break.
    async fn disconnected_for(&self, grace: Duration) -> String {
        use async_nats::connection::State;
        let mut down_since = None;
        loop {
            let now = tokio::time::Instant::now();
            if self.inner.client.connection_state() == State::Connected {
                down_since = None;
            } else if now - *down_since.get_or_insert(now) >= grace {
                return format!(
                    "no NATS server of {:?} reachable for {grace:?}",
                    self.inner.settings.urls
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn check_partition(&self, p: u32) -> Result<(), ClusterError> {
        let partitions = self.inner.settings.partitions;
        if p < partitions {
            Ok(())
        } else {
            Err(ClusterError::Config(format!(
                "partition {p} out of range (the cluster has {partitions})"
            )))
        }
    }
}

/// Publishes `payload` with id `msg_id` on `subject`, sending it again after
/// [`ACK_RESEND_AFTER`] without an ack or after a retryable failure, until
/// [`REQUEST_TIMEOUT`]; its stream sequence once acked.
async fn publish_one(
    js: &async_nats::jetstream::Context,
    what: &str,
    subject: String,
    msg_id: String,
    payload: Bytes,
) -> Result<u64, ClusterError> {
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let publish = Publish::build()
            .payload(payload.clone())
            .message_id(&msg_id);
        let ack = js
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| errors::publish(what, e))?;
        let err =
            match tokio::time::timeout(ACK_RESEND_AFTER, std::future::IntoFuture::into_future(ack))
                .await
            {
                Ok(Ok(ack)) => return Ok(ack.sequence),
                Ok(Err(e)) => errors::publish(what, e),
                Err(_) => errors::timed_out(what, ACK_RESEND_AFTER),
            };
        let retry = matches!(err, ClusterError::Unavailable(_));
        if !retry || tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
            return Err(err);
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// The pause before a publish is sent again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
