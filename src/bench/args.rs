//! The command line of `meterd bench`.

use clap::{Args, ValueEnum};
use std::time::Duration;

/// What the load consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `POST /api/v1/events` with JSON batches of `--batch` events.
    Events,
    /// `POST` Prometheus text to a Pushgateway (`--target http://127.0.0.1:9091`), `--batch`
    /// samples per request, for side-by-side comparisons.
    Pushgateway,
    /// A Pushgateway's best case: every connection pushes to one group (`job/bench`), one
    /// metric family (`bench_m`, with its `# TYPE` line) of `--batch` samples.
    PushgatewayBest,
    /// StatsD lines over UDP to `--target udp://127.0.0.1:8125`, `--batch` lines a datagram.
    Statsd,
    /// `GET --path` (default `/metrics`).
    Query,
}

/// Flags of `meterd bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Base URL of the server (`http://127.0.0.1:9464`) or, for statsd, `udp://127.0.0.1:8125`.
    #[arg(long, default_value = "http://127.0.0.1:9464")]
    pub target: String,
    /// Kind of load.
    #[arg(long, value_enum, default_value_t = Mode::Events)]
    pub mode: Mode,
    /// Events per request (events, pushgateway, pushgateway-best) or lines per datagram (statsd).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent connections (HTTP) or sending threads (statsd).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// How long to run, e.g. `10s`; the run also ends after `--requests`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests (datagrams for statsd); 0 = only the duration bounds it.
    #[arg(long, default_value_t = 0)]
    pub requests: u64,
    /// Rate limit in requests (datagrams) per second over all connections; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Distinct series the generated events spread over.
    #[arg(long, default_value_t = 1000)]
    pub series: usize,
    /// Type of every generated event (events mode): `counter`, `gauge`, `meter`, `histogram` or
    /// `timer`; without it, counters and gauges alternate every ten series.
    #[arg(long)]
    pub kind: Option<crate::model::Kind>,
    /// statsd mode: every line differs from the last line of its series (values alternate
    /// between passes), so the server cannot fold repeated lines: its worst case. Without it
    /// the same lines repeat, folding's best case.
    #[arg(long)]
    pub distinct_values: bool,
    /// Path for `query` mode.
    #[arg(long, default_value = "/metrics")]
    pub path: String,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar (for scripts).
    #[arg(long)]
    pub quiet: bool,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Also draw the latency distribution (percentiles) as an SVG chart into this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

/// The hard ceiling of any run, whatever the flags say.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s).map_err(|e| e.to_string())
}

impl BenchArgs {
    /// Checks the flags make a bounded, sensible run.
    pub fn validate(&self) -> Result<(), String> {
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err("--duration must be between 1ms and 1h".into());
        }
        if self.batch == 0 || self.connections == 0 || self.series == 0 {
            return Err("--batch, --connections and --series must be at least 1".into());
        }
        if self.connections > 4096 {
            return Err("--connections is at most 4096".into());
        }
        let udp = self.target.starts_with("udp://");
        if udp && self.plot.is_some() {
            return Err("--plot draws HTTP latencies; statsd mode measures none".into());
        }
        if udp != (self.mode == Mode::Statsd) {
            return Err("statsd mode takes a udp:// target; the other modes take http://".into());
        }
        Ok(())
    }

    /// `host:port` of the target.
    pub fn host_port(&self) -> Result<String, String> {
        let rest = self
            .target
            .strip_prefix("http://")
            .or_else(|| self.target.strip_prefix("udp://"))
            .ok_or_else(|| format!("--target {} must start with http:// or udp://", self.target))?;
        let host_port = rest.split('/').next().unwrap_or(rest);
        Ok(if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:80")
        })
    }
}
