//! Snapshots in an embedded store (redb: one file, ACID transactions, crash-safe commits):
//! `data_dir/state.redb` holds the last snapshot, as named sections of bytes plus the log
//! position it covers.
//!
//! Each component that keeps state owns one or more sections and their encoding; the store
//! only keeps bytes. See [`super`] for the sections there are and how a new one is added.

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sections");
const CUT_KEY: &str = "cut";

/// The version of the snapshot layout; a store written by another one is refused at start.
pub const FORMAT: u32 = 2;

/// Where and when a snapshot was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// [`FORMAT`] of the writer.
    pub format: u32,
    /// The last log position the snapshot covers: replay starts after it.
    pub position: u64,
    /// Wall-clock time of the cut, epoch milliseconds.
    pub taken_ms: i64,
    /// The saving process's monotonic reading at the cut, nanoseconds; saved monotonic values
    /// are relative to it.
    pub taken_mono: u64,
}

impl Cut {
    /// How far to move the saved monotonic readings so that they keep their ages on a clock
    /// that reads `now_mono` at wall time `now_ms`: time spent stopped counts as idle time.
    pub fn shift(&self, now_mono: u64, now_ms: i64) -> i64 {
        let stopped_nanos = i128::from(now_ms.saturating_sub(self.taken_ms).max(0)) * 1_000_000;
        let shift = i128::from(now_mono) - stopped_nanos - i128::from(self.taken_mono);
        i64::try_from(shift).unwrap_or(if shift < 0 { i64::MIN } else { i64::MAX })
    }
}

/// One component's part of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Unique in the snapshot, e.g. `registry`, `series.0`.
    pub name: String,
    /// The component's own encoding of its state.
    pub bytes: Vec<u8>,
}

/// A whole snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Where and when it was cut.
    pub cut: Cut,
    /// Every component's sections.
    pub sections: Vec<Section>,
}

impl Image {
    /// The bytes of section `name`, if the snapshot has it.
    pub fn section(&self, name: &str) -> Option<&[u8]> {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.bytes.as_slice())
    }

    /// The sections whose name starts with `prefix`.
    pub fn sections_starting(&self, prefix: &str) -> impl Iterator<Item = &Section> {
        let prefix = prefix.to_owned();
        self.sections
            .iter()
            .filter(move |s| s.name.starts_with(&prefix))
    }
}

/// Why the snapshot store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file cannot be opened, read or written: check the data directory.
    #[error("snapshot store: {0}")]
    Redb(Box<redb::Error>),
    /// The store holds something this meterd cannot read (another format version, or
    /// damage): move `state.redb` away to start from the write-ahead log alone.
    #[error("snapshot store: {0}")]
    Unreadable(String),
}

fn redb_error(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Redb(Box::new(e.into()))
}

/// The snapshot store.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating it if missing) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            db: Database::create(path).map_err(redb_error)?,
        })
    }

    /// The last snapshot, if one was ever stored.
    pub fn load(&self) -> Result<Option<Image>, StoreError> {
        let txn = self.db.begin_read().map_err(redb_error)?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(redb_error(e)),
        };
        let Some(raw) = meta.get(CUT_KEY).map_err(redb_error)? else {
            return Ok(None);
        };
        let cut: Cut = postcard::from_bytes(raw.value())
            .map_err(|e| StoreError::Unreadable(format!("snapshot cut: {e}")))?;
        if cut.format != FORMAT {
            return Err(StoreError::Unreadable(format!(
                "snapshot format {} (this meterd reads {FORMAT})",
                cut.format
            )));
        }
        let table = txn.open_table(SECTIONS).map_err(redb_error)?;
        let mut sections = Vec::new();
        for entry in table.iter().map_err(redb_error)? {
            let (name, bytes) = entry.map_err(redb_error)?;
            sections.push(Section {
                name: name.value().to_owned(),
                bytes: bytes.value().to_vec(),
            });
        }
        Ok(Some(Image { cut, sections }))
    }

    /// Stores `image` in place of the last snapshot, in one transaction, unless the stored one
    /// was cut later in the log (snapshots taken concurrently finish in any order); answers
    /// whether it was stored.
    pub fn save(&self, image: &Image) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(redb_error)?;
        {
            let mut meta = txn.open_table(META).map_err(redb_error)?;
            let stored = meta
                .get(CUT_KEY)
                .map_err(redb_error)?
                .and_then(|raw| postcard::from_bytes::<Cut>(raw.value()).ok());
            if stored.is_some_and(|s| s.position > image.cut.position) {
                return Ok(false);
            }
            let cut = postcard::to_allocvec(&image.cut)
                .map_err(|e| StoreError::Unreadable(e.to_string()))?;
            meta.insert(CUT_KEY, cut.as_slice()).map_err(redb_error)?;
        }
        txn.delete_table(SECTIONS).map_err(redb_error)?;
        {
            let mut table = txn.open_table(SECTIONS).map_err(redb_error)?;
            for s in &image.sections {
                table
                    .insert(s.name.as_str(), s.bytes.as_slice())
                    .map_err(redb_error)?;
            }
        }
        txn.commit().map_err(redb_error)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(position: u64, sections: &[(&str, &[u8])]) -> Image {
        Image {
            cut: Cut {
                format: FORMAT,
                position,
                taken_ms: 1000,
                taken_mono: 5,
            },
            sections: sections
                .iter()
                .map(|(n, b)| Section {
                    name: (*n).to_owned(),
                    bytes: b.to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn saves_replace_older_ones_and_never_newer_ones() {
        let dir = std::env::temp_dir().join(format!("meterd-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.redb");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), None);

        let first = image(3, &[("a", b"1"), ("series.0", b"22")]);
        assert!(store.save(&first).unwrap());
        assert_eq!(store.load().unwrap().as_ref(), Some(&first));

        let second = image(5, &[("b", b"")]);
        assert!(store.save(&second).unwrap());
        assert!(!store.save(&image(4, &[])).unwrap(), "an older cut loses");
        drop(store);
        let loaded = Store::open(&path).unwrap().load().unwrap().unwrap();
        assert_eq!(loaded, second, "sections of the first snapshot are gone");
        assert_eq!(loaded.section("b"), Some(&b""[..]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_shift_keeps_ages_and_counts_downtime() {
        let cut = image(1, &[]).cut; // taken at 1000 ms, monotonic 5 ns
                                     // Restarted 2 s of wall time later, on a clock now reading 10 s.
        let shift = cut.shift(10_000_000_000, 3000);
        // A reading 5 ns (the cut) maps to 2 s ago on the new clock.
        assert_eq!(5 + shift, 10_000_000_000 - 2_000_000_000);
    }
}
