//! The shards as one handle: starting them, and every fan-out to them (batches, reads, resets,
//! removals, checkpoints, history reads) written once. Whoever holds a [`Shards`] never sees an
//! `Addr<Shard>`.
//!
//! Each method sends to every shard at once and returns a future that gathers the answers in
//! shard order; the sends happen when the method is called, not when the future is first
//! polled, so a caller that is itself a sequencing point (the collector) fixes the order of
//! its messages by calling, and may await later. For the methods that wait for an answer
//! (`send`) this holds because a shard's mailbox is unbounded (`Shard::started` lifts its
//! capacity): actix keeps a message back in its request only while a mailbox is full.

use super::downsample::Flush;
use super::shard::{
    Apply, Collect, Drain, FlushNow, Forget, KeyFilter, LastSample, MatchSeries, Measure,
    ReadHistory, Remove, Save, SeriesKeys, Shard,
};
use super::{SeriesBuckets, SeriesMatch, ShardState};
use crate::clock::SharedClock;
use crate::model::{Event, Selector, SeriesKey, ValueView};
use crate::persist::history::HistoryError;
use crate::persist::Section;
use crate::telemetry::Counters;
use actix::dev::{Request, ToEnvelope};
use actix::{Actor, Addr, Arbiter, Handler, MailboxError, Message};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::oneshot;

/// Why the shards could not answer a read.
#[derive(Debug, Error)]
pub enum ShardsError {
    /// A shard has stopped (meterd is shutting down): retry later.
    #[error("{0}")]
    Stopped(#[from] MailboxError),
    /// The history store could not be read.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// The views of series, as shards answer them.
pub type Views = Vec<(SeriesKey, ValueView)>;

/// One shard: its address and the batches sent to it and not applied yet.
struct Member {
    addr: Addr<Shard>,
    depth: Arc<AtomicI64>,
}

/// A handle to every shard, cheap to clone.
#[derive(Clone)]
pub struct Shards {
    members: Arc<[Member]>,
}

impl Shards {
    /// Starts one shard per state, each on an arbiter of its own (returned, to be stopped
    /// last).
    pub fn start(
        states: Vec<ShardState>,
        clock: &SharedClock,
        counters: &Arc<Counters>,
    ) -> (Shards, Vec<Arbiter>) {
        let mut arbiters = Vec::with_capacity(states.len());
        let members = states
            .into_iter()
            .map(|state| {
                let arbiter = Arbiter::new();
                let depth = Arc::new(AtomicI64::new(0));
                let (clock, counters, gauge) = (clock.clone(), counters.clone(), depth.clone());
                let addr = Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                    Shard::new(state, clock, counters).with_depth(gauge)
                });
                arbiters.push(arbiter);
                Member { addr, depth }
            })
            .collect();
        (Shards { members }, arbiters)
    }

    /// How many shards.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none (never, once started).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether some shard has `bound` batches or more queued.
    pub fn any_full(&self, bound: i64) -> bool {
        self.members.iter().any(|m| m.depth.load(Relaxed) >= bound)
    }

    /// Sends the batches of `routed[i]` (routed by key hash, each with its admission time) to
    /// shard `i` as one message, leaving `routed` empty; counts each message sent in `counters`.
    pub fn apply(&self, routed: &mut [Vec<(Vec<Event>, u64)>], counters: &Counters) {
        for (member, batches) in self.members.iter().zip(routed) {
            if !batches.is_empty() {
                counters.batch_sent();
                member.depth.fetch_add(1, Relaxed);
                member.addr.do_send(Apply {
                    batches: std::mem::take(batches),
                });
            }
        }
    }

    /// Views of the selected series on every shard.
    pub fn collect(&self, sel: &Selector) -> impl Future<Output = Result<Views, ShardsError>> {
        let pending = self.ask(|_| Collect(sel.clone()));
        async move { Ok(gather(pending).await?.into_iter().flatten().collect()) }
    }

    /// Views of the selected series without quantiles (for stream subscriptions).
    pub fn measure(&self, sel: &Selector) -> impl Future<Output = Result<Views, ShardsError>> {
        let pending = self.ask(|_| Measure(sel.clone()));
        async move { Ok(gather(pending).await?.into_iter().flatten().collect()) }
    }

    /// Reads and resets the selected series on every shard. The drains are queued when this
    /// is called, whatever the mailboxes hold (see [`Drain`]), so that they take their place
    /// among the batches at once; a shard that stopped answers nothing.
    pub fn drain(&self, sel: &Selector) -> impl Future<Output = Views> {
        let pending: Vec<_> = self
            .members
            .iter()
            .map(|m| {
                let (reply, answer) = oneshot::channel();
                m.addr.do_send(Drain {
                    selector: sel.clone(),
                    reply,
                });
                answer
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for answer in pending {
                if let Ok(views) = answer.await {
                    all.extend(views);
                }
            }
            all
        }
    }

    /// Removes the selected series; answers their keys (none from a shard that stopped).
    pub fn remove(&self, sel: &Selector) -> impl Future<Output = Vec<SeriesKey>> {
        let pending = self.ask(|_| Remove(sel.clone()));
        async move {
            let mut keys = Vec::new();
            for p in pending {
                keys.extend(p.await.unwrap_or_default());
            }
            keys
        }
    }

    /// Forgets the series with these stable key hashes (idle expiry), without waiting.
    pub fn forget(&self, hashes: Arc<HashSet<u64>>) {
        for m in self.members.iter() {
            m.addr.do_send(Forget(hashes.clone()));
        }
    }

    /// Has every shard save itself for the checkpoint whose flushes are numbered `seq`:
    /// answers each shard's section and its flushes not known written, in shard order.
    pub fn save(
        &self,
        seq: u64,
    ) -> impl Future<Output = Result<Vec<(Section, Vec<Flush>)>, MailboxError>> {
        gather(self.ask(|index| Save { index, seq }))
    }

    /// Has every shard close its due buckets now (as its timer would).
    pub fn flush_now(&self) -> impl Future<Output = ()> {
        let pending = self.ask(|_| FlushNow);
        async move {
            let _ = gather(pending).await;
        }
    }

    /// The series named `name` that `filter` keeps (live and stored), per shard.
    pub fn match_series(
        &self,
        name: &str,
        filter: KeyFilter,
    ) -> impl Future<Output = Result<Matched, ShardsError>> {
        let pending = self.ask(|_| MatchSeries {
            name: name.to_owned(),
            filter: filter.clone(),
        });
        async move {
            let per_shard = gather(pending)
                .await?
                .into_iter()
                .collect::<Result<_, _>>()?;
            Ok(Matched(per_shard))
        }
    }

    /// The buckets of tier `tier` starting in `[from, to]` of the series `matched` found.
    pub fn read_history(
        &self,
        matched: Matched,
        tier: usize,
        (from, to): (i64, i64),
    ) -> impl Future<Output = Result<Vec<SeriesBuckets>, ShardsError>> {
        let pending: Vec<_> = self
            .members
            .iter()
            .zip(matched.0)
            .filter(|(_, m)| !m.is_empty())
            .map(|(member, series)| {
                member.addr.send(ReadHistory {
                    series,
                    tier,
                    from,
                    to,
                })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for read in gather(pending).await? {
                out.extend(read?);
            }
            Ok(out)
        }
    }

    /// Every series key, live and stored, from every shard.
    pub fn series_keys(&self) -> impl Future<Output = Result<Vec<SeriesKey>, ShardsError>> {
        let pending = self.ask(|_| SeriesKeys);
        async move {
            let mut out = Vec::new();
            for keys in gather(pending).await? {
                out.extend(keys?);
            }
            Ok(out)
        }
    }

    /// The latest sample time (epoch ms) among live series whose name starts with `prefix`.
    pub fn last_sample(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Option<i64>, ShardsError>> {
        let pending = self.ask(|_| LastSample(prefix.to_owned()));
        async move { Ok(gather(pending).await?.into_iter().flatten().max()) }
    }

    /// Sends `message(index)` to every shard now.
    fn ask<M>(&self, mut message: impl FnMut(usize) -> M) -> Vec<Request<Shard, M>>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Shard: Handler<M>,
        <Shard as Actor>::Context: ToEnvelope<Shard, M>,
    {
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| m.addr.send(message(i)))
            .collect()
    }
}

/// Awaits every answer, in order.
async fn gather<M>(pending: Vec<Request<Shard, M>>) -> Result<Vec<M::Result>, MailboxError>
where
    M: Message + Send + 'static,
    M::Result: Send,
    Shard: Handler<M>,
{
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        out.push(p.await?);
    }
    Ok(out)
}

/// The series a query matched, per shard (as [`Shards::match_series`] answers them).
#[derive(Debug, Default)]
pub struct Matched(Vec<Vec<SeriesMatch>>);

impl Matched {
    /// Whether no shard matched a series.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }

    /// How many series matched.
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// The keys of the matched series.
    pub fn keys(&self) -> impl Iterator<Item = &SeriesKey> {
        self.0.iter().flatten().map(|m| &m.key)
    }
}
