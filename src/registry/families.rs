//! Metadata and type of every metric family; the arbiter of type conflicts.

use crate::ingest::ItemError;
use crate::model::{Event, Kind, Metadata, Scope};
use std::collections::HashMap;

/// What the registry knows about one (scope, name).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FamilyInfo {
    /// The type every series of the family has.
    pub kind: Kind,
    /// Metadata; each field is set by the first event that carries it.
    pub meta: Metadata,
    /// True for meterd's own metrics, which never count toward limits.
    pub own: bool,
}

/// Families by name, one slot per scope (looked up by `&str`, no allocation per event).
#[derive(Debug, Default)]
pub struct Registry {
    /// Looked up twice per admitted event: foldhash, seeded per process.
    families: HashMap<String, [Option<FamilyInfo>; 3], foldhash::fast::RandomState>,
}

fn slot(scope: Scope) -> usize {
    scope as usize
}

impl Registry {
    /// Looks up a family.
    pub fn get(&self, scope: Scope, name: &str) -> Option<&FamilyInfo> {
        self.families.get(name)?[slot(scope)].as_ref()
    }

    /// Registers one of meterd's own families (base or vendor scope).
    pub fn register_own(&mut self, scope: Scope, name: &str, kind: Kind, meta: Metadata) {
        self.families.entry(name.to_owned()).or_default()[slot(scope)] = Some(FamilyInfo {
            kind,
            meta,
            own: true,
        });
    }

    /// Every pushed family (meterd's own left out), for snapshots.
    pub fn pushed(&self) -> Vec<(Scope, String, FamilyInfo)> {
        let mut out = Vec::new();
        for (name, slots) in &self.families {
            for scope in Scope::ALL {
                if let Some(info) = slots[slot(scope)].as_ref().filter(|i| !i.own) {
                    out.push((scope, name.clone(), info.clone()));
                }
            }
        }
        out
    }

    /// Puts back a pushed family saved by [`pushed`](Registry::pushed); meterd's own families
    /// keep their place (a saved family cannot take an own name).
    pub fn restore(&mut self, scope: Scope, name: &str, info: FamilyInfo) {
        let slots = self.families.entry(name.to_owned()).or_default();
        let slot = &mut slots[slot(scope)];
        if !slot.as_ref().is_some_and(|i| i.own) {
            *slot = Some(FamilyInfo { own: false, ..info });
        }
    }

    /// The events of a batch whose type conflicts with an existing family, with one of
    /// meterd's own, or with an earlier event of the batch; nothing changes.
    pub fn conflicts(&self, events: &[Event]) -> Vec<ItemError> {
        let mut fresh: HashMap<(Scope, &str), Kind, foldhash::fast::RandomState> =
            HashMap::default();
        let mut conflicts = Vec::new();
        for (index, e) in events.iter().enumerate() {
            let (scope, name) = (e.key.scope, e.key.name.as_str());
            let known = self.get(scope, name).map(|f| (f.kind, f.own));
            let expected = match known {
                Some((_, true)) => {
                    conflicts.push(ItemError {
                        index,
                        message: format!("{scope}:{name} is one of meterd's own metrics"),
                    });
                    continue;
                }
                Some((kind, false)) => kind,
                None => *fresh.entry((scope, name)).or_insert(e.kind),
            };
            if expected != e.kind {
                conflicts.push(ItemError {
                    index,
                    message: format!("{scope}:{name} is a {expected}, not a {}", e.kind),
                });
            }
        }
        conflicts
    }

    /// Checks a batch for type conflicts (see [`conflicts`](Self::conflicts)), and when there
    /// is none registers its new families and metadata. All or nothing: on a conflict nothing
    /// changes and every conflicting index is returned.
    pub fn admit(&mut self, events: &[Event]) -> Result<(), Vec<ItemError>> {
        let conflicts = self.conflicts(events);
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        for e in events {
            let slots = match self.families.get_mut(e.key.name.as_str()) {
                Some(slots) => slots,
                None => self.families.entry(e.key.name.clone()).or_default(),
            };
            let info = slots[slot(e.key.scope)].get_or_insert_with(|| FamilyInfo {
                kind: e.kind,
                meta: Metadata::default(),
                own: false,
            });
            if let Some(meta) = &e.meta {
                fill(&mut info.meta.unit, &meta.unit);
                fill(&mut info.meta.description, &meta.description);
                fill(&mut info.meta.display_name, &meta.display_name);
            }
        }
        Ok(())
    }
}

fn fill(field: &mut Option<String>, from: &Option<String>) {
    if field.is_none() {
        field.clone_from(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, SeriesKey};

    fn ev(name: &str, kind: Kind) -> Event {
        Event {
            key: SeriesKey::simple(Scope::Application, name, vec![]),
            kind,
            value: 1.0,
            op: Op::Observe,
            timestamp_ms: 0,
            meta: None,
        }
    }

    #[test]
    fn conflicts_refuse_the_whole_batch() {
        let mut r = Registry::default();
        r.admit(&[ev("a", Kind::Counter)]).unwrap();
        let err = r
            .admit(&[ev("b", Kind::Gauge), ev("a", Kind::Gauge)])
            .unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].index, 1);
        assert!(
            r.get(Scope::Application, "b").is_none(),
            "nothing half-applied"
        );
        let err = r
            .admit(&[ev("c", Kind::Gauge), ev("c", Kind::Meter)])
            .unwrap_err();
        assert_eq!(err[0].index, 1);
    }
}
