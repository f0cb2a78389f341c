//! The series of captured entities, each held once: a record points at its [`SeriesEntry`]
//! (provider, servicePath, scope, metric, tags, type) instead of copying those strings. An
//! entry keeps its strings in one buffer (a [`PackedKey`]), so a series costs about a hundred
//! and fifty bytes even when a tag such as an invocation id makes every entity a series.
//!
//! The [`Interner`] is shared by everything that captures (the collector, the request
//! recorder) behind one mutex taken once per batch. An entry lives while a record or an
//! in-flight batch holds it; [`Interner::collect_garbage`] forgets the rest and recycles
//! their small ids, which queries use to remember per-series answers in a plain vector.

use crate::model::{Kind, PackedKey, Scope, SeriesKey};
use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// One series, shared by all of its entities.
#[derive(Debug, PartialEq)]
pub struct SeriesEntry {
    /// Scope, service, service path, name and tags, in one buffer.
    key: PackedKey,
    kind: Kind,
    /// Unit known when the series was first captured (meterd's own metrics); pushed metrics
    /// take theirs from the registry when read.
    pub unit: Option<&'static str>,
    id: u32,
}

impl SeriesEntry {
    fn new(key: &SeriesKey, kind: Kind, unit: Option<&'static str>, id: u32) -> Self {
        SeriesEntry {
            key: PackedKey::pack(key),
            kind,
            unit,
            id,
        }
    }

    /// A small number unique among live entries (reused after the entry is forgotten).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The series key (it serializes as a [`SeriesKey`]).
    pub fn key(&self) -> &PackedKey {
        &self.key
    }

    /// The Orion service: the ODSL provider.
    pub fn service(&self) -> &str {
        self.key.service()
    }

    /// The Orion service path.
    pub fn service_path(&self) -> &str {
        self.key.service_path()
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The MicroProfile scope.
    pub fn scope(&self) -> Scope {
        self.key.scope()
    }

    /// The metric type.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The tags, sorted by key.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.key.tags()
    }

    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// True when this is the series of `key`.
    pub fn is(&self, key: &SeriesKey) -> bool {
        self.key.is(key)
    }
}

/// Series entries by key.
#[derive(Debug, Default)]
pub struct Interner {
    /// Hashes series keys (foldhash: one key is hashed per captured event, and std's SipHash
    /// made that half the cost of capture).
    hasher: RandomState,
    /// Entries by the 64-bit hash of their key: one pointer per series.
    by_hash: HashMap<u64, Arc<SeriesEntry>, RandomState>,
    /// Entries whose hash another key already holds in `by_hash` (practically never).
    collided: Vec<(u64, Arc<SeriesEntry>)>,
    /// Entries replaced (their type changed) that records still hold.
    orphans: Vec<Arc<SeriesEntry>>,
    free_ids: Vec<u32>,
    next_id: u32,
    kept_at_last_gc: usize,
}

impl Interner {
    /// The entry of `key` with type `kind`, created on first sight.
    pub fn intern(&mut self, key: &SeriesKey, kind: Kind) -> Arc<SeriesEntry> {
        self.intern_with_unit(key, kind, None)
    }

    /// Like [`intern`](Self::intern), with a unit known up front (meterd's own metrics).
    pub fn intern_with_unit(
        &mut self,
        key: &SeriesKey,
        kind: Kind,
        unit: Option<&'static str>,
    ) -> Arc<SeriesEntry> {
        let hash = self.hasher.hash_one(key);
        self.intern_hashed(hash, key, kind, unit)
    }

    fn intern_hashed(
        &mut self,
        hash: u64,
        key: &SeriesKey,
        kind: Kind,
        unit: Option<&'static str>,
    ) -> Arc<SeriesEntry> {
        let found = match self.by_hash.get(&hash) {
            Some(e) if e.is(key) => Some(e),
            Some(_) => self
                .collided
                .iter()
                .find(|(h, e)| *h == hash && e.is(key))
                .map(|(_, e)| e),
            None => None,
        };
        match found {
            Some(e) if e.kind == kind => e.clone(),
            _ => self.insert(hash, key, kind, unit),
        }
    }

    fn insert(
        &mut self,
        hash: u64,
        key: &SeriesKey,
        kind: Kind,
        unit: Option<&'static str>,
    ) -> Arc<SeriesEntry> {
        let id = self.free_ids.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let entry = Arc::new(SeriesEntry::new(key, kind, unit, id));
        match self.by_hash.get_mut(&hash) {
            None => {
                self.by_hash.insert(hash, entry.clone());
            }
            Some(held) if held.is(key) => {
                // Same key, another type: records keep the old entry until they go.
                self.orphans.push(std::mem::replace(held, entry.clone()));
            }
            Some(_) => {
                let same = self
                    .collided
                    .iter()
                    .position(|(h, e)| *h == hash && e.is(key));
                if let Some(i) = same {
                    self.orphans.push(self.collided.swap_remove(i).1);
                }
                self.collided.push((hash, entry.clone()));
            }
        }
        entry
    }

    /// Entries known (live or waiting for garbage collection).
    pub fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len() + self.orphans.len()
    }

    /// True when no entry is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One more than the largest id handed out: a vector this long can be indexed by any id.
    pub fn id_bound(&self) -> usize {
        self.next_id as usize
    }

    /// True when the set has grown by a quarter (and at least 1024) since the last
    /// collection: a pass costs O(entries), so it is amortised over the entries added, and
    /// at most about a fifth of the entries held are garbage.
    pub fn wants_collection(&self) -> bool {
        self.len() > self.kept_at_last_gc + self.kept_at_last_gc / 4 + 1024
    }

    /// Forgets every entry that no record and no batch in flight holds; returns how many.
    ///
    /// Callers hold the interner's lock, and new holders are only made under it, so an entry
    /// seen here with no other holder cannot gain one.
    pub fn collect_garbage(&mut self) -> usize {
        let before = self.len();
        let free = &mut self.free_ids;
        let mut kept = |entry: &Arc<SeriesEntry>| {
            let unused = Arc::strong_count(entry) == 1;
            if unused {
                free.push(entry.id);
            }
            !unused
        };
        self.by_hash.retain(|_, e| kept(e));
        self.collided.retain(|(_, e)| kept(e));
        self.orphans.retain(&mut kept);
        // A collided entry whose hash lost its holder takes its place.
        let mut i = 0;
        while i < self.collided.len() {
            let hash = self.collided[i].0;
            if self.by_hash.contains_key(&hash) {
                i += 1;
            } else {
                let (_, e) = self.collided.swap_remove(i);
                self.by_hash.insert(hash, e);
            }
        }
        self.kept_at_last_gc = self.len();
        before - self.kept_at_last_gc
    }

    /// Files `key` under `hash` whatever its real hash (tests of the collision path).
    #[cfg(test)]
    fn intern_as(&mut self, hash: u64, key: &SeriesKey) -> Arc<SeriesEntry> {
        self.intern_hashed(hash, key, Kind::Counter, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Scope, ServicePath};

    fn key(name: &str) -> SeriesKey {
        SeriesKey::simple(Scope::Application, name, vec![("host".into(), "a".into())])
    }

    #[test]
    fn entries_read_back_their_key() {
        let k = SeriesKey {
            service: "shop".into(),
            service_path: ServicePath::parse("/eu/north").unwrap(),
            scope: Scope::Vendor,
            name: "orders".into(),
            tags: vec![("app".into(), "api".into()), ("user".into(), "".into())],
        };
        let e = SeriesEntry::new(&k, Kind::Gauge, None, 0);
        assert_eq!(
            (e.service(), e.service_path(), e.name(), e.scope(), e.kind()),
            ("shop", "/eu/north", "orders", Scope::Vendor, Kind::Gauge)
        );
        assert_eq!(e.tags().collect::<Vec<_>>(), [("app", "api"), ("user", "")]);
        assert_eq!(e.tag("app"), Some("api"));
        assert_eq!(e.tag("host"), None);
        assert!(e.is(&k));
        let mut other = k.clone();
        other.tags[1].1 = "x".into();
        assert!(!e.is(&other));
        let mut moved = k.clone();
        moved.name = "ordersshop".into();
        moved.service = "".into();
        assert!(!e.is(&moved), "same text, other split");
    }

    #[test]
    fn one_entry_per_key_and_ids_recycled() {
        let mut i = Interner::default();
        let a = i.intern(&key("a"), Kind::Counter);
        let a2 = i.intern(&key("a"), Kind::Counter);
        assert!(Arc::ptr_eq(&a, &a2));
        let b = i.intern(&key("b"), Kind::Gauge);
        assert_ne!(a.id(), b.id());
        assert_eq!(i.len(), 2);
        drop(b);
        assert_eq!(i.collect_garbage(), 1, "b is held by nobody");
        assert_eq!(i.len(), 1);
        let c = i.intern(&key("c"), Kind::Gauge);
        assert_eq!(c.id(), 1, "b's id is reused");
        assert_eq!(i.id_bound(), 2);
    }

    #[test]
    fn a_new_type_makes_a_new_entry_and_the_old_lives_on() {
        let mut i = Interner::default();
        let old = i.intern(&key("a"), Kind::Counter);
        let new = i.intern(&key("a"), Kind::Gauge);
        assert_ne!(old.id(), new.id());
        assert_eq!(i.len(), 2);
        assert_eq!(i.collect_garbage(), 0);
        drop(old);
        assert_eq!(i.collect_garbage(), 1);
        assert!(Arc::ptr_eq(&new, &i.intern(&key("a"), Kind::Gauge)));
    }

    #[test]
    fn keys_with_one_hash_stay_apart_and_survive_collection() {
        let mut i = Interner::default();
        let a = i.intern_as(7, &key("a"));
        let b = i.intern_as(7, &key("b"));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&b, &i.intern_as(7, &key("b"))));
        drop(a);
        assert_eq!(i.collect_garbage(), 1);
        assert!(Arc::ptr_eq(&b, &i.intern_as(7, &key("b"))), "b moved up");
        assert_eq!(i.len(), 1);
    }

    #[test]
    fn many_keys_stay_apart() {
        let mut i = Interner::default();
        let held: Vec<_> = (0..10_000)
            .map(|n| i.intern(&key(&format!("m{n}")), Kind::Counter))
            .collect();
        for (n, e) in held.iter().enumerate() {
            assert_eq!(e.name(), format!("m{n}"));
            assert!(Arc::ptr_eq(
                e,
                &i.intern(&key(&format!("m{n}")), Kind::Counter)
            ));
        }
        assert_eq!(i.len(), 10_000);
    }
}
