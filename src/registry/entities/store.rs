//! The entity ring: a bounded queue of compact records in capture order, filled in batches.
//! A record is one accepted event — its series (shared), value, timestamp and capture second —
//! in 32 bytes; its id is its capture second and its place in the ring.

use super::id::EntityId;
use super::series::SeriesEntry;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// An event on its way into the ring.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its series.
    pub entry: Arc<SeriesEntry>,
    /// Its value.
    pub value: f64,
    /// Its timestamp, epoch ms.
    pub timestamp_ms: i64,
}

/// Bytes one entity takes in the ring (its series is shared with the others of the series).
pub const RECORD_BYTES: usize = std::mem::size_of::<Record>();

/// One captured entity.
#[derive(Debug)]
struct Record {
    entry: Arc<SeriesEntry>,
    value: f64,
    timestamp_ms: i64,
    captured_s: u32,
}

/// A read-only view of one entity in the store.
#[derive(Debug, Clone, Copy)]
pub struct Entity<'a> {
    record: &'a Record,
    seq: u64,
}

impl<'a> Entity<'a> {
    /// Its id.
    pub fn id(&self) -> EntityId {
        EntityId {
            secs: self.record.captured_s,
            seq: self.seq,
        }
    }

    /// Its capture sequence number (ids order by it).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Its series.
    pub fn series(&self) -> &'a SeriesEntry {
        &self.record.entry
    }

    /// Its value.
    pub fn value(&self) -> f64 {
        self.record.value
    }

    /// Its timestamp, epoch ms.
    pub fn timestamp_ms(&self) -> i64 {
        self.record.timestamp_ms
    }
}

/// Captured entities, oldest first, within the pipeline's `[entities]` bounds.
#[derive(Debug)]
pub struct EntityStore {
    records: VecDeque<Record>,
    /// Sequence number of `records[0]`.
    head_seq: u64,
    /// The latest capture second stamped (ids never go back with the wall clock).
    last_secs: u32,
    retention_secs: u64,
    max: usize,
}

impl EntityStore {
    /// An empty store keeping entities for `retention` after capture, `max` at most.
    pub fn new(retention: Duration, max: usize) -> Self {
        EntityStore {
            records: VecDeque::new(),
            head_seq: 0,
            last_secs: 0,
            retention_secs: retention.as_secs().max(1),
            max: max.max(1),
        }
    }

    /// Captures a batch at `now_ms`; answers how many old entities were dropped to make room.
    pub fn push(&mut self, batch: Vec<Pending>, now_ms: i64) -> usize {
        let now_secs = u32::try_from(now_ms.div_euclid(1000).max(0)).unwrap_or(u32::MAX);
        self.last_secs = self.last_secs.max(now_secs);
        let mut dropped = 0;
        for p in batch {
            if self.records.len() == self.max {
                self.records.pop_front();
                self.head_seq += 1;
                dropped += 1;
            }
            self.records.push_back(Record {
                entry: p.entry,
                value: p.value,
                timestamp_ms: p.timestamp_ms,
                captured_s: self.last_secs,
            });
        }
        dropped
    }

    /// Drops entities captured more than the retention before `now_ms`; answers how many.
    pub fn prune(&mut self, now_ms: i64) -> usize {
        let now_secs = now_ms.div_euclid(1000);
        let mut dropped = 0;
        while let Some(front) = self.records.front() {
            if i64::from(front.captured_s) + self.retention_secs as i64 >= now_secs {
                break;
            }
            self.records.pop_front();
            self.head_seq += 1;
            dropped += 1;
        }
        dropped
    }

    /// Puts back entity `seq` captured at second `captured_s` (read from disk, in order). A
    /// gap in sequence numbers (entities dropped before they were written) starts the ring
    /// afresh at `seq`, so that every id stays the one it was given.
    pub fn restore(&mut self, seq: u64, entity: Pending, captured_s: u32) {
        if self.records.is_empty() || seq != self.head_seq + self.records.len() as u64 {
            self.records.clear();
            self.head_seq = seq;
        }
        self.last_secs = self.last_secs.max(captured_s);
        self.records.push_back(Record {
            entry: entity.entry,
            value: entity.value,
            timestamp_ms: entity.timestamp_ms,
            captured_s,
        });
        if self.records.len() > self.max {
            self.records.pop_front();
            self.head_seq += 1;
        }
    }

    /// Continues numbering at `next_seq` and capture seconds at `last_secs` at least (an empty
    /// ring read back from disk: ids stay unique and ordered across restarts).
    pub fn resume(&mut self, next_seq: u64, last_secs: u32) {
        if self.records.is_empty() {
            self.head_seq = self.head_seq.max(next_seq);
        }
        self.last_secs = self.last_secs.max(last_secs);
    }

    /// The latest capture second stamped.
    pub fn last_secs(&self) -> u32 {
        self.last_secs
    }

    /// Sequence number of the oldest entity held (of the next one when none is).
    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// Sequence number the next captured entity gets.
    pub fn next_seq(&self) -> u64 {
        self.head_seq + self.records.len() as u64
    }

    /// Entities held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The entity with this id, if it is still held.
    pub fn get(&self, id: EntityId) -> Option<Entity<'_>> {
        let index = usize::try_from(id.seq.checked_sub(self.head_seq)?).ok()?;
        let record = self.records.get(index)?;
        (record.captured_s == id.secs).then_some(Entity {
            record,
            seq: id.seq,
        })
    }

    /// Every entity, oldest captured first (`.rev()` for newest first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Entity<'_>> + ExactSizeIterator {
        let head = self.head_seq;
        self.records
            .iter()
            .enumerate()
            .map(move |(i, record)| Entity {
                record,
                seq: head + i as u64,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::super::series::Interner;
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey};

    fn batch(interner: &mut Interner, n: usize) -> Vec<Pending> {
        let entry = interner.intern(
            &SeriesKey::simple(Scope::Application, "m", vec![]),
            Kind::Counter,
        );
        (0..n)
            .map(|i| Pending {
                entry: entry.clone(),
                value: i as f64,
                timestamp_ms: i as i64,
            })
            .collect()
    }

    #[test]
    fn record_is_compact() {
        assert_eq!(RECORD_BYTES, 32);
    }

    #[test]
    fn bounded_by_max_oldest_first() {
        let mut interner = Interner::default();
        let mut store = EntityStore::new(Duration::from_secs(60), 3);
        assert_eq!(store.push(batch(&mut interner, 5), 7_000), 2);
        let values: Vec<f64> = store.iter().map(|e| e.value()).collect();
        assert_eq!(values, [2.0, 3.0, 4.0]);
        let first = store.iter().next().unwrap();
        assert_eq!(first.id().to_string(), "000000070000000000000002");
        assert_eq!(store.get(first.id()).unwrap().value(), 2.0);
        assert!(store.get(EntityId { secs: 7, seq: 1 }).is_none(), "dropped");
        assert!(
            store.get(EntityId { secs: 8, seq: 2 }).is_none(),
            "wrong second"
        );
    }

    #[test]
    fn retention_counts_from_capture_and_ids_never_go_back() {
        let mut interner = Interner::default();
        let mut store = EntityStore::new(Duration::from_secs(10), 100);
        store.push(batch(&mut interner, 2), 100_000);
        store.push(batch(&mut interner, 1), 50_000); // the wall clock stepped back
        let secs: Vec<u32> = store.iter().map(|e| e.id().secs).collect();
        assert_eq!(secs, [100, 100, 100]);
        assert_eq!(store.prune(110_999), 0);
        assert_eq!(store.prune(111_000), 3);
        assert!(store.is_empty());
        drop(store);
        assert_eq!(
            interner.collect_garbage(),
            1,
            "the series goes with its last entity"
        );
    }
}
