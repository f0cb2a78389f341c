//! Capturing accepted events as entities: the [`Encoder`] turns a batch into compact pending
//! records (a hash lookup per event; strings are cloned only for a series seen the first
//! time), and the [`EntitySink`] hands them to the keeper as one message per batch.

use super::actor::{Capture, EntityKeeper};
use super::series::Interner;
use super::store::Pending;
use crate::config::Rules;
use crate::model::Event;
use crate::persist::Position;
use actix::Addr;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Names whose capture decision is remembered at most; the memo is cleared beyond it.
const MEMO_LIMIT: usize = 100_000;

/// Where captured batches go: the shared series interner and the keeper of the ring.
#[derive(Clone)]
pub struct EntitySink {
    interner: Arc<Mutex<Interner>>,
    keeper: Addr<EntityKeeper>,
}

impl EntitySink {
    /// A sink into `keeper`, interning series in `interner`.
    pub fn new(interner: Arc<Mutex<Interner>>, keeper: Addr<EntityKeeper>) -> Self {
        EntitySink { interner, keeper }
    }

    /// Locks the interner, lets `encode` fill a batch with it, and sends the batch.
    pub fn send_with(&self, encode: impl FnOnce(&mut Interner) -> Vec<Pending>) {
        self.send_at(None, encode);
    }

    /// [`EntitySink::send_with`] for a batch logged at `position` (sent even when empty, so
    /// that the keeper knows the position is captured).
    pub fn send_at(
        &self,
        position: Option<Position>,
        encode: impl FnOnce(&mut Interner) -> Vec<Pending>,
    ) {
        let batch = encode(&mut self.interner.lock());
        if !batch.is_empty() || position.is_some() {
            self.keeper.do_send(Capture(batch, position));
        }
    }

    /// The keeper, for reads.
    pub fn keeper(&self) -> &Addr<EntityKeeper> {
        &self.keeper
    }
}

/// Which metric names are captured: all, unless a pipeline rule with `entities = false`
/// matches the name first. Decisions are remembered per name.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// `None` when no rule turns capture off (the common case: nothing to look up).
    rules: Option<Rules>,
    memo: HashMap<String, bool>,
}

impl Encoder {
    /// An encoder following the pipeline's rules.
    pub fn new(rules: &Rules) -> Self {
        let any_off = rules.as_slice().iter().any(|r| !r.entities);
        Encoder {
            rules: any_off.then(|| rules.clone()),
            memo: HashMap::new(),
        }
    }

    fn wanted(&mut self, name: &str) -> bool {
        let Some(rules) = &self.rules else {
            return true;
        };
        if let Some(&known) = self.memo.get(name) {
            return known;
        }
        let wanted = rules.first_match(name).is_none_or(|r| r.entities);
        if self.memo.len() >= MEMO_LIMIT {
            self.memo.clear();
        }
        self.memo.insert(name.to_owned(), wanted);
        wanted
    }

    /// The pending entities of an accepted batch, in its order.
    pub fn encode(&mut self, interner: &mut Interner, events: &[Event]) -> Vec<Pending> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if self.wanted(&e.key.name) {
                let pending = Pending {
                    entry: interner.intern(&e.key, e.kind),
                    value: e.value,
                    timestamp_ms: e.timestamp_ms,
                };
                // A folded event is as many entities as the observations it stands for.
                for _ in 1..e.weight() {
                    out.push(pending.clone());
                }
                out.push(pending);
            }
        }
        out
    }
}

/// The collector's hook: encodes each accepted batch, and sends what a turn of the collector
/// accepted to the keeper as one message ([`Capturer::send`]).
pub struct Capturer {
    encoder: Encoder,
    sink: EntitySink,
    /// Encoded and not sent yet.
    pending: Vec<Pending>,
    /// The position of the last batch encoded and not sent yet.
    position: Option<Position>,
}

impl Capturer {
    /// A capturer following `rules` into `sink`.
    pub fn new(rules: &Rules, sink: EntitySink) -> Self {
        Capturer {
            encoder: Encoder::new(rules),
            sink,
            pending: Vec::new(),
            position: None,
        }
    }

    /// Captures an accepted batch logged at `position` (one lock); it goes to the keeper with
    /// the next [`Capturer::send`].
    pub fn capture(&mut self, events: &[Event], position: Position) {
        let encoder = &mut self.encoder;
        let batch = encoder.encode(&mut self.sink.interner.lock(), events);
        if self.pending.is_empty() {
            self.pending = batch;
        } else {
            self.pending.extend(batch);
        }
        self.position = Some(position);
    }

    /// Sends every batch captured since the last send as one message, marked with the last
    /// one's position (which covers those before it).
    pub fn send(&mut self) {
        if let Some(position) = self.position.take() {
            let batch = std::mem::take(&mut self.pending);
            self.sink.send_at(Some(position), |_| batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rule;
    use crate::model::{Kind, Op, Scope, SeriesKey};

    fn ev(name: &str) -> Event {
        Event {
            key: SeriesKey::simple(Scope::Application, name, vec![]),
            kind: Kind::Counter,
            value: 2.0,
            op: Op::Observe,
            timestamp_ms: 5,
            meta: None,
        }
    }

    #[test]
    fn rules_turn_capture_off_by_name() {
        let mut off = Rule::matching("internal.*");
        off.entities = false;
        let rules = Rules::new(vec![off, Rule::matching("*")]).unwrap();
        let mut encoder = Encoder::new(&rules);
        let mut interner = Interner::default();
        let batch = [
            ev("internal.queue"),
            ev("orders"),
            ev("internal.queue"),
            ev("orders"),
        ];
        let pending = encoder.encode(&mut interner, &batch);
        assert_eq!(pending.len(), 2);
        assert!(pending.iter().all(|p| p.entry.name() == "orders"));
        assert!(Arc::ptr_eq(&pending[0].entry, &pending[1].entry));
        assert_eq!(interner.len(), 1);

        let mut all = Encoder::new(&Rules::default());
        assert_eq!(all.encode(&mut interner, &batch).len(), 4);
    }
}
