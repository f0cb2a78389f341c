//! The history writer: a thin actor that writes each shard's flushes to the store, one
//! transaction per flush, and sweeps aged-out blocks away.

use super::HistoryStore;
use crate::aggregate::downsample::Flush;
use crate::clock::SharedClock;
use actix::{Actor, AsyncContext, Context, Handler, Message};
use std::sync::Arc;
use std::time::Duration;

/// How often blocks past their tier's retention are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Owns the writes to the history store (on its own thread: they block on disk).
pub struct HistoryWriter {
    store: Arc<HistoryStore>,
    clock: SharedClock,
}

impl HistoryWriter {
    /// A writer into `store`; retention is judged by `clock`.
    pub fn new(store: Arc<HistoryStore>, clock: SharedClock) -> Self {
        HistoryWriter { store, clock }
    }

    fn sweep(&mut self) {
        match self.store.sweep(self.clock.epoch_millis()) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(blocks = n, "history: aged-out blocks deleted"),
            Err(e) => tracing::error!(error = %e, "history: retention sweep failed"),
        }
    }
}

impl Actor for HistoryWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(usize::MAX >> 4);
        self.sweep();
        ctx.run_interval(SWEEP_EVERY, |w, _| w.sweep());
    }
}

/// Write one flush of a shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Persist(pub Flush);

impl Handler<Persist> for HistoryWriter {
    type Result = ();

    /// Writes the flush; on failure it stays in the shard's flight until given up.
    fn handle(&mut self, msg: Persist, _: &mut Context<Self>) {
        if let Err(e) = self.store.write(&msg.0) {
            tracing::error!(error = %e, shard = msg.0.shard, seq = msg.0.seq, "history: write failed");
        }
    }
}

/// Answers once every message sent to the writer before it has been handled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Barrier;

impl Handler<Barrier> for HistoryWriter {
    type Result = ();

    /// Nothing to do: reaching it is the point.
    fn handle(&mut self, _: Barrier, _: &mut Context<Self>) {}
}
