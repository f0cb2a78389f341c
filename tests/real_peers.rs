//! meterd against real peers, as users run them: the `statsd` Python client library sending over
//! UDP, and Debian's Prometheus server scraping `/metrics` and answering through its own HTTP
//! API. `.ci/run` installs both; without them these tests print `skipped: ...` and pass (and fail
//! under `METERD_REQUIRE_PEERS=1`, which `.ci/run` sets). The Python client is put into a
//! virtualenv under `target/tmp/` when it is not installed and pip can fetch it.

mod common;

use common::peers;
use common::peers::{free_port, Killed};
use common::udp::udp_server;
use common::{Server, TempDir};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The samples of Prometheus text: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The `statsd` client library the test pins, as pip names it.
const STATSD_PIN: &str = "statsd==4.0.1";

/// A Python that can `import statsd`: the system's `python3`, else a virtualenv under
/// `target/tmp/` with the pinned client (made here when `venv` and pip's index are reachable).
fn python_with_statsd() -> Option<PathBuf> {
    let system = peers::which("python3")?;
    if peers::python_can_import("python3", "statsd") {
        return Some(system);
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peers-venv");
    let python = venv.join("bin/python3");
    let quiet = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !python.is_file() && !quiet(Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        return None;
    }
    let can_import = |python: &Path| peers::python_can_import(&python.to_string_lossy(), "statsd");
    if !can_import(&python) {
        // Fails fast without a network: no retries, a short timeout.
        quiet(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--retries",
            "0",
            "--timeout",
            "15",
            STATSD_PIN,
        ]));
    }
    can_import(&python).then_some(python)
}

#[test]
fn the_statsd_python_client_over_udp() {
    let python = python_with_statsd();
    if !peers::peer(
        "python statsd",
        python.is_some(),
        "python3 with the statsd 4.0.1 package: `pip install statsd==4.0.1`; .ci/run installs it",
    ) {
        return;
    }
    let server = udp_server();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/statsd_client.py");
    let addr = server.udp_addr();
    let out = Command::new(python.unwrap())
        .arg(&script)
        .args([addr.ip().to_string(), addr.port().to_string()])
        .output()
        .expect("the python found above runs");
    assert!(
        out.status.success(),
        "the statsd client failed (.ci/run installs it with pip): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let (datagrams, lines) = printed.trim().split_once(' ').unwrap();
    let (datagrams, lines): (u64, u64) = (datagrams.parse().unwrap(), lines.parse().unwrap());

    let r = server.wait_udp(datagrams);
    assert_eq!(r.get("datagrams"), datagrams, "{}", r.0);
    assert_eq!(r.get("lines"), lines, "multi-line packets: {}", r.0);
    assert_eq!(r.get("lines.bad"), 0, "{}", r.0);
    assert_eq!(r.get("events.accepted"), lines, "{}", r.0);

    let (_, _, text) = server.get("/metrics/application", Some("text/plain"));
    let got = samples(&text);
    let expected = [
        ("application:py_requests", 5.0),
        ("application:py_latency_seconds_count", 2.0),
        ("application:py_latency_seconds_sum", 0.042),
        ("application:py_latency_max_seconds", 0.03),
        ("application:py_latency_min_seconds", 0.012),
        ("application:py_temperature", 22.0),
        ("application:py_balance", -7.0),
        ("application:py_users", 2.0),
        ("application:py_piped", 3.0),
        ("application:py_piped_latency_seconds_count", 1.0),
        ("application:py_piped_latency_max_seconds", 0.007),
        ("application:py_piped_gauge", 9.0),
        ("application:py_piped_users", 1.0),
    ];
    for (name, value) in expected {
        assert_eq!(got.get(name), Some(&value), "{name} in\n{text}");
    }
}

/// GETs JSON from Prometheus; `None` while it is not answering yet.
fn prometheus_json(url: &str) -> Option<Value> {
    let resp = ureq::get(url).call().ok()?;
    let v: Value = resp.into_json().ok()?;
    (v["status"] == "success").then_some(v)
}

/// Polls `what` every 200 ms until it answers, for at most 60 s.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_meterd_and_finds_the_values_exact() {
    let prometheus = peers::which("prometheus");
    if !peers::peer(
        "prometheus",
        prometheus.is_some(),
        "the Prometheus server, Debian package prometheus; .ci/run installs it",
    ) {
        return;
    }
    let server = Server::start();
    let body = "prom.requests:7|c\nprom.temperature:21.5|g\nprom.latency:100:200|ms\n\
                prom.hits:3|c|#route:/orders\n";
    let (status, answer) = server.post("/api/v1/statsd", "text/plain", body);
    assert_eq!(status, 200, "{answer}");

    let dir = TempDir::new();
    let target = server.running.addr.to_string();
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: meterd\n    scrape_interval: 1s\n    \
             scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(prometheus.unwrap())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the prometheus found above starts");
    let _prometheus = Killed(child);
    let api = format!("http://127.0.0.1:{port}/api/v1");

    let target = eventually("a healthy target", || {
        let v = prometheus_json(&format!("{api}/targets"))?;
        let t = v["data"]["activeTargets"].as_array()?.first()?.clone();
        (t["health"] == "up").then_some(t)
    });
    assert_eq!(target["lastError"], "", "{target}");
    assert_eq!(target["labels"]["job"], "meterd", "{target}");
    assert_eq!(
        target["scrapeUrl"],
        format!("http://{}/metrics", server.running.addr)
    );

    let query = |promql: &str| -> Option<f64> {
        let url = format!("{api}/query?query={}", encode(promql));
        let v = prometheus_json(&url)?;
        let result = v["data"]["result"].as_array()?;
        assert!(result.len() <= 1, "{promql}: {v}");
        result.first()?["value"][1].as_str()?.parse().ok()
    };
    // Counter samples end in `_total` only in OpenMetrics (meterd's 0.0.4 text follows the
    // MicroProfile seed and has none), so finding them proves Prometheus negotiated it.
    let expected = [
        ("application:prom_requests_total", 7.0),
        ("application:prom_temperature", 21.5),
        ("application:prom_latency_seconds_count", 2.0),
        ("application:prom_latency_seconds_sum", 0.3),
        ("application:prom_latency_max_seconds", 0.2),
        ("application:prom_hits_total{route=\"/orders\"}", 3.0),
        ("up{job=\"meterd\"}", 1.0),
    ];
    for (promql, value) in expected {
        let got = eventually(promql, || query(promql));
        assert_eq!(got, value, "{promql}");
    }
    assert_eq!(query("application:prom_requests"), None);
    assert_eq!(
        query("scrape_samples_scraped{job=\"meterd\"}").map(|n| n > 0.0),
        Some(true)
    );
}

/// Percent-encodes a PromQL expression for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
