//! Gathering many datagrams' events into one batch for the collector: a plain struct, flushed
//! by size or by age, with time passed in.

use crate::ingest::statsd::{parse_lenient, LineCounts, StatsdContext};
use crate::model::Event;
use std::time::{Duration, Instant};

/// The events of whole datagrams, handed to the collector as one message.
#[derive(Debug, Default)]
pub struct UdpBatch {
    /// The parsed events, in arrival order.
    pub events: Vec<Event>,
    /// How many datagrams they came from.
    pub datagrams: usize,
    /// How many lines parsed (bad lines are counted when read and are not in the batch).
    pub lines: usize,
}

/// When a batch is handed over.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// At most this many datagrams per batch.
    pub max_datagrams: usize,
    /// Hand the batch over once it holds this many events.
    pub max_events: usize,
    /// Hand the batch over once its first datagram is this old.
    pub max_age: Duration,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            max_datagrams: 512,
            max_events: 8192,
            max_age: Duration::from_millis(5),
        }
    }
}

/// Accumulates datagrams into a [`UdpBatch`].
#[derive(Debug)]
pub struct Batcher {
    policy: FlushPolicy,
    batch: UdpBatch,
    first_at: Option<Instant>,
}

impl Batcher {
    /// An empty batcher.
    pub fn new(policy: FlushPolicy) -> Self {
        Batcher {
            policy,
            batch: UdpBatch::default(),
            first_at: None,
        }
    }

    /// Parses one datagram leniently into the batch; answers its line counts. Bytes that are
    /// not UTF-8 spoil only the lines that hold them.
    pub fn push(&mut self, datagram: &[u8], ctx: &StatsdContext, now: Instant) -> LineCounts {
        let counts = match std::str::from_utf8(datagram) {
            Ok(text) => parse_lenient(text, ctx, &mut self.batch.events),
            Err(_) => parse_lenient(
                &String::from_utf8_lossy(datagram),
                ctx,
                &mut self.batch.events,
            ),
        };
        self.batch.datagrams += 1;
        self.batch.lines += counts.lines - counts.bad;
        self.first_at.get_or_insert(now);
        counts
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.batch.datagrams == 0
    }

    /// True when the batch must be handed over now: full, or its first datagram old enough.
    pub fn is_due(&self, now: Instant) -> bool {
        self.batch.datagrams >= self.policy.max_datagrams
            || self.batch.events.len() >= self.policy.max_events
            || self.wait(now) == Some(Duration::ZERO)
    }

    /// How long the batch may still wait; `None` when it is empty.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        let first = self.first_at?;
        Some(
            self.policy
                .max_age
                .saturating_sub(now.saturating_duration_since(first)),
        )
    }

    /// Takes the batch, leaving an empty one.
    pub fn take(&mut self) -> UdpBatch {
        self.first_at = None;
        let capacity = self.batch.events.len();
        std::mem::replace(
            &mut self.batch,
            UdpBatch {
                events: Vec::with_capacity(capacity),
                ..UdpBatch::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServicePath;

    fn ctx(path: &ServicePath) -> StatsdContext<'_> {
        StatsdContext {
            service: "default-service",
            service_path: path,
            now_ms: 1_000,
            max_name_bytes: 255,
            max_tags: 8,
            max_tag_value_bytes: 1024,
            longest_retention_ms: 0,
        }
    }

    fn policy() -> FlushPolicy {
        FlushPolicy {
            max_datagrams: 3,
            max_events: 5,
            max_age: Duration::from_millis(5),
        }
    }

    #[test]
    fn counts_good_and_bad_lines_and_keeps_whole_datagrams() {
        let path = ServicePath::root();
        let mut b = Batcher::new(policy());
        let t = Instant::now();
        assert!(b.is_empty());
        assert_eq!(b.wait(t), None);
        let c = b.push(b"a:1|c\nbad\n\nb:1:2|ms", &ctx(&path), t);
        assert_eq!(c, LineCounts { lines: 3, bad: 1 });
        let batch = b.take();
        assert_eq!(
            (batch.datagrams, batch.lines, batch.events.len()),
            (1, 2, 3)
        );
        assert!(b.is_empty());
    }

    #[test]
    fn due_by_datagrams_events_or_age() {
        let path = ServicePath::root();
        let t = Instant::now();
        let mut b = Batcher::new(policy());
        b.push(b"a:1|c", &ctx(&path), t);
        b.push(b"a:1|c", &ctx(&path), t);
        assert!(!b.is_due(t));
        assert_eq!(
            b.wait(t + Duration::from_millis(2)),
            Some(Duration::from_millis(3))
        );
        assert!(b.is_due(t + Duration::from_millis(5)), "old enough");
        b.push(b"a:1|c", &ctx(&path), t);
        assert!(b.is_due(t), "three datagrams");
        b.take();
        b.push(b"a:1:2:3:4:5|c", &ctx(&path), t);
        assert!(b.is_due(t), "five events");
    }

    #[test]
    fn bytes_that_are_not_utf8_spoil_only_their_line() {
        let path = ServicePath::root();
        let mut b = Batcher::new(policy());
        let c = b.push(b"a:1|c\nb\xff:1|c\nc:2|g", &ctx(&path), Instant::now());
        assert_eq!(c, LineCounts { lines: 3, bad: 1 });
        let names: Vec<_> = b.take().events.into_iter().map(|e| e.key.name).collect();
        assert_eq!(names, ["a", "c"]);
    }
}
