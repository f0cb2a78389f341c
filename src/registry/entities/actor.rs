//! The entity keeper: a thin actor on its own thread that owns the [`EntityStore`], applies
//! captured batches, enforces retention and runs reads against the store.

use super::capture::EntitySink;
use super::series::Interner;
use super::store::{EntityStore, Pending};
use crate::clock::SharedClock;
use crate::config::Entities;
use crate::telemetry::Counters;
use actix::{Actor, Arbiter, AsyncContext, Context, Handler, Message, MessageResult};
use parking_lot::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// How often retention is enforced and unused series forgotten when nothing else happens.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Owns the entity ring.
pub struct EntityKeeper {
    store: EntityStore,
    interner: Arc<Mutex<Interner>>,
    clock: SharedClock,
    counters: Arc<Counters>,
}

impl EntityKeeper {
    /// Starts a keeper on its own thread; answers the sink that feeds it.
    pub fn spawn(config: &Entities, clock: SharedClock, counters: Arc<Counters>) -> EntitySink {
        let interner = Arc::new(Mutex::new(Interner::default()));
        let store = EntityStore::new(config.retention, config.max);
        let shared = interner.clone();
        let keeper =
            EntityKeeper::start_in_arbiter(&Arbiter::new().handle(), move |_| EntityKeeper {
                store,
                interner: shared,
                clock,
                counters,
            });
        EntitySink::new(interner, keeper)
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
        ctx.run_interval(SWEEP_EVERY, |keeper, _| keeper.sweep(0));
    }
}

/// Capture a batch of accepted events.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Capture(pub Vec<Pending>);

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
