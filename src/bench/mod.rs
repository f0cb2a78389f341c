//! `meterd bench`: a bounded load generator for meterd (and for the peers it is compared with):
//! HTTP event batches, single events, StatsD over UDP, or queries; a progress bar while it runs
//! and an HdrHistogram latency report at the end.

mod args;
mod http_load;
mod payload;
mod progress;
mod report;
mod udp_load;

pub use args::{BenchArgs, Mode};
pub use report::Report;

use std::net::ToSocketAddrs;

/// Runs the bench described by `args` and prints its report; errors are for the user to fix.
pub fn run(args: &BenchArgs) -> Result<Report, String> {
    args.validate()?;
    check_target(args)?;
    let report = match args.mode {
        Mode::Statsd => udp_load::run(args)?,
        _ => http_load::run(args)?,
    };
    if let Some(path) = &args.plot {
        plot(&report, args, path)?;
    }
    Ok(report)
}

/// Writes the latency distribution of `report` as an SVG chart to `path`.
pub fn plot(report: &Report, args: &BenchArgs, path: &std::path::Path) -> Result<(), String> {
    if report.distribution.is_empty() {
        return Err("--plot: no request was measured, so there is no latency to draw".into());
    }
    let title = format!(
        "meterd bench --mode {}: {} requests, {} connections, {:.0} requests/s",
        report.mode, report.requests, args.connections, report.requests_per_second
    );
    let mut svg = String::new();
    crate::render::chart::latency_chart(&mut svg, &title, &report.distribution, (900, 480))
        .map_err(|e| e.to_string())?;
    std::fs::write(path, svg).map_err(|e| format!("--plot {}: {e}", path.display()))
}

/// Refuses targets off this machine unless `--allow-remote` was given.
fn check_target(args: &BenchArgs) -> Result<(), String> {
    let host_port = args.host_port()?;
    let addrs: Vec<_> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host_port}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host_port} resolves to no address"));
    }
    if !args.allow_remote && addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{host_port} is not a loopback address; pass --allow-remote to load another machine"
        ));
    }
    Ok(())
}
