//! A meterd node in a cluster: it publishes what it ingests into the partitions' stream, owns
//! the partitions the placement gives it (load the checkpoint, replay after its position,
//! apply live, checkpoint now and then), answers other nodes' reads of its partitions, and
//! reads and resets across the cluster by asking every owner.
//!
//! Everything that talks to NATS runs on the node's own tokio runtime (one thread, `cluster`),
//! so that actix's per-worker runtimes only await its answers.

use super::nats::decision::Decision;
use super::nats::streams::OUTCOME_MAX_AGE;
use super::owned::{batch_payload, part_payload, Applied, PartitionState};
use super::partition::split;
use super::read::{decode, encode, Gather, Merged, PartView, ReadAnswer, ReadRequest};
use super::status::{ClusterView, Progress, DEFAULT_READY_LAG};
use super::wire::Entry;
use super::Placement;
use super::{ClusterError, ClusterSettings, Jet, Membership, Outgoing, PartitionCheckpoint};
use crate::aggregate::AggregateSettings;
use crate::clock::SharedClock;
use crate::model::{Event, Selector};
use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The subject every node answers reads on (each with the partitions it owns).
pub const READ_SUBJECT: &str = "meterd.read";
/// How long a read waits for every partition's owner (a takeover in progress included).
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// How long one round of a read waits before it asks again.
const READ_ROUND: Duration = Duration::from_millis(700);
/// How long a get-and-reset waits for every partition's drain (a takeover included).
pub const RESET_DEADLINE: Duration = Duration::from_secs(20);
/// How often an owner checks that its reader still delivers while the stream grows.
const STALL_CHECK: Duration = Duration::from_secs(2);
/// The largest payload one partition's part of a batch gets; larger parts are split.
const MAX_PART_BYTES: usize = 512 * 1024;

/// A running cluster node; cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    jet: Jet,
    settings: ClusterSettings,
    aggregate: AggregateSettings,
    clock: SharedClock,
    checkpoint_every: Duration,
    runtime: tokio::runtime::Handle,
    placement: watch::Receiver<Placement>,
    owned: Mutex<HashMap<u32, Arc<Slot>>>,
    membership: Mutex<Option<Membership>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    breaker: Breaker,
}

/// One owned partition.
struct Slot {
    partition: u32,
    /// The placement epoch it is owned at (updated while it stays here).
    epoch: AtomicU64,
    /// `None` until loaded.
    state: Mutex<Option<PartitionState>>,
    /// True once the state reached the partition's last sequence at load time.
    caught_up: AtomicBool,
    /// The position of the last checkpoint saved.
    saved: AtomicU64,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What this node knows of the cluster, for `GET /cluster` and `/-/ready` (see
/// [`super::status`]).
#[derive(Debug, Clone)]
pub struct Observed {
    /// This node.
    pub node: String,
    /// Whether its membership runs.
    pub joined: bool,
    /// The latest stored placement.
    pub placement: Placement,
    /// Live members and the age of their last heartbeat.
    pub members: Vec<(String, Duration)>,
    /// Per partition: the position its owner applied and the stream's last sequence, `None`
    /// when no caught-up owner answered.
    pub progress: Vec<Option<Progress>>,
}

impl Observed {
    /// The view [`super::status`] renders and decides readiness from.
    pub fn view(&self) -> ClusterView<'_> {
        ClusterView {
            node: &self.node,
            joined: self.joined,
            placement: &self.placement,
            members: &self.members,
            progress: &self.progress,
            max_lag: DEFAULT_READY_LAG,
        }
    }
}

impl Node {
    /// Connects, joins and starts owning partitions; blocks until joined (start-up).
    pub fn start(
        settings: ClusterSettings,
        aggregate: AggregateSettings,
        checkpoint_every: Duration,
        clock: SharedClock,
    ) -> Result<Node, ClusterError> {
        settings.validate()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cluster".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(ClusterError::Protocol(e.to_string())));
                        return;
                    }
                };
                let handle = runtime.handle().clone();
                runtime.block_on(async move {
                    let joined = async {
                        let jet = Jet::connect(&settings).await?;
                        let (membership, placement) = Membership::join(&jet, &settings).await?;
                        Ok::<_, ClusterError>((jet, membership, placement))
                    }
                    .await;
                    let (jet, membership, placement) = match joined {
                        Ok(j) => j,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let (stop, stopped) = oneshot::channel();
                    let node = Node {
                        inner: Arc::new(Inner {
                            jet,
                            settings,
                            aggregate,
                            clock,
                            checkpoint_every,
                            runtime: handle,
                            placement: placement.clone(),
                            owned: Mutex::new(HashMap::new()),
                            membership: Mutex::new(Some(membership)),
                            stop: Mutex::new(Some(stop)),
                            breaker: Breaker::default(),
                        }),
                    };
                    tokio::spawn(follow(node.inner.clone(), placement));
                    let responder = tokio::spawn(answer_reads(node.inner.clone()));
                    let _ = tx.send(Ok(node));
                    let _ = stopped.await;
                    responder.abort();
                });
            })
            .map_err(|e| ClusterError::Protocol(e.to_string()))?;
        match rx.recv() {
            Ok(r) => r,
            Err(_) => {
                let _ = thread.join();
                Err(ClusterError::Protocol("the cluster thread died".into()))
            }
        }
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.inner.settings.node
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u32 {
        self.inner.settings.partitions
    }

    /// Runs `fut` on the cluster runtime and awaits it from anywhere.
    async fn on_runtime<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, ClusterError>> + Send + 'static,
    ) -> Result<T, ClusterError> {
        self.inner
            .runtime
            .spawn(fut)
            .await
            .map_err(|e| ClusterError::Protocol(format!("a cluster task failed: {e}")))?
    }

    /// Publishes a validated batch into its partitions, all or nothing; answers the number of
    /// events once the batch is stored for good.
    ///
    /// A batch in one partition is one message. A batch over several is written as pending
    /// parts (see [`Entry`]); once every part is acknowledged its outcome is decided
    /// ([`Decision::Commit`], unless an owner gave up on it first) and marked in each
    /// partition. An error means nothing of the batch is applied, except
    /// [`ClusterError::OutcomeUnknown`] (JetStream lost between storing the commit and reading
    /// it back) and a timed-out acknowledgement of a one-partition batch, which JetStream may
    /// still have stored (as with any store whose acknowledgement is lost).
    pub async fn publish(&self, events: Vec<Event>) -> Result<usize, ClusterError> {
        let n = events.len();
        if n == 0 {
            return Ok(0);
        }
        let inner = self.inner.clone();
        let admitted_ms = inner.clock.epoch_millis();
        let tx = uuid::Uuid::new_v4().simple().to_string();
        let groups = split(events, inner.settings.partitions);
        if let [(partition, events)] = groups.as_slice() {
            let mut whole = payloads(events, &|e| batch_payload(admitted_ms, e));
            if whole.len() == 1 {
                let part = Outgoing {
                    partition: *partition,
                    msg_id: format!("{tx}-{partition}"),
                    payload: Bytes::from(whole.remove(0)),
                };
                self.on_runtime(async move { inner.jet.publish_all(vec![part]).await })
                    .await?;
                return Ok(n);
            }
        }
        let mut parts = Vec::new();
        for (partition, events) in &groups {
            let encode = |e: &[Event]| part_payload(&tx, admitted_ms, e);
            for (i, payload) in payloads(events, &encode).into_iter().enumerate() {
                parts.push(Outgoing {
                    partition: *partition,
                    msg_id: format!("{tx}-{partition}-{i}"),
                    payload: Bytes::from(payload),
                });
            }
        }
        let touched: Vec<u32> = groups.iter().map(|(p, _)| *p).collect();
        self.on_runtime(async move { commit(&inner, &tx, parts, touched).await })
            .await?;
        Ok(n)
    }

    /// The selected series of the whole cluster, asked of every owner and merged.
    pub async fn read(&self, selector: Selector, measure: bool) -> Result<Merged, ClusterError> {
        let inner = self.inner.clone();
        let request = ReadRequest {
            selector: Some(selector),
            measure,
        };
        self.on_runtime(async move { Ok(gather(&inner, &request, READ_DEADLINE).await?) })
            .await
            .map(Gather::merge)
    }

    /// Reads and resets the selected series across the cluster as one cut: a reset marker is
    /// published into every partition, each owner drains its partition at the marker's
    /// position and sends the drained part here; every event is wholly before the marker of
    /// its partition (in the answer) or after it (still live).
    pub async fn reset(&self, selector: Selector) -> Result<Merged, ClusterError> {
        let inner = self.inner.clone();
        self.on_runtime(async move {
            let client = inner.jet.client().clone();
            let inbox = client.new_inbox();
            let mut answers = client
                .subscribe(inbox.clone())
                .await
                .map_err(|e| ClusterError::Unavailable(e.to_string()))?;
            let at_ms = inner.clock.epoch_millis();
            let marker = Bytes::from(
                Entry::Reset {
                    at_ms,
                    selector,
                    reply: inbox.clone(),
                }
                .encode(),
            );
            let id = uuid::Uuid::new_v4().simple().to_string();
            let parts = (0..inner.settings.partitions)
                .map(|partition| Outgoing {
                    partition,
                    msg_id: format!("reset-{id}-{partition}"),
                    payload: marker.clone(),
                })
                .collect();
            inner.jet.publish_all(parts).await?;
            let mut gather = Gather::new(inner.settings.partitions);
            let deadline = tokio::time::Instant::now() + RESET_DEADLINE;
            while !gather.complete() {
                match tokio::time::timeout_at(deadline, answers.next()).await {
                    Ok(Some(msg)) => {
                        if let Some(part) = decode::<PartView>(&msg.payload) {
                            gather.add(part);
                        }
                    }
                    _ => {
                        return Err(ClusterError::Unavailable(format!(
                            "the reset markers are in every partition, but partitions {:?} did not answer within {RESET_DEADLINE:?}: what they drained is lost",
                            gather.missing()
                        )))
                    }
                }
            }
            Ok(gather.merge())
        })
        .await
    }

    /// Members, placement and every partition's applied position and last sequence.
    pub async fn status(&self) -> Observed {
        let inner = self.inner.clone();
        let node = self.name().to_owned();
        let task = async move {
            let placement = inner.placement.borrow().clone();
            let members = inner.membership.lock().as_ref().map(Membership::members);
            let request = ReadRequest {
                selector: None,
                measure: true,
            };
            let positions = match gather(&inner, &request, Duration::from_secs(1)).await {
                Ok(g) => g.positions(),
                Err(e) => e.answered,
            };
            let mut progress = Vec::new();
            for p in 0..inner.settings.partitions {
                let last = inner.jet.last_sequence(p).await.ok();
                progress.push(
                    positions
                        .get(&p)
                        .zip(last)
                        .map(|(&applied, last)| Progress { applied, last }),
                );
            }
            Ok(Observed {
                node: inner.settings.node.clone(),
                joined: members.is_some(),
                placement,
                members: members.unwrap_or_default(),
                progress,
            })
        };
        match self.on_runtime(task).await {
            Ok(observed) => observed,
            Err(_) => Observed {
                joined: false,
                placement: self.inner.placement.borrow().clone(),
                members: Vec::new(),
                progress: vec![None; self.partitions() as usize],
                node,
            },
        }
    }

    /// Saves a last checkpoint of every owned partition, leaves the cluster (its partitions
    /// move now rather than after the member TTL) and stops the cluster runtime.
    pub async fn close(&self) {
        let inner = self.inner.clone();
        let closing = self
            .on_runtime(async move {
                let slots: Vec<Arc<Slot>> = inner.owned.lock().values().cloned().collect();
                for slot in &slots {
                    if let Some(task) = slot.task.lock().take() {
                        task.abort();
                    }
                    if let Err(e) = save(&inner, slot).await {
                        tracing::warn!(partition = slot.partition, error = %e, "last checkpoint failed; the next owner replays more");
                    }
                }
                let membership = inner.membership.lock().take();
                if let Some(m) = membership {
                    m.leave().await;
                }
                Ok(())
            })
            .await;
        if let Err(e) = closing {
            tracing::warn!(error = %e, "leaving the cluster failed");
        }
        if let Some(stop) = self.inner.stop.lock().take() {
            let _ = stop.send(());
        }
    }
}

/// Writes batch `tx` over several partitions: its pending `parts`, then its outcome, then the
/// outcome's marker in every partition it `touched` (waited for, so that what the same client
/// sends next lands after it in every partition).
///
/// Until the commit is stored, a failure leaves only parts that no commit will ever follow:
/// their owners abort them after `commit_timeout`. The outcome is always read back: an owner
/// may have stored an abort first (it held a part `commit_timeout`, e.g. while this node
/// stalled).
async fn commit(
    inner: &Inner,
    tx: &str,
    parts: Vec<Outgoing>,
    touched: Vec<u32>,
) -> Result<(), ClusterError> {
    inner.breaker.check()?;
    inner.jet.publish_all(parts).await.map_err(|e| {
        let note = "nothing of the batch is applied (parts stored are aborted by their owners)";
        match e {
            ClusterError::Busy(m) => ClusterError::Busy(format!("{m}; {note}")),
            ClusterError::Unavailable(m) => ClusterError::Unavailable(format!("{m}; {note}")),
            other => other,
        }
    })?;
    let outcome = match inner.jet.decide(tx, Decision::Commit).await {
        Ok(outcome) => outcome,
        Err(e) => settle(inner, tx, &e.to_string()).await?,
    };
    if outcome == Decision::Abort {
        return Err(ClusterError::Unavailable(format!(
            "batch {tx} was aborted before its commit was stored (an owner held a part for commit_timeout {:?}, or storing the commit failed); nothing of it is applied",
            inner.settings.commit_timeout
        )));
    }
    let marker = Bytes::from(Entry::Commit { tx: tx.to_owned() }.encode());
    let marks = touched
        .into_iter()
        .map(|partition| Outgoing {
            partition,
            msg_id: format!("{tx}-{partition}-commit"),
            payload: marker.clone(),
        })
        .collect();
    if let Err(e) = inner.jet.publish_all(marks).await {
        tracing::warn!(tx, error = %e, "batch committed, but not every commit marker was stored: its owners apply it after commit_timeout");
    }
    Ok(())
}

/// The outcome of batch `tx` after its commit may or may not have been stored (`failed`
/// says why it is not known): an abort is proposed, and whichever was stored first stands.
/// When even that fails, the outcome is unknown, and outcome calls are refused for a while
/// (see [`Breaker`]).
async fn settle(inner: &Inner, tx: &str, failed: &str) -> Result<Decision, ClusterError> {
    inner.jet.decide(tx, Decision::Abort).await.map_err(|e| {
        inner.breaker.trip();
        ClusterError::OutcomeUnknown(format!(
            "batch {tx}: {failed}, then {e}; the batch is applied wholly or not at all, which is not known yet: read before sending it again"
        ))
    })
}

/// Refuses batches over several partitions for a while after their outcomes could not be
/// stored, before any part is published: otherwise each retry of a client would store parts
/// that owners hold (memory, checkpoints) until the outcome stream is back.
#[derive(Default)]
struct Breaker {
    open_until: Mutex<Option<tokio::time::Instant>>,
}

/// How long [`Breaker`] refuses after a failure.
const BREAKER_OPEN: Duration = Duration::from_secs(2);

impl Breaker {
    fn trip(&self) {
        *self.open_until.lock() = Some(tokio::time::Instant::now() + BREAKER_OPEN);
    }

    fn check(&self) -> Result<(), ClusterError> {
        match *self.open_until.lock() {
            Some(until) if tokio::time::Instant::now() < until => Err(ClusterError::Unavailable(
                "the outcomes of batches over several partitions could not be stored a moment ago; nothing of this batch is stored".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A batch's part for one partition as payloads of at most [`MAX_PART_BYTES`] (split in
/// halves while larger; a single event is never split), each encoded by `encode`.
fn payloads(events: &[Event], encode: &dyn Fn(&[Event]) -> Vec<u8>) -> Vec<Vec<u8>> {
    let n = events.len();
    let payload = encode(events);
    if payload.len() <= MAX_PART_BYTES || n <= 1 {
        return vec![payload];
    }
    let (first, second) = events.split_at(n / 2);
    let mut out = payloads(first, encode);
    out.extend(payloads(second, encode));
    out
}

/// A read that did not hear from every partition in time.
struct Incomplete {
    error: ClusterError,
    /// The positions of the partitions that answered.
    answered: HashMap<u32, u64>,
}

impl From<Incomplete> for ClusterError {
    fn from(i: Incomplete) -> Self {
        i.error
    }
}

/// Asks every node for its partitions until every partition answered or `deadline` passed.
async fn gather(
    inner: &Inner,
    request: &ReadRequest,
    deadline: Duration,
) -> Result<Gather, Incomplete> {
    let client = inner.jet.client();
    let payload = Bytes::from(encode(request));
    let end = tokio::time::Instant::now() + deadline;
    let unavailable = |e: &dyn std::fmt::Display| Incomplete {
        error: ClusterError::Unavailable(e.to_string()),
        answered: HashMap::new(),
    };
    loop {
        let inbox = client.new_inbox();
        let mut answers = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        client
            .publish_with_reply(READ_SUBJECT, inbox, payload.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        let mut gather = Gather::new(inner.settings.partitions);
        let round = (tokio::time::Instant::now() + READ_ROUND).min(end);
        while !gather.complete() {
            match tokio::time::timeout_at(round, answers.next()).await {
                Ok(Some(msg)) => {
                    if let Some(answer) = decode::<ReadAnswer>(&msg.payload) {
                        for part in answer.parts {
                            gather.add(part);
                        }
                    }
                }
                _ => break,
            }
        }
        if gather.complete() {
            return Ok(gather);
        }
        if tokio::time::Instant::now() >= end {
            return Err(Incomplete {
                error: ClusterError::Unavailable(format!(
                    "no caught-up owner answered for partitions {:?} within {deadline:?} (a takeover in progress?)",
                    gather.missing()
                )),
                answered: gather.positions(),
            });
        }
    }
}

/// Answers every node's reads with the parts of the caught-up partitions owned here.
async fn answer_reads(inner: Arc<Inner>) {
    let client = inner.jet.client().clone();
    let mut requests = match client.subscribe(READ_SUBJECT).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot answer cluster reads");
            return;
        }
    };
    while let Some(msg) = requests.next().await {
        let (Some(reply), Some(request)) = (msg.reply, decode::<ReadRequest>(&msg.payload)) else {
            continue;
        };
        let slots: Vec<Arc<Slot>> = inner.owned.lock().values().cloned().collect();
        let mut parts = Vec::new();
        for slot in slots {
            if !slot.caught_up.load(Relaxed) {
                continue;
            }
            let mut state = slot.state.lock();
            let Some(state) = state.as_mut() else {
                continue;
            };
            parts.push(match &request.selector {
                Some(selector) => state.read(selector, request.measure, &*inner.clock),
                None => PartView {
                    partition: state.partition(),
                    position: state.position(),
                    views: Vec::new(),
                    families: Vec::new(),
                },
            });
        }
        let answer = ReadAnswer {
            node: inner.settings.node.clone(),
            parts,
        };
        if let Err(e) = client.publish(reply, Bytes::from(encode(&answer))).await {
            tracing::warn!(error = %e, "a read answer was not sent");
        }
    }
}

/// Follows the placement: takes the partitions given to this node, gives up the others.
async fn follow(inner: Arc<Inner>, mut placement: watch::Receiver<Placement>) {
    loop {
        let now = placement.borrow_and_update().clone();
        let mine: std::collections::HashSet<u32> =
            now.owned_by(&inner.settings.node).into_iter().collect();
        {
            let mut owned = inner.owned.lock();
            owned.retain(|p, slot| {
                if mine.contains(p) {
                    slot.epoch.store(now.epoch, Relaxed);
                    return true;
                }
                if let Some(task) = slot.task.lock().take() {
                    task.abort();
                }
                tracing::info!(partition = p, epoch = now.epoch, "partition moved away");
                false
            });
            for p in mine {
                if owned.contains_key(&p) {
                    continue;
                }
                tracing::info!(partition = p, epoch = now.epoch, "taking partition over");
                let slot = Arc::new(Slot {
                    partition: p,
                    epoch: AtomicU64::new(now.epoch),
                    state: Mutex::new(None),
                    caught_up: AtomicBool::new(false),
                    saved: AtomicU64::new(0),
                    task: Mutex::new(None),
                });
                let task = tokio::spawn(own(inner.clone(), slot.clone()));
                *slot.task.lock() = Some(task);
                owned.insert(p, slot);
            }
        }
        if placement.changed().await.is_err() {
            return;
        }
    }
}

/// Owns one partition until aborted: runs it, and after an error (a lost server) runs it
/// again from the position reached.
async fn own(inner: Arc<Inner>, slot: Arc<Slot>) {
    loop {
        if let Err(e) = run(&inner, &slot).await {
            tracing::warn!(partition = slot.partition, error = %e, "partition reader stopped; restarting");
            slot.caught_up.store(false, Relaxed);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Loads the partition (unless held), replays after its position and applies live entries,
/// checkpointing every `checkpoint_every`.
async fn run(inner: &Arc<Inner>, slot: &Arc<Slot>) -> Result<(), ClusterError> {
    let p = slot.partition;
    let held = slot.state.lock().as_ref().map(PartitionState::position);
    let position = match held {
        Some(position) => position,
        None => {
            let state = match inner.jet.load_checkpoint(p).await? {
                Some(cp) => PartitionState::load(
                    p,
                    inner.aggregate.clone(),
                    cp.position,
                    &cp.state,
                    &*inner.clock,
                )
                .unwrap_or_else(|e| {
                    tracing::error!(partition = p, error = %e, "checkpoint does not decode; replaying the whole partition");
                    PartitionState::new(p, inner.aggregate.clone())
                }),
                None => PartitionState::new(p, inner.aggregate.clone()),
            };
            let position = state.position();
            slot.saved.store(position, Relaxed);
            *slot.state.lock() = Some(state);
            position
        }
    };
    let target = inner.jet.last_sequence(p).await?;
    let mut reader = inner.jet.read_partition(p, position).await?;
    if position >= target {
        slot.caught_up.store(true, Relaxed);
        tracing::info!(partition = p, position, "partition caught up");
    }
    let client = inner.jet.client().clone();
    let mut tick = tokio::time::interval(inner.checkpoint_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut watch = tokio::time::interval(STALL_CHECK);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    watch.tick().await;
    let mut watched = position;
    let mut settle_tick =
        tokio::time::interval((inner.settings.commit_timeout / 4).max(Duration::from_millis(100)));
    settle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut waiting: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut settling: Option<JoinHandle<()>> = None;
    loop {
        tokio::select! {
            item = reader.next() => {
                let (seq, payload) = match item {
                    Some(Ok(m)) => m,
                    // Transient: the reader makes a new consumer after a lost server.
                    Some(Err(e)) => {
                        tracing::debug!(partition = p, error = %e, "partition reader");
                        continue;
                    }
                    None => return Err(ClusterError::Unavailable("the partition's reader ended".into())),
                };
                let applied = match slot.state.lock().as_mut() {
                    Some(state) => state.apply(seq, &payload, &*inner.clock),
                    None => Applied::Skipped,
                };
                match applied {
                    Applied::Reset { reply, part } => {
                        if let Err(e) = client.publish(reply, Bytes::from(encode(&part))).await {
                            tracing::warn!(partition = p, error = %e, "a drained part was not sent");
                        }
                    }
                    Applied::Batch { refused, .. } if refused > 0 => {
                        tracing::warn!(partition = p, refused, "events left out for a type conflict in their partition");
                    }
                    Applied::Dropped { events } => {
                        tracing::info!(partition = p, events, "an aborted batch's part dropped");
                    }
                    Applied::Undecodable => {
                        tracing::error!(partition = p, seq, "a message of the partition is not an entry; skipped");
                    }
                    _ => {}
                }
                if seq >= target && !slot.caught_up.swap(true, Relaxed) {
                    tracing::info!(partition = p, position = seq, "partition caught up");
                }
            }
            _ = watch.tick() => {
                // A reader that stopped delivering while the stream grew (its server lost
                // and not noticed yet) is started again from the position applied.
                let applied = slot.state.lock().as_ref().map_or(0, PartitionState::position);
                if applied == watched && inner.jet.last_sequence(p).await? > applied {
                    return Err(ClusterError::Unavailable(format!(
                        "the reader stalled at {applied} while the stream grew"
                    )));
                }
                watched = applied;
            }
            _ = settle_tick.tick() => {
                // Settling waits on JetStream: it runs beside the reader, one round at a time.
                if settling.as_ref().is_none_or(JoinHandle::is_finished) {
                    let late = overdue(slot, &mut waiting, inner.settings.commit_timeout);
                    if !late.is_empty() {
                        settling = Some(tokio::spawn(settle_all(inner.clone(), slot.clone(), late)));
                    }
                }
            }
            _ = tick.tick() => {
                if let Err(e) = save(inner, slot).await {
                    if matches!(e, ClusterError::Fenced { .. }) {
                        tracing::info!(partition = p, "checkpoint fenced: the partition moved");
                    } else {
                        tracing::warn!(partition = p, error = %e, "checkpoint failed; the next owner replays more");
                    }
                }
            }
        }
    }
}

/// The batches whose part the slot has held for `timeout` (since this reader first saw it held)
/// without their marker; `waiting` tracks when each was first seen and restarts the clock of
/// those returned, so a batch is settled again only after another `timeout`.
fn overdue(
    slot: &Slot,
    waiting: &mut HashMap<String, tokio::time::Instant>,
    timeout: Duration,
) -> Vec<String> {
    let now = tokio::time::Instant::now();
    let state = slot.state.lock();
    let Some(state) = state.as_ref() else {
        return Vec::new();
    };
    let held: std::collections::HashSet<&str> = state.pending().collect();
    waiting.retain(|tx, _| held.contains(tx.as_str()));
    let mut late = Vec::new();
    for tx in held {
        let since = waiting.entry(tx.to_owned()).or_insert(now);
        if now.duration_since(*since) >= timeout {
            *since = now;
            late.push(tx.to_owned());
        }
    }
    late
}

/// Settles the batches `late` whose parts the slot has held too long, once the partition is
/// read to its end (a marker still ahead in the stream settles its batch by itself).
async fn settle_all(inner: Arc<Inner>, slot: Arc<Slot>, late: Vec<String>) {
    let p = slot.partition;
    let applied = slot
        .state
        .lock()
        .as_ref()
        .map_or(0, PartitionState::position);
    match inner.jet.last_sequence(p).await {
        Ok(last) if last <= applied => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(partition = p, error = %e, "held parts not settled yet");
            return;
        }
    }
    for tx in late {
        if let Err(e) = settle_held(&inner, &slot, &tx).await {
            tracing::warn!(partition = p, tx, error = %e, "a held part's outcome is not settled yet");
        }
    }
}

/// Settles batch `tx`, whose part the slot holds without its marker: its outcome if one is
/// stored, else an abort proposed (the ingesting node died or gave up before its commit); then
/// marks the outcome in this partition, where the part is applied or dropped when read.
async fn settle_held(inner: &Inner, slot: &Slot, tx: &str) -> Result<(), ClusterError> {
    let outcome = match inner.jet.outcome(tx).await? {
        Some(outcome) => outcome,
        None => {
            let admitted_ms = slot
                .state
                .lock()
                .as_ref()
                .and_then(|s| s.held_admitted_ms(tx));
            let age_ms = admitted_ms.map(|ms| inner.clock.epoch_millis().saturating_sub(ms));
            if age_ms.is_some_and(|age| age >= OUTCOME_MAX_AGE.as_millis() as i64) {
                tracing::error!(partition = slot.partition, tx, "a part held longer than outcomes are kept, without an outcome: aborting it here, though its batch may have been committed (its other partitions may apply it)");
            }
            inner.jet.decide(tx, Decision::Abort).await?
        }
    };
    let (entry, kind) = match outcome {
        Decision::Commit => (Entry::Commit { tx: tx.to_owned() }, "commit"),
        Decision::Abort => (Entry::Abort { tx: tx.to_owned() }, "abort"),
    };
    tracing::info!(partition = slot.partition, tx, kind, "settling a held part");
    let position = slot
        .state
        .lock()
        .as_ref()
        .map_or(0, PartitionState::position);
    let p = slot.partition;
    let mark = Outgoing {
        partition: p,
        // Unique per attempt at a new position: a marker stored before a late part of the
        // same batch does not swallow the one that settles it.
        msg_id: format!("{tx}-{p}-{kind}-at-{position}"),
        payload: Bytes::from(entry.encode()),
    };
    inner.jet.publish_all(vec![mark]).await.map(|_| ())
}

/// Saves the slot's state as the partition's checkpoint when it moved since the last one.
async fn save(inner: &Inner, slot: &Slot) -> Result<(), ClusterError> {
    let taken = slot
        .state
        .lock()
        .as_ref()
        .map(|s| (s.position(), s.save(&*inner.clock)));
    let Some((position, state)) = taken else {
        return Ok(());
    };
    if position <= slot.saved.load(Relaxed) {
        return Ok(());
    }
    let cp = PartitionCheckpoint {
        epoch: slot.epoch.load(Relaxed),
        position,
        state: Bytes::from(state),
    };
    inner.jet.save_checkpoint(slot.partition, &cp).await?;
    slot.saved.store(position, Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey};

    #[test]
    fn the_breaker_refuses_only_while_open() {
        let breaker = Breaker::default();
        assert!(breaker.check().is_ok());
        breaker.trip();
        assert!(matches!(breaker.check(), Err(ClusterError::Unavailable(_))));
        // Open for BREAKER_OPEN from the trip, then closed again.
        *breaker.open_until.lock() = Some(tokio::time::Instant::now());
        assert!(breaker.check().is_ok());
    }

    #[test]
    fn a_large_part_is_split_into_payloads_under_the_bound_in_order() {
        let events: Vec<Event> = (0..40_000)
            .map(|i| {
                let key = SeriesKey::simple(Scope::Application, &format!("series.{i}"), vec![]);
                Event::observe(key, Kind::Counter, f64::from(i), 0)
            })
            .collect();
        let parts = payloads(&events, &|e| batch_payload(7, e));
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.len() <= MAX_PART_BYTES));
        let back: Vec<Event> = parts
            .iter()
            .flat_map(|p| match Entry::decode(p) {
                Some(Entry::Batch {
                    admitted_ms: 7,
                    events,
                }) => events,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(back, events);
        assert_eq!(payloads(&events[..3], &|e| batch_payload(7, e)).len(), 1);
    }
}
