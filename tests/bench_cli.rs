//! `meterd bench` against a real server, and the health probes it uses as a baseline.

mod common;

use common::peers::{free_port, Killed};
use common::Server;
use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meterd"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn health_probes_answer() {
    let server = Server::start();
    let (status, _, body) = server.get("/-/healthy", None);
    assert_eq!((status, body.as_str()), (200, "meterd is Healthy.\n"));
    let (status, _, body) = server.get("/-/ready", None);
    assert_eq!((status, body.as_str()), (200, "meterd is Ready.\n"));
}

#[test]
fn event_load_is_counted_exactly() {
    let server = Server::start();
    let target = server.url("");
    let out = bench(&[
        "--target",
        &target,
        "--requests",
        "50",
        "--batch",
        "20",
        "--connections",
        "4",
        "--duration",
        "30s",
        "--json",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 50);
    assert_eq!(report["events"], 1000);
    assert_eq!(report["errors"], serde_json::json!({}));
    for q in ["p50", "p90", "p99", "p999", "max"] {
        assert!(report["latency_ms"][q].as_f64().unwrap() > 0.0, "{report}");
    }
    let vendor = server.get_json("/metrics/vendor");
    assert_eq!(vendor["meterd.events.accepted"], 1000);
}

#[test]
fn every_series_is_covered_whatever_the_connections() {
    let server = Server::start();
    let target = server.url("");
    let out = bench(&[
        "--target",
        &target,
        "--series",
        "300",
        "--batch",
        "10",
        "--requests",
        "30",
        "--connections",
        "4",
        "--duration",
        "30s",
        "--json",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vendor = server.get_json("/metrics/vendor");
    assert_eq!(vendor["meterd.series"], 300, "{vendor}");
}

#[test]
fn query_mode_and_errors_by_status() {
    let server = Server::start();
    let target = server.url("");
    let out = bench(&[
        "--target",
        &target,
        "--mode",
        "query",
        "--path",
        "/nowhere",
        "--requests",
        "10",
        "--json",
        "--quiet",
    ]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"]["404"], 10, "{report}");
}

#[test]
fn refuses_remote_targets_and_unbounded_runs() {
    let out = bench(&["--target", "http://192.0.2.1:9464", "--duration", "1s"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
    let out = bench(&["--duration", "2h"]);
    assert!(!out.status.success());
}

#[test]
fn plot_draws_the_latency_distribution() {
    let server = Server::start();
    let target = server.url("");
    let dir = common::TempDir::new();
    let file = dir.0.join("latency.svg");
    let out = bench(&[
        "--target",
        &target,
        "--requests",
        "200",
        "--batch",
        "5",
        "--connections",
        "2",
        "--duration",
        "30s",
        "--quiet",
        "--plot",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    // One data line (the only 2-pixel polyline), a caption with the run, both axes named.
    assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1, "{svg}");
    assert!(svg.contains("200 requests, 2 connections"), "{svg}");
    assert!(svg.contains("latency (ms)") && svg.contains("percentile"));
    // Percentile ticks up to the decade past what 200 requests measure (p99.5).
    for tick in ["p0", "p90", "p99", "p99.9"] {
        assert!(
            svg.contains(&format!("\n{tick}\n")),
            "{tick} missing: {svg}"
        );
    }
    // A hover point per plotted quantile, the last one the maximum.
    let points = svg.matches("class=\"mdp\"").count();
    assert!(points >= 10, "{points} points");
    assert!(svg.contains("p99.5: "), "{svg}");

    // StatsD measures no latency: --plot is refused before anything runs.
    let out = bench(&[
        "--target",
        "udp://127.0.0.1:8125",
        "--mode",
        "statsd",
        "--plot",
        "x.svg",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--plot"));
}

/// Waits until `url` answers 200 (30 s at most).
fn wait_ready(url: &str) {
    for _ in 0..300 {
        if ureq::get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no answer from {url}");
}

#[test]
fn pushgateway_best_case_pushes_one_typed_family_to_one_group() {
    let found = common::peers::which("prometheus-pushgateway");
    if !common::peers::peer(
        "prometheus-pushgateway",
        found.is_some(),
        "Debian package prometheus-pushgateway; .ci/run installs it",
    ) {
        return;
    }
    let port = free_port();
    // Debian's build persists to /var/lib/prometheus/pushgateway.data unless told not to, and
    // would start with what earlier runs pushed (benches/compare.sh does the same).
    let _pgw = Killed(
        Command::new(found.unwrap())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"));
    let held: serde_json::Value = ureq::get(&format!("{base}/api/v1/metrics"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(held["data"], serde_json::json!([]), "a fresh Pushgateway");
    let out = bench(&[
        "--target",
        &base,
        "--mode",
        "pushgateway-best",
        "--batch",
        "5",
        "--requests",
        "12",
        "--connections",
        "3",
        "--duration",
        "30s",
        "--json",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 12);
    assert_eq!(report["events"], 60);
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    let text = ureq::get(&format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(text.contains("# TYPE bench_m gauge"), "{text}");
    let samples: Vec<&str> = text.lines().filter(|l| l.starts_with("bench_m{")).collect();
    assert_eq!(samples.len(), 5, "one family of 5 samples: {samples:?}");
    assert!(
        samples
            .iter()
            .all(|l| l.contains("job=\"bench\"") && l.contains("instance=\"\"")),
        "one group: {samples:?}"
    );
}
