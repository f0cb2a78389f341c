//! Checkpoints: a snapshot of the whole state cut at one point of the write-ahead log.
//!
//! The collector is the one sequencing point, so a checkpoint is one of its steps: it asks the
//! log writer to rotate (the new segment's id is the cut) and every part of the state to save
//! itself, all in one handler — after every batch routed before it and before any later one.
//! The image is then written to the store off the actor, and the log before the cut deleted.

use super::actor::Collector;
use crate::model::{Kind, Metadata, Scope, SeriesKey};
use crate::persist::{delete_before, Cut, Image, Section, Store, FORMAT};
use crate::registry::{FamilyInfo, Registry, SavedFamily};
use actix::{Context, Handler, Message, Recipient, ResponseFuture};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// Section of the registry's pushed families, per service.
pub const REGISTRY_SECTION: &str = "families";
/// The registry's section in snapshots from before families were kept per service.
pub const LEGACY_REGISTRY_SECTION: &str = "registry";
/// Section of the series book.
pub const BOOK_SECTION: &str = "book";
/// Prefix of the shards' sections (`series.0`, `series.1`, ...).
pub const SERIES_SECTIONS: &str = "series.";

/// Save your state for a snapshot. An actor whose state belongs in snapshots (and is not a
/// shard) handles this, answering sections with names of its own, and is registered with
/// [`Snapshots::with_part`]. It is sent by the collector at the cut, so it arrives after every
/// message the collector sent the part before and before any later one.
#[derive(Message)]
#[rtype(result = "Vec<Section>")]
pub struct SaveSection;

/// Take a checkpoint; answers its cut, or `None` when skipped.
#[derive(Message)]
#[rtype(result = "Result<Option<Cut>, String>")]
pub struct Checkpoint {
    /// Take it even if another one is still being written (at shutdown); otherwise (on the
    /// interval) skip it then.
    pub wait: bool,
}

/// Where checkpoints go and who takes part in them besides the registry, book and shards.
pub struct Snapshots {
    store: Arc<Store>,
    wal_dir: PathBuf,
    parts: Vec<Recipient<SaveSection>>,
    running: Arc<AtomicUsize>,
}

impl Snapshots {
    /// Checkpoints into `store`, deleting log segments in `wal_dir` that they cover.
    pub fn new(store: Arc<Store>, wal_dir: PathBuf) -> Self {
        Snapshots {
            store,
            wal_dir,
            parts: Vec::new(),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Adds a part of the state that saves itself on [`SaveSection`].
    pub fn with_part(mut self, part: Recipient<SaveSection>) -> Self {
        self.parts.push(part);
        self
    }
}

/// The registry's pushed families as bytes.
pub fn encode_registry(registry: &Registry) -> Vec<u8> {
    postcard::to_allocvec(&registry.pushed()).unwrap_or_default()
}

/// A family as snapshots saved it before families were kept per service.
#[derive(serde::Deserialize)]
struct LegacyFamily {
    kind: Kind,
    meta: Metadata,
    #[allow(dead_code)]
    own: bool,
}

/// Puts the families saved in `image` back into `registry`; answers how many. A snapshot from
/// before families were kept per service gives each of its families to every service that
/// has a series of it among `keys` (the series the snapshot holds). An error names the
/// section that does not decode.
pub fn restore_registry<'k>(
    registry: &mut Registry,
    image: &Image,
    keys: impl Iterator<Item = &'k SeriesKey>,
) -> Result<usize, (String, String)> {
    if let Some(bytes) = image.section(REGISTRY_SECTION) {
        let families: Vec<SavedFamily> = postcard::from_bytes(bytes)
            .map_err(|e| (REGISTRY_SECTION.to_owned(), e.to_string()))?;
        let n = families.len();
        for (service, scope, name, info) in families {
            registry.restore(&service, scope, &name, info);
        }
        return Ok(n);
    }
    let Some(bytes) = image.section(LEGACY_REGISTRY_SECTION) else {
        return Ok(0);
    };
    let legacy: Vec<(Scope, String, LegacyFamily)> = postcard::from_bytes(bytes)
        .map_err(|e| (LEGACY_REGISTRY_SECTION.to_owned(), e.to_string()))?;
    let by_name: HashMap<(Scope, &str), (u64, &LegacyFamily)> = legacy
        .iter()
        .enumerate()
        .map(|(i, (scope, name, f))| ((*scope, name.as_str()), (i as u64 + 1, f)))
        .collect();
    let mut n = 0;
    for key in keys {
        let Some(&(seq, f)) = by_name.get(&(key.scope, key.name.as_str())) else {
            continue;
        };
        if registry.get(&key.service, key.scope, &key.name).is_none() {
            let info = FamilyInfo {
                kind: f.kind,
                meta: f.meta.clone(),
                own: false,
                seq,
            };
            registry.restore(&key.service, key.scope, &key.name, info);
            n += 1;
        }
    }
    Ok(n)
}

impl Handler<Checkpoint> for Collector {
    type Result = ResponseFuture<Result<Option<Cut>, String>>;

    /// Cuts here: rotates the log and collects every part's sections, then stores the image.
    fn handle(&mut self, msg: Checkpoint, _: &mut Context<Self>) -> Self::Result {
        let running = self.snapshots.running.clone();
        if running.fetch_add(1, Relaxed) > 0 && !msg.wait {
            running.fetch_sub(1, Relaxed);
            return Box::pin(async { Ok(None) });
        }
        let rotated = self.wal.rotate();
        let taken_ms = self.clock.epoch_millis();
        let taken_mono = self.clock.monotonic_nanos();
        let mut sections = vec![
            Section {
                name: REGISTRY_SECTION.to_owned(),
                bytes: encode_registry(&self.admission.registry().read()),
            },
            Section {
                name: BOOK_SECTION.to_owned(),
                bytes: self.admission.book().encode(),
            },
        ];
        let shard_saves: Vec<_> = self
            .shards
            .iter()
            .enumerate()
            .map(|(index, s)| s.send(crate::aggregate::Save { index }))
            .collect();
        let part_saves: Vec<_> = self
            .snapshots
            .parts
            .iter()
            .map(|p| p.send(SaveSection))
            .collect();
        let store = self.snapshots.store.clone();
        let wal_dir = self.snapshots.wal_dir.clone();
        let counters = self.counters.clone();
        Box::pin(async move {
            let result = async {
                let segment = rotated
                    .await
                    .map_err(|_| "the log writer has stopped".to_owned())?
                    .map_err(|e| e.to_string())?;
                for save in shard_saves {
                    sections.push(save.await.map_err(|e| format!("a shard: {e}"))?);
                }
                for save in part_saves {
                    sections.extend(save.await.map_err(|e| format!("a part: {e}"))?);
                }
                let cut = Cut {
                    format: FORMAT,
                    wal_segment: segment,
                    taken_ms,
                    taken_mono,
                };
                let image = Image { cut, sections };
                let stored = actix_rt::task::spawn_blocking(move || {
                    let stored = store.save(&image).map_err(|e| e.to_string())?;
                    if stored {
                        delete_before(&wal_dir, segment).map_err(|e| e.to_string())?;
                    }
                    Ok::<bool, String>(stored)
                })
                .await
                .map_err(|e| e.to_string())??;
                Ok(stored.then_some(cut))
            }
            .await;
            running.fetch_sub(1, Relaxed);
            match &result {
                Ok(Some(cut)) => {
                    counters.snapshots.fetch_add(1, Relaxed);
                    counters.last_snapshot_ms.store(taken_ms, Relaxed);
                    tracing::debug!(segment = cut.wal_segment, "snapshot stored");
                }
                Ok(None) => {}
                Err(e) => {
                    counters.snapshot_failures.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, "snapshot failed; the write-ahead log keeps everything");
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Op};

    fn image(name: &str, bytes: Vec<u8>) -> Image {
        Image {
            cut: Cut {
                format: FORMAT,
                wal_segment: 0,
                taken_ms: 0,
                taken_mono: 0,
            },
            sections: vec![Section {
                name: name.to_owned(),
                bytes,
            }],
        }
    }

    fn key(service: &str, name: &str) -> SeriesKey {
        let mut key = SeriesKey::simple(Scope::Application, name, vec![]);
        key.service = service.to_owned();
        key
    }

    #[test]
    fn families_come_back_per_service() {
        let mut registry = Registry::default();
        let event = |service: &str, kind: Kind| Event {
            key: key(service, "orders"),
            kind,
            value: 1.0,
            op: Op::Observe,
            timestamp_ms: 0,
            meta: None,
        };
        registry
            .admit(&[event("a", Kind::Gauge), event("b", Kind::Counter)])
            .unwrap();
        let saved = image(REGISTRY_SECTION, encode_registry(&registry));
        let mut back = Registry::default();
        assert_eq!(
            restore_registry(&mut back, &saved, std::iter::empty()),
            Ok(2)
        );
        assert_eq!(registry.pushed().len(), back.pushed().len());
        let kind = |r: &Registry, s: &str| r.get(s, Scope::Application, "orders").unwrap().kind;
        assert_eq!(
            (kind(&back, "a"), kind(&back, "b")),
            (Kind::Gauge, Kind::Counter)
        );
    }

    #[test]
    fn a_snapshot_from_before_services_gives_each_family_to_its_services() {
        #[derive(serde::Serialize)]
        struct Old {
            kind: Kind,
            meta: Metadata,
            own: bool,
        }
        let meta = Metadata {
            unit: Some("bytes".into()),
            ..Metadata::default()
        };
        let old = vec![(
            Scope::Application,
            "orders".to_owned(),
            Old {
                kind: Kind::Counter,
                meta: meta.clone(),
                own: false,
            },
        )];
        let saved = image(
            LEGACY_REGISTRY_SECTION,
            postcard::to_allocvec(&old).unwrap(),
        );
        let keys = [key("a", "orders"), key("b", "orders"), key("b", "other")];
        let mut back = Registry::default();
        assert_eq!(restore_registry(&mut back, &saved, keys.iter()), Ok(2));
        for service in ["a", "b"] {
            let info = back.get(service, Scope::Application, "orders").unwrap();
            assert_eq!((info.kind, &info.meta), (Kind::Counter, &meta));
        }
        assert!(back.get("c", Scope::Application, "orders").is_none());
        assert!(
            restore_registry(&mut back, &image(REGISTRY_SECTION, vec![9]), keys.iter()).is_err()
        );
    }
}
