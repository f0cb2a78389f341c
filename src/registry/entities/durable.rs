//! Entities on disk: `data_dir/entities.redb`, so that they survive restarts and `kill -9`
//! within their retention. The keeper appends what it captured since its last write as one
//! block (its series once, then each entity, compact: see `block.rs`) every second, in one
//! transaction with the log position the ring covers; blocks wholly past retention or the
//! `max` bound are deleted.
//! At start the blocks are read back into the ring, ids (capture second and sequence number)
//! included, and the log's records after the covered position are captured again.

use super::block::{self, Block, SeriesImage};
use super::series::{Interner, SeriesEntry};
use super::store::{EntityStore, Pending};
use crate::model::{SeriesKey, ServicePath};
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

fn key_of(entry: &SeriesEntry) -> SeriesKey {
    SeriesKey {
        service: entry.service().into(),
        service_path: ServicePath::parse(entry.service_path())
            .unwrap_or_else(|_| ServicePath::root()),
        scope: entry.scope(),
        name: entry.name().into(),
        tags: entry.tags().map(|(k, v)| (k.into(), v.into())).collect(),
    }
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
        Ok(EntityLog { db })
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
        let mut block = Block {
            series: Vec::new(),
            entities: Vec::with_capacity(count),
        };
        // Each series' place in the block by its entry's id (ids are small and dense: a
        // vector, not a map, since this runs once per entity every second).
        let mut index: Vec<u32> = Vec::new();
        let mut next = first;
        for e in store.iter().skip(skip).take_while(|e| e.seq() < to) {
            let entry = e.series();
            let id = entry.id() as usize;
            if index.len() <= id {
                index.resize(id + 1, u32::MAX);
            }
            if index[id] == u32::MAX {
                index[id] = u32::try_from(block.series.len()).unwrap_or(u32::MAX - 1);
                block.series.push(SeriesImage {
                    key: key_of(entry),
                    kind: entry.kind(),
                    unit: entry.unit.map(str::to_owned),
                });
            }
            block
                .entities
                .push((index[id], e.value(), e.timestamp_ms(), e.id().secs));
            next = e.seq() + 1;
        }
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            if !block.entities.is_empty() {
                let bytes = block::encode(&block.series, &block.entities).map_err(err)?;
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
                    if block.entities.is_empty() {
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
