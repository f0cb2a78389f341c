//! The only wiring: start the actors from a validated pipeline and build the HTTP server.

use crate::aggregate::{Shard, ShardState};
use crate::clock::{SharedClock, SystemClock};
use crate::collector::Collector;
use crate::config::Pipeline;
use crate::http::{configure, count_traffic, json_errors, AppState};
use crate::http::{record_request, RequestRecorder};
use crate::ingest::udp::StatsdUdp;
use crate::registry::entities::{Capturer, EntityKeeper};
use crate::registry::Registry;
use crate::telemetry::{register_own, register_traffic, Counters, IncomingTraffic};
use actix::{Actor, Arbiter};
use actix_web::middleware::from_fn;
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
    /// Count meterd's own traffic per service (Orion's self metrics); `--disable-self-metrics`
    /// turns it off.
    pub self_metrics: bool,
    /// Address for StatsD over UDP (`127.0.0.1:0` picks a free port); `None` turns it off.
    pub statsd_udp: Option<String>,
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
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts the actors and binds the server; must run inside an actix `System`.
/// Returns the server (a future to await), the address it listens on and the StatsD UDP
/// address, if on.
pub fn start(
    opts: Options,
    signals: bool,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr, Option<SocketAddr>)> {
    std::fs::create_dir_all(&opts.data_dir)?;
    // Bound first, so that an address in use stops start-up before anything runs.
    let statsd_udp = opts
        .statsd_udp
        .as_deref()
        .map(StatsdUdp::bind)
        .transpose()?;
    let pipeline = Arc::new(opts.pipeline);
    let counters = Arc::new(Counters::default());
    let mut registry = Registry::default();
    register_own(&mut registry, &counters);
    register_traffic(&mut registry);
    let registry = Arc::new(RwLock::new(registry));

    let shard_count = if pipeline.shards == 0 {
        cores()
    } else {
        pipeline.shards
    };
    let shards: Vec<_> = (0..shard_count)
        .map(|_| {
            let arbiter = Arbiter::new();
            let state = ShardState::new(pipeline.aggregate_settings());
            let (clock, counters) = (opts.clock.clone(), counters.clone());
            Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                Shard::new(state, clock, counters)
            })
        })
        .collect();
    let entities = EntityKeeper::spawn(&pipeline.entities, opts.clock.clone(), counters.clone());
    let collector = {
        let (registry, shards, counters) = (registry.clone(), shards.clone(), counters.clone());
        let clock = opts.clock.clone();
        let capturer = Capturer::new(&pipeline.rules, entities.clone());
        Collector::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            Collector::new(registry, shards, counters, clock).with_entities(capturer)
        })
    };
    let udp_addr = match statsd_udp {
        Some(udp) => {
            let addr = udp.local_addr;
            udp.start(
                collector.clone(),
                counters.clone(),
                opts.clock.clone(),
                &pipeline,
            )?;
            Some(addr)
        }
        None => None,
    };
    let streams = crate::stream::Streams::start(
        shards.clone(),
        opts.clock.clone(),
        counters.clone(),
        &pipeline.streams,
    );
    let state = AppState {
        collector,
        shards,
        registry,
        pipeline,
        clock: opts.clock,
        counters,
        started: Instant::now(),
        traffic: Arc::new(IncomingTraffic::new(opts.self_metrics)),
        streams,
        entities,
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
            .wrap(from_fn(count_traffic))
            .wrap(actix_web::middleware::from_fn(record_request))
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
    Ok((server.run(), addr, udp_addr))
}

/// Runs the server until SIGTERM or Ctrl-C (blocking).
pub fn run(opts: Options) -> std::io::Result<()> {
    actix::System::new().block_on(async move {
        let (server, addr, _) = start(opts, true)?;
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
    /// The StatsD UDP address, when on.
    pub udp_addr: Option<SocketAddr>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://addr` for building URLs.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
            match start(opts, false) {
                Ok((server, addr, udp_addr)) => {
                    let _ = tx.send(Ok((addr, udp_addr, server.handle())));
                    let _ = server.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
            actix::System::current().stop();
        });
    });
    let (addr, udp_addr, handle) = rx
        .recv()
        .map_err(|_| std::io::Error::other("server thread died"))??;
    Ok(Running {
        addr,
        udp_addr,
        handle,
        thread: Some(thread),
    })
}
