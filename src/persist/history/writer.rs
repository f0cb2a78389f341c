//! The history writer: a thin actor that writes each checkpoint's flushes to the store, one
//! transaction per checkpoint, and sweeps aged-out blocks away. A write that fails is logged,
//! counted (`meterd.history.write_failures`) and retried, in order, before any later one and
//! every [`RETRY_EVERY`]; until it succeeds, the shards keep its buckets (reads see them) and
//! every snapshot carries them.

use super::HistoryStore;
use crate::aggregate::downsample::Flush;
use crate::clock::SharedClock;
use crate::telemetry::{Counters, Outcome};
use actix::{Actor, AsyncContext, Context, Handler, Message};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// How often blocks past their tier's retention are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How often a failed write is tried again when nothing else comes.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Owns the writes to the history store (on its own thread: they block on disk).
pub struct HistoryWriter {
    store: Arc<HistoryStore>,
    clock: SharedClock,
    counters: Arc<Counters>,
    /// Checkpoints not written yet, oldest first.
    waiting: VecDeque<Vec<Flush>>,
}

impl HistoryWriter {
    /// A writer into `store`; retention is judged by `clock`.
    pub fn new(store: Arc<HistoryStore>, clock: SharedClock, counters: Arc<Counters>) -> Self {
        HistoryWriter {
            store,
            clock,
            counters,
            waiting: VecDeque::new(),
        }
    }

    /// Writes what waits, in order, until one fails.
    fn drain(&mut self) {
        while let Some(flushes) = self.waiting.front() {
            match self.store.write_all(flushes) {
                Ok(_) => {
                    self.waiting.pop_front();
                }
                Err(e) => {
                    self.counters.record(Outcome::HistoryWriteFailed);
                    let position = flushes.first().map_or(0, |f| f.seq);
                    tracing::error!(error = %e, position, waiting = self.waiting.len(), "history: write failed; retrying");
                    return;
                }
            }
        }
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
        ctx.run_interval(RETRY_EVERY, |w, _| w.drain());
    }
}

/// Write the flushes of one checkpoint (every shard's, at one log position).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Persist(pub Vec<Flush>);

impl Handler<Persist> for HistoryWriter {
    type Result = ();

    /// Writes the flushes after any that wait; a failure keeps them waiting.
    fn handle(&mut self, msg: Persist, _: &mut Context<Self>) {
        if !msg.0.is_empty() {
            self.waiting.push_back(msg.0);
        }
        self.drain();
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
