//! The only wiring: start the actors from a validated pipeline and build the HTTP server.

use crate::aggregate::downsample::TierSpec;
use crate::aggregate::Shard;
use crate::aggregate::{HistorySetup, ShardState};
use crate::clock::{SharedClock, SystemClock};
use crate::collector::{checkpoint_now, recover, Checkpoint, Collector, CollectorSetup, Snapshots};
use crate::config::{Pipeline, Tokens};
use crate::http::{cluster_gaps, configure, count_traffic, guard, json_errors, AppState};
use crate::http::{record_request, RequestRecorder};
use crate::ingest::udp::StatsdUdp;
use crate::persist::history::{HistoryStore, HistoryWriter};
use crate::persist::{wal_dir, Log, Wal};
use crate::registry::entities::{
    Capturer, Durable as EntityFile, Encoder, EntityKeeper, EntityLog, EntityReplay, EntityStore,
    Interner, SaveEntities,
};
use crate::registry::Registry;
use crate::telemetry::{register_own, register_traffic, Counters, IncomingTraffic};
use actix::{Actor, Addr, Arbiter};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use parking_lot::RwLock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// Everything `meterd serve` needs, already validated.
pub struct Options {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// The validated pipeline.
    pub pipeline: Pipeline,
    /// Time source (a manual clock in tests).
    pub clock: SharedClock,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    /// Count meterd's own traffic per service (Orion's self metrics); `--disable-self-metrics`
    /// turns it off.
    pub self_metrics: bool,
    /// Address for StatsD over UDP (`127.0.0.1:0` picks a free port); `None` turns it off.
    pub statsd_udp: Option<String>,
    /// Bearer tokens guarding the API; `None` leaves it open (keep it on loopback then).
    pub tokens: Option<Tokens>,
    /// The cluster to join (`--cluster`, `--node`); `None` runs a single node.
    pub cluster: Option<ClusterJoin>,
}

/// Where a node joins a cluster: the NATS servers and its name (`[cluster]` in the pipeline
/// gives the partitions and replicas).
#[derive(Debug, Clone)]
pub struct ClusterJoin {
    /// NATS server URLs.
    pub urls: Vec<String>,
    /// This node's name, unique in the cluster.
    pub node: String,
}

impl Options {
    /// Defaults for tests and embedding: loopback on a free port, the built-in pipeline.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Options {
            listen: "127.0.0.1:0".to_owned(),
            data_dir,
            pipeline: Pipeline::default(),
            clock: Arc::new(SystemClock::new()),
            workers: 2,
            self_metrics: true,
            statsd_udp: None,
            tokens: None,
            cluster: None,
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A started server: await `server`, then [`Durable::close`] `durable`.
pub struct Started {
    /// The HTTP server (a future that ends when it stops).
    pub server: actix_web::dev::Server,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The StatsD UDP address, when on.
    pub udp_addr: Option<SocketAddr>,
    /// The history actors, for deterministic flushes in tests.
    pub history: HistoryHandles,
    /// What to close after the server stopped.
    pub durable: Durable,
}

/// Addresses of the actors that keep history, for [`Running::flush_history`].
#[derive(Clone)]
pub struct HistoryHandles {
    shards: Vec<actix::Addr<Shard>>,
    writer: actix::Addr<HistoryWriter>,
    collector: Addr<Collector>,
}

/// The durable state's handles, for an orderly shutdown.
pub struct Durable {
    collector: Addr<Collector>,
    entities: Addr<EntityKeeper>,
    history: HistoryHandles,
    wal: Wal,
    cluster: Option<crate::cluster::Node>,
    /// The threads of the collector and the shards, stopped last.
    arbiters: Vec<Arbiter>,
}

impl Durable {
    /// Takes a last snapshot (so that the next start replays nothing: open buckets and last
    /// sample times are in it, closed buckets go to the history store), waits for the history
    /// writer, then fsyncs and closes the write-ahead log.
    pub async fn close(self) {
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
            tracing::info!("left the cluster");
        }
        match checkpoint_now(&self.collector).await {
            Ok(cut) => tracing::info!(position = cut.position, "state snapshotted"),
            Err(e) => {
                tracing::error!(error = %e, "the last snapshot failed; the log keeps everything")
            }
        }
        let _ = self
            .history
            .writer
            .send(crate::persist::history::Barrier)
            .await;
        let _ = self.entities.send(SaveEntities).await;
        self.wal.close();
        // Stop the actors and wait for them, so that the store is closed when this returns
        // (a restart in the same process can then open it again).
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            let _ = arbiter.join();
        }
    }
}

/// Recovers the state from the data dir, starts the actors and binds the server; must run
/// inside an actix `System`.
pub fn start(opts: Options) -> std::io::Result<Started> {
    std::fs::create_dir_all(&opts.data_dir)?;
    // Bound first, so that an address in use stops start-up before anything runs.
    let statsd_udp = opts
        .statsd_udp
        .as_deref()
        .map(StatsdUdp::bind)
        .transpose()?;
    let pipeline = Arc::new(opts.pipeline);
    let cluster = opts
        .cluster
        .as_ref()
        .map(|join| {
            let mut settings = crate::cluster::ClusterSettings::new(join.urls.clone(), &join.node);
            settings.partitions = pipeline.cluster.partitions;
            settings.replicas = pipeline.cluster.replicas;
            crate::cluster::Node::start(
                settings,
                pipeline.aggregate_settings(),
                pipeline.durability.snapshot_interval,
                opts.clock.clone(),
            )
            .map_err(|e| std::io::Error::other(format!("joining the cluster: {e}")))
        })
        .transpose()?;
    if let Some(node) = &cluster {
        tracing::info!(node = node.name(), partitions = node.partitions(), "joined the cluster");
    }
    let counters = Arc::new(Counters::default());
    let mut registry = Registry::default();
    register_own(&mut registry, &counters);
    register_traffic(&mut registry);
    let registry = Arc::new(RwLock::new(registry));

    let shard_count = pipeline.shard_count();
    let tiers: Vec<TierSpec> = pipeline
        .tiers
        .iter()
        .map(|t| TierSpec::new(t.resolution, t.retention))
        .collect();
    let store = HistoryStore::open(&opts.data_dir, &tiers)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let store = Arc::new(store);
    let mut arbiters = Vec::new();
    let writer = {
        let (store, clock, counters) = (store.clone(), opts.clock.clone(), counters.clone());
        let arbiter = Arbiter::new();
        let addr = HistoryWriter::start_in_arbiter(&arbiter.handle(), move |_| {
            HistoryWriter::new(store, clock, counters)
        });
        arbiters.push(arbiter);
        addr
    };
    let first_tier: crate::aggregate::FirstTier = {
        let pipeline = pipeline.clone();
        Arc::new(move |name: &str| pipeline.rule_for(name).and_then(|r| r.tier).unwrap_or(0))
    };
    let make_shard = |shard: usize| {
        let setup = HistorySetup {
            tiers: tiers.clone().into(),
            store: Some(store.clone()),
            shard,
            shards: shard_count,
            first_tier: first_tier.clone(),
        };
        ShardState::with_history(pipeline.aggregate_settings(), setup)
    };
    let wal_dir = wal_dir(&opts.data_dir);
    let wal = Wal::start(
        &wal_dir,
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
    )?;
    // ODSL entities: read back from their file, then the log after the position it covers.
    let entity_log =
        EntityLog::open(&opts.data_dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut entity_store = EntityStore::new(pipeline.entities.retention, pipeline.entities.max);
    let mut interner = Interner::default();
    let entities_covered = entity_log
        .load(&mut entity_store, &mut interner)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let entities_written = entity_store.next_seq();
    let mut entity_replay = EntityReplay {
        store: &mut entity_store,
        interner: &mut interner,
        encoder: Encoder::new(&pipeline.rules),
        covered: entities_covered,
    };
    let recovered = recover(
        &opts.data_dir,
        &wal,
        &pipeline,
        registry.clone(),
        &opts.clock,
        shard_count,
        &make_shard,
        Some(&store),
        &mut [&mut entity_replay],
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let series: usize = recovered.shards.iter().map(|s| s.len()).sum();
    let replayed = recovered.replayed;
    counters.series.store(series as u64, Relaxed);
    counters.wal_replayed.store(replayed as u64, Relaxed);
    counters
        .wal_skipped_bytes
        .store(recovered.report.skipped_bytes, Relaxed);
    counters
        .wal_skipped_records
        .store(recovered.report.skipped_records, Relaxed);
    if recovered.image.is_some() || replayed > 0 {
        tracing::info!(
            series,
            replayed,
            snapshot = recovered.image.as_ref().map_or(0, |i| i.cut.position),
            history = store.covered(),
            log = wal.last_position(),
            "recovered the state from the last snapshot and the write-ahead log"
        );
    }
    let shards: Vec<_> = recovered
        .shards
        .into_iter()
        .map(|state| {
            let arbiter = Arbiter::new();
            let depth = Arc::new(AtomicI64::new(0));
            let (clock, counters, gauge) = (opts.clock.clone(), counters.clone(), depth.clone());
            let addr = Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                Shard::new(state, clock, counters).with_depth(gauge)
            });
            arbiters.push(arbiter);
            (addr, depth)
        })
        .collect();
    let entities_covered = Arc::new(AtomicU64::new(entities_covered));
    let replayed_end = entity_store.next_seq();
    let entities = EntityKeeper::spawn_with(
        entity_store,
        interner,
        Some(EntityFile::new(
            entity_log,
            entities_written,
            (wal.last_position(), replayed_end),
            entities_covered.clone(),
            {
                let wal = wal.clone();
                Arc::new(move || wal.written_position())
            },
        )),
        opts.clock.clone(),
        counters.clone(),
    );
    let collector = {
        let setup = CollectorSetup {
            admission: recovered.admission,
            shards: shards.clone(),
            log: Arc::new(wal.clone()),
            counters: counters.clone(),
            clock: opts.clock.clone(),
            snapshots: Snapshots::new(recovered.store, Some(writer.clone().recipient()))
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
    if replayed > 0 {
        // Fold the replayed log into a snapshot now rather than replaying it again next time.
        collector.do_send(Checkpoint);
    }
    let history = HistoryHandles {
        shards: shards.iter().map(|(addr, _)| addr.clone()).collect(),
        writer: writer.clone(),
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
    let udp_addr = match statsd_udp {
        Some(udp) => {
            let addr = udp.local_addr;
            udp.start(
                collector.clone(),
                cluster.clone(),
                counters.clone(),
                opts.clock.clone(),
                &pipeline,
            )?;
            Some(addr)
        }
        None => None,
    };
    let streams = crate::stream::Streams::start(
        shards.iter().map(|(addr, _)| addr.clone()).collect(),
        opts.clock.clone(),
        counters.clone(),
        &pipeline.streams,
        cluster.clone(),
    );
    let otlp = Arc::new(parking_lot::Mutex::new(
        crate::ingest::otlp::CumulativeBook::new(
            opts.clock.epoch_millis(),
            pipeline.limits.max_series,
        ),
    ));
    let state = AppState {
        collector,
        shards: shards.into_iter().map(|(addr, _)| addr).collect(),
        registry,
        pipeline,
        clock: opts.clock,
        counters,
        started: Instant::now(),
        traffic: Arc::new(IncomingTraffic::new(opts.self_metrics)),
        streams,
        entities,
        tokens: opts.tokens.map(Arc::new),
        otlp,
        cluster,
    };
    let workers = if opts.workers == 0 {
        cores()
    } else {
        opts.workers
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(RequestRecorder::new(
                state.entities.clone(),
                state.clock.clone(),
                &state.pipeline.rules,
            ))
            .wrap(json_errors())
            .wrap(from_fn(cluster_gaps))
            .wrap(actix_web::middleware::from_fn(record_request))
            .wrap(actix_web::middleware::from_fn(guard))
            // Outermost, so that requests the token guard refuses are counted too.
            .wrap(from_fn(count_traffic))
            .configure(configure)
    })
    .workers(workers)
    .shutdown_timeout(5)
    // Signals are handled by `run`, so that they stop the server, never the actors.
    .disable_signals();
    let server = server.bind(&opts.listen)?;
    let addr = server.addrs()[0];
    Ok(Started {
        server: server.run(),
        addr,
        udp_addr,
        history,
        durable,
    })
}

/// Runs the server until SIGTERM or Ctrl-C (blocking).
pub fn run(opts: Options) -> std::io::Result<()> {
    actix::System::new().block_on(async move {
        let Started {
            server,
            addr,
            durable,
            ..
        } = start(opts)?;
        tracing::info!(%addr, "meterd listening");
        // Signals are ours, not actix-server's: it would stop the whole actix system on a
        // signal, the collector and shards with it, before `close` could take the last flush
        // and snapshot. Here a signal only stops the HTTP server (gracefully); `close` then
        // runs with every actor alive.
        let handle = server.handle();
        actix_rt::spawn(async move {
            stop_signal().await;
            tracing::info!("stop signal received; shutting down");
            handle.stop(true).await;
        });
        server.await?;
        durable.close().await;
        tracing::info!("meterd stopped");
        actix::System::current().stop();
        Ok(())
    })
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot listen for stop signals; Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A server running on a background thread, for tests and benches.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The StatsD UDP address, when on.
    pub udp_addr: Option<SocketAddr>,
    handle: actix_web::dev::ServerHandle,
    history: HistoryHandles,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://addr` for building URLs.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Has every shard close its due buckets now (as its timer would), takes a checkpoint
    /// (which hands closed buckets to the history writer) and returns once the writer has
    /// written them: a deterministic point for tests that move a manual clock.
    pub fn flush_history(&self) {
        let history = self.history.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(async move {
            for shard in &history.shards {
                let _ = shard.send(crate::aggregate::FlushNow).await;
            }
            if let Err(e) = checkpoint_now(&history.collector).await {
                tracing::error!(error = %e, "flush_history: the checkpoint failed");
            }
            let _ = history.writer.send(crate::persist::history::Barrier).await;
        });
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only reports completion.
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a server on its own thread and returns once it listens.
pub fn spawn(opts: Options) -> std::io::Result<Running> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let system = actix::System::new();
        system.block_on(async move {
            match start(opts) {
                Ok(Started {
                    server,
                    addr,
                    udp_addr,
                    history,
                    durable,
                }) => {
                    let _ = tx.send(Ok((addr, udp_addr, server.handle(), history)));
                    let _ = server.await;
                    durable.close().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
            actix::System::current().stop();
        });
        // Let the system act on the stop: it stops its arbiters, so the shards and the
        // history writer let go of the data directory.
        let _ = system.run();
    });
    let (addr, udp_addr, handle, history) = rx
        .recv()
        .map_err(|_| std::io::Error::other("server thread died"))??;
    Ok(Running {
        addr,
        udp_addr,
        handle,
        history,
        thread: Some(thread),
    })
}
