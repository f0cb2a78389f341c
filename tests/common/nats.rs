//! Real nats-servers for the cluster tests: N servers with JetStream as one NATS cluster
//! (routes on free loopback ports, a store dir each under a temporary dir), `kill -9` of one,
//! its restart, and all of them killed on drop.
//!
//! `NatsCluster::start(3)` returns `None` (after printing the skip line) when nats-server is
//! not installed, or fails under `METERD_REQUIRE_PEERS=1`.

use super::peers;
use super::peers::free_port;
use super::TempDir;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long servers get to elect a JetStream meta leader.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// One nats-server of the cluster.
struct Node {
    name: String,
    port: u16,
    http: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// N nats-servers with JetStream forming one cluster on loopback.
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    /// Kept for its drop: the configs, stores and logs live here.
    pub dir: TempDir,
}

/// The nats-server binary, if installed (Debian puts it in /usr/sbin).
pub fn nats_server() -> Option<PathBuf> {
    peers::which("nats-server").or_else(|| {
        let p = PathBuf::from("/usr/sbin/nats-server");
        p.is_file().then_some(p)
    })
}

/// Whether nats-server is installed; prints the skip line (or fails under
/// `METERD_REQUIRE_PEERS=1`) when it is not.
pub fn present() -> bool {
    peers::peer(
        "nats-server",
        nats_server().is_some(),
        "Debian package nats-server; .ci/run installs it",
    )
}

impl NatsCluster {
    /// Starts `n` servers and waits until JetStream is ready on each (a meta leader elected
    /// when n > 1); `None` when nats-server is absent (see the module doc).
    pub fn start(n: usize) -> Option<NatsCluster> {
        if !present() {
            return None;
        }
        // A port picked free may be taken by another test before the server binds it: such a
        // server exits at once, and the whole cluster starts again on other ports.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(n) {
                Ok(cluster) => return Some(cluster),
                Err(e) => last = e,
            }
        }
        panic!("{last}");
    }

    fn try_start(n: usize) -> Result<NatsCluster, String> {
        let bin = nats_server().expect("checked by start");
        let dir = TempDir::new();
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let route_list = routes
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let name = format!("ns{i}");
            let (port, http) = (free_port(), free_port());
            let store = dir.0.join(&name);
            let cluster = if n > 1 {
                format!(
                    "cluster {{\n  name: meterd-test\n  listen: 127.0.0.1:{route}\n  \
                     routes: [{route_list}]\n}}\n"
                )
            } else {
                String::new()
            };
            let conf_text = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{http}\n\
                 jetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 256MB\n  \
                 max_file_store: 2GB\n}}\n{cluster}",
                store.display()
            );
            let conf = dir.0.join(format!("{name}.conf"));
            std::fs::write(&conf, conf_text).unwrap();
            nodes.push(Node {
                log: dir.0.join(format!("{name}.log")),
                name,
                port,
                http,
                conf,
                child: None,
            });
        }
        let mut cluster = NatsCluster { bin, nodes, dir };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.ready()?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        node.child = Some(child);
    }

    /// The client URL of every server (`nats://127.0.0.1:PORT`), running or not.
    pub fn urls(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.url(i)).collect()
    }

    /// Server `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// `kill -9` of server `i` (its store stays for a restart).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `i` again on its ports and store, and waits until JetStream is ready.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready();
    }

    /// Waits until every running server reports JetStream ready: enabled, and with a meta
    /// leader when clustered.
    pub fn wait_ready(&mut self) {
        if let Err(e) = self.ready() {
            panic!("{e}");
        }
    }

    fn ready(&mut self) -> Result<(), String> {
        let clustered = self.nodes.len() > 1;
        let deadline = Instant::now() + READY_WITHIN;
        for node in self.nodes.iter_mut().filter(|n| n.child.is_some()) {
            let url = format!("http://127.0.0.1:{}/jsz", node.http);
            loop {
                let ready = ureq::get(&url)
                    .timeout(Duration::from_secs(1))
                    .call()
                    .ok()
                    .and_then(|r| r.into_json::<serde_json::Value>().ok())
                    .is_some_and(|jsz| {
                        jsz.get("config").is_some()
                            && (!clustered
                                || jsz["meta_cluster"]["leader"]
                                    .as_str()
                                    .is_some_and(|l| !l.is_empty()))
                    });
                if ready {
                    break;
                }
                let exited = node
                    .child
                    .as_mut()
                    .is_some_and(|c| c.try_wait().ok().flatten().is_some());
                if exited || Instant::now() >= deadline {
                    return Err(format!(
                        "nats-server {} {}; its log:\n{}",
                        node.name,
                        if exited {
                            "exited".to_owned()
                        } else {
                            format!("not ready within {READY_WITHIN:?}")
                        },
                        std::fs::read_to_string(&node.log).unwrap_or_default()
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
