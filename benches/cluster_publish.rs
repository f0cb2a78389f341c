//! Cluster ingest's hot path on JetStream: `Jet::publish_all` of one ingest split into 16
//! partitions of 2 KB each (all 16 PubAcks awaited), alone and 64 at once, against one local
//! nats-server (R1) that the bench starts in a temporary directory. Skipped, with a line on
//! stderr, when nats-server is not installed.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterd::cluster::{ClusterSettings, Jet, Outgoing};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A nats-server with JetStream in a temporary directory, killed (and its store removed) on
/// drop.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server() -> Option<Server> {
    let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())?;
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("meterd-bench-nats-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).ok()?;
    let child = Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Server {
        child,
        dir,
        url: format!("nats://127.0.0.1:{port}"),
    })
}

/// One ingest's parts: 16 partitions, 2 KB each, ids unique per call.
fn parts(ids: &AtomicU64) -> Vec<Outgoing> {
    let n = ids.fetch_add(1, Ordering::Relaxed);
    let payload = Bytes::from(vec![b'x'; 2048]);
    (0..16)
        .map(|p| Outgoing {
            partition: p,
            msg_id: format!("bench-{n}-{p}"),
            payload: payload.clone(),
        })
        .collect()
}

fn cluster_publish(c: &mut Criterion) {
    let Some(server) = start_server() else {
        eprintln!("skipped: nats-server not installed (Debian package nats-server)");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut settings = ClusterSettings::new(vec![server.url.clone()], "bench");
    settings.replicas = 1;
    let deadline = Instant::now() + Duration::from_secs(20);
    let jet = loop {
        match rt.block_on(Jet::connect(&settings)) {
            Ok(jet) => break jet,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("nats-server did not come up: {e}"),
        }
    };
    let ids = AtomicU64::new(0);
    let mut group = c.benchmark_group("cluster_publish");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(16));
    group.bench_function("publish_all_16x2KB", |b| {
        b.iter(|| rt.block_on(jet.publish_all(parts(&ids))).unwrap())
    });
    group.throughput(Throughput::Elements(16 * 64));
    group.bench_function("publish_all_16x2KB_64_at_once", |b| {
        b.iter(|| {
            let all = (0..64).map(|_| jet.publish_all(parts(&ids)));
            for r in rt.block_on(futures_util::future::join_all(all)) {
                r.unwrap();
            }
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, cluster_publish);
criterion_main!(benches);
