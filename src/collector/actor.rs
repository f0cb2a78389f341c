//! The collector actor: admission, the write-ahead log hand-off, routing, and every step that
//! must be ordered with them (resets, removals, expiry, checkpoints).

use super::admission::{Admission, CollectorError};
use super::answer::{Answer, Reply};
use super::checkpoint::{Checkpoint, Snapshots};
use super::route;
use crate::aggregate::Shards;
use crate::clock::{run_every, SharedClock};
use crate::model::Selector;
use crate::model::{Event, SeriesKey, ValueView};
use crate::persist::{confirmed, Confirm, Log, RecordRef};
use crate::registry::entities::Capturer;
use crate::telemetry::{Counters, Outcome, Reason};
use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Message, ResponseFuture,
    WrapFuture,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How often idle series are looked for (when some `series_ttl` is set).
pub const EXPIRY_SWEEP: Duration = Duration::from_secs(1);

/// Admits batches, logs them, routes them to shards.
pub struct Collector {
    pub(super) admission: Admission,
    pub(super) shards: Shards,
    pub(super) log: Arc<dyn Log>,
    pub(super) counters: Arc<Counters>,
    pub(super) clock: SharedClock,
    pub(super) snapshots: Snapshots,
    /// ODSL entity capture of every admitted batch, when on.
    entities: Option<Capturer>,
    /// Routed batches not sent yet, per shard, each with its admission time: everything one
    /// turn of the collector admits goes to each shard as one message (see [`SendRouted`]).
    routed: Vec<Vec<(Vec<Event>, u64)>>,
    /// Answers to batches of this turn, sent once the log confirms them and [`SendRouted`]
    /// has handed them on (see [`Answer`]).
    answers: Vec<Answer>,
    /// A [`SendRouted`] is queued.
    send_queued: bool,
}

/// What a collector is made of (see `app`).
pub struct CollectorSetup {
    /// Limits, types and the series book (recovered).
    pub admission: Admission,
    /// The shards.
    pub shards: Shards,
    /// The log (the write-ahead log; a JetStream partition later).
    pub log: Arc<dyn Log>,
    /// meterd's own counters.
    pub counters: Arc<Counters>,
    /// Time source.
    pub clock: SharedClock,
    /// Where checkpoints go, and the other parts of the state that take part in them.
    pub snapshots: Snapshots,
}

impl Collector {
    /// A collector from its parts.
    pub fn new(setup: CollectorSetup) -> Self {
        Collector {
            routed: (0..setup.shards.len()).map(|_| Vec::new()).collect(),
            answers: Vec::new(),
            send_queued: false,
            admission: setup.admission,
            shards: setup.shards,
            log: setup.log,
            counters: setup.counters,
            clock: setup.clock,
            snapshots: setup.snapshots,
            entities: None,
        }
    }

    /// Also captures every admitted batch as ODSL metric entities.
    pub fn with_entities(mut self, capturer: Capturer) -> Self {
        self.entities = Some(capturer);
        self
    }

    /// Admits, logs and routes a batch; the log calls `done` once it confirms it (a refused
    /// batch drops `done` unused). The routed parts and the captured entities wait for
    /// [`Collector::send_routed`], which the caller queues ([`Collector::queue_send`]) and
    /// every other step that reaches the shards or the keeper runs first, so that they see the
    /// batches in admission order.
    pub(super) fn admit(
        &mut self,
        events: Vec<Event>,
        done: Confirm,
    ) -> Result<(), CollectorError> {
        // Observations, counting each folded StatsD event as the lines it stands for.
        let n = events.iter().map(Event::weight).sum();
        let queue_bound = self.admission.pipeline().queues.shard as i64;
        let busy = if self.log.is_full() {
            Some("write-ahead log")
        } else if self.shards.any_full(queue_bound) {
            Some("shard")
        } else {
            None
        };
        if let Some(queue) = busy {
            self.counters.record(Outcome::BatchRefused(Reason::Busy, n));
            return Err(CollectorError::Busy(queue));
        }
        let now_ms = self.clock.epoch_millis();
        if let Err(e) = self.admission.admit(&events, now_ms) {
            let reason = match e {
                CollectorError::Limit(_) => Reason::SeriesLimit,
                CollectorError::Conflict(_) | CollectorError::Collision(_) => Reason::Conflict,
                CollectorError::Busy(_) | CollectorError::Wal(_) => Reason::Busy,
            };
            self.counters.record(Outcome::BatchRefused(reason, n));
            return Err(e);
        }
        // This actor is the log's only producer and found room above: this does not wait.
        let record = RecordRef::Batch {
            admitted_ms: now_ms,
            events: &events,
        };
        let position = self.log.append_then(&record, done);
        if let Some(capturer) = &mut self.entities {
            capturer.capture(&events, position);
        }
        let admitted_nanos = self.clock.monotonic_nanos();
        let parts = route(events, self.shards.len());
        for (routed, batch) in self.routed.iter_mut().zip(parts) {
            if !batch.is_empty() {
                routed.push((batch, admitted_nanos));
            }
        }
        self.counters.record(Outcome::Accepted(n));
        Ok(())
    }

    /// Queues a [`SendRouted`] after the messages in the mailbox now, unless one is queued:
    /// one message per shard (and one to the entity keeper) for all they hold.
    pub(super) fn queue_send(&mut self, ctx: &mut Context<Self>) {
        if !self.send_queued {
            self.send_queued = true;
            ctx.notify(SendRouted);
        }
    }

    /// Sends the routed batches to their shards and the captured entities to their keeper;
    /// then their answers may go as soon as the log confirms them, and the log writes what
    /// it held of this turn (see [`Log::flush`]), which answers them from this thread.
    pub(super) fn send_routed(&mut self) {
        self.send_queued = false;
        self.shards.apply(&mut self.routed, &self.counters);
        if let Some(capturer) = &mut self.entities {
            capturer.send();
        }
        for answer in self.answers.drain(..) {
            answer.handed_off();
        }
        self.log.flush();
    }

    /// Forgets the series idle beyond their `series_ttl`: logged, then removed from the shards.
    fn expire(&mut self) {
        self.send_routed();
        let now_ms = self.clock.epoch_millis();
        let hashes = self.admission.book_mut().expire(now_ms);
        if hashes.is_empty() {
            return;
        }
        // Nobody waits for this record; it is in the log before any later batch.
        drop(self.log.append_waiting(&RecordRef::Forget {
            at_ms: now_ms,
            hashes: &hashes,
        }));
        let n = hashes.len();
        let set = Arc::new(hashes.into_iter().collect::<HashSet<u64>>());
        self.shards.forget(set);
        self.counters.series_gone(n, true);
        tracing::info!(series = n, "forgot series idle beyond their series_ttl");
    }
}

impl Actor for Collector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let pipeline = self.admission.pipeline().clone();
        ctx.set_mailbox_capacity(pipeline.queues.collector);
        let clock = self.clock.clone();
        run_every(ctx, &clock, EXPIRY_SWEEP, |act, _| act.expire());
        run_every(
            ctx,
            &clock,
            pipeline.durability.snapshot_interval,
            |_, ctx| {
                ctx.notify(Checkpoint);
            },
        );
    }

    fn stopping(&mut self, _: &mut Self::Context) -> actix::Running {
        self.send_routed();
        actix::Running::Stop
    }
}

/// Send what this turn admitted to the shards and the entity keeper (see
/// [`Collector::queue_send`]).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct SendRouted;

impl Handler<SendRouted> for Collector {
    type Result = ();

    fn handle(&mut self, _: SendRouted, _: &mut Context<Self>) {
        self.send_routed();
    }
}

/// Admit a validated batch, log it and route it to the shards; the number of events accepted
/// is answered on `reply` once the write-ahead log confirms them (as durable as the pipeline
/// asks) and they are on their way to the shards. Every HTTP ingest path submits through
/// this, with `try_send`, so a full mailbox is refused at once rather than waited for.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Submit {
    /// The validated batch.
    pub events: Vec<Event>,
    /// Where the answer goes.
    pub reply: Reply,
}

/// Read and reset the selected series on every shard, as one cut; the reset is logged, and
/// the answer follows the log's confirmation, so that replay never brings back what a reset
/// handed out.
#[derive(Message)]
#[rtype(result = "Vec<(SeriesKey, ValueView)>")]
pub struct DrainAll(pub Selector);

/// Remove the selected series on purpose (logged); answers how many were removed.
#[derive(Message)]
#[rtype(result = "Result<usize, CollectorError>")]
pub struct RemoveSeries(pub Selector);

impl Handler<Submit> for Collector {
    type Result = ();

    /// Admits and routes now; answers once the log confirms and this turn's send is done
    /// (see `Answer`).
    fn handle(&mut self, msg: Submit, ctx: &mut Context<Self>) {
        let answer = Answer::new(msg.reply, msg.events.len());
        match self.admit(msg.events, answer.on_logged()) {
            Err(e) => answer.refuse(e),
            Ok(()) => {
                self.answers.push(answer);
                self.queue_send(ctx);
            }
        }
    }
}

impl Handler<DrainAll> for Collector {
    type Result = ResponseFuture<Vec<(SeriesKey, ValueView)>>;

    /// Logs the reset, enqueues a drain on every shard now (after every batch routed so far,
    /// before any later one), then gathers the answers.
    fn handle(&mut self, msg: DrainAll, _: &mut Context<Self>) -> Self::Result {
        self.send_routed();
        let (_, logged) = self.log.append_waiting(&RecordRef::Reset {
            at_ms: self.clock.epoch_millis(),
            selector: &msg.0,
        });
        // Queued now, after every batch routed so far (see `Shards::drain`).
        let drained = self.shards.drain(&msg.0);
        Box::pin(async move {
            let all = drained.await;
            if let Err(e) = confirmed(logged).await {
                tracing::error!(error = %e, "a reset could not be logged; a crash now would bring its series back");
            }
            all
        })
    }
}

impl Handler<RemoveSeries> for Collector {
    type Result = AtomicResponse<Self, Result<usize, CollectorError>>;

    /// Logs the removal and removes the series from the shards and the book; no other
    /// message is handled meanwhile, so the book never disagrees with the shards.
    fn handle(&mut self, msg: RemoveSeries, _: &mut Context<Self>) -> Self::Result {
        self.send_routed();
        let (_, logged) = self.log.append_waiting(&RecordRef::Remove {
            at_ms: self.clock.epoch_millis(),
            selector: &msg.0,
        });
        let removed = self.shards.remove(&msg.0);
        let gather = async move { (removed.await, confirmed(logged).await) };
        AtomicResponse::new(Box::pin(gather.into_actor(self).map(
            |(keys, logged), act, _| {
                act.admission
                    .book_mut()
                    .remove(keys.iter().map(SeriesKey::stable_hash));
                act.counters.series_gone(keys.len(), false);
                tracing::info!(series = keys.len(), "removed series on request");
                logged?;
                Ok(keys.len())
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::ShardState;
    use crate::clock::ManualClock;
    use crate::collector::SeriesBook;
    use crate::config::Pipeline;
    use crate::model::{Kind, Scope};
    use crate::persist::{Position, Record, ReplayReport, Store, Ticket, WalError};
    use crate::registry::Registry;
    use actix::Arbiter;
    use parking_lot::{Mutex, RwLock};
    use tokio::sync::oneshot;

    /// A log that holds every confirmation, for the test to give from its own thread.
    #[derive(Default)]
    struct HeldLog {
        held: Mutex<Vec<Confirm>>,
    }

    impl Log for HeldLog {
        fn append(&self, record: &RecordRef<'_>) -> Result<(Position, Ticket), WalError> {
            Ok(self.append_waiting(record))
        }
        fn append_waiting(&self, record: &RecordRef<'_>) -> (Position, Ticket) {
            let (done, ticket) = crate::persist::ticket();
            (self.append_then(record, done), ticket)
        }
        fn append_then(&self, _: &RecordRef<'_>, done: Confirm) -> Position {
            let mut held = self.held.lock();
            held.push(done);
            held.len() as Position
        }
        fn is_full(&self) -> bool {
            false
        }
        fn last_position(&self) -> Position {
            self.held.lock().len() as Position
        }
        fn written_position(&self) -> Position {
            0
        }
        fn cut(&self) -> oneshot::Receiver<Result<(), WalError>> {
            oneshot::channel().1
        }
        fn release_through(&self, _: Position) -> std::io::Result<usize> {
            Ok(0)
        }
        fn replay_after(
            &self,
            _: Position,
            _: &mut dyn FnMut(Position, Record),
        ) -> std::io::Result<ReplayReport> {
            Ok(ReplayReport::default())
        }
        fn close(&self) {}
    }

    #[test]
    fn the_log_answers_a_submitted_batch_without_the_collectors_thread() {
        actix::System::new().block_on(answered_by_the_log());
    }

    async fn answered_by_the_log() {
        let dir = std::env::temp_dir().join(format!("meterd-answer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let clock = ManualClock::starting_at(1_000).shared();
        let pipeline = Arc::new(Pipeline::default());
        let counters = Arc::new(Counters::default());
        let states = vec![ShardState::new(pipeline.aggregate_settings())];
        let (shards, shard_arbiters) = Shards::start(states, &clock, &counters);
        let log = Arc::new(HeldLog::default());
        let registry = Arc::new(RwLock::new(Registry::default()));
        let setup = CollectorSetup {
            admission: Admission::new(registry, SeriesBook::default(), pipeline),
            shards: shards.clone(),
            log: log.clone(),
            counters,
            clock,
            snapshots: Snapshots::new(Arc::new(Store::open(&dir.join("s.redb")).unwrap()), None),
        };
        let arbiter = Arbiter::new();
        let collector = Collector::start_in_arbiter(&arbiter.handle(), |_| Collector::new(setup));
        let (reply, answer) = oneshot::channel();
        let key = SeriesKey::simple(Scope::Application, "orders", vec![]);
        let event = Event::observe(key, Kind::Counter, 2.0, 1_000);
        collector
            .try_send(Submit {
                events: vec![event],
                reply,
            })
            .unwrap();
        // Logged, and handed to the shard.
        let selector = Selector::default();
        let handed = async {
            while log.held.lock().is_empty() || shards.collect(&selector).await.unwrap().is_empty()
            {
                actix::clock::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), handed)
            .await
            .expect("logged and handed to the shard");
        // The collector's thread stops for good: whatever answers now does so without it.
        arbiter.stop();
        arbiter.join().unwrap();
        let mut answer = answer;
        assert!(
            answer.try_recv().is_err(),
            "answered before the log confirmed"
        );
        let confirm = log.held.lock().pop().unwrap();
        confirm(Ok(()));
        let answered = tokio::time::timeout(Duration::from_secs(5), answer).await;
        assert_eq!(answered.unwrap().unwrap().unwrap(), 1);
        for a in shard_arbiters {
            a.stop();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
