//! The entity keeper: a thin actor on its own thread that owns the [`EntityStore`], applies
//! captured batches, enforces retention, writes what it captured to the entity file every
//! second (with the log position it covers) and runs reads against the store.

use super::capture::EntitySink;
use super::durable::EntityLog;
use super::series::Interner;
use super::store::{EntityStore, Pending};
use crate::clock::SharedClock;
use crate::config::Entities;
use crate::persist::Position;
use crate::telemetry::Counters;
use actix::{Actor, Arbiter, AsyncContext, Context, Handler, Message, MessageResult};
use parking_lot::Mutex;
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

/// The entity file and how far it is written.
pub struct Durable {
    /// The file.
    pub log: EntityLog,
    /// The sequence number of the first entity not written yet.
    pub next: u64,
    /// The last log position captured into the ring.
    pub captured: Position,
    /// The log position the file covers, shared with the collector (the log is released
    /// only below it).
    pub covered: Arc<AtomicU64>,
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

    /// Writes what was captured since the last write, with the position it covers.
    fn save(&mut self) {
        let Some(d) = &mut self.durable else {
            return;
        };
        if d.next >= self.store.next_seq() && d.covered.load(Relaxed) >= d.captured {
            return;
        }
        match d.log.save(&self.store, d.next, d.captured) {
            Ok(next) => {
                d.next = next;
                d.covered.store(d.captured, Relaxed);
            }
            Err(e) => {
                self.counters.history_write_failures.fetch_add(1, Relaxed);
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
        ctx.run_interval(SWEEP_EVERY, |keeper, _| {
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
            d.captured = d.captured.max(p);
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
