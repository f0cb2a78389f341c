//! The only wiring: start the actors from a validated pipeline and build the HTTP server.

use crate::aggregate::downsample::TierSpec;
use crate::aggregate::{HistorySetup, Shard, ShardState};
use crate::clock::{SharedClock, SystemClock};
use crate::collector::Collector;
use crate::config::Pipeline;
use crate::http::{configure, json_errors, AppState};
use crate::persist::history::{HistoryStore, HistoryWriter};
use crate::registry::Registry;
use crate::telemetry::{register_own, Counters};
use actix::{Actor, Arbiter};
use actix_web::{web, App, HttpServer};
use parking_lot::RwLock;
use std::net::SocketAddr;
use std::path::PathBuf;
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
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts the actors and binds the server; must run inside an actix `System`.
/// Returns the server (a future to await) and the address it listens on.
pub fn start(
    opts: Options,
    signals: bool,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    start_with_handles(opts, signals).map(|(server, addr, _)| (server, addr))
}

/// Addresses of the actors that keep history, for [`Running::flush_history`].
#[derive(Clone)]
pub struct HistoryHandles {
    shards: Vec<actix::Addr<Shard>>,
    writer: actix::Addr<HistoryWriter>,
}

/// [`start`], also answering the history actors' addresses.
pub fn start_with_handles(
    opts: Options,
    signals: bool,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr, HistoryHandles)> {
    std::fs::create_dir_all(&opts.data_dir)?;
    let pipeline = Arc::new(opts.pipeline);
    let counters = Arc::new(Counters::default());
    let mut registry = Registry::default();
    register_own(&mut registry, &counters);
    let registry = Arc::new(RwLock::new(registry));

    let shard_count = if pipeline.shards == 0 {
        cores()
    } else {
        pipeline.shards
    };
    let tiers: Vec<TierSpec> = pipeline
        .tiers
        .iter()
        .map(|t| TierSpec::new(t.resolution, t.retention))
        .collect();
    let store = HistoryStore::open(&opts.data_dir, &tiers, shard_count)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let store = Arc::new(store);
    let writer = {
        let (store, clock) = (store.clone(), opts.clock.clone());
        HistoryWriter::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            HistoryWriter::new(store, clock)
        })
    };
    let first_tier: crate::aggregate::FirstTier = {
        let pipeline = pipeline.clone();
        Arc::new(move |name: &str| pipeline.rule_for(name).and_then(|r| r.tier).unwrap_or(0))
    };
    let shards: Vec<_> = (0..shard_count)
        .map(|shard| {
            let arbiter = Arbiter::new();
            let setup = HistorySetup {
                tiers: tiers.clone().into(),
                store: Some(store.clone()),
                shard,
                shards: shard_count,
                first_tier: first_tier.clone(),
            };
            let state = ShardState::with_history(pipeline.aggregate_settings(), setup);
            let (clock, counters) = (opts.clock.clone(), counters.clone());
            let writer = writer.clone().recipient();
            Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                Shard::new(state, clock, counters).with_writer(writer)
            })
        })
        .collect();
    let collector = {
        let (registry, shards, counters) = (registry.clone(), shards.clone(), counters.clone());
        let clock = opts.clock.clone();
        Collector::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            Collector::new(registry, shards, counters, clock)
        })
    };
    let handles = HistoryHandles {
        shards: shards.clone(),
        writer: writer.clone(),
    };
    let state = AppState {
        collector,
        shards,
        registry,
        pipeline,
        clock: opts.clock,
        counters,
        started: Instant::now(),
    };
    let workers = if opts.workers == 0 {
        cores()
    } else {
        opts.workers
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .wrap(json_errors())
            .configure(configure)
    })
    .workers(workers)
    .shutdown_timeout(5);
    let server = if signals {
        server
    } else {
        server.disable_signals()
    };
    let server = server.bind(&opts.listen)?;
    let addr = server.addrs()[0];
    Ok((server.run(), addr, handles))
}

/// Runs the server until SIGTERM or Ctrl-C (blocking).
pub fn run(opts: Options) -> std::io::Result<()> {
    actix::System::new().block_on(async move {
        let (server, addr) = start(opts, true)?;
        tracing::info!(%addr, "meterd listening");
        server.await?;
        tracing::info!("meterd stopped");
        actix::System::current().stop();
        Ok(())
    })
}

/// A server running on a background thread, for tests and benches.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    history: HistoryHandles,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://addr` for building URLs.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Has every shard close its due buckets and hand them to the history writer now (as
    /// its timer would), and returns once the writer has written them: a deterministic
    /// point for tests that move a manual clock.
    pub fn flush_history(&self) {
        let history = self.history.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(async move {
            for shard in &history.shards {
                let _ = shard.send(crate::aggregate::FlushNow).await;
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
            match start_with_handles(opts, false) {
                Ok((server, addr, history)) => {
                    let _ = tx.send(Ok((addr, server.handle(), history)));
                    let _ = server.await;
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
    let (addr, handle, history) = rx
        .recv()
        .map_err(|_| std::io::Error::other("server thread died"))??;
    Ok(Running {
        addr,
        handle,
        history,
        thread: Some(thread),
    })
}
