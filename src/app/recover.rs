//! Start-up, step one: rebuild the state from the data directory (the snapshot, the history
//! store, the ODSL entities, then the write-ahead log after what each covers) and record what
//! recovery found in meterd's own counters.

use super::Options;
use crate::aggregate::downsample::TierSpec;
use crate::aggregate::{FirstTier, HistorySetup, ShardState};
use crate::collector::{recover as replay_state, Recovered as RecoveredState};
use crate::config::Pipeline;
use crate::persist::history::HistoryStore;
use crate::persist::{wal_dir, Wal};
use crate::registry::entities::{Encoder, EntityLog, EntityReplay, EntityStore, Interner};
use crate::registry::Registry;
use crate::telemetry::{register_own, register_traffic, Counters};
use parking_lot::RwLock;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Everything start-up rebuilt, before any actor runs.
pub(super) struct Recovered {
    /// The validated pipeline.
    pub pipeline: Arc<Pipeline>,
    /// meterd's own counters, recovery's readings in them.
    pub counters: Arc<Counters>,
    /// Metric metadata: meterd's own families and the recovered ones.
    pub registry: Arc<RwLock<Registry>>,
    /// The history store the shards read and the writer writes.
    pub history: Arc<HistoryStore>,
    /// The write-ahead log, open for appends after its last position.
    pub wal: Wal,
    /// Admission, shard states and the snapshot store.
    pub state: RecoveredState,
    /// The ODSL entities.
    pub entities: RecoveredEntities,
}

/// The ODSL entities as recovery left them.
pub(super) struct RecoveredEntities {
    /// The entity ring, replayed.
    pub store: EntityStore,
    /// Its string table.
    pub interner: Interner,
    /// The file it is saved to.
    pub log: EntityLog,
    /// The log position the file covers.
    pub covered: u64,
    /// The entity sequence number the file holds up to.
    pub written: u64,
}

/// Opens every store under the data directory and replays the log into them.
pub(super) fn recover(opts: &Options, pipeline: Pipeline) -> io::Result<Recovered> {
    let pipeline = Arc::new(pipeline);
    let counters = Arc::new(Counters::default());
    let mut registry = Registry::default();
    register_own(&mut registry, &counters);
    register_traffic(&mut registry);
    let registry = Arc::new(RwLock::new(registry));

    let tiers = pipeline.tier_specs();
    let history = Arc::new(HistoryStore::open(&opts.data_dir, &tiers).map_err(io::Error::other)?);
    let make_shard = shard_maker(&pipeline, tiers, &history);
    let wal = open_wal(opts, &pipeline, &counters)?;
    // ODSL entities: read back from their file, then the log after the position it covers.
    let log = EntityLog::open(&opts.data_dir).map_err(io::Error::other)?;
    let mut store = EntityStore::new(pipeline.entities.retention, pipeline.entities.max);
    let mut interner = Interner::default();
    let covered = log
        .load(&mut store, &mut interner)
        .map_err(io::Error::other)?;
    let written = store.next_seq();
    let mut entity_replay = EntityReplay {
        store: &mut store,
        interner: &mut interner,
        encoder: Encoder::new(&pipeline.rules),
        covered,
    };
    let state = replay_state(
        &opts.data_dir,
        &wal,
        &pipeline,
        registry.clone(),
        &opts.clock,
        pipeline.shard_count(),
        &make_shard,
        Some(&history),
        &mut [&mut entity_replay],
    )
    .map_err(io::Error::other)?;
    report(&state, &counters, &history, &wal);
    Ok(Recovered {
        pipeline,
        counters,
        registry,
        history,
        wal,
        state,
        entities: RecoveredEntities {
            store,
            interner,
            log,
            covered,
            written,
        },
    })
}

/// How an empty shard is made: the pipeline's settings, its tiers, the history store.
fn shard_maker(
    pipeline: &Arc<Pipeline>,
    tiers: Vec<TierSpec>,
    history: &Arc<HistoryStore>,
) -> impl Fn(usize) -> ShardState {
    let first_tier: FirstTier = {
        let pipeline = pipeline.clone();
        Arc::new(move |name: &str| pipeline.rule_for(name).and_then(|r| r.tier).unwrap_or(0))
    };
    let (pipeline, history, shards) = (pipeline.clone(), history.clone(), pipeline.shard_count());
    move |shard: usize| {
        let setup = HistorySetup {
            tiers: tiers.clone().into(),
            store: Some(history.clone()),
            shard,
            shards,
            first_tier: first_tier.clone(),
        };
        ShardState::with_history(pipeline.aggregate_settings(), setup)
    }
}

/// Opens the write-ahead log; a later write error stops the process.
fn open_wal(opts: &Options, pipeline: &Pipeline, counters: &Arc<Counters>) -> io::Result<Wal> {
    Wal::start(
        &wal_dir(&opts.data_dir),
        pipeline.durability,
        pipeline.queues.wal,
        counters.clone(),
        Arc::new(|e| {
            // See README "Durability": a batch whose logging failed may be live in the
            // shards already; stopping now keeps it out of every answer (the next start
            // recovers from the log, which does not hold it).
            tracing::error!(error = %e, "the write-ahead log failed; stopping meterd now");
            std::process::exit(74);
        }),
    )
}

/// Records what recovery found in the counters, and says it when it did anything.
fn report(state: &RecoveredState, counters: &Counters, history: &HistoryStore, wal: &Wal) {
    use crate::persist::Log;
    let series: usize = state.shards.iter().map(|s| s.len()).sum();
    let replayed = state.replayed;
    counters.series.store(series as u64, Relaxed);
    counters.wal_replayed.store(replayed as u64, Relaxed);
    counters
        .wal_skipped_bytes
        .store(state.report.skipped_bytes, Relaxed);
    counters
        .wal_skipped_records
        .store(state.report.skipped_records, Relaxed);
    if state.image.is_some() || replayed > 0 {
        tracing::info!(
            series,
            replayed,
            snapshot = state.image.as_ref().map_or(0, |i| i.cut.position),
            history = history.covered(),
            log = wal.last_position(),
            "recovered the state from the last snapshot and the write-ahead log"
        );
    }
}
