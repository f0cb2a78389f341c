//! What became of each thing meterd was asked to take — accepted, refused and why, or lost —
//! as one type every path answers, recorded in one place ([`Counters::record`]).

use super::Counters;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a request, a batch or some of its events were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Bad input (400): an undecodable body or invalid events.
    Invalid,
    /// A type conflict with existing metrics (409).
    Conflict,
    /// A series limit (429).
    SeriesLimit,
    /// A full queue (503 with `Retry-After`).
    Busy,
    /// A body over `limits.max_body_bytes` (413).
    BodySize,
    /// A body that could not be read otherwise: too slow (408) or in an unknown or broken
    /// encoding (415, 400).
    BodyUnreadable,
    /// A missing, unknown or unfit bearer token (401, 403).
    Auth,
}

impl Reason {
    /// Every reason, in the order of [`Refusals`].
    pub const ALL: [Reason; 7] = [
        Reason::Invalid,
        Reason::Conflict,
        Reason::SeriesLimit,
        Reason::Busy,
        Reason::BodySize,
        Reason::BodyUnreadable,
        Reason::Auth,
    ];

    /// The vendor-scope counter of this reason.
    pub fn counter_name(self) -> &'static str {
        match self {
            Reason::Invalid => "meterd.refused.invalid",
            Reason::Conflict => "meterd.refused.conflict",
            Reason::SeriesLimit => "meterd.refused.series_limit",
            Reason::Busy => "meterd.refused.busy",
            Reason::BodySize => "meterd.refused.body_size",
            Reason::BodyUnreadable => "meterd.refused.body_unreadable",
            Reason::Auth => "meterd.refused.auth",
        }
    }

    /// The counter's description.
    pub fn help(self) -> &'static str {
        match self {
            Reason::Invalid => "Batches refused with 400 for bad input",
            Reason::Conflict => "Batches refused with 409 for a type conflict",
            Reason::SeriesLimit => {
                "Batches refused with 429 for max_series or max_series_per_service"
            }
            Reason::Busy => "Requests refused with 503 because a queue was full",
            Reason::BodySize => "Request bodies refused with 413 for max_body_bytes",
            Reason::BodyUnreadable => {
                "Request bodies that could not be read (408 too slow, 415 or 400 encoding)"
            }
            Reason::Auth => "Requests refused with 401 or 403 for their bearer token",
        }
    }
}

/// Refusals counted per [`Reason`].
#[derive(Debug, Default)]
pub struct Refusals([AtomicU64; Reason::ALL.len()]);

impl Refusals {
    /// How many refusals for `reason` so far.
    pub fn get(&self, reason: Reason) -> u64 {
        self.0[reason as usize].load(Relaxed)
    }

    fn add(&self, reason: Reason) {
        self.0[reason as usize].fetch_add(1, Relaxed);
    }
}

/// What became of one thing meterd was asked to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A batch of this many events was accepted whole.
    Accepted(usize),
    /// A batch of this many events was refused whole (0 when its body could not be read).
    BatchRefused(Reason, usize),
    /// This many events were left out of a batch otherwise taken (OTLP points, lenient
    /// admission).
    EventsRefused(usize),
    /// A request that is no batch (a token check, a query's body) was refused.
    RequestRefused(Reason),
    /// StatsD over UDP: of a forwarded batch, this many events were taken and this many
    /// refused one by one.
    Udp {
        /// Events taken.
        accepted: usize,
        /// Events refused.
        refused: usize,
    },
    /// StatsD over UDP: datagrams read but not handed on (a full queue, a failed log write).
    UdpDropped {
        /// Datagrams dropped.
        datagrams: usize,
        /// The lines they held.
        lines: usize,
    },
    /// Flushes of closed buckets given up before the history store confirmed them: their
    /// buckets are lost.
    HistoryLost(usize),
    /// A write to the history (or entity) store failed; it is retried.
    HistoryWriteFailed,
}

impl Counters {
    /// Counts `outcome`: every ingest batch, event and body accepted or refused, every dropped
    /// UDP datagram and every lost history flush goes through here.
    pub fn record(&self, outcome: Outcome) {
        let add = |a: &AtomicU64, n: usize| {
            a.fetch_add(n as u64, Relaxed);
        };
        match outcome {
            Outcome::Accepted(n) => {
                add(&self.events_accepted, n);
                add(&self.batches_accepted, 1);
            }
            Outcome::BatchRefused(reason, n) => {
                self.refused.add(reason);
                add(&self.events_rejected, n);
                add(&self.batches_rejected, 1);
            }
            Outcome::EventsRefused(n) => add(&self.events_rejected, n),
            Outcome::RequestRefused(reason) => self.refused.add(reason),
            Outcome::Udp { accepted, refused } => {
                add(&self.udp.events_accepted, accepted);
                add(&self.udp.events_refused, refused);
            }
            Outcome::UdpDropped { datagrams, lines } => {
                add(&self.udp.datagrams_dropped, datagrams);
                add(&self.udp.lines_dropped, lines);
            }
            Outcome::HistoryLost(n) => add(&self.history_flushes_lost, n),
            Outcome::HistoryWriteFailed => add(&self.history_write_failures, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_lands_in_its_counters() {
        let c = Counters::default();
        c.record(Outcome::Accepted(3));
        c.record(Outcome::BatchRefused(Reason::Busy, 2));
        c.record(Outcome::BatchRefused(Reason::BodySize, 0));
        c.record(Outcome::RequestRefused(Reason::BodySize));
        c.record(Outcome::EventsRefused(4));
        c.record(Outcome::HistoryLost(2));
        assert_eq!(c.events_accepted.load(Relaxed), 3);
        assert_eq!(c.batches_accepted.load(Relaxed), 1);
        assert_eq!(c.events_rejected.load(Relaxed), 6);
        assert_eq!(c.batches_rejected.load(Relaxed), 2);
        assert_eq!(c.refused.get(Reason::Busy), 1);
        assert_eq!(c.refused.get(Reason::BodySize), 2);
        assert_eq!(c.refused.get(Reason::Auth), 0);
        assert_eq!(c.history_flushes_lost.load(Relaxed), 2);
    }

    #[test]
    fn every_reason_has_its_own_counter() {
        let names: std::collections::HashSet<_> =
            Reason::ALL.iter().map(|r| r.counter_name()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
