//! What the HTTP edge holds: a cheap handle to start subscriptions, and the wiring that starts
//! the host sampler and the hub.

use super::filter::Filters;
use super::gate::{Gate, Permit};
use super::groups::{Subscriber, Wire};
use super::hub::{Hub, Subscribe, Unsubscribe};
use super::outbox::Outbox;
use super::system::SystemMonitor;
use crate::aggregate::Shards;
use crate::clock::SharedClock;
use crate::config;
use crate::telemetry::{Counters, SystemSampler};
use actix::{Actor, Addr, Arbiter};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A handle to the subscription machinery, cloned into every HTTP worker.
#[derive(Clone)]
pub struct Streams {
    hub: Addr<Hub>,
    gate: Gate,
    buffer: usize,
    counters: Arc<Counters>,
    next_id: Arc<AtomicU64>,
}

impl Streams {
    /// Starts the host sampler and the hub on an arbiter of their own, so that filtering and
    /// writing messages for many subscribers never runs on an HTTP worker or a shard. In a
    /// `cluster` the hub reads every partition's owner instead of the local shards.
    pub fn start(
        shards: Shards,
        clock: SharedClock,
        counters: Arc<Counters>,
        settings: &config::Streams,
        cluster: Option<crate::cluster::Node>,
    ) -> Streams {
        let arbiter = Arbiter::new();
        let (monitor, readings) = SystemMonitor::new(SystemSampler::new());
        SystemMonitor::start_in_arbiter(&arbiter.handle(), move |_| monitor);
        let hub = Hub::start_in_arbiter(&arbiter.handle(), move |_| {
            Hub::new(shards, readings, clock).with_cluster(cluster)
        });
        Streams {
            hub,
            gate: Gate::new(settings.max_subscribers, counters.clone()),
            buffer: settings.buffer,
            counters,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// A place for one more subscriber, or `None` when `max_subscribers` are open.
    pub fn enter(&self) -> Option<Permit> {
        self.gate.enter()
    }

    /// The most subscribers open at once (0: subscriptions are off).
    pub fn max_subscribers(&self) -> usize {
        self.gate.max()
    }

    /// Subscribes: every `period`, what `filters` wants is written as `wire` into the
    /// subscription's own outbox. Dropping the subscription ends it.
    pub fn subscribe(&self, period: Duration, filters: Filters, wire: Wire) -> Subscription {
        let id = self.next_id.fetch_add(1, Relaxed);
        let outbox = Arc::new(Outbox::new(self.buffer, self.counters.clone()));
        self.hub.do_send(Subscribe {
            period,
            subscriber: Subscriber {
                id,
                filters,
                wire,
                outbox: outbox.clone(),
            },
        });
        Subscription {
            id,
            hub: self.hub.clone(),
            outbox,
        }
    }
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    hub: Addr<Hub>,
    outbox: Arc<Outbox>,
}

impl Subscription {
    /// Where its messages arrive.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.do_send(Unsubscribe(self.id));
    }
}
