//! The `meterd` command line: parse flags, init tracing, load the pipeline, call `app::run`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use meterd::app::{self, Options};
use meterd::bench::BenchArgs;
use meterd::clock::SystemClock;
use meterd::config::{Pipeline, Tokens};
use std::path::PathBuf;
use std::sync::Arc;

/// meterd — a metrics stream processor and server: push metric events over HTTP or StatsD and
/// query them as Prometheus, OpenMetrics, MicroProfile JSON, Orion, OpenTSDB, Blink, ODSL or Kanto.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Serve),
    /// Load-test a meterd (or a peer) on this machine: events, single events, StatsD, queries.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on for HTTP (keep it on loopback unless tokens are configured).
    #[arg(long, env = "METERD_LISTEN", default_value = "127.0.0.1:9464")]
    listen: String,
    /// Directory for the write-ahead log, snapshots and downsampled history; created if missing.
    #[arg(long, env = "METERD_DATA_DIR", default_value = "./meterd-data")]
    data_dir: PathBuf,
    /// Pipeline file (TOML). Default: pipelines/default.toml if it exists, else the built-in
    /// default. A file that was asked for and cannot be read or parsed stops start-up.
    #[arg(long, env = "METERD_PIPELINE")]
    pipeline: Option<PathBuf>,
    /// HTTP worker threads (0 = one per core).
    #[arg(long, env = "METERD_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Do not count meterd's own HTTP traffic per service (the incomingTransactions and
    /// serviceTime of /admin/metrics; Orion's -disableMetrics).
    #[arg(long, env = "METERD_DISABLE_SELF_METRICS")]
    disable_self_metrics: bool,
    /// Address for StatsD over UDP, or `off`. An address already in use stops start-up.
    #[arg(long, env = "METERD_STATSD_UDP", default_value = "127.0.0.1:8125")]
    statsd_udp: String,
    /// Bearer tokens file (TOML `[[token]]` tables with `secret`, `role` = ingest | read |
    /// admin, optional `service`). Without one the API is open: keep meterd on loopback.
    #[arg(long, env = "METERD_TOKENS")]
    tokens: Option<PathBuf>,
    /// Join a cluster over these NATS servers (comma-separated, e.g.
    /// `nats://127.0.0.1:4222,nats://127.0.0.1:4223`); `[cluster]` in the pipeline sets its
    /// partitions and replicas. Without it meterd is a single node with its local log.
    #[arg(long, env = "METERD_CLUSTER", requires = "node")]
    cluster: Option<String>,
    /// This node's name in the cluster (1 to 64 of A-Z a-z 0-9 _ -), unique among its members.
    #[arg(long, env = "METERD_NODE")]
    node: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("METERD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
        Command::Bench(args) => {
            let report = meterd::bench::run(&args).map_err(anyhow::Error::msg)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
    }
}

fn serve(args: Serve) -> anyhow::Result<()> {
    let pipeline = match &args.pipeline {
        Some(path) => Pipeline::load(path)?,
        None => {
            let default = PathBuf::from("pipelines/default.toml");
            if default.exists() {
                Pipeline::load(&default)?
            } else {
                Pipeline::default()
            }
        }
    };
    let tokens = match &args.tokens {
        Some(path) => {
            let tokens = Tokens::load(path)?;
            tracing::info!(tokens = tokens.len(), "bearer tokens guard the API");
            Some(tokens)
        }
        None => {
            let loopback = ["127.", "localhost:", "[::1]:"]
                .iter()
                .any(|p| args.listen.starts_with(p));
            if !loopback {
                tracing::warn!(listen = %args.listen, "no tokens file: the API is open to anyone who can reach it");
            }
            None
        }
    };
    let opts = Options {
        listen: args.listen.clone(),
        data_dir: args.data_dir,
        pipeline,
        clock: Arc::new(SystemClock::new()),
        workers: args.workers,
        self_metrics: !args.disable_self_metrics,
        statsd_udp: (!args.statsd_udp.eq_ignore_ascii_case("off")).then_some(args.statsd_udp),
        tokens,
        cluster: args.cluster.as_deref().map(|urls| app::ClusterJoin {
            urls: urls
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect(),
            node: args.node.clone().unwrap_or_default(),
        }),
    };
    app::run(opts).with_context(|| format!("serving on {}", args.listen))
}
