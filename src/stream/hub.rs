//! The hub actor: a thin shell that owns the subscriber [`Groups`], one timer per period, and
//! the [`Sharing`] of frames; it reads the shards and the host reading when a group ticks and
//! pushes each subscriber's message into its outbox, never waiting for a subscriber.

use super::frame::Frame;
use super::groups::{Groups, Subscriber};
use super::share::{Next, Sharing};
use super::system::SystemReading;
use crate::aggregate::Shards;
use crate::clock::SharedClock;
use crate::model::Selector;
use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, SpawnHandle, StreamHandler,
    WrapFuture,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_stream::wrappers::IntervalStream;
use tokio_stream::StreamExt;

/// Serves every subscription.
pub struct Hub {
    groups: Groups,
    sharing: Sharing,
    timers: HashMap<Duration, SpawnHandle>,
    shards: Shards,
    system: watch::Receiver<SystemReading>,
    clock: SharedClock,
    cluster: Option<crate::cluster::Node>,
}

impl Hub {
    /// A hub reading `shards` and the host readings of `system`.
    pub fn new(shards: Shards, system: watch::Receiver<SystemReading>, clock: SharedClock) -> Self {
        Hub {
            groups: Groups::default(),
            sharing: Sharing::default(),
            timers: HashMap::new(),
            shards,
            system,
            clock,
            cluster: None,
        }
    }

    /// Reads the series from a cluster's owners rather than from `shards`.
    pub fn with_cluster(mut self, cluster: Option<crate::cluster::Node>) -> Self {
        self.cluster = cluster;
        self
    }

    /// Starts a read of a frame; the shards too when `services`.
    fn read(&mut self, services: bool, ctx: &mut Context<Self>) {
        let system = self.system.borrow().clone();
        if !services {
            let frame = Frame::build(self.clock.epoch_millis(), &system, None);
            return self.finished(Some(Arc::new(frame)), ctx);
        }
        let gather: futures_util::future::LocalBoxFuture<'static, _> = match &self.cluster {
            Some(cluster) => {
                let cluster = cluster.clone();
                Box::pin(async move {
                    let read = cluster.read(Selector::default(), true).await;
                    read.inspect_err(
                        |e| tracing::warn!(error = %e, "a stream read of the cluster failed"),
                    )
                    .ok()
                    .map(|merged| merged.views)
                })
            }
            None => {
                let measured = self.shards.measure(&Selector::default());
                Box::pin(async move { measured.await.ok() })
            }
        };
        ctx.spawn(gather.into_actor(self).map(move |series, act, ctx| {
            let frame = series.map(|series| {
                Arc::new(Frame::build(
                    act.clock.epoch_millis(),
                    &system,
                    Some(series),
                ))
            });
            act.finished(frame, ctx);
        }));
    }

    /// A read ended: serve the groups that waited for it.
    fn finished(&mut self, frame: Option<Arc<Frame>>, ctx: &mut Context<Self>) {
        let done = self.sharing.done(frame.clone(), Instant::now());
        if let Some(frame) = frame {
            for period in done.serve {
                self.publish(period, &frame);
            }
        }
        if done.read_services {
            self.read(true, ctx);
        }
    }

    fn publish(&self, period: Duration, frame: &Frame) {
        for subscriber in self.groups.members(period) {
            subscriber.publish(frame);
        }
    }
}

impl Actor for Hub {
    type Context = Context<Self>;
}

/// Add a subscriber, served every `period`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// How often.
    pub period: Duration,
    /// Who, what and where.
    pub subscriber: Subscriber,
}

/// Remove the subscriber with this id.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub u64);

/// A group's timer fired.
#[derive(Message)]
#[rtype(result = "()")]
struct Tick(Duration);

impl Handler<Subscribe> for Hub {
    type Result = ();

    /// Adds the subscriber to its group, starting the group's timer when it is new.
    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) {
        let period = msg.period;
        if self.groups.add(period, msg.subscriber) {
            let mut every = tokio::time::interval_at((Instant::now() + period).into(), period);
            // A late tick moves the next one: data messages are never closer than the period.
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let ticks = IntervalStream::new(every).map(move |_| Tick(period));
            let handle = ctx.add_stream(ticks);
            self.timers.insert(period, handle);
        }
    }
}

impl Handler<Unsubscribe> for Hub {
    type Result = ();

    /// Removes the subscriber, stopping its group's timer when the group is now empty.
    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Context<Self>) {
        if let Some(period) = self.groups.remove(msg.0) {
            if let Some(handle) = self.timers.remove(&period) {
                ctx.cancel_future(handle);
            }
            self.sharing.forget(period);
        }
    }
}

impl StreamHandler<Tick> for Hub {
    /// Serves the group from a shared frame, or starts a read for it.
    fn handle(&mut self, Tick(period): Tick, ctx: &mut Context<Self>) {
        let members = self.groups.members(period);
        if members.is_empty() {
            return;
        }
        let services = members.iter().any(Subscriber::wants_services);
        match self.sharing.want(period, services, Instant::now()) {
            Next::Serve(frame) => self.publish(period, &frame),
            Next::Read { services } => self.read(services, ctx),
            Next::Wait => {}
        }
    }

    /// Timers never end by themselves; a cancelled one must not stop the hub.
    fn finished(&mut self, _: &mut Context<Self>) {}
}
