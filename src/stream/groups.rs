//! Subscribers grouped by period: every group is served from one frame per tick, however many
//! subscribers it has.

use super::filter::Filters;
use super::frame::{Frame, SERVICE_PREFIX};
use super::message::{data_event, data_message, select};
use super::outbox::Outbox;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How a subscriber's data messages are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Whole Ditto data messages on this topic (WebSocket).
    Ditto {
        /// The data messages' topic.
        topic: String,
    },
    /// `data: <value>` events (Server-Sent Events).
    Sse,
}

/// One subscription.
#[derive(Debug)]
pub struct Subscriber {
    /// Unique id, for unsubscribing.
    pub id: u64,
    /// What it wants.
    pub filters: Filters,
    /// How its messages are written.
    pub wire: Wire,
    /// Where its messages go.
    pub outbox: Arc<Outbox>,
}

impl Subscriber {
    /// Queues what this subscriber wants of `frame`, if anything.
    pub fn publish(&self, frame: &Frame) {
        if let Some(value) = select(frame, &self.filters) {
            let message = match &self.wire {
                Wire::Ditto { topic } => data_message(topic, &value),
                Wire::Sse => data_event(&value),
            };
            self.outbox.push(message);
        }
    }

    /// True when this subscriber may want pushed metrics (so the shards must be read).
    pub fn wants_services(&self) -> bool {
        self.filters.may_want_originators(SERVICE_PREFIX)
    }
}

/// Subscribers by period.
#[derive(Debug, Default)]
pub struct Groups {
    by_period: BTreeMap<Duration, Vec<Subscriber>>,
    period_of: HashMap<u64, Duration>,
}

impl Groups {
    /// Adds a subscriber; true when it opens a new group (which then needs a timer).
    pub fn add(&mut self, period: Duration, subscriber: Subscriber) -> bool {
        if let Some(old) = self.period_of.insert(subscriber.id, period) {
            self.detach(subscriber.id, old);
        }
        let group = self.by_period.entry(period).or_default();
        group.push(subscriber);
        group.len() == 1
    }

    /// Removes a subscriber; answers its period when that left its group empty (whose timer
    /// should then stop).
    pub fn remove(&mut self, id: u64) -> Option<Duration> {
        let period = self.period_of.remove(&id)?;
        self.detach(id, period).then_some(period)
    }

    /// Takes `id` out of the group of `period`; true when the group is now gone.
    fn detach(&mut self, id: u64, period: Duration) -> bool {
        let Some(group) = self.by_period.get_mut(&period) else {
            return false;
        };
        group.retain(|s| s.id != id);
        if group.is_empty() {
            self.by_period.remove(&period);
            return true;
        }
        false
    }

    /// The subscribers of one period.
    pub fn members(&self, period: Duration) -> &[Subscriber] {
        self.by_period.get(&period).map_or(&[], Vec::as_slice)
    }

    /// Subscribers in all.
    pub fn len(&self) -> usize {
        self.period_of.len()
    }

    /// True when nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.period_of.is_empty()
    }

    /// Distinct periods in use.
    pub fn periods(&self) -> usize {
        self.by_period.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Counters;

    fn sub(id: u64) -> Subscriber {
        Subscriber {
            id,
            filters: Filters::default(),
            wire: Wire::Sse,
            outbox: Arc::new(Outbox::new(4, Arc::new(Counters::default()))),
        }
    }

    #[test]
    fn groups_open_and_close_with_their_members() {
        let (s1, s2) = (Duration::from_secs(1), Duration::from_secs(2));
        let mut g = Groups::default();
        assert!(g.add(s1, sub(1)));
        assert!(!g.add(s1, sub(2)));
        assert!(g.add(s2, sub(3)));
        assert_eq!((g.len(), g.periods()), (3, 2));
        assert_eq!(g.members(s1).len(), 2);
        assert_eq!(g.remove(1), None);
        assert_eq!(g.remove(2), Some(s1));
        assert_eq!(g.remove(2), None);
        assert!(g.members(s1).is_empty());
        assert_eq!(g.remove(3), Some(s2));
        assert!(g.is_empty());
    }

    #[test]
    fn publish_queues_only_wanted_frames() {
        let s = sub(1);
        let frame = Frame::build(5, &[("pids", 2.0)], None);
        s.publish(&frame);
        assert_eq!(
            s.outbox.try_pop().unwrap(),
            "data: {\"snapshot\":[{\"originator\":\"SYSTEM\",\"measurements\":[{\"id\":\"pids\",\"value\":2}]}],\"timestamp\":5}\n\n"
        );
        let picky = Subscriber {
            filters: crate::stream::request::parse_query(&[("id".into(), "disk.*".into())])
                .unwrap()
                .filters,
            ..sub(2)
        };
        picky.publish(&frame);
        assert!(picky.outbox.is_empty());
        assert!(s.wants_services());
    }
}
