//! meterd's own pipeline counters, counted in one place and shown in the vendor scope.

use super::UdpCounters;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Every accepted, refused or dropped thing meterd counts about itself.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events accepted (acknowledged) on any ingest path.
    pub events_accepted: AtomicU64,
    /// Events refused with their batch (bad input, conflicts, limits).
    pub events_rejected: AtomicU64,
    /// Batches accepted.
    pub batches_accepted: AtomicU64,
    /// Batches refused.
    pub batches_rejected: AtomicU64,
    /// Live series created by the shards.
    pub series: AtomicU64,
    /// Batches sent to shards and not applied yet (the shard queues' depth).
    pub shard_queue_depth: AtomicI64,
    /// HTTP requests served.
    pub http_requests: AtomicU64,
    /// HTTP requests left out of the per-service traffic: its table of (service, path) pairs
    /// was full.
    pub http_requests_unattributed: AtomicU64,
    /// The StatsD UDP receiver's counters.
    pub udp: UdpCounters,
    /// Stream subscribers (WebSocket connections and SSE streams) open now.
    pub stream_subscribers: AtomicU64,
    /// Stream subscribers refused because `[streams] max_subscribers` were open.
    pub stream_refused: AtomicU64,
    /// Stream data messages queued for subscribers.
    pub stream_messages_queued: AtomicU64,
    /// Stream data messages a slow subscriber lost (its buffer was full).
    pub stream_messages_dropped: AtomicU64,
    /// ODSL entities held (`[entities]`).
    pub entities: AtomicU64,
    /// ODSL entities dropped, oldest first, past their retention or the `[entities] max`.
    pub entities_dropped: AtomicU64,
    /// Refusals per reason (see [`super::Outcome`]).
    pub refused: super::Refusals,
    /// Series forgotten after `series_ttl` without events.
    pub series_expired: AtomicU64,
    /// Series removed on purpose (`DELETE /api/v1/series`).
    pub series_removed: AtomicU64,
    /// Bytes appended to the write-ahead log.
    pub wal_bytes: AtomicU64,
    /// Fsyncs of the write-ahead log.
    pub wal_fsyncs: AtomicU64,
    /// Snapshots stored.
    pub snapshots: AtomicU64,
    /// Snapshots that failed.
    pub snapshot_failures: AtomicU64,
    /// When the last snapshot was taken, epoch ms (0 before the first).
    pub last_snapshot_ms: AtomicI64,
    /// Log records replayed at the last start.
    pub wal_replayed: AtomicU64,
    /// Write-ahead log writes or fsyncs that failed (each stops meterd).
    pub wal_failures: AtomicU64,
    /// Bytes of damaged log records skipped in the middle of the log at the last start.
    pub wal_skipped_bytes: AtomicU64,
    /// Log records lost to damage in the middle of the log at the last start.
    pub wal_skipped_records: AtomicU64,
    /// History store writes that failed (each is retried until it succeeds).
    pub history_write_failures: AtomicU64,
    /// Flushes of closed buckets given up before the history store confirmed them.
    pub history_flushes_lost: AtomicU64,
}

impl Counters {
    /// A batch was queued to a shard.
    pub fn batch_sent(&self) {
        self.shard_queue_depth.fetch_add(1, Relaxed);
    }

    /// A shard applied a batch that created `created` series.
    pub fn batch_applied(&self, created: usize) {
        self.shard_queue_depth.fetch_sub(1, Relaxed);
        if created > 0 {
            self.series.fetch_add(created as u64, Relaxed);
        }
    }

    /// `n` series were removed (expired or deleted); `expired` says which.
    pub fn series_gone(&self, n: usize, expired: bool) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        self.series
            .fetch_sub(n.min(self.series.load(Relaxed)), Relaxed);
        if expired {
            self.series_expired.fetch_add(n, Relaxed);
        } else {
            self.series_removed.fetch_add(n, Relaxed);
        }
    }

    /// The vendor-scope readings: `(name, kind is counter, value, description)`.
    pub fn readings(&self) -> Vec<(&'static str, bool, f64, &'static str)> {
        let g = |a: &AtomicU64| a.load(Relaxed) as f64;
        let mut readings = vec![
            (
                "meterd.events.accepted",
                true,
                g(&self.events_accepted),
                "Events accepted on any ingest path",
            ),
            (
                "meterd.events.rejected",
                true,
                g(&self.events_rejected),
                "Events refused with their batch",
            ),
            (
                "meterd.batches.accepted",
                true,
                g(&self.batches_accepted),
                "Batches accepted",
            ),
            (
                "meterd.batches.rejected",
                true,
                g(&self.batches_rejected),
                "Batches refused",
            ),
            (
                "meterd.series",
                false,
                g(&self.series),
                "Live series held by the shards",
            ),
            (
                "meterd.queue.shard.depth",
                false,
                self.shard_queue_depth.load(Relaxed).max(0) as f64,
                "Batches queued to the shards and not yet applied",
            ),
            (
                "meterd.http.requests",
                true,
                g(&self.http_requests),
                "HTTP requests served",
            ),
            (
                "meterd.http.requests.unattributed",
                true,
                g(&self.http_requests_unattributed),
                "HTTP requests left out of the per-service traffic (its 10000 pairs were taken)",
            ),
            (
                "meterd.entities",
                false,
                g(&self.entities),
                "ODSL metric entities held",
            ),
            (
                "meterd.entities.dropped",
                true,
                g(&self.entities_dropped),
                "ODSL metric entities dropped past their retention or the maximum, oldest first",
            ),
            (
                "meterd.stream.subscribers",
                false,
                g(&self.stream_subscribers),
                "Stream subscribers (WebSocket and SSE) open now",
            ),
            (
                "meterd.stream.refused",
                true,
                g(&self.stream_refused),
                "Stream subscribers refused at the max_subscribers limit",
            ),
            (
                "meterd.stream.messages.queued",
                true,
                g(&self.stream_messages_queued),
                "Stream data messages queued for subscribers",
            ),
            (
                "meterd.stream.messages.dropped",
                true,
                g(&self.stream_messages_dropped),
                "Stream data messages lost by slow subscribers (buffer full)",
            ),
            (
                "meterd.series.expired",
                true,
                g(&self.series_expired),
                "Series forgotten after series_ttl without events",
            ),
            (
                "meterd.series.removed",
                true,
                g(&self.series_removed),
                "Series removed with DELETE /api/v1/series",
            ),
            (
                "meterd.wal.bytes",
                true,
                g(&self.wal_bytes),
                "Bytes appended to the write-ahead log",
            ),
            (
                "meterd.wal.fsyncs",
                true,
                g(&self.wal_fsyncs),
                "Fsyncs of the write-ahead log",
            ),
            (
                "meterd.wal.replayed",
                false,
                g(&self.wal_replayed),
                "Write-ahead log records replayed at the last start",
            ),
            (
                "meterd.wal.failures",
                true,
                g(&self.wal_failures),
                "Write-ahead log writes or fsyncs that failed (each stops meterd)",
            ),
            (
                "meterd.wal.skipped_bytes",
                false,
                g(&self.wal_skipped_bytes),
                "Bytes of damaged log records skipped in the middle of the log at the last start",
            ),
            (
                "meterd.wal.skipped_records",
                false,
                g(&self.wal_skipped_records),
                "Log records lost to damage in the middle of the log at the last start",
            ),
            (
                "meterd.history.write_failures",
                true,
                g(&self.history_write_failures),
                "History store writes that failed (each is retried)",
            ),
            (
                "meterd.history.flushes_lost",
                true,
                g(&self.history_flushes_lost),
                "Flushes of closed buckets given up unconfirmed by the history store (lost)",
            ),
            (
                "meterd.snapshots",
                true,
                g(&self.snapshots),
                "Snapshots stored",
            ),
            (
                "meterd.snapshot.failures",
                true,
                g(&self.snapshot_failures),
                "Snapshots that failed",
            ),
        ];
        readings.extend(
            super::Reason::ALL
                .iter()
                .map(|&r| (r.counter_name(), true, self.refused.get(r) as f64, r.help())),
        );
        readings.extend(self.udp.readings());
        readings
    }
}
