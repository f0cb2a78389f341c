//! Real peers (promtool, Prometheus, Python packages, browsers, NATS): find them or skip.
//!
//! A test that needs a peer asks [`peer`] first. When the peer is absent the test prints
//! `skipped: <peer> not installed (<how to get it>)` and returns early, so a newcomer's
//! `cargo test` passes on a machine with only the Rust toolchain. With `METERD_REQUIRE_PEERS=1`
//! (which `.ci/run` sets) an absent peer fails the test instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Whether absent peers fail tests (`METERD_REQUIRE_PEERS=1`) rather than skip them.
pub fn required() -> bool {
    std::env::var("METERD_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Returns `present`; when it is false, prints the skip line, or panics if peers are required.
pub fn peer(name: &str, present: bool, how: &str) -> bool {
    if !present {
        assert!(
            !required(),
            "{name} not installed ({how}) and METERD_REQUIRE_PEERS=1"
        );
        // Straight to stderr, not through `eprintln!`, which the test harness captures: a plain
        // `cargo test` shows the line next to the test's `ok`.
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: {name} not installed ({how})"
        );
    }
    present
}

/// The path of `program` on `PATH`, if it is there.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether `python` can import `module`.
pub fn python_can_import(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `promtool check metrics` on a Prometheus text `body` when promtool is installed (else
/// skips, or fails under `METERD_REQUIRE_PEERS=1`); asserts it finds no error (exit 3, lint
/// warnings only, passes: the seed's `scope:name` style draws one for its colon).
pub fn promtool_check(body: &str) {
    let promtool = which("promtool");
    if !peer(
        "promtool",
        promtool.is_some(),
        "Debian package prometheus; .ci/run installs it",
    ) {
        return;
    }
    let out = Command::new(promtool.unwrap())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .expect("the promtool found above runs");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "promtool failed ({code:?}): {report}\n{body}"
    );
    // Lint lines name metrics (`...errors` is one), so look for promtool's own error line.
    assert!(!report.contains("error while"), "{report}");
}

/// A port free on 127.0.0.1 right now (bound, then released for a peer process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A peer process, killed and reaped when dropped (also when its test panics).
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `google.rpc.Status` (code 1, message 2): how OTLP answers errors in protobuf.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OtlpStatus {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The message.
    #[prost(string, tag = "2")]
    pub message: String,
}
