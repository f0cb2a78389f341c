//! The only wiring: [`start`] reads as recover (`recover.rs`) → start the core actors
//! (`core.rs`) → serve (`serve.rs`); [`run`] and [`spawn`] run it until stopped.

mod core;
mod recover;
mod serve;

use crate::aggregate::Shards;
use crate::clock::{SharedClock, SystemClock};
use crate::collector::{checkpoint_now, Collector};
use crate::config::{Pipeline, Tokens};
use crate::ingest::udp::StatsdUdp;
use crate::persist::history::HistoryWriter;
use crate::persist::{Log, Wal};
use crate::registry::entities::{EntityKeeper, SaveEntities};
use actix::{Addr, Arbiter};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
    shards: Shards,
    writer: actix::Addr<HistoryWriter>,
    collector: Addr<Collector>,
}

/// The durable state's handles, for an orderly shutdown.
pub struct Durable {
    collector: Addr<Collector>,
    entities: Addr<EntityKeeper>,
    history: HistoryHandles,
    wal: Wal,
    /// The cluster this node is part of: it leaves first.
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

/// Recovers the state from the data dir, starts the core actors and serves (binds the
/// server); must run inside an actix `System`.
pub fn start(mut opts: Options) -> std::io::Result<Started> {
    std::fs::create_dir_all(&opts.data_dir)?;
    // Bound first, so that an address in use stops start-up before anything runs.
    let statsd_udp = opts
        .statsd_udp
        .as_deref()
        .map(StatsdUdp::bind)
        .transpose()?;
    let pipeline = std::mem::take(&mut opts.pipeline);
    let cluster = join(&opts, &pipeline)?;
    let recovered = recover::recover(&opts, pipeline)?;
    let core = core::start(&opts, recovered, cluster);
    serve::serve(opts, core, statsd_udp)
}

/// Joins the cluster `opts` name, if any: connects to NATS, makes sure the streams exist and
/// starts following the placement (blocks until joined).
fn join(opts: &Options, pipeline: &Pipeline) -> std::io::Result<Option<crate::cluster::Node>> {
    let Some(join) = &opts.cluster else {
        return Ok(None);
    };
    let mut settings = crate::cluster::ClusterSettings::new(join.urls.clone(), &join.node);
    settings.partitions = pipeline.cluster.partitions;
    settings.replicas = pipeline.cluster.replicas;
    settings.commit_timeout = pipeline.cluster.commit_timeout;
    let node = crate::cluster::Node::start(
        settings,
        pipeline.aggregate_settings(),
        pipeline.durability.snapshot_interval,
        opts.clock.clone(),
    )
    .map_err(|e| std::io::Error::other(format!("joining the cluster: {e}")))?;
    tracing::info!(
        node = node.name(),
        partitions = node.partitions(),
        "joined the cluster"
    );
    Ok(Some(node))
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
            history.shards.flush_now().await;
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
