//! The history store: downsampled buckets and the series they belong to, in one redb file
//! (`history.redb` under the data directory).
//!
//! Tables:
//! - `series`: encoded [`SeriesKey`] (name first) → (series id, kind);
//! - `meta`: `next_series_id`, and `covered` = the number of the last checkpoint whose
//!   buckets are stored (its log position, or above when checkpoints repeat a position; see
//!   [`Flush::seq`]), written in the same transaction as those buckets;
//! - `history.<resolution>ms`, one per tier: (block start, series id) → a block of up to
//!   [`BLOCK_BUCKETS`](super::codec::BLOCK_BUCKETS) buckets (see [`super::codec`]). Keys
//!   lead with time, so retention deletes one key range and one flush writes neighbouring
//!   keys.

use super::codec::{
    append_block, block_last_index, block_span, block_start, byte_kind, decode_block, decode_key,
    encode_block, encode_key, kind_byte, name_prefix,
};
use super::HistoryError;
use crate::aggregate::downsample::{Bucket, ClosedBucket, Flush, TierSpec};
use crate::model::{Kind, SeriesKey};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const SERIES: TableDefinition<&[u8], (u64, u8)> = TableDefinition::new("series");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const NEXT_ID: &str = "next_series_id";
const COVERED: &str = "covered";

/// Page cache of the store. Reads of history come from it or the OS page cache; 64 MiB keeps
/// the working set of recent blocks without making resident memory follow retention.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A series id and its buckets (start, bucket), ascending.
pub type StoredPoints = (u64, Vec<(i64, Bucket)>);

type Blocks = TableDefinition<'static, (i64, u64), &'static [u8]>;

/// A series as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSeries {
    /// Its id.
    pub id: u64,
    /// Its key.
    pub key: SeriesKey,
    /// Its kind.
    pub kind: Kind,
}

/// Sizes, for the closing figures and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of the file on disk.
    pub file_bytes: u64,
    /// Blocks stored.
    pub blocks: u64,
    /// Buckets in them.
    pub buckets: u64,
    /// Bytes of encoded blocks (values only).
    pub block_bytes: u64,
    /// Bytes redb holds for keys and values (its own count).
    pub stored_bytes: u64,
    /// Bytes of free pages inside the file (reused by later writes).
    pub fragmented_bytes: u64,
}

/// The embedded store of downsampled history.
pub struct HistoryStore {
    db: Database,
    path: PathBuf,
    tiers: Vec<TierSpec>,
    names: Vec<&'static str>,
    next_id: AtomicU64,
    covered: AtomicU64,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore")
            .field("path", &self.path)
            .field("tiers", &self.tiers)
            .finish()
    }
}

impl HistoryStore {
    /// Opens (or creates) the store in `dir` for these tiers.
    pub fn open(dir: &Path, tiers: &[TierSpec]) -> Result<Self, HistoryError> {
        std::fs::create_dir_all(dir).map_err(|e| HistoryError::Io(e.to_string()))?;
        let path = dir.join("history.redb");
        let db = open_db(&path)?;
        // One table per resolution: a changed pipeline never reads another tier's blocks.
        // The names live as long as the process (a handful of short strings).
        let names: Vec<&'static str> = tiers
            .iter()
            .map(|t| &*Box::leak(format!("history.{}ms", t.resolution_ms).into_boxed_str()))
            .collect();
        let txn = db.begin_write()?;
        let (next_id, covered) = {
            txn.open_table(SERIES)?;
            for name in &names {
                txn.open_table(Blocks::new(name))?;
            }
            let meta = txn.open_table(META)?;
            let next_id = meta.get(NEXT_ID)?.map_or(1, |v| v.value());
            let covered = meta.get(COVERED)?.map_or(0, |v| v.value());
            (next_id, covered)
        };
        txn.commit()?;
        Ok(HistoryStore {
            db,
            path,
            tiers: tiers.to_vec(),
            names,
            next_id: AtomicU64::new(next_id),
            covered: AtomicU64::new(covered),
        })
    }

    fn blocks(&self, tier: usize) -> Blocks {
        Blocks::new(self.names[tier])
    }

    /// The tiers this store keeps.
    pub fn tiers(&self) -> &[TierSpec] {
        &self.tiers
    }

    /// The id of a stored series.
    pub fn lookup(&self, key: &SeriesKey) -> Result<Option<u64>, HistoryError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SERIES)?;
        let found = table.get(encode_key(key).as_slice())?.map(|v| v.value().0);
        Ok(found)
    }

    /// A fresh series id (recorded with the series by the next write).
    pub fn allocate_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The number of the last checkpoint whose flushes are stored (updated after each commit).
    pub fn covered(&self) -> u64 {
        self.covered.load(Ordering::Acquire)
    }

    /// Makes the next allocated id larger than `id` (a series restored from a snapshot).
    pub fn reserve_id(&self, id: u64) {
        self.next_id.fetch_max(id + 1, Ordering::Relaxed);
    }

    /// Writes one flush (see [`HistoryStore::write_all`]).
    pub fn write(&self, flush: &Flush) -> Result<bool, HistoryError> {
        self.write_all(std::slice::from_ref(flush))
    }

    /// Writes the flushes of a checkpoint (every shard's not known written) in one
    /// transaction: their new series, their buckets merged into their blocks, and the highest
    /// position as `covered`. Flushes at or below the position already covered are skipped
    /// (the store holds them), so that no bucket is merged twice; answers whether anything
    /// was written. Committed with an fsync.
    pub fn write_all(&self, flushes: &[Flush]) -> Result<bool, HistoryError> {
        let txn = self.db.begin_write()?;
        let position = {
            let mut meta = txn.open_table(META)?;
            let covered = meta.get(COVERED)?.map_or(0, |v| v.value());
            let flushes: Vec<&Flush> = flushes.iter().filter(|f| f.seq > covered).collect();
            let Some(position) = flushes.iter().map(|f| f.seq).max() else {
                drop(meta);
                txn.abort()?;
                return Ok(false);
            };
            let mut series = txn.open_table(SERIES)?;
            let mut top_id = self.next_id.load(Ordering::Relaxed);
            for s in flushes.iter().flat_map(|f| &f.series) {
                series.insert(encode_key(&s.key).as_slice(), (s.id, kind_byte(s.kind)))?;
                top_id = top_id.max(s.id + 1);
            }
            let mut tables = Vec::with_capacity(self.tiers.len());
            for tier in 0..self.tiers.len() {
                tables.push(txn.open_table(self.blocks(tier))?);
            }
            let buckets: Vec<ClosedBucket> = flushes
                .iter()
                .flat_map(|f| f.buckets.iter().copied())
                .collect();
            for group in group_by_block(&buckets, &self.tiers) {
                let tier = usize::from(group.tier);
                let Some(table) = tables.get_mut(tier) else {
                    continue;
                };
                let res = self.tiers[tier].resolution_ms;
                let key = (group.block, group.series);
                let existing = table.get(key)?.map(|v| v.value().to_vec());
                let encoded = merge_block(existing, group.block, res, &group.items);
                table.insert(key, encoded.as_slice())?;
            }
            self.next_id.fetch_max(top_id, Ordering::Relaxed);
            let stored_next = meta.get(NEXT_ID)?.map_or(1, |v| v.value());
            meta.insert(NEXT_ID, stored_next.max(top_id))?;
            meta.insert(COVERED, position)?;
            position
        };
        txn.commit()?;
        self.covered.fetch_max(position, Ordering::Release);
        Ok(true)
    }

    /// Every stored series named `name`.
    pub fn series_named(&self, name: &str) -> Result<Vec<StoredSeries>, HistoryError> {
        let prefix = name_prefix(name);
        self.scan_series(|k| k.starts_with(&prefix), Some(&prefix))
    }

    /// Every stored series.
    pub fn all_series(&self) -> Result<Vec<StoredSeries>, HistoryError> {
        self.scan_series(|_| true, None)
    }

    fn scan_series(
        &self,
        keep: impl Fn(&[u8]) -> bool,
        from: Option<&[u8]>,
    ) -> Result<Vec<StoredSeries>, HistoryError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SERIES)?;
        let mut out = Vec::new();
        let range = match from {
            Some(start) => table.range::<&[u8]>(start..)?,
            None => table.range::<&[u8]>(..)?,
        };
        for row in range {
            let (k, v) = row?;
            let bytes = k.value();
            if !keep(bytes) {
                if from.is_some() {
                    break;
                }
                continue;
            }
            let (id, kind) = v.value();
            if let (Some(key), Some(kind)) = (decode_key(bytes), byte_kind(kind)) {
                out.push(StoredSeries { id, key, kind });
            }
        }
        Ok(out)
    }

    /// The buckets of tier `tier` of the series `ids` that start in `[from, to]` and have not
    /// aged out at `now_ms`, each series' sorted by start; with the log position the read saw
    /// covered (read in the same transaction).
    pub fn read(
        &self,
        tier: usize,
        ids: &[u64],
        (from, to): (i64, i64),
        now_ms: i64,
    ) -> Result<(u64, Vec<StoredPoints>), HistoryError> {
        let txn = self.db.begin_read()?;
        let flushed = txn.open_table(META)?.get(COVERED)?.map_or(0, |v| v.value());
        let Some(spec) = self.tiers.get(tier).copied() else {
            return Ok((flushed, Vec::new()));
        };
        let from = from.max(spec.horizon(now_ms) - spec.resolution_ms + 1);
        let table = txn.open_table(self.blocks(tier))?;
        let res = spec.resolution_ms;
        let span = block_span(res);
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let mut points = Vec::new();
            let mut block = block_start(from, res);
            while block <= to {
                if let Some(v) = table.get((block, id))? {
                    for (i, b) in decode_block(v.value(), block, res).unwrap_or_default() {
                        let start = block + i64::from(i) * res;
                        if start >= from && start <= to && !spec.expired(start, now_ms) {
                            points.push((start, b));
                        }
                    }
                }
                block = block.saturating_add(span);
            }
            out.push((id, points));
        }
        Ok((flushed, out))
    }

    /// Deletes the blocks every bucket of which has aged out at `now_ms`; answers how many.
    pub fn sweep(&self, now_ms: i64) -> Result<u64, HistoryError> {
        let txn = self.db.begin_write()?;
        let mut deleted = 0;
        for (tier, spec) in self.tiers.iter().enumerate() {
            let mut table = txn.open_table(self.blocks(tier))?;
            let keep_from = block_start(spec.horizon(now_ms), spec.resolution_ms);
            table.retain_in(..(keep_from, 0u64), |_, _| {
                deleted += 1;
                false
            })?;
        }
        txn.commit()?;
        Ok(deleted)
    }

    /// Sizes of the file and of what it holds.
    pub fn stats(&self) -> Result<StoreStats, HistoryError> {
        let (stored_bytes, fragmented_bytes) = {
            let w = self.db.begin_write()?;
            let s = w.stats()?;
            let out = (s.stored_bytes(), s.fragmented_bytes());
            w.abort()?;
            out
        };
        let txn = self.db.begin_read()?;
        let mut stats = StoreStats {
            file_bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
            blocks: 0,
            buckets: 0,
            block_bytes: 0,
            stored_bytes,
            fragmented_bytes,
        };
        for (tier, spec) in self.tiers.iter().enumerate() {
            let table = txn.open_table(self.blocks(tier))?;
            stats.blocks += table.len()?;
            for row in table.range::<(i64, u64)>(..)? {
                let (k, v) = row?;
                let bytes = v.value();
                stats.block_bytes += bytes.len() as u64;
                let n = decode_block(bytes, k.value().0, spec.resolution_ms).map_or(0, |b| b.len());
                stats.buckets += n as u64;
            }
        }
        Ok(stats)
    }
}

/// Opens the file, waiting up to 5 s for a process (or a server just stopped in this one)
/// that still holds it to let go.
fn open_db(path: &Path) -> Result<Database, HistoryError> {
    let mut waited = 0;
    loop {
        match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Err(redb::DatabaseError::DatabaseAlreadyOpen) if waited < 100 => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                waited += 1;
            }
            other => return Ok(other?),
        }
    }
}

/// The buckets of one series in one block of one tier.
struct BlockGroup {
    tier: u8,
    block: i64,
    series: u64,
    items: Vec<(u8, Bucket)>,
}

fn group_by_block(buckets: &[ClosedBucket], tiers: &[TierSpec]) -> Vec<BlockGroup> {
    let mut keyed: Vec<(u8, i64, u64, u8, Bucket)> = buckets
        .iter()
        .filter_map(|c| {
            let res = tiers.get(usize::from(c.tier))?.resolution_ms;
            let block = block_start(c.start, res);
            let index = u8::try_from((c.start - block) / res).ok()?;
            Some((c.tier, block, c.series, index, c.bucket))
        })
        .collect();
    keyed.sort_unstable_by_key(|k| (k.0, k.1, k.2, k.3));
    let mut groups: Vec<BlockGroup> = Vec::new();
    for (tier, block, series, index, bucket) in keyed {
        match groups.last_mut() {
            Some(g) if (g.tier, g.block, g.series) == (tier, block, series) => {
                match g.items.last_mut() {
                    Some((i, b)) if *i == index => b.merge(&bucket),
                    _ => g.items.push((index, bucket)),
                }
            }
            _ => groups.push(BlockGroup {
                tier,
                block,
                series,
                items: vec![(index, bucket)],
            }),
        }
    }
    groups
}

/// Merges sorted `items` into an encoded block (appending when they all come after it).
fn merge_block(existing: Option<Vec<u8>>, block: i64, res: i64, items: &[(u8, Bucket)]) -> Vec<u8> {
    let Some(mut encoded) = existing else {
        return encode_block(block, res, items);
    };
    let last = block_last_index(&encoded);
    if encoded.len() > 1 && items.first().map(|(i, _)| Some(*i) > last) == Some(true) {
        append_block(&mut encoded, block, res, items);
        return encoded;
    }
    let mut all = decode_block(&encoded, block, res).unwrap_or_default();
    for (i, b) in items {
        match all.binary_search_by_key(i, |(j, _)| *j) {
            Ok(at) => all[at].1.merge(b),
            Err(at) => all.insert(at, (*i, *b)),
        }
    }
    encode_block(block, res, &all)
}

#[cfg(test)]
mod tests;
