//! The shard actor: a thin shell that owns one [`ShardState`] on its own thread.

use super::{SeriesBuckets, SeriesMatch, ShardState};
use crate::aggregate::downsample::Flush;
use crate::clock::{run_every, SharedClock};
use crate::model::Selector;
use crate::model::{Event, SeriesKey, ValueView};
use crate::persist::history::HistoryError;
use crate::telemetry::{Counters, Outcome};
use actix::{Actor, Context, Handler, Message, MessageResult};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How often a shard closes due buckets (they reach the history store at the next
/// checkpoint, see [`Save`]).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

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

    fn flush(&mut self) {
        self.state.close_due(self.clock.epoch_millis());
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
        let clock = self.clock.clone();
        run_every(ctx, &clock, FLUSH_EVERY, |shard, _| shard.flush());
    }
}

/// Apply batches of events (all routed to this shard), each admitted at its time on the
/// monotonic clock: meters and timers count from admission, not from when the shard gets to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Apply {
    /// The batches in admission order, each with the monotonic time of its admission by the
    /// collector.
    pub batches: Vec<(Vec<Event>, u64)>,
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

    /// Applies the batches and accounts for them.
    fn handle(&mut self, msg: Apply, _: &mut Context<Self>) {
        let now_ms = self.clock.epoch_millis();
        let mut created = 0;
        for (events, admitted_nanos) in msg.batches {
            created += self.state.apply_at(events, admitted_nanos, now_ms);
        }
        self.counters.batch_applied(created);
        if let Some(depth) = &self.depth {
            depth.fetch_sub(1, Relaxed);
        }
    }
}

/// Save every series as a snapshot section named `series.<index>` (see [`crate::persist`]):
/// the closed buckets become a flush numbered `seq` (the checkpoint's, see
/// [`crate::aggregate::downsample::Flush::seq`]).
/// Answered with the section are every flush not known written (that one included), for the
/// collector to hand to the history writer once the snapshot is stored (the writer skips
/// what it already holds). The section holds the series' open buckets and every flush not known
/// written, so that the snapshot and the history store together cover the position whatever
/// the writer did before a crash.
#[derive(Message)]
#[rtype(result = "(crate::persist::Section, Vec<Flush>)")]
pub struct Save {
    /// This shard's index, naming its section.
    pub index: usize,
    /// The number of the checkpoint's flushes.
    pub seq: u64,
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

    /// Takes the flush, then encodes the series as they are between the batches before and
    /// after.
    fn handle(&mut self, msg: Save, _: &mut Context<Self>) -> Self::Result {
        let (_, lost) = self.state.take_flush(msg.seq);
        if lost > 0 {
            self.counters.record(Outcome::HistoryLost(lost));
        }
        let flushes = self.state.unconfirmed();
        let section = crate::persist::Section {
            name: format!("series.{}", msg.index),
            bytes: super::encode_series(&self.state),
        };
        MessageResult((section, flushes))
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

/// A predicate over series keys (tag filters of a query).
pub type KeyFilter = Arc<dyn Fn(&SeriesKey) -> bool + Send + Sync>;

/// Find the series named `name` that `filter` keeps (live and stored).
#[derive(Message)]
#[rtype(result = "Result<Vec<SeriesMatch>, HistoryError>")]
pub struct MatchSeries {
    /// Exact metric name.
    pub name: String,
    /// Which of them.
    pub filter: KeyFilter,
}

/// Read the buckets of tier `tier` starting in `[from, to]` of series this shard matched.
#[derive(Message)]
#[rtype(result = "Result<Vec<SeriesBuckets>, HistoryError>")]
pub struct ReadHistory {
    /// Series from [`MatchSeries`] answered by this shard.
    pub series: Vec<SeriesMatch>,
    /// Tier index.
    pub tier: usize,
    /// First bucket start, epoch ms.
    pub from: i64,
    /// Last bucket start, epoch ms.
    pub to: i64,
}

/// The latest sample time (epoch ms) among live series whose name starts with the prefix.
#[derive(Message)]
#[rtype(result = "Option<i64>")]
pub struct LastSample(pub String);

/// Every series key the shard answers for (live and owned stored ones).
#[derive(Message)]
#[rtype(result = "Result<Vec<SeriesKey>, HistoryError>")]
pub struct SeriesKeys;

/// Close due buckets now (as the timer would).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushNow;

impl Handler<MatchSeries> for Shard {
    type Result = Result<Vec<SeriesMatch>, HistoryError>;

    /// Answers the matching series.
    fn handle(&mut self, msg: MatchSeries, _: &mut Context<Self>) -> Self::Result {
        self.state.match_series(&msg.name, &*msg.filter)
    }
}

impl Handler<ReadHistory> for Shard {
    type Result = Result<Vec<SeriesBuckets>, HistoryError>;

    /// Answers stored and unwritten buckets merged.
    fn handle(&mut self, msg: ReadHistory, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.epoch_millis();
        self.state
            .read_history(msg.series, msg.tier, (msg.from, msg.to), now)
    }
}

impl Handler<LastSample> for Shard {
    type Result = Option<i64>;

    /// Answers the latest sample time under the prefix.
    fn handle(&mut self, msg: LastSample, _: &mut Context<Self>) -> Self::Result {
        self.state.last_sample(&msg.0)
    }
}

impl Handler<SeriesKeys> for Shard {
    type Result = Result<Vec<SeriesKey>, HistoryError>;

    /// Answers the keys.
    fn handle(&mut self, _: SeriesKeys, _: &mut Context<Self>) -> Self::Result {
        self.state.series_keys()
    }
}

impl Handler<FlushNow> for Shard {
    type Result = ();

    /// Closes due buckets.
    fn handle(&mut self, _: FlushNow, _: &mut Context<Self>) {
        self.flush();
    }
}
