//! Gathering many datagrams' events into one batch for the collector: a plain struct, flushed
//! by size or by age, with time passed in.
//!
//! Identical lines of one series (the same value of the same type, read in the same
//! millisecond), each following the other in that series, are folded into one event that
//! stands for all of them ([`Op::Repeat`]): what StatsD clients send most (`hits:1|c` over and
//! over) is admitted, logged and routed once per batch instead of once per line, and applied
//! line by line on the shard, so that nothing downstream can tell. A line whose exact text was
//! read before in the same millisecond yields the same event, so it is folded without being
//! parsed again.

use crate::ingest::statsd::{parse_lenient, LineCounts, StatsdContext};
use crate::model::{Event, Op};
use std::collections::HashMap;
use std::hash::BuildHasher;
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
    /// One line's events, parsed before they are folded into the batch.
    parsed: Vec<Event>,
    /// The index in the batch of the last event of each series, by a hash of its key.
    last_of: HashMap<u64, usize, foldhash::fast::RandomState>,
    /// Lines of one value read in millisecond `seen_ms`: the index of the event each went
    /// into, and the hash of its series.
    seen: HashMap<Box<str>, (usize, u64), foldhash::fast::RandomState>,
    seen_ms: i64,
    hasher: foldhash::fast::RandomState,
}

impl Batcher {
    /// An empty batcher.
    pub fn new(policy: FlushPolicy) -> Self {
        Batcher {
            policy,
            batch: UdpBatch::default(),
            first_at: None,
            parsed: Vec::new(),
            last_of: HashMap::default(),
            seen: HashMap::default(),
            seen_ms: i64::MIN,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Parses one datagram leniently into the batch; answers its line counts. Bytes that are
    /// not UTF-8 spoil only the lines that hold them.
    pub fn push(&mut self, datagram: &[u8], ctx: &StatsdContext, now: Instant) -> LineCounts {
        if ctx.now_ms != self.seen_ms {
            // A line without a timestamp is stamped with the time it is read.
            self.seen.clear();
            self.seen_ms = ctx.now_ms;
        }
        let counts = match std::str::from_utf8(datagram) {
            Ok(text) => self.push_text(text, ctx),
            Err(_) => self.push_text(&String::from_utf8_lossy(datagram), ctx),
        };
        self.batch.datagrams += 1;
        self.batch.lines += counts.lines - counts.bad;
        self.first_at.get_or_insert(now);
        counts
    }

    /// Parses the lines of `text` (as [`parse_lenient`] does) into the batch.
    fn push_text(&mut self, text: &str, ctx: &StatsdContext) -> LineCounts {
        let mut counts = LineCounts::default();
        let mut parsed = std::mem::take(&mut self.parsed);
        for raw in text.split('\n') {
            let line = raw.trim_ascii();
            if line.is_empty() {
                continue;
            }
            if self.repeat_seen(line) {
                counts.lines += 1;
                continue;
            }
            let c = parse_lenient(line, ctx, &mut parsed);
            counts.lines += c.lines;
            counts.bad += c.bad;
            let one = parsed.len() == 1;
            let mut last = None;
            for event in parsed.drain(..) {
                last = Some(self.add(event));
            }
            if let (true, Some(at)) = (one, last) {
                self.seen.insert(line.into(), at);
            }
        }
        self.parsed = parsed;
        counts
    }

    /// Folds `line` into the event an identical line went into, if that event is still the
    /// last of its series.
    fn repeat_seen(&mut self, line: &str) -> bool {
        let Some(&(i, h)) = self.seen.get(line) else {
            return false;
        };
        let event = &mut self.batch.events[i];
        let times = match event.op {
            Op::Observe => Some(2),
            Op::Repeat(n) => n.checked_add(1),
            _ => None,
        };
        match times {
            Some(times) if self.last_of.get(&h) == Some(&i) => {
                event.op = Op::Repeat(times);
                true
            }
            _ => false,
        }
    }

    /// Adds one event, folded into the series' last event when it repeats it; answers where it
    /// went (its index in the batch) and the hash of its series.
    fn add(&mut self, event: Event) -> (usize, u64) {
        let events = &mut self.batch.events;
        let h = self.hasher.hash_one(&event.key);
        if let Some(&i) = self.last_of.get(&h) {
            if let Some(times) = repeats(&events[i], &event) {
                events[i].op = Op::Repeat(times);
                return (i, h);
            }
        }
        self.last_of.insert(h, events.len());
        events.push(event);
        (events.len() - 1, h)
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
        self.last_of.clear();
        self.seen.clear();
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

/// When `next` repeats `last` (same series, type, value and time, both plain observations),
/// the number of observations `last` stands for with `next` folded in.
fn repeats(last: &Event, next: &Event) -> Option<u32> {
    let times = match last.op {
        Op::Observe => 2,
        Op::Repeat(n) => n.checked_add(1)?,
        _ => return None,
    };
    let same = matches!(next.op, Op::Observe)
        && last.meta.is_none()
        && next.meta.is_none()
        && last.kind == next.kind
        && last.value.to_bits() == next.value.to_bits()
        && last.timestamp_ms == next.timestamp_ms
        && last.key == next.key;
    same.then_some(times)
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

    #[test]
    fn repeated_lines_fold_into_the_last_event_of_their_series() {
        use crate::model::Op;
        let path = ServicePath::root();
        let mut b = Batcher::new(FlushPolicy {
            max_datagrams: 100,
            max_events: 100,
            max_age: Duration::from_millis(5),
        });
        let t = Instant::now();
        let c = b.push(b"a:1|c\na:1|c\nb:2|g\na:1|c", &ctx(&path), t);
        assert_eq!(c, LineCounts { lines: 4, bad: 0 });
        // A different value of `a` breaks the run: folding never reorders a series' events.
        b.push(b"a:1|c\na:5|c\na:1|c\nb:2|g", &ctx(&path), t);
        // Another millisecond: another timestamp, another event.
        let later = StatsdContext {
            now_ms: 1_001,
            ..ctx(&path)
        };
        b.push(b"a:1|c", &later, t);
        let batch = b.take();
        assert_eq!((batch.datagrams, batch.lines), (3, 9));
        let got: Vec<_> = batch
            .events
            .iter()
            .map(|e| (e.key.name.as_str(), e.value, e.op.clone(), e.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("a", 1.0, Op::Repeat(4), 1_000),
                ("b", 2.0, Op::Repeat(2), 1_000),
                ("a", 5.0, Op::Observe, 1_000),
                ("a", 1.0, Op::Observe, 1_000),
                ("a", 1.0, Op::Observe, 1_001),
            ]
        );
        assert_eq!(batch.events.iter().map(Event::weight).sum::<usize>(), 9);
    }
}
