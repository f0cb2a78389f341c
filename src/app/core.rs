//! Start-up, step two: start the core actors over what recovery rebuilt — the history
//! writer, the shards, the ODSL entity keeper, the collector and the stream hub — each on an
//! arbiter of its own.

use super::recover::Recovered;
use super::{Durable, HistoryHandles, Options};
use crate::aggregate::Shards;
use crate::collector::{Checkpoint, Collector, CollectorSetup, Snapshots};
use crate::config::Pipeline;
use crate::persist::history::HistoryWriter;
use crate::persist::Log;
use crate::registry::entities::{Capturer, Durable as EntityFile, EntityKeeper, EntitySink};
use crate::registry::Registry;
use crate::stream::Streams;
use crate::telemetry::Counters;
use actix::{Actor, Addr, Arbiter};
use parking_lot::RwLock;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The running core: what the HTTP edge and the UDP reader talk to, and what shutdown closes.
pub(super) struct Core {
    /// The validated pipeline.
    pub pipeline: Arc<Pipeline>,
    /// meterd's own counters.
    pub counters: Arc<Counters>,
    /// Metric metadata.
    pub registry: Arc<RwLock<Registry>>,
    /// Admission and routing.
    pub collector: Addr<Collector>,
    /// Every shard.
    pub shards: Shards,
    /// The ODSL entities.
    pub entities: EntitySink,
    /// Kanto subscriptions.
    pub streams: Streams,
    /// The history actors, for deterministic flushes in tests.
    pub history: HistoryHandles,
    /// What to close after the server stopped.
    pub durable: Durable,
    /// The cluster this node is part of, if any.
    pub cluster: Option<crate::cluster::Node>,
}

/// Starts the core actors.
pub(super) fn start(
    opts: &Options,
    recovered: Recovered,
    cluster: Option<crate::cluster::Node>,
) -> Core {
    let Recovered {
        pipeline,
        counters,
        registry,
        history: store,
        wal,
        state,
        entities: saved,
    } = recovered;
    let clock = &opts.clock;
    let mut arbiters = Vec::new();
    let writer = {
        let (store, clock, counters) = (store.clone(), clock.clone(), counters.clone());
        let arbiter = Arbiter::new();
        let addr = HistoryWriter::start_in_arbiter(&arbiter.handle(), move |_| {
            HistoryWriter::new(store, clock, counters)
        });
        arbiters.push(arbiter);
        addr
    };
    let (shards, shard_arbiters) = Shards::start(state.shards, clock, &counters);
    arbiters.extend(shard_arbiters);
    let entities_covered = Arc::new(AtomicU64::new(saved.covered));
    let replayed_end = saved.store.next_seq();
    let entities = EntityKeeper::spawn_with(
        saved.store,
        saved.interner,
        Some(EntityFile::new(
            saved.log,
            saved.written,
            (wal.last_position(), replayed_end),
            entities_covered.clone(),
            {
                let wal = wal.clone();
                Arc::new(move || wal.written_position())
            },
        )),
        clock.clone(),
        counters.clone(),
    );
    let collector = {
        let setup = CollectorSetup {
            admission: state.admission,
            shards: shards.clone(),
            log: Arc::new(wal.clone()),
            counters: counters.clone(),
            clock: clock.clone(),
            snapshots: Snapshots::new(state.store, Some(writer.clone().recipient()))
                .with_covered(entities_covered)
                .after_flush(store.covered()),
        };
        let arbiter = Arbiter::new();
        let capturer = Capturer::new(&pipeline.rules, entities.clone());
        let addr = Collector::start_in_arbiter(&arbiter.handle(), move |_| {
            Collector::new(setup).with_entities(capturer)
        });
        arbiters.push(arbiter);
        addr
    };
    if state.replayed > 0 {
        // Fold the replayed log into a snapshot now rather than replaying it again next time.
        collector.do_send(Checkpoint);
    }
    let history = HistoryHandles {
        shards: shards.clone(),
        writer,
        collector: collector.clone(),
    };
    let durable = Durable {
        collector: collector.clone(),
        entities: entities.keeper().clone(),
        history: history.clone(),
        wal,
        cluster: cluster.clone(),
        arbiters,
    };
    let streams = Streams::start(
        shards.clone(),
        clock.clone(),
        counters.clone(),
        &pipeline.streams,
        cluster.clone(),
    );
    Core {
        pipeline,
        counters,
        registry,
        collector,
        shards,
        entities,
        streams,
        history,
        durable,
        cluster,
    }
}
