//! One subscriber's bounded queue of outgoing messages. The hub pushes without ever waiting;
//! when the subscriber has fallen `capacity` messages behind, the oldest one is dropped and
//! counted, so a subscriber that never reads slows nobody and holds bounded memory.

use crate::telemetry::Counters;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::Notify;

/// A bounded, drop-oldest queue from the hub (many pushes) to one subscriber's writer.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<VecDeque<String>>,
    capacity: usize,
    ready: Notify,
    counters: Arc<Counters>,
}

impl Outbox {
    /// A queue of at most `capacity` messages (at least 1), counting into `counters`.
    pub fn new(capacity: usize, counters: Arc<Counters>) -> Self {
        let capacity = capacity.max(1);
        Outbox {
            queue: Mutex::new(VecDeque::with_capacity(capacity.min(64))),
            capacity,
            ready: Notify::new(),
            counters,
        }
    }

    /// Queues `message`, dropping (and counting) the oldest one when the queue is full.
    pub fn push(&self, message: String) {
        let dropped = {
            let mut queue = self.queue.lock();
            let dropped = if queue.len() >= self.capacity {
                queue.pop_front().is_some()
            } else {
                false
            };
            queue.push_back(message);
            dropped
        };
        self.counters.stream_messages_queued.fetch_add(1, Relaxed);
        if dropped {
            self.counters.stream_messages_dropped.fetch_add(1, Relaxed);
        }
        self.ready.notify_one();
    }

    /// The oldest queued message, if any, without waiting.
    pub fn try_pop(&self) -> Option<String> {
        self.queue.lock().pop_front()
    }

    /// The oldest queued message, waiting for one.
    pub async fn pop(&self) -> String {
        loop {
            if let Some(message) = self.try_pop() {
                return message;
            }
            // A push between the check and here leaves a permit, so no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.queue.lock().len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_oldest_and_counts() {
        let counters = Arc::new(Counters::default());
        let outbox = Outbox::new(2, counters.clone());
        for m in ["a", "b", "c", "d"] {
            outbox.push(m.to_owned());
        }
        assert_eq!(outbox.len(), 2);
        assert_eq!(outbox.try_pop().as_deref(), Some("c"));
        assert_eq!(outbox.try_pop().as_deref(), Some("d"));
        assert!(outbox.is_empty());
        assert_eq!(counters.stream_messages_dropped.load(Relaxed), 2);
        assert_eq!(counters.stream_messages_queued.load(Relaxed), 4);
    }

    #[test]
    fn pop_waits_for_a_push() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let outbox = Arc::new(Outbox::new(4, Arc::new(Counters::default())));
        let pusher = outbox.clone();
        let got = rt.block_on(async move {
            let waiter = tokio::spawn(async move { outbox.pop().await });
            tokio::task::yield_now().await;
            pusher.push("x".to_owned());
            waiter.await.unwrap()
        });
        assert_eq!(got, "x");
    }
}
