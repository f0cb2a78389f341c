//! The table of a shard's series: each series under its [`PackedKey`], found by a
//! [`SeriesKey`] without packing it.

use super::shard_state::Series;
use crate::model::PackedKey;
use crate::model::SeriesKey;
use hashbrown::HashTable;

/// The table's hasher: foldhash, several times faster than std's SipHash on series keys and
/// still seeded per process (no fixed collisions to aim at).
type SeriesHasher = foldhash::fast::RandomState;

/// Series by key.
#[derive(Default)]
pub(super) struct SeriesTable {
    table: HashTable<(PackedKey, Series)>,
    hasher: SeriesHasher,
}

impl SeriesTable {
    /// Number of series.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// True when there is none.
    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn hash(&self, key: &SeriesKey) -> u64 {
        PackedKey::hash_key(&self.hasher, key)
    }

    /// The series of `key`.
    pub(super) fn get(&self, key: &SeriesKey) -> Option<&Series> {
        let hash = self.hash(key);
        self.table.find(hash, |(k, _)| k.is(key)).map(|(_, s)| s)
    }

    /// The series of `key`, to change.
    pub(super) fn get_mut(&mut self, key: &SeriesKey) -> Option<&mut Series> {
        let hash = self.hash(key);
        self.table
            .find_mut(hash, |(k, _)| k.is(key))
            .map(|(_, s)| s)
    }

    /// True when `key` has a series.
    pub(super) fn contains_key(&self, key: &SeriesKey) -> bool {
        self.get(key).is_some()
    }

    /// The series of `key`, made by `make` when there is none.
    pub(super) fn get_or_insert_with(
        &mut self,
        key: &SeriesKey,
        make: impl FnOnce() -> Series,
    ) -> &mut Series {
        let hash = self.hash(key);
        let hasher = &self.hasher;
        let entry = self
            .table
            .entry(hash, |(k, _)| k.is(key), |(k, _)| k.hash_with(hasher));
        &mut entry
            .or_insert_with(|| (PackedKey::pack(key), make()))
            .into_mut()
            .1
    }

    /// Puts `series` under `key`, replacing the one there.
    pub(super) fn insert(&mut self, key: &SeriesKey, series: Series) {
        let hash = self.hash(key);
        let hasher = &self.hasher;
        match self
            .table
            .entry(hash, |(k, _)| k.is(key), |(k, _)| k.hash_with(hasher))
        {
            hashbrown::hash_table::Entry::Occupied(mut held) => held.get_mut().1 = series,
            hashbrown::hash_table::Entry::Vacant(room) => {
                room.insert((PackedKey::pack(key), series));
            }
        }
    }

    /// Takes out the series whose keys `leaves` picks.
    pub(super) fn remove_where(
        &mut self,
        mut leaves: impl FnMut(&PackedKey) -> bool,
    ) -> Vec<(PackedKey, Series)> {
        self.table.extract_if(|(k, _)| leaves(k)).collect()
    }

    /// Every series with its key.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&PackedKey, &Series)> {
        self.table.iter().map(|(k, s)| (k, s))
    }

    /// Every series with its key, to change.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&PackedKey, &mut Series)> {
        self.table.iter_mut().map(|(k, s)| (&*k, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::downsample::Downsampler;
    use crate::aggregate::{AggregateSettings, SeriesState};
    use crate::model::{Kind, Scope};

    fn series(id: u64) -> Series {
        let state = SeriesState::new(Kind::Counter, &AggregateSettings::default(), 0);
        Series {
            state,
            id,
            down: Downsampler::new(0),
        }
    }

    fn key(name: &str) -> SeriesKey {
        SeriesKey::simple(Scope::Application, name, vec![("host".into(), "a".into())])
    }

    #[test]
    fn a_key_built_apart_finds_its_series_and_insert_replaces() {
        let mut table = SeriesTable::default();
        table.insert(&key("a"), series(1));
        table.insert(&key("b"), series(2));
        table.insert(&key("a"), series(3));
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.get(&key("a")).map(|s| s.id),
            Some(3),
            "the second one won"
        );
        assert!(table.get(&key("c")).is_none());
        let made = table.get_or_insert_with(&key("b"), || series(9)).id;
        assert_eq!(made, 2, "an existing series is not made again");
        let gone = table.remove_where(|k| k.name() == "a");
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].0.unpack(), gone[0].1.id), (key("a"), 3));
        assert_eq!((table.len(), table.contains_key(&key("a"))), (1, false));
    }
}
