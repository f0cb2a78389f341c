//! The collector actor.

use super::route;
use crate::aggregate::{Apply, Drain, Shard};
use crate::clock::SharedClock;
use crate::ingest::ItemError;
use crate::model::{Event, SeriesKey, ValueView};
use crate::registry::entities::Capturer;
use crate::registry::{Registry, Selector};
use crate::telemetry::Counters;
use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use parking_lot::RwLock;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::oneshot;

/// Why the collector refused a batch; nothing of it was applied.
#[derive(Debug, Error)]
pub enum CollectorError {
    /// Events whose type conflicts with their existing metric: use the metric's type or a new name.
    #[error("type conflict with existing metrics; nothing was applied")]
    Conflict(Vec<ItemError>),
}

/// Admits batches and routes them to shards.
pub struct Collector {
    registry: Arc<RwLock<Registry>>,
    shards: Vec<Addr<Shard>>,
    counters: Arc<Counters>,
    clock: SharedClock,
    entities: Option<Capturer>,
}

impl Collector {
    /// A collector in front of `shards`, writing metadata into `registry`.
    pub fn new(
        registry: Arc<RwLock<Registry>>,
        shards: Vec<Addr<Shard>>,
        counters: Arc<Counters>,
        clock: SharedClock,
    ) -> Self {
        Collector {
            registry,
            shards,
            counters,
            clock,
            entities: None,
        }
    }

    /// Also captures every admitted batch as ODSL metric entities.
    pub fn with_entities(mut self, capturer: Capturer) -> Self {
        self.entities = Some(capturer);
        self
    }
}

impl Actor for Collector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
    }
}

/// Admit a validated batch and route it to the shards; answers the number of events accepted.
#[derive(Message)]
#[rtype(result = "Result<usize, CollectorError>")]
pub struct Ingest(pub Vec<Event>);

/// Read and reset the selected series on every shard, as one cut.
#[derive(Message)]
#[rtype(result = "Vec<(SeriesKey, ValueView)>")]
pub struct DrainAll(pub Selector);

impl Handler<Ingest> for Collector {
    type Result = Result<usize, CollectorError>;

    /// Checks types, registers metadata, routes the batch.
    fn handle(&mut self, msg: Ingest, _: &mut Context<Self>) -> Self::Result {
        let events = msg.0;
        if let Err(conflicts) = self.registry.write().admit(&events) {
            self.counters.batch_rejected(events.len());
            return Err(CollectorError::Conflict(conflicts));
        }
        Ok(self.route_admitted(events))
    }
}

impl Collector {
    /// Routes a batch the registry has admitted to the shards and counts it; answers its size.
    pub(super) fn route_admitted(&mut self, events: Vec<Event>) -> usize {
        if let Some(capturer) = &mut self.entities {
            capturer.capture(&events);
        }
        let n = events.len();
        let admitted_nanos = self.clock.monotonic_nanos();
        for (shard, batch) in self.shards.iter().zip(route(events, self.shards.len())) {
            if !batch.is_empty() {
                self.counters.batch_sent();
                shard.do_send(Apply {
                    events: batch,
                    admitted_nanos,
                });
            }
        }
        self.counters.batch_accepted(n);
        n
    }

    /// The registry, for admission.
    pub(super) fn registry(&self) -> &RwLock<Registry> {
        &self.registry
    }

    /// meterd's own counters.
    pub(super) fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl Handler<DrainAll> for Collector {
    type Result = ResponseFuture<Vec<(SeriesKey, ValueView)>>;

    /// Queues a drain on every shard now — after every batch routed so far, before any later
    /// one, as this actor is the only sender to the shards — then gathers the answers.
    fn handle(&mut self, msg: DrainAll, _: &mut Context<Self>) -> Self::Result {
        let pending: Vec<_> = self
            .shards
            .iter()
            .map(|shard| {
                let (reply, answer) = oneshot::channel();
                shard.do_send(Drain {
                    selector: msg.0.clone(),
                    reply,
                });
                answer
            })
            .collect();
        Box::pin(async move {
            let mut all = Vec::new();
            for answer in pending {
                if let Ok(views) = answer.await {
                    all.extend(views);
                }
            }
            all
        })
    }
}
