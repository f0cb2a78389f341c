//! Checkpoints: a snapshot of the whole state at one log position.
//!
//! The collector is the one sequencing point, so a checkpoint is one of its steps: at the
//! position of the last record logged it marks a cut in the log and asks every part of the
//! state to save itself, all in one handler — after every batch routed before it and before
//! any later one. Each shard answers its section (live aggregates, open buckets, last sample
//! times, flushes not known written) and a flush of its closed buckets numbered by that
//! position, or one above the previous checkpoint's number when that is not below it. The
//! image is then stored off the actor; only then do the flushes go to the history writer
//! (which writes them with their number, in one transaction), so that the history store
//! never holds more than a stored snapshot; and the log at or below the position is released.
//!
//! One checkpoint runs at a time (a second one asked meanwhile is skipped; [`checkpoint_now`]
//! retries until one is taken), so flushes reach the writer in the order of their numbers.

use super::actor::Collector;
use crate::aggregate::downsample::Flush;
use crate::model::{Kind, Metadata, Scope, SeriesKey};
use crate::persist::history::Persist;
use crate::persist::{Cut, Image, Section, Store, FORMAT};
use crate::registry::{FamilyInfo, Registry, SavedFamily};
use actix::{Addr, Context, Handler, Message, Recipient, ResponseFuture};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Section of the registry's pushed families, per service.
pub const REGISTRY_SECTION: &str = "families";
/// The registry's section in snapshots from before families were kept per service.
pub const LEGACY_REGISTRY_SECTION: &str = "registry";
/// Section of the series book.
pub const BOOK_SECTION: &str = "book";
/// Prefix of the shards' sections (`series.0`, `series.1`, ...).
pub const SERIES_SECTIONS: &str = "series.";

/// Take a checkpoint; answers its cut, or `None` when skipped (another one is running).
#[derive(Message)]
#[rtype(result = "Result<Option<Cut>, String>")]
pub struct Checkpoint;

/// Takes a checkpoint, waiting for a running one to finish first; answers its cut.
pub async fn checkpoint_now(collector: &Addr<Collector>) -> Result<Cut, String> {
    loop {
        match collector.send(Checkpoint).await {
            Ok(Ok(Some(cut))) => return Ok(cut),
            Ok(Ok(None)) => actix_rt::time::sleep(Duration::from_millis(20)).await,
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("the collector is gone: {e}")),
        }
    }
}

/// Where checkpoints go, and the parts kept outside the snapshot that they wait for.
pub struct Snapshots {
    store: Arc<Store>,
    history: Option<Recipient<Persist>>,
    /// Positions covered by parts kept outside the snapshot (the ODSL entity file): the log
    /// is released only below the smallest.
    covered: Vec<Arc<AtomicU64>>,
    /// The number of the last checkpoint's flushes (see [`Snapshots::after_flush`]).
    last_flush: u64,
    running: Arc<AtomicBool>,
}

impl Snapshots {
    /// Checkpoints into `store`, handing the shards' flushes to `history` (the history
    /// writer) once each is stored.
    pub fn new(store: Arc<Store>, history: Option<Recipient<Persist>>) -> Self {
        Snapshots {
            store,
            history,
            covered: Vec::new(),
            last_flush: 0,
            running: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The history store holds the flushes numbered up to `seq`: every later checkpoint
    /// numbers its flushes above it.
    pub fn after_flush(mut self, seq: u64) -> Self {
        self.last_flush = seq;
        self
    }

    /// Adds a part kept outside the snapshot that says which position it covers.
    pub fn with_covered(mut self, covered: Arc<AtomicU64>) -> Self {
        self.covered.push(covered);
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
pub fn restore_registry<K: std::borrow::Borrow<SeriesKey>>(
    registry: &mut Registry,
    image: &Image,
    keys: impl IntoIterator<Item = K>,
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
        let key = key.borrow();
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

    /// Cuts here: marks the log and collects every part's sections and the shards' flushes,
    /// then stores the image, hands the flushes to the history writer and releases the log.
    fn handle(&mut self, _: Checkpoint, _: &mut Context<Self>) -> Self::Result {
        self.send_routed();
        let running = self.snapshots.running.clone();
        if running.swap(true, Relaxed) {
            return Box::pin(async { Ok(None) });
        }
        let position = self.log.last_position();
        // The flushes' number: the position, or one above the last checkpoint's when the log
        // has not moved since (buckets close with time alone). The store skips flushes at or
        // below the number it holds, so two checkpoints must never share one: a shard that
        // flushed only at the second would lose its buckets.
        let seq = position.max(self.snapshots.last_flush + 1);
        self.snapshots.last_flush = seq;
        let marked = self.log.cut();
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
        let shard_saves = self.shards.save(seq);
        let store = self.snapshots.store.clone();
        let history = self.snapshots.history.clone();
        let log = self.log.clone();
        let release = self
            .snapshots
            .covered
            .iter()
            .map(|c| c.load(Relaxed))
            .fold(position, u64::min);
        let counters = self.counters.clone();
        Box::pin(async move {
            let result = async {
                marked
                    .await
                    .map_err(|_| "the log writer has stopped".to_owned())?
                    .map_err(|e| e.to_string())?;
                let mut flushes: Vec<Flush> = Vec::new();
                let saved = shard_saves.await.map_err(|e| format!("a shard: {e}"))?;
                for (section, unconfirmed) in saved {
                    sections.push(section);
                    flushes.extend(unconfirmed);
                }
                let cut = Cut {
                    format: FORMAT,
                    position,
                    taken_ms,
                    taken_mono,
                };
                let image = Image { cut, sections };
                let stored = actix_rt::task::spawn_blocking(move || {
                    store.save(&image).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())??;
                if stored {
                    // The snapshot carries these flushes until the store confirms them; the
                    // writer skips those it holds already.
                    if let Some(writer) = &history {
                        writer.do_send(Persist(flushes));
                    }
                    actix_rt::task::spawn_blocking(move || log.release_through(release))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                }
                Ok(stored.then_some(cut))
            }
            .await;
            running.store(false, Relaxed);
            match &result {
                Ok(Some(cut)) => {
                    counters.snapshots.fetch_add(1, Relaxed);
                    counters.last_snapshot_ms.store(taken_ms, Relaxed);
                    tracing::debug!(position = cut.position, "snapshot stored");
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
                position: 0,
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
        key.service = service.into();
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
            restore_registry(&mut back, &saved, std::iter::empty::<&SeriesKey>()),
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
