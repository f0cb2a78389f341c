//! The entity keeper: a thin actor on its own thread that owns the [`EntityStore`], applies
//! captured batches, enforces retention, writes what it captured to the entity file every
//! second (with the log position it covers) and runs reads against the store.

use super::capture::EntitySink;
use super::durable::EntityLog;
use super::series::Interner;
use super::store::{EntityStore, Pending};
use crate::clock::{run_every, SharedClock};
use crate::config::Entities;
use crate::persist::Position;
use crate::telemetry::{Counters, Outcome};
use actix::{Actor, Arbiter, Context, Handler, Message, MessageResult};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// How often retention is enforced, unused series forgotten and new entities written when
/// nothing else happens.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Owns the entity ring.
pub struct EntityKeeper {
    store: EntityStore,
    interner: Arc<Mutex<Interner>>,
    clock: SharedClock,
    counters: Arc<Counters>,
    durable: Option<Durable>,
}

/// The last log position known written, read from the log.
pub type Written = Arc<dyn Fn() -> Position + Send + Sync>;

/// The entity file and how far it is written.
pub struct Durable {
    log: EntityLog,
    /// The sequence number of the first entity not written yet.
    next: u64,
    /// Batches captured and not written yet: (log position, sequence number after them).
    marks: VecDeque<(Position, u64)>,
    /// The log position the file covers, shared with the collector (the log is released
    /// only below it).
    covered: Arc<AtomicU64>,
    written: Written,
}

impl Durable {
    /// Writing to `log`, whose entities before sequence number `next` are written already;
    /// the ring holds the log's batches through `captured` up to sequence number `end`.
    pub fn new(
        log: EntityLog,
        next: u64,
        (captured, end): (Position, u64),
        covered: Arc<AtomicU64>,
        written: Written,
    ) -> Self {
        Durable {
            log,
            next,
            marks: VecDeque::from([(captured, end)]),
            covered,
            written,
        }
    }
}

impl EntityKeeper {
    /// Starts a keeper on its own thread with an empty ring that is not written to disk;
    /// answers the sink that feeds it.
    pub fn spawn(config: &Entities, clock: SharedClock, counters: Arc<Counters>) -> EntitySink {
        let store = EntityStore::new(config.retention, config.max);
        Self::spawn_with(store, Interner::default(), None, clock, counters)
    }

    /// Starts a keeper on its own thread over a ring (read back from `durable`, which it
    /// keeps writing to, when given); answers the sink that feeds it.
    pub fn spawn_with(
        store: EntityStore,
        interner: Interner,
        durable: Option<Durable>,
        clock: SharedClock,
        counters: Arc<Counters>,
    ) -> EntitySink {
        let interner = Arc::new(Mutex::new(interner));
        let shared = interner.clone();
        let keeper =
            EntityKeeper::start_in_arbiter(&Arbiter::new().handle(), move |_| EntityKeeper {
                store,
                interner: shared,
                clock,
                counters,
                durable,
            });
        EntitySink::new(interner, keeper)
    }

    /// Writes what was captured since the last write, with the position it covers: only
    /// batches the log has written (a batch not in the log yet may never be, and its
    /// position be given to another one after a crash).
    fn save(&mut self) {
        let Some(d) = &mut self.durable else {
            return;
        };
        let written = (d.written)();
        let mut upto = None;
        while let Some(&(position, end)) = d.marks.front() {
            if position > written {
                break;
            }
            upto = Some((position, end));
            d.marks.pop_front();
        }
        let (covered, end) = match (upto, d.marks.is_empty()) {
            (Some((position, end)), false) => (position, end),
            (Some((position, _)), true) => (position, self.store.next_seq()),
            (None, true) => (d.covered.load(Relaxed), self.store.next_seq()),
            (None, false) => return,
        };
        if d.next >= end && d.covered.load(Relaxed) >= covered {
            return;
        }
        match d.log.save(&self.store, d.next, end, covered) {
            Ok(next) => {
                d.next = next;
                d.covered.fetch_max(covered, Relaxed);
            }
            Err(e) => {
                self.counters.record(Outcome::HistoryWriteFailed);
                tracing::error!(error = %e, "entities: write failed; retrying");
            }
        }
    }

    /// Drops expired entities, forgets unused series when worthwhile, updates the counters.
    fn sweep(&mut self, dropped: usize) {
        let dropped = dropped + self.store.prune(self.clock.epoch_millis());
        if dropped > 0 {
            self.counters
                .entities_dropped
                .fetch_add(dropped as u64, Relaxed);
            let mut interner = self.interner.lock();
            if interner.wants_collection() {
                interner.collect_garbage();
            }
        }
        self.counters
            .entities
            .store(self.store.len() as u64, Relaxed);
    }
}

impl Actor for EntityKeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(usize::MAX >> 4);
        let clock = self.clock.clone();
        run_every(ctx, &clock, SWEEP_EVERY, |keeper, _| {
            keeper.sweep(0);
            keeper.save();
        });
    }

    fn stopping(&mut self, _: &mut Self::Context) -> actix::Running {
        self.save();
        actix::Running::Stop
    }
}

/// Capture a batch of accepted events, logged at `position` when it came from the collector.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Capture(pub Vec<Pending>, pub Option<Position>);

/// Write what was captured now (at shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SaveEntities;

impl Handler<SaveEntities> for EntityKeeper {
    type Result = ();

    /// Writes.
    fn handle(&mut self, _: SaveEntities, _: &mut Context<Self>) {
        self.save();
    }
}

/// Run a read against the store (after retention is applied) and answer its result.
pub struct Read<F>(pub F);

impl<F, R> Message for Read<F>
where
    F: FnOnce(&EntityStore) -> R,
    R: 'static,
{
    type Result = R;
}

impl Handler<Capture> for EntityKeeper {
    type Result = ();

    /// Appends the batch to the ring.
    fn handle(&mut self, msg: Capture, _: &mut Context<Self>) {
        let dropped = self.store.push(msg.0, self.clock.epoch_millis());
        if let (Some(d), Some(p)) = (&mut self.durable, msg.1) {
            d.marks.push_back((p, self.store.next_seq()));
        }
        self.sweep(dropped);
    }
}

impl<F, R> Handler<Read<F>> for EntityKeeper
where
    F: FnOnce(&EntityStore) -> R,
    R: 'static,
{
    type Result = MessageResult<Read<F>>;

    /// Applies retention, then runs the read.
    fn handle(&mut self, msg: Read<F>, _: &mut Context<Self>) -> Self::Result {
        self.sweep(0);
        MessageResult((msg.0)(&self.store))
    }
}
