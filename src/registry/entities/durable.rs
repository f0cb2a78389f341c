//! Entities on disk: `data_dir/entities.redb`, so that they survive restarts and `kill -9`
//! within their retention. The keeper appends what it captured since its last write as one
//! block (its series once, then each entity, compact: see `block.rs`) every second, in one
//! transaction with the log position the ring covers; blocks wholly past retention or the
//! `max` bound are deleted.
//! At start the blocks are read back into the ring, ids (capture second and sequence number)
//! included, and the log's records after the covered position are captured again.

use super::block::{self, SeriesImageRef};
use super::series::{Interner, SeriesEntry};
use super::store::{EntityStore, Pending};
use crate::persist::Position;
use redb::{Database, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// First sequence number of a block → the block.
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const COVERED: &str = "covered";
const NEXT_SEQ: &str = "next_seq";
const LAST_SECS: &str = "last_secs";

/// Why the entity file failed.
#[derive(Debug, thiserror::Error)]
#[error("entity store: {0}")]
pub struct EntityLogError(String);

fn err(e: impl std::fmt::Display) -> EntityLogError {
    EntityLogError(e.to_string())
}

/// The entity file.
pub struct EntityLog {
    db: Database,
    /// Each series' place in the block being saved, by its entry's id (ids are small and
    /// dense: a vector, not a map, since this runs once per entity every second). Kept
    /// between saves, all `u32::MAX` between them, so that a save costs its block, not the
    /// highest id in use.
    index: parking_lot::Mutex<Vec<u32>>,
}

/// Units of meterd's own metrics are `&'static str`; the few read back are kept once.
fn static_unit(
    unit: Option<String>,
    known: &mut HashMap<String, &'static str>,
) -> Option<&'static str> {
    let unit = unit?;
    if unit.len() > 32 || known.len() > 64 {
        return None;
    }
    Some(
        *known
            .entry(unit.clone())
            .or_insert_with(|| Box::leak(unit.into_boxed_str())),
    )
}

impl EntityLog {
    /// Opens (or creates) `entities.redb` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<EntityLog, EntityLogError> {
        let path = data_dir.join("entities.redb");
        let mut waited = 0;
        let db = loop {
            match Database::create(&path) {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if waited < 100 => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    waited += 1;
                }
                other => break other.map_err(err)?,
            }
        };
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(BLOCKS).map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(EntityLog {
            db,
            index: parking_lot::Mutex::default(),
        })
    }

    /// Reads every stored entity into `store` (empty), interning series in `interner`;
    /// answers the log position the stored entities cover.
    pub fn load(
        &self,
        store: &mut EntityStore,
        interner: &mut Interner,
    ) -> Result<Position, EntityLogError> {
        let txn = self.db.begin_read().map_err(err)?;
        let meta = txn.open_table(META).map_err(err)?;
        let get = |k: &str| -> Result<u64, EntityLogError> {
            Ok(meta.get(k).map_err(err)?.map_or(0, |v| v.value()))
        };
        let (covered, next_seq, last_secs) = (get(COVERED)?, get(NEXT_SEQ)?, get(LAST_SECS)?);
        let table = txn.open_table(BLOCKS).map_err(err)?;
        let mut units = HashMap::new();
        for row in table.iter().map_err(err)? {
            let (first, bytes) = row.map_err(err)?;
            let block = block::decode(bytes.value()).map_err(err)?;
            let entries: Vec<Arc<SeriesEntry>> = block
                .series
                .into_iter()
                .map(|s| {
                    let unit = static_unit(s.unit, &mut units);
                    interner.intern_with_unit(&s.key, s.kind, unit)
                })
                .collect();
            let numbered = (first.value()..).zip(block.entities);
            for (seq, (series, value, timestamp_ms, captured_s)) in numbered {
                if let Some(entry) = entries.get(series as usize) {
                    let pending = Pending {
                        entry: entry.clone(),
                        value,
                        timestamp_ms,
                    };
                    store.restore(seq, pending, captured_s);
                }
            }
        }
        store.resume(next_seq, u32::try_from(last_secs).unwrap_or(u32::MAX));
        Ok(covered)
    }

    /// Appends the entities of `store` from sequence number `from` up to (not including)
    /// `to` as one block, deletes the blocks wholly before the store's oldest entity, and
    /// records `covered`, in one transaction. Answers the sequence number to start from next
    /// time.
    pub fn save(
        &self,
        store: &EntityStore,
        from: u64,
        to: u64,
        covered: Position,
    ) -> Result<u64, EntityLogError> {
        let first = from.max(store.head_seq());
        let skip = usize::try_from(first - store.head_seq()).unwrap_or(usize::MAX);
        let count = usize::try_from(to.saturating_sub(first))
            .unwrap_or(usize::MAX)
            .min(store.len().saturating_sub(skip));
        let mut series: Vec<SeriesImageRef> = Vec::new();
        let mut entities = Vec::with_capacity(count);
        let mut index = self.index.lock();
        let mut ids = Vec::new();
        let mut next = first;
        for e in store.iter().skip(skip).take_while(|e| e.seq() < to) {
            let entry = e.series();
            let id = entry.id() as usize;
            if index.len() <= id {
                index.resize(id + 1, u32::MAX);
            }
            if index[id] == u32::MAX {
                index[id] = u32::try_from(series.len()).unwrap_or(u32::MAX - 1);
                ids.push(id);
                // Written from the interned entry: its packed key serializes as the key.
                series.push(SeriesImageRef {
                    key: entry.key(),
                    kind: entry.kind(),
                    unit: entry.unit,
                });
            }
            entities.push((index[id], e.value(), e.timestamp_ms(), e.id().secs));
            next = e.seq() + 1;
        }
        for id in ids {
            index[id] = u32::MAX;
        }
        drop(index);
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            if !entities.is_empty() {
                let bytes = block::encode(&series, &entities).map_err(err)?;
                blocks.insert(first, bytes.as_slice()).map_err(err)?;
            }
            // A block goes once the next one starts at or before the oldest entity held.
            let starts: Vec<u64> = blocks
                .range(..=store.head_seq())
                .map_err(err)?
                .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                .collect();
            for pair in starts.windows(2) {
                blocks.remove(pair[0]).map_err(err)?;
            }
            if store.is_empty() {
                if let Some(&last) = starts.last() {
                    if entities.is_empty() {
                        blocks.remove(last).map_err(err)?;
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(err)?;
            meta.insert(COVERED, covered).map_err(err)?;
            meta.insert(NEXT_SEQ, store.next_seq()).map_err(err)?;
            meta.insert(LAST_SECS, u64::from(store.last_secs()))
                .map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(next)
    }
}

/// Captures the log's batches again at start (records after the entity file's position), as
/// the collector captured them when it admitted them.
pub struct EntityReplay<'a> {
    /// The ring being rebuilt.
    pub store: &'a mut EntityStore,
    /// Its series.
    pub interner: &'a mut Interner,
    /// The pipeline's capture rules.
    pub encoder: super::Encoder,
    /// The position the entity file covers.
    pub covered: Position,
}

impl crate::collector::Replay for EntityReplay<'_> {
    fn covered(&self) -> Position {
        self.covered
    }

    fn replay(&mut self, record: &crate::persist::Record, _: &dyn Fn(i64) -> u64) {
        if let crate::persist::Record::Batch {
            admitted_ms,
            events,
        } = record
        {
            let batch = self.encoder.encode(self.interner, events);
            self.store.push(batch, *admitted_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block::{Block, SeriesImage};
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey, ServicePath};

    #[test]
    fn a_block_written_from_entries_reads_back_as_keys() {
        let key = SeriesKey {
            service: "shop".into(),
            service_path: ServicePath::parse("/eu").unwrap(),
            scope: Scope::Application,
            name: "orders".into(),
            tags: vec![("app".into(), "api".into()), ("v".into(), "".into())],
        };
        let mut interner = Interner::default();
        let entry = interner.intern_with_unit(&key, Kind::Timer, Some("ms"));
        let entities = [(0, 2.5, 1_700_000_000_000, 7)];
        let written = [SeriesImageRef {
            key: entry.key(),
            kind: entry.kind(),
            unit: entry.unit,
        }];
        let owned = [SeriesImage {
            key: key.clone(),
            kind: Kind::Timer,
            unit: Some("ms".into()),
        }];
        let bytes = block::encode(&written, &entities).unwrap();
        assert_eq!(bytes, block::encode(&owned, &entities).unwrap());
        let back: Block = block::decode(&bytes).unwrap();
        assert_eq!(back.series[0].key, key);
        assert_eq!(back.series[0].unit.as_deref(), Some("ms"));
    }

    #[test]
    fn saves_in_a_row_name_each_block_s_own_series() {
        // The index of series by id is kept between saves: a block must not see the places
        // of the block before it.
        let dir = std::env::temp_dir().join(format!("meterd-entities-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = EntityLog::open(&dir).unwrap();
        let mut interner = Interner::default();
        let key = |n: &str| SeriesKey::simple(Scope::Application, n, Vec::new());
        let (a, b) = (
            interner.intern(&key("a"), Kind::Counter),
            interner.intern(&key("b"), Kind::Counter),
        );
        let now = 1_700_000_000_000;
        let pending = |entry: &Arc<SeriesEntry>, value| Pending {
            entry: entry.clone(),
            value,
            timestamp_ms: now,
        };
        let mut store = EntityStore::new(std::time::Duration::from_secs(3600), 100);
        store.push(vec![pending(&a, 1.0)], now);
        let next = log.save(&store, 0, store.next_seq(), 1).unwrap();
        store.push(vec![pending(&b, 2.0), pending(&a, 3.0)], now + 1000);
        log.save(&store, next, store.next_seq(), 2).unwrap();

        let mut back = EntityStore::new(std::time::Duration::from_secs(3600), 100);
        assert_eq!(log.load(&mut back, &mut Interner::default()).unwrap(), 2);
        let read: Vec<(String, f64)> = back
            .iter()
            .map(|e| (e.series().name().to_owned(), e.value()))
            .collect();
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
        let expected = [("a", 1.0), ("b", 2.0), ("a", 3.0)].map(|(n, v)| (n.to_owned(), v));
        assert_eq!(read, expected);
    }
}
