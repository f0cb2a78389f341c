//! The shard actor: a thin shell that owns one [`ShardState`] on its own thread.

use super::ShardState;
use crate::clock::SharedClock;
use crate::model::{Event, SeriesKey, ValueView};
use crate::registry::Selector;
use crate::telemetry::Counters;
use actix::{Actor, Context, Handler, Message, MessageResult};
use std::sync::Arc;

/// An aggregation shard; series are routed to it by key hash.
pub struct Shard {
    state: ShardState,
    clock: SharedClock,
    counters: Arc<Counters>,
}

impl Shard {
    /// A shard over `state`.
    pub fn new(state: ShardState, clock: SharedClock, counters: Arc<Counters>) -> Self {
        Shard {
            state,
            clock,
            counters,
        }
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

/// Read and reset the selected series in one step.
#[derive(Message)]
#[rtype(result = "Vec<(SeriesKey, ValueView)>")]
pub struct Drain(pub Selector);

impl Handler<Apply> for Shard {
    type Result = ();

    /// Applies the batch and accounts for it.
    fn handle(&mut self, msg: Apply, _: &mut Context<Self>) {
        let created = self.state.apply(msg.events, msg.admitted_nanos);
        self.counters.batch_applied(created);
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
    type Result = MessageResult<Drain>;

    /// Answers views of the selected series and resets them.
    fn handle(&mut self, msg: Drain, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.drain(&msg.0, self.clock.monotonic_nanos()))
    }
}
