//! What every handler can reach: the actors, the registry, the pipeline, the clock.

use crate::aggregate::Shards;
use crate::clock::SharedClock;
use crate::collector::Collector;
use crate::config::Pipeline;
use crate::model::Selector;
use crate::model::{Scrape, SeriesKey, ValueView};
use crate::registry::entities::EntitySink;
use crate::registry::{assemble, Registry};
use crate::telemetry::{own_families, Counters, IncomingTraffic};
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
    pub shards: Shards,
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
    /// meterd's own HTTP traffic per service and subservice (Orion's self metrics).
    pub traffic: Arc<IncomingTraffic>,
    /// Kanto subscriptions (WebSocket and SSE).
    pub streams: crate::stream::Streams,
    /// The ODSL entity ring (reads) and its capture path (meterd's own request entities).
    pub entities: EntitySink,
    /// Bearer tokens; `None` leaves the API open (see `auth`).
    pub tokens: Option<Arc<crate::config::Tokens>>,
    /// The last cumulative OTLP point of each series (see `ingest::otlp`).
    pub otlp: Arc<parking_lot::Mutex<crate::ingest::otlp::CumulativeBook>>,
    /// The cluster this node is part of (`serve --cluster`); `None` on a single node.
    pub cluster: Option<crate::cluster::Node>,
}

impl AppState {
    /// Views of the selected series on every shard (in a cluster: on every partition's
    /// owner, merged).
    pub async fn collect(
        &self,
        sel: Selector,
    ) -> Result<Vec<(SeriesKey, ValueView)>, super::ApiError> {
        if let Some(cluster) = &self.cluster {
            let merged = cluster.read(sel, false).await?;
            return Ok(self.learn(merged));
        }
        Ok(self.shards.collect(&sel).await?)
    }

    /// The views of a cluster-wide read, after registering here the families this node has
    /// not seen yet (assembling needs them; ingest here then checks types against them too).
    pub fn learn(&self, merged: crate::cluster::Merged) -> Vec<(SeriesKey, ValueView)> {
        let mut registry = self.registry.write();
        for (service, scope, name, info) in merged.families {
            if registry.get(&service, scope, &name).is_none() {
                registry.restore(&service, scope, &name, info);
            }
        }
        merged.views
    }

    /// A consistent scrape of the selected series, own metrics included.
    pub async fn scrape(&self, sel: Selector) -> Result<Scrape, super::ApiError> {
        let mut views = self.collect(sel.clone()).await?;
        let traffic = self.traffic.read(sel.service.as_deref());
        views.extend(traffic.into_iter().filter(|(k, _)| sel.matches(k)));
        let own = own_families(&self.counters, self.started, &sel);
        Ok(assemble(views, &self.registry.read(), own))
    }
}
