//! The series of captured entities, each held once: a record points at its [`SeriesEntry`]
//! (provider, servicePath, scope, metric, tags, type) instead of copying those strings.
//!
//! The [`Interner`] is shared by everything that captures (the collector, the request
//! recorder) behind one mutex taken once per batch. An entry lives while a record or an
//! in-flight batch holds it; [`Interner::collect_garbage`] forgets the rest and recycles
//! their small ids, which queries use to remember per-series answers in a plain vector.

use crate::model::{Kind, SeriesKey};
use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// One series, shared by all of its entities.
#[derive(Debug, PartialEq)]
pub struct SeriesEntry {
    /// Service (the ODSL provider), service path, scope, name (the ODSL metric) and tags.
    pub key: SeriesKey,
    /// Metric type.
    pub kind: Kind,
    /// Unit known when the series was first captured (meterd's own metrics); pushed metrics
    /// take theirs from the registry when read.
    pub unit: Option<&'static str>,
    id: u32,
}

impl SeriesEntry {
    /// A small number unique among live entries (reused after the entry is forgotten).
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// An entry in the set, hashed and compared by its key.
#[derive(Debug)]
struct Interned(Arc<SeriesEntry>);

impl Hash for Interned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
}

impl PartialEq for Interned {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for Interned {}

impl Borrow<SeriesKey> for Interned {
    fn borrow(&self) -> &SeriesKey {
        &self.0.key
    }
}

/// Series entries by key.
#[derive(Debug, Default)]
pub struct Interner {
    /// Hashed with foldhash: a series key is hashed once per captured event, and SipHash
    /// (std's default) made that half the cost of capture.
    set: HashSet<Interned, foldhash::fast::RandomState>,
    /// Entries replaced in the set (their type changed) that records still hold.
    orphans: Vec<Arc<SeriesEntry>>,
    free_ids: Vec<u32>,
    next_id: u32,
    kept_at_last_gc: usize,
}

impl Interner {
    /// The entry of `key` with type `kind`, created on first sight (the key is cloned then
    /// only).
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
        match self.set.get(key) {
            Some(found) if found.0.kind == kind => found.0.clone(),
            _ => self.insert(key.clone(), kind, unit),
        }
    }

    fn insert(
        &mut self,
        key: SeriesKey,
        kind: Kind,
        unit: Option<&'static str>,
    ) -> Arc<SeriesEntry> {
        let id = self.free_ids.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let entry = Arc::new(SeriesEntry {
            key,
            kind,
            unit,
            id,
        });
        if let Some(old) = self.set.replace(Interned(entry.clone())) {
            self.orphans.push(old.0);
        }
        entry
    }

    /// Entries known (live or waiting for garbage collection).
    pub fn len(&self) -> usize {
        self.set.len() + self.orphans.len()
    }

    /// True when no entry is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One more than the largest id handed out: a vector this long can be indexed by any id.
    pub fn id_bound(&self) -> usize {
        self.next_id as usize
    }

    /// True when the set has grown enough since the last collection to be worth a pass.
    pub fn wants_collection(&self) -> bool {
        self.len() > 2 * self.kept_at_last_gc + 1024
    }

    /// Forgets every entry that no record and no batch in flight holds; returns how many.
    ///
    /// Callers hold the interner's lock, and new holders are only made under it, so an entry
    /// seen here with no other holder cannot gain one.
    pub fn collect_garbage(&mut self) -> usize {
        let before = self.len();
        let free = &mut self.free_ids;
        let mut unused = |entry: &Arc<SeriesEntry>| {
            let unused = Arc::strong_count(entry) == 1;
            if unused {
                free.push(entry.id);
            }
            !unused
        };
        self.set.retain(|e| unused(&e.0));
        self.orphans.retain(&mut unused);
        self.kept_at_last_gc = self.len();
        before - self.kept_at_last_gc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    fn key(name: &str) -> SeriesKey {
        SeriesKey::simple(Scope::Application, name, vec![("host".into(), "a".into())])
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
        assert_eq!(i.collect_garbage(), 0);
        drop(old);
        assert_eq!(i.collect_garbage(), 1);
        assert!(Arc::ptr_eq(&new, &i.intern(&key("a"), Kind::Gauge)));
    }
}
