//! The `meterd` binary: help text, bad pipeline files, a real start and SIGTERM.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn meterd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meterd"))
}

#[test]
fn help_explains_every_flag() {
    let out = meterd().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--pipeline",
        "--disable-self-metrics",
        "METERD_DISABLE_SELF_METRICS",
        "METERD_LISTEN",
        "METERD_DATA_DIR",
        "METERD_PIPELINE",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn a_bad_pipeline_stops_start_up_naming_the_file() {
    let dir = common::TempDir::new();
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[histogram]\nquantiles = [0.5, 1.5]\n").unwrap();
    let out = meterd()
        .args(["serve", "--listen", "127.0.0.1:0", "--pipeline"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir.0.join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("line 2") || err.contains(":2"), "{err}");

    let missing = dir.0.join("missing.toml");
    let out = meterd()
        .args(["serve", "--listen", "127.0.0.1:0", "--pipeline"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn serves_then_stops_cleanly_on_sigterm() {
    let dir = common::TempDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = meterd()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("METERD_DATA_DIR", dir.0.join("data"))
        .env("METERD_STATSD_UDP", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics/base");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&url).call().is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir.0.join("data").is_dir(), "data dir created");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no clean shutdown");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
}
