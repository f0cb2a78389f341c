//! Lenient admission for StatsD over UDP: one datagram's type conflict must not cost the other
//! datagrams of its batch, and there is no one to answer, so conflicting events are left out
//! and counted while the rest is routed.

use super::Collector;
use crate::model::Event;
use actix::{Context, Handler, Message};

/// Admit what can be admitted of a batch: events whose type conflicts with their metric's are
/// left out and counted as rejected; the rest is routed as one batch.
#[derive(Message)]
#[rtype(result = "LenientOutcome")]
pub struct IngestLenient(pub Vec<Event>);

/// What became of a lenient batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, actix::MessageResponse)]
pub struct LenientOutcome {
    /// Events admitted and routed to the shards.
    pub accepted: usize,
    /// Events left out because their type conflicts with their metric's.
    pub refused: usize,
}

impl Handler<IngestLenient> for Collector {
    type Result = LenientOutcome;

    /// Admits the batch minus its conflicting events, then routes it.
    fn handle(&mut self, msg: IngestLenient, _: &mut Context<Self>) -> LenientOutcome {
        let mut events = msg.0;
        let mut refused = 0;
        {
            let mut registry = self.registry().write();
            if let Err(conflicts) = registry.admit(&events) {
                refused = conflicts.len();
                // The conflicts come in index order.
                let mut bad = conflicts.iter().map(|c| c.index).peekable();
                let mut index = 0;
                events.retain(|_| {
                    let keep = bad.next_if_eq(&index).is_none();
                    index += 1;
                    keep
                });
                // What is left agrees with the registry and with itself (the first event of a
                // new metric set its type, and every later one that disagreed is gone), all
                // under the same lock; refusing the rest is only a safety net.
                if registry.admit(&events).is_err() {
                    refused += events.len();
                    events.clear();
                }
            }
        }
        if refused > 0 {
            self.counters().events_refused(refused);
        }
        let accepted = if events.is_empty() {
            0
        } else {
            self.route_admitted(events)
        };
        LenientOutcome { accepted, refused }
    }
}
