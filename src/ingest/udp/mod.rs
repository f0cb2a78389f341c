//! StatsD over UDP: the one part of `ingest` that does I/O.
//!
//! ```text
//!  socket (32 MiB receive buffer) ─► reader thread: read, parse leniently, batch
//!        ─► queue (bounded by queues.udp datagrams; full = dropped and counted)
//!        ─► forwarder task: IngestLenient to the collector, one batch at a time
//! ```
//!
//! The reader is a plain thread that only reads and parses, so the kernel's buffer is emptied
//! as fast as one core can; it never waits for the collector. Identical lines of a series read
//! in the same millisecond are folded into one event ([`Op::Repeat`](crate::model::Op::Repeat),
//! see [`Batcher`]), which the shard applies line by line. A batch holds the events of
//! whole datagrams and is handed over when it holds 512 datagrams or 8192 events, when its
//! first datagram is 5 ms old, or at once when the socket has nothing more and the batch is
//! due. Every line ends up counted in [`UdpCounters`](crate::telemetry::UdpCounters): bad,
//! dropped, accepted or refused — and the kernel's own drops are read from `/proc/net/udp`.

mod batch;
mod reader;
mod socket;

pub use batch::{Batcher, FlushPolicy, UdpBatch};
pub use socket::{bind, size_receive_buffer, ReceiveBuffer, RECEIVE_BUFFER_BYTES};

use crate::clock::SharedClock;
use crate::collector::{Collector, IngestLenient, LenientOutcome};
use crate::config::Pipeline;
use crate::telemetry::{Counters, Outcome};
use actix::Addr;
use reader::{dropped, HandOff, LineLimits, Reader};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// A bound StatsD socket, not yet read.
pub struct StatsdUdp {
    socket: UdpSocket,
    /// The address it is bound to (the real port when `:0` was asked for).
    pub local_addr: SocketAddr,
    /// How its receive buffer was sized.
    pub receive_buffer: ReceiveBuffer,
}

impl StatsdUdp {
    /// Binds `addr` and sizes the receive buffer ([`RECEIVE_BUFFER_BYTES`]). An address in use
    /// is an error naming it.
    pub fn bind(addr: &str) -> io::Result<StatsdUdp> {
        let socket = bind(addr)?;
        let local_addr = socket.local_addr()?;
        let receive_buffer = size_receive_buffer(&socket, RECEIVE_BUFFER_BYTES);
        Ok(StatsdUdp {
            socket,
            local_addr,
            receive_buffer,
        })
    }

    /// Starts the reader thread and the forwarder task (on the current actix arbiter, so call
    /// it inside the actix `System`). Both stop when the System stops.
    pub fn start(
        self,
        collector: Addr<Collector>,
        cluster: Option<crate::cluster::Node>,
        counters: Arc<Counters>,
        clock: SharedClock,
        pipeline: &Pipeline,
    ) -> io::Result<()> {
        let rb = self.receive_buffer;
        if rb.granted < rb.asked {
            tracing::warn!(
                asked = rb.asked,
                granted = rb.granted,
                "the StatsD UDP receive buffer is smaller than asked: net.core.rmem_max caps it \
                 unless meterd has CAP_NET_ADMIN; raise it (sysctl -w net.core.rmem_max=...) so \
                 that bursts are not dropped by the kernel"
            );
        }
        let udp = &counters.udp;
        udp.receive_buffer_bytes
            .store(rb.granted as u64, Ordering::Relaxed);
        udp.socket_inode
            .store(socket::inode(&self.socket), Ordering::Relaxed);

        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let forwarder = Forwarder {
            rx,
            collector,
            cluster,
            counters: counters.clone(),
            queued: queued.clone(),
        };
        let reader = Reader {
            socket: self.socket,
            hand_off: HandOff {
                tx,
                queued,
                capacity: pipeline.queues.udp.max(1),
            },
            counters,
            clock,
            limits: LineLimits {
                max_name_bytes: pipeline.limits.max_name_bytes,
                max_tags: pipeline.limits.max_tags,
                max_tag_value_bytes: pipeline.limits.max_tag_value_bytes,
                longest_retention_ms: pipeline.longest_retention_ms(),
            },
        };
        let reader = std::thread::Builder::new()
            .name("statsd-udp".into())
            .spawn(move || reader.run())?;
        actix_rt::spawn(forwarder.run(reader.thread().clone()));
        tracing::info!(
            addr = %self.local_addr,
            receive_buffer = rb.granted,
            forced = rb.forced,
            "StatsD listening on UDP"
        );
        Ok(())
    }
}

/// The task that hands the reader's batches to the collector.
struct Forwarder {
    rx: UnboundedReceiver<UdpBatch>,
    collector: Addr<Collector>,
    /// In a cluster, batches are published into its partitions instead (the owners leave out
    /// events whose type conflicts in their partition).
    cluster: Option<crate::cluster::Node>,
    counters: Arc<Counters>,
    queued: Arc<AtomicUsize>,
}

impl Forwarder {
    /// Hands each batch to the collector and counts what became of it; unparks the reader
    /// (which may be waiting for room) after each. One batch is in flight at a time; while the
    /// collector is slow the reader's queue fills and, past a grace period, it drops (and
    /// counts).
    async fn run(self, reader: std::thread::Thread) {
        let Forwarder {
            mut rx,
            collector,
            cluster,
            counters,
            queued,
        } = self;
        let udp = &counters.udp;
        while let Some(mut batch) = rx.recv().await {
            let events = std::mem::take(&mut batch.events);
            let sent = match &cluster {
                Some(cluster) => {
                    let n = events.len();
                    Ok(match cluster.publish(events).await {
                        Ok(_) => LenientOutcome {
                            accepted: n,
                            ..LenientOutcome::default()
                        },
                        Err(_) => LenientOutcome {
                            dropped: n,
                            ..LenientOutcome::default()
                        },
                    })
                }
                None => collector.send(IngestLenient(events)).await,
            };
            match sent {
                Ok(outcome) => {
                    counters.record(Outcome::Udp {
                        accepted: outcome.accepted,
                        refused: outcome.refused,
                    });
                    if outcome.dropped > 0 {
                        // Back-pressure (a full queue) or a failed log write: counted as dropped.
                        dropped(&counters, &batch);
                    } else {
                        udp.lines_pending
                            .fetch_sub(batch.lines as i64, Ordering::Release);
                    }
                }
                // The collector has stopped: meterd is shutting down.
                Err(_) => dropped(&counters, &batch),
            }
            queued.fetch_sub(batch.datagrams, Ordering::AcqRel);
            reader.unpark();
        }
    }
}
