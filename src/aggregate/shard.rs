//! The shard actor: a thin shell that owns one [`ShardState`] on its own thread.

use super::ShardState;
use crate::clock::SharedClock;
use crate::model::{Event, SeriesKey, ValueView};
use crate::registry::Selector;
use crate::telemetry::Counters;
use actix::{Actor, Context, Handler, Message, MessageResult};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::oneshot;

/// An aggregation shard; series are routed to it by key hash.
pub struct Shard {
    state: ShardState,
    clock: SharedClock,
    counters: Arc<Counters>,
    /// Batches sent to this shard and not applied yet, kept by whoever sends them.
    depth: Option<Arc<AtomicI64>>,
}

impl Shard {
    /// A shard over `state`.
    pub fn new(state: ShardState, clock: SharedClock, counters: Arc<Counters>) -> Self {
        Shard {
            state,
            clock,
            counters,
            depth: None,
        }
    }

    /// Counts down `depth` for every batch applied: the sender counts it up, and refuses to
    /// send more while it is at the queue's bound (`queues.shard`).
    pub fn with_depth(mut self, depth: Arc<AtomicI64>) -> Self {
        self.depth = Some(depth);
        self
    }
}

impl Actor for Shard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(usize::MAX >> 4);
    }
}

/// Apply a batch of events (all routed to this shard), admitted at `admitted_nanos` on the
/// monotonic clock: meters and timers count from admission, not from when the shard gets to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Apply {
    /// The events, in admission order.
    pub events: Vec<Event>,
    /// Monotonic time of admission by the collector.
    pub admitted_nanos: u64,
}

/// Read the selected series.
#[derive(Message)]
#[rtype(result = "Vec<(SeriesKey, ValueView)>")]
pub struct Collect(pub Selector);

/// Read the selected series without quantiles (for stream subscriptions).
#[derive(Message)]
#[rtype(result = "Vec<(SeriesKey, ValueView)>")]
pub struct Measure(pub Selector);

/// Read and reset the selected series in one step, answering on `reply`. The collector sends
/// it with `do_send`, which queues it at once whatever the mailbox holds (`send` may hold a
/// message back while the mailbox is full, and a later `Apply` could overtake it): the exact
/// cut of a get-and-reset depends on this message taking its place in the queue at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain {
    /// Which series.
    pub selector: Selector,
    /// Where the views of the drained series go.
    pub reply: oneshot::Sender<Vec<(SeriesKey, ValueView)>>,
}

impl Handler<Apply> for Shard {
    type Result = ();

    /// Applies the batch and accounts for it.
    fn handle(&mut self, msg: Apply, _: &mut Context<Self>) {
        let created = self.state.apply(msg.events, msg.admitted_nanos);
        self.counters.batch_applied(created);
        if let Some(depth) = &self.depth {
            depth.fetch_sub(1, Relaxed);
        }
    }
}

/// Save every series as a snapshot section named `series.<index>` (see [`crate::persist`]).
#[derive(Message)]
#[rtype(result = "crate::persist::Section")]
pub struct Save {
    /// This shard's index, naming its section.
    pub index: usize,
}

/// Remove the selected series (admin removal); answers their keys.
#[derive(Message)]
#[rtype(result = "Vec<SeriesKey>")]
pub struct Remove(pub Selector);

/// Forget the series with these stable key hashes (idle expiry); answers their keys.
#[derive(Message)]
#[rtype(result = "Vec<SeriesKey>")]
pub struct Forget(pub Arc<HashSet<u64>>);

impl Handler<Save> for Shard {
    type Result = MessageResult<Save>;

    /// Encodes the series as they are between the batches before and after.
    fn handle(&mut self, msg: Save, _: &mut Context<Self>) -> Self::Result {
        MessageResult(crate::persist::Section {
            name: format!("series.{}", msg.index),
            bytes: super::encode_series(&self.state),
        })
    }
}

impl Handler<Remove> for Shard {
    type Result = MessageResult<Remove>;

    /// Removes the selected series.
    fn handle(&mut self, msg: Remove, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.remove(&msg.0))
    }
}

impl Handler<Forget> for Shard {
    type Result = MessageResult<Forget>;

    /// Removes the expired series, logging each.
    fn handle(&mut self, msg: Forget, _: &mut Context<Self>) -> Self::Result {
        let gone = self.state.forget(&msg.0);
        for key in &gone {
            tracing::debug!(service = %key.service, name = %key.name, tags = %key.tags_string(), "series expired");
        }
        MessageResult(gone)
    }
}

impl Handler<Collect> for Shard {
    type Result = MessageResult<Collect>;

    /// Answers views of the selected series.
    fn handle(&mut self, msg: Collect, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.collect(&msg.0, self.clock.monotonic_nanos()))
    }
}

impl Handler<Measure> for Shard {
    type Result = MessageResult<Measure>;

    /// Answers views of the selected series, without quantiles.
    fn handle(&mut self, msg: Measure, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.measure(&msg.0, self.clock.monotonic_nanos()))
    }
}

impl Handler<Drain> for Shard {
    type Result = ();

    /// Answers views of the selected series and resets them.
    fn handle(&mut self, msg: Drain, _: &mut Context<Self>) {
        let views = self
            .state
            .drain(&msg.selector, self.clock.monotonic_nanos());
        // A requester that went away no longer wants the views; the reset stands.
        let _ = msg.reply.send(views);
    }
}
