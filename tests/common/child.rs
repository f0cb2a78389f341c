//! A `meterd serve` child process on a free loopback port, for the tests that kill it with
//! SIGKILL or stop it with SIGTERM and start it again on the same data dir.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `meterd serve` child process (killed on drop).
pub struct Meterd {
    /// The process.
    pub child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
}

impl Meterd {
    /// Starts `meterd serve` on `data_dir` with `pipeline` and waits until it is ready.
    pub fn start(data_dir: &Path, pipeline: &Path) -> Meterd {
        Self::start_logging(data_dir, pipeline, None)
    }

    /// [`Meterd::start`], with its log (at `info`) written to `log` when given. The binary is
    /// `METERD_TEST_BIN` when set (to run a test against another build), else this package's.
    pub fn start_logging(data_dir: &Path, pipeline: &Path, log: Option<&Path>) -> Meterd {
        Self::start_with(data_dir, pipeline, &[], log, Duration::from_secs(30))
    }

    /// [`Meterd::start_logging`] with more `serve` arguments (e.g. `--cluster`), waiting at
    /// most `ready_within` for `/-/ready`.
    pub fn start_with(
        data_dir: &Path,
        pipeline: &Path,
        args: &[&str],
        log: Option<&Path>,
        ready_within: Duration,
    ) -> Meterd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("METERD_TEST_BIN").unwrap_or(env!("CARGO_BIN_EXE_meterd").into());
        let child = Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--pipeline")
            .arg(pipeline)
            .args(["--workers", "2"])
            .args(args)
            .env("METERD_STATSD_UDP", "off")
            .env("METERD_LOG", if log.is_some() { "info" } else { "warn" })
            // meterd logs to stdout.
            .stdout(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::null(),
            })
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let m = Meterd { child, port };
        let deadline = Instant::now() + ready_within;
        while ureq::get(&m.url("/-/ready")).call().is_err() {
            assert!(Instant::now() < deadline, "meterd did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GETs `path` as JSON; panics on anything but a JSON answer.
    pub fn get(&self, path: &str) -> Value {
        ureq::get(&self.url(path))
            .set("Accept", "application/json")
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .unwrap()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Stops the process with SIGTERM; asserts it exits cleanly within 20 s.
    pub fn terminate(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "unclean exit {status:?}");
                return;
            }
            assert!(Instant::now() < deadline, "no clean shutdown");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Meterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
