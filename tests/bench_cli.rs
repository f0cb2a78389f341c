//! `meterd bench` against a real server, and the health probes it uses as a baseline.

mod common;

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
