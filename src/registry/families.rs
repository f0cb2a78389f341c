//! Metadata and type of every metric family; the arbiter of type conflicts.
//!
//! A pushed family belongs to its service (the tenant): its type, unit, description and
//! displayName are kept per (service, scope, name), so what one tenant pushes never changes
//! another tenant's answers, and the same name may be a counter in one service and a gauge in
//! another. meterd's own families (base and vendor scopes) are one per (scope, name) for every
//! service, and no pushed event may take their names.

use crate::model::ItemError;
use crate::model::{Event, Kind, Metadata, Scope};
use std::collections::HashMap;

/// What the registry knows about one (service, scope, name), or one own (scope, name).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FamilyInfo {
    /// The type every series of the family has.
    pub kind: Kind,
    /// Metadata; each field is set by the first event that carries it.
    pub meta: Metadata,
    /// True for meterd's own metrics, which never count toward limits.
    pub own: bool,
    /// Registration order among pushed families (0 for meterd's own): where the services'
    /// families of one name differ in type, the older one keeps the name in a text scrape of
    /// several services.
    pub seq: u64,
}

/// A pushed family as snapshots save it: (service, scope, name, info).
pub type SavedFamily = (String, Scope, String, FamilyInfo);

/// Per scope: one slot each.
type Slots = [Option<FamilyInfo>; 3];
type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Own families by name, pushed ones by service then name (looked up by `&str`, no
/// allocation per event).
#[derive(Debug, Default)]
pub struct Registry {
    /// Looked up twice per admitted event: foldhash, seeded per process.
    own: Map<Slots>,
    pushed: Map<Map<Slots>>,
    next_seq: u64,
}

fn slot(scope: Scope) -> usize {
    scope as usize
}

impl Registry {
    /// Looks up the family of `name` in `scope` as `service` sees it: meterd's own, else the
    /// service's pushed one.
    pub fn get(&self, service: &str, scope: Scope, name: &str) -> Option<&FamilyInfo> {
        self.own_family(scope, name)
            .or_else(|| self.pushed.get(service)?.get(name)?[slot(scope)].as_ref())
    }

    /// Every family of `name` in `scope`: meterd's own, or each service's (for a reader that
    /// sees every service, such as a chart across services).
    pub fn get_all<'a>(
        &'a self,
        scope: Scope,
        name: &'a str,
    ) -> impl Iterator<Item = &'a FamilyInfo> + 'a {
        let own = self.own_family(scope, name);
        let pushed = self
            .pushed
            .values()
            .filter_map(move |names| names.get(name)?[slot(scope)].as_ref());
        own.into_iter().chain(pushed)
    }

    fn own_family(&self, scope: Scope, name: &str) -> Option<&FamilyInfo> {
        // Own families are in base and vendor only: most lookups (application) skip the map.
        if scope == Scope::Application {
            return None;
        }
        self.own.get(name)?[slot(scope)].as_ref()
    }

    /// Registers one of meterd's own families (base or vendor scope).
    pub fn register_own(&mut self, scope: Scope, name: &str, kind: Kind, meta: Metadata) {
        debug_assert!(
            scope != Scope::Application,
            "own families are base or vendor"
        );
        self.own.entry(name.to_owned()).or_default()[slot(scope)] = Some(FamilyInfo {
            kind,
            meta,
            own: true,
            seq: 0,
        });
    }

    /// Every pushed family (meterd's own left out), for snapshots.
    pub fn pushed(&self) -> Vec<SavedFamily> {
        let mut out = Vec::new();
        for (service, names) in &self.pushed {
            for (name, slots) in names {
                for scope in Scope::ALL {
                    if let Some(info) = &slots[slot(scope)] {
                        out.push((service.clone(), scope, name.clone(), info.clone()));
                    }
                }
            }
        }
        out
    }

    /// Puts back a pushed family saved by [`pushed`](Registry::pushed); meterd's own families
    /// keep their place (a saved family cannot take an own name).
    pub fn restore(&mut self, service: &str, scope: Scope, name: &str, info: FamilyInfo) {
        if self.own_family(scope, name).is_some() {
            return;
        }
        self.next_seq = self.next_seq.max(info.seq);
        self.pushed
            .entry(service.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default()[slot(scope)] = Some(FamilyInfo { own: false, ..info });
    }

    /// The events of a batch whose type conflicts with their service's family, with one of
    /// meterd's own, or with an earlier event of the batch; nothing changes.
    pub fn conflicts(&self, events: &[Event]) -> Vec<ItemError> {
        let mut fresh: HashMap<(&str, Scope, &str), Kind, foldhash::fast::RandomState> =
            HashMap::default();
        let mut conflicts = Vec::new();
        for (index, e) in events.iter().enumerate() {
            let (service, scope, name) = (e.key.service.as_str(), e.key.scope, e.key.name.as_str());
            let known = self.get(service, scope, name).map(|f| (f.kind, f.own));
            let expected = match known {
                Some((_, true)) => {
                    conflicts.push(ItemError {
                        index,
                        message: format!("{scope}:{name} is one of meterd's own metrics"),
                    });
                    continue;
                }
                Some((kind, false)) => kind,
                None => *fresh.entry((service, scope, name)).or_insert(e.kind),
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
            let names = match self.pushed.get_mut(e.key.service.as_str()) {
                Some(names) => names,
                None => self.pushed.entry(e.key.service.to_string()).or_default(),
            };
            let slots = match names.get_mut(e.key.name.as_str()) {
                Some(slots) => slots,
                None => names.entry(e.key.name.to_string()).or_default(),
            };
            let info = slots[slot(e.key.scope)].get_or_insert_with(|| {
                self.next_seq += 1;
                FamilyInfo {
                    kind: e.kind,
                    meta: Metadata::default(),
                    own: false,
                    seq: self.next_seq,
                }
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

    fn in_service(service: &str, mut e: Event) -> Event {
        e.key.service = service.into();
        e
    }

    const DEFAULT: &str = crate::model::DEFAULT_SERVICE;

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
            r.get(DEFAULT, Scope::Application, "b").is_none(),
            "nothing half-applied"
        );
        let err = r
            .admit(&[ev("c", Kind::Gauge), ev("c", Kind::Meter)])
            .unwrap_err();
        assert_eq!(err[0].index, 1);
    }

    #[test]
    fn services_keep_their_own_types_and_metadata() {
        let mut r = Registry::default();
        r.admit(&[in_service("b", ev("orders", Kind::Counter))])
            .unwrap();
        let mut squat = in_service("a", ev("orders", Kind::Gauge));
        squat.meta = Some(Box::new(Metadata {
            unit: Some("parsecs".into()),
            ..Metadata::default()
        }));
        r.admit(&[squat]).unwrap();
        let b = r.get("b", Scope::Application, "orders").unwrap().clone();
        assert_eq!((b.kind, &b.meta.unit), (Kind::Counter, &None));
        let a = r.get("a", Scope::Application, "orders").unwrap().clone();
        assert_eq!(a.kind, Kind::Gauge);
        assert!(a.seq > b.seq, "registration order is kept");
        r.admit(&[in_service("b", ev("orders", Kind::Counter))])
            .unwrap();
        let saved = r.pushed();
        let mut again = Registry::default();
        for (service, scope, name, info) in saved {
            again.restore(&service, scope, &name, info);
        }
        assert_eq!(again.get("a", Scope::Application, "orders"), Some(&a));
        assert_eq!(again.next_seq, r.next_seq);
    }

    #[test]
    fn own_names_stay_meterds_in_every_service() {
        let mut r = Registry::default();
        r.register_own(Scope::Vendor, "x", Kind::Counter, Metadata::default());
        let mut e = in_service("t", ev("x", Kind::Counter));
        e.key.scope = Scope::Vendor;
        assert_eq!(r.admit(&[e]).unwrap_err().len(), 1);
        assert!(r.get("t", Scope::Vendor, "x").unwrap().own);
    }
}
