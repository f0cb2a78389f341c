//! Entities on disk: `data_dir/entities.redb`, so that they survive restarts and `kill -9`
//! within their retention. The keeper appends what it captured since its last write as one
//! block (its series once, then each entity) every second, in one transaction with the log
//! position the ring covers; blocks wholly past retention or the `max` bound are deleted.
//! At start the blocks are read back into the ring, ids (capture second and sequence number)
//! included, and the log's records after the covered position are captured again.

use super::series::{Interner, SeriesEntry};
use super::store::{EntityStore, Pending};
use crate::model::{Kind, PackedKey, SeriesKey};
use crate::persist::Position;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
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

/// One series as a block keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct SeriesImage {
    key: SeriesKey,
    kind: Kind,
    unit: Option<String>,
}

/// A [`SeriesImage`] as a block is written, borrowed from the interned entry (the same
/// bytes: the packed key serializes as the key).
#[derive(Serialize)]
#[serde(rename = "SeriesImage")]
struct SeriesImageRef<'a> {
    key: &'a PackedKey,
    kind: Kind,
    unit: Option<&'a str>,
}

/// A [`Block`] as it is written.
#[derive(Serialize)]
#[serde(rename = "Block")]
struct BlockRef<'a> {
    series: Vec<SeriesImageRef<'a>>,
    entities: Vec<(u32, f64, i64, u32)>,
}

/// Entities captured together, in capture order from sequence number `first`.
#[derive(Debug, Serialize, Deserialize)]
struct Block {
    series: Vec<SeriesImage>,
    /// (series index, value, timestamp ms, capture second).
    entities: Vec<(u32, f64, i64, u32)>,
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
            let block: Block = postcard::from_bytes(bytes.value()).map_err(err)?;
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
        let mut block = BlockRef {
            series: Vec::new(),
            entities: Vec::new(),
        };
        let mut index: HashMap<u32, u32> = HashMap::new();
        let first = from.max(store.head_seq());
        let mut next = first;
        let skip = usize::try_from(first - store.head_seq()).unwrap_or(usize::MAX);
        for e in store.iter().skip(skip).take_while(|e| e.seq() < to) {
            let entry = e.series();
            let series = *index.entry(entry.id()).or_insert_with(|| {
                block.series.push(SeriesImageRef {
                    key: entry.key(),
                    kind: entry.kind(),
                    unit: entry.unit,
                });
                u32::try_from(block.series.len() - 1).unwrap_or(u32::MAX)
            });
            block
                .entities
                .push((series, e.value(), e.timestamp_ms(), e.id().secs));
            next = e.seq() + 1;
        }
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            if !block.entities.is_empty() {
                let bytes = postcard::to_allocvec(&block).map_err(err)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Scope, ServicePath};

    #[test]
    fn a_block_written_from_entries_reads_back_as_keys() {
        let key = SeriesKey {
            service: "shop".into(),
            service_path: ServicePath::parse("/eu").unwrap(),
            scope: Scope::Application,
            name: "orders".into(),
            tags: vec![("app".into(), "api".into()), ("v".into(), String::new())],
        };
        let mut interner = Interner::default();
        let entry = interner.intern_with_unit(&key, Kind::Timer, Some("ms"));
        let written = BlockRef {
            series: vec![SeriesImageRef {
                key: entry.key(),
                kind: entry.kind(),
                unit: entry.unit,
            }],
            entities: vec![(0, 2.5, 1_700_000_000_000, 7)],
        };
        let owned = Block {
            series: vec![SeriesImage {
                key: key.clone(),
                kind: Kind::Timer,
                unit: Some("ms".into()),
            }],
            entities: vec![(0, 2.5, 1_700_000_000_000, 7)],
        };
        let bytes = postcard::to_allocvec(&written).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&owned).unwrap());
        let back: Block = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.series[0].key, key);
        assert_eq!(back.series[0].unit.as_deref(), Some("ms"));
    }
}
