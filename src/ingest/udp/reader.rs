//! The reader thread: reads datagrams as fast as they come, parses them, and hands whole
//! batches to the forwarder through a queue bounded in datagrams. It never waits for the
//! collector: when the queue is full the batch is dropped and counted.

use super::batch::{Batcher, FlushPolicy, UdpBatch};
use crate::clock::SharedClock;
use crate::ingest::statsd::StatsdContext;
use crate::model::{ServicePath, DEFAULT_SERVICE};
use crate::telemetry::{Counters, Outcome};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::RecvFlags;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How often an idle reader checks whether meterd is stopping.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// How long the reader waits for room in a full queue before it drops the batch. Meanwhile
/// new datagrams wait in the kernel's much larger buffer, so a collector that is only briefly
/// behind (a busy machine's scheduling gap) costs nothing; one that stays behind costs counted
/// drops, and the reader never waits longer than this.
const FULL_QUEUE_GRACE: Duration = Duration::from_millis(100);

/// Largest UDP payload (65,507 bytes over IPv4), rounded up.
const DATAGRAM_BYTES: usize = 64 * 1024;

/// The queue between the reader and the forwarder: unbounded as a channel, bounded by the
/// datagrams it holds (`queues.udp`).
pub(super) struct HandOff {
    /// Where batches go.
    pub tx: UnboundedSender<UdpBatch>,
    /// Datagrams queued and not yet handled by the forwarder.
    pub queued: Arc<AtomicUsize>,
    /// Most datagrams the queue may hold.
    pub capacity: usize,
}

/// Limits of the parsed lines.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineLimits {
    pub max_name_bytes: usize,
    pub max_tags: usize,
    pub max_tag_value_bytes: usize,
    pub longest_retention_ms: i64,
}

/// Everything the reader thread owns.
pub(super) struct Reader {
    pub socket: UdpSocket,
    pub hand_off: HandOff,
    pub counters: Arc<Counters>,
    pub clock: SharedClock,
    pub limits: LineLimits,
}

/// The queue was closed: meterd is stopping.
struct Closed;

impl Reader {
    /// Reads until meterd stops (the forwarder's end of the queue is gone).
    pub fn run(self) {
        let policy = FlushPolicy {
            max_datagrams: FlushPolicy::default()
                .max_datagrams
                .min(self.hand_off.capacity),
            ..FlushPolicy::default()
        };
        let mut batcher = Batcher::new(policy);
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        let root = ServicePath::root();
        let udp = &self.counters.udp;
        loop {
            match rustix::net::recv(&self.socket, &mut buf[..], RecvFlags::DONTWAIT) {
                Ok((n, _)) => {
                    let now = Instant::now();
                    let ctx = StatsdContext {
                        service: DEFAULT_SERVICE,
                        service_path: &root,
                        now_ms: self.clock.epoch_millis(),
                        max_name_bytes: self.limits.max_name_bytes,
                        max_tags: self.limits.max_tags,
                        max_tag_value_bytes: self.limits.max_tag_value_bytes,
                        longest_retention_ms: self.limits.longest_retention_ms,
                    };
                    let counts = batcher.push(&buf[..n.min(buf.len())], &ctx, now);
                    udp.lines.fetch_add(counts.lines as u64, Ordering::Relaxed);
                    udp.lines_bad
                        .fetch_add(counts.bad as u64, Ordering::Relaxed);
                    udp.lines_pending
                        .fetch_add((counts.lines - counts.bad) as i64, Ordering::Relaxed);
                    // Last, so that whoever sees this datagram counted also sees its lines.
                    udp.datagrams.fetch_add(1, Ordering::Release);
                    if batcher.is_due(now) && self.flush(&mut batcher).is_err() {
                        return;
                    }
                }
                Err(Errno::AGAIN) => {
                    let now = Instant::now();
                    if batcher.is_due(now) && self.flush(&mut batcher).is_err() {
                        return;
                    }
                    if batcher.is_empty() && self.hand_off.tx.is_closed() {
                        return;
                    }
                    self.wait(batcher.wait(now).unwrap_or(IDLE_CHECK));
                }
                Err(Errno::INTR) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the StatsD UDP socket failed");
                    self.wait(IDLE_CHECK);
                }
            }
        }
    }

    /// Waits until a datagram arrives or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let timeout = Timespec::try_from(timeout).ok();
        let mut fds = [PollFd::new(&self.socket, PollFlags::IN)];
        // An error (EINTR) or a timeout only means: look again.
        let _ = poll(&mut fds, timeout.as_ref());
    }

    /// Hands the batch to the forwarder, or drops and counts it when the queue is full.
    fn flush(&self, batcher: &mut Batcher) -> Result<(), Closed> {
        let batch = batcher.take();
        let n = batch.datagrams;
        let h = &self.hand_off;
        // Only this thread adds to `queued`, so a check that finds room cannot be overtaken.
        let has_room = || h.queued.load(Ordering::Acquire) + n <= h.capacity;
        if !has_room() {
            // The forwarder unparks this thread each time it frees room.
            let deadline = Instant::now() + FULL_QUEUE_GRACE;
            while !has_room() && !h.tx.is_closed() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
            if !has_room() {
                dropped(&self.counters, &batch);
                return Ok(());
            }
        }
        h.queued.fetch_add(n, Ordering::AcqRel);
        if let Err(e) = h.tx.send(batch) {
            h.queued.fetch_sub(n, Ordering::AcqRel);
            dropped(&self.counters, &e.0);
            return Err(Closed);
        }
        Ok(())
    }
}

/// Counts a batch meterd read but could not hand to the collector.
pub(super) fn dropped(counters: &Counters, batch: &UdpBatch) {
    counters.record(Outcome::UdpDropped {
        datagrams: batch.datagrams,
        lines: batch.lines,
    });
    // Release, after the drop counts: whoever sees the lines leave `pending` sees them dropped.
    counters
        .udp
        .lines_pending
        .fetch_sub(batch.lines as i64, Ordering::Release);
}
