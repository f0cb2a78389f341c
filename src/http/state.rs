//! What every handler can reach: the actors, the registry, the pipeline, the clock.

use crate::aggregate::{Collect, Shard};
use crate::clock::SharedClock;
use crate::collector::Collector;
use crate::config::Pipeline;
use crate::model::Snapshot;
use crate::registry::{assemble, Registry, Selector};
use crate::telemetry::{own_families, Counters};
use actix::Addr;
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Instant;

/// Shared application state, cloned into every worker.
#[derive(Clone)]
pub struct AppState {
    /// The collector (admission and routing).
    pub collector: Addr<Collector>,
    /// The shards, for reads.
    pub shards: Vec<Addr<Shard>>,
    /// Metric metadata.
    pub registry: Arc<RwLock<Registry>>,
    /// The validated pipeline.
    pub pipeline: Arc<Pipeline>,
    /// Time source.
    pub clock: SharedClock,
    /// meterd's own counters.
    pub counters: Arc<Counters>,
    /// When the server started (for uptime).
    pub started: Instant,
    /// Bearer tokens; `None` leaves the API open (see `auth`).
    pub tokens: Option<Arc<crate::config::Tokens>>,
}

impl AppState {
    /// A consistent snapshot of the selected series, own metrics included.
    pub async fn snapshot(&self, sel: Selector) -> Result<Snapshot, super::ApiError> {
        let pending: Vec<_> = self
            .shards
            .iter()
            .map(|s| s.send(Collect(sel.clone())))
            .collect();
        let mut views = Vec::new();
        for p in pending {
            views.extend(p.await.map_err(super::error::unavailable)?);
        }
        let own = own_families(&self.counters, self.started, &sel);
        Ok(assemble(views, &self.registry.read(), own))
    }
}
