//! Lenient admission for StatsD over UDP: one datagram's type conflict, or a new series beyond
//! a series limit, must not cost the other datagrams of its batch, and there is no one to
//! answer, so those events are left out and counted while the rest is admitted, logged and
//! routed like any batch.

use super::{Collector, CollectorError};
use crate::model::Event;
use crate::persist::{confirmed, ticket};
use actix::{Context, Handler, Message, ResponseFuture};

/// Admit what can be admitted of a batch: events whose type conflicts with their metric's, and
/// events of new series beyond a series limit, are left out and counted as refused; the rest goes through the same admission as [`Submit`]
/// (limits, the write-ahead log, routing). Answered once the log confirms.
///
/// [`Submit`]: super::Submit
#[derive(Message)]
#[rtype(result = "LenientOutcome")]
pub struct IngestLenient(pub Vec<Event>);

/// What became of a lenient batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LenientOutcome {
    /// Observations admitted, logged and routed to the shards (a folded event counts as the
    /// lines it stands for, see [`Event::weight`]).
    pub accepted: usize,
    /// Observations left out: their type conflicts with their metric's, or a series limit
    /// refused them.
    pub refused: usize,
    /// Observations meterd could not take now (a queue was full, or the log failed).
    pub dropped: usize,
}

impl Handler<IngestLenient> for Collector {
    type Result = ResponseFuture<LenientOutcome>;

    /// Admits the batch minus its conflicting events; the answer waits for the log.
    fn handle(&mut self, msg: IngestLenient, ctx: &mut Context<Self>) -> Self::Result {
        let mut events = msg.0;
        let conflicts = self.admission.registry().read().conflicts(&events);
        let conflicts: Vec<usize> = conflicts.iter().map(|c| c.index).collect();
        let mut refused = leave_out(&mut events, &conflicts);
        let over = self
            .admission
            .book()
            .over_limits(&events, self.admission.pipeline());
        refused += leave_out(&mut events, &over);
        let mut outcome = LenientOutcome {
            refused,
            ..LenientOutcome::default()
        };
        if outcome.refused > 0 {
            self.counters
                .record(crate::telemetry::Outcome::EventsRefused(outcome.refused));
        }
        let n = events.iter().map(Event::weight).sum();
        let admitted = (n > 0).then(|| {
            let (done, ticket) = ticket();
            self.admit(events, done).map(|()| ticket)
        });
        if matches!(admitted, Some(Ok(_))) {
            self.queue_send(ctx);
        }
        Box::pin(async move {
            match admitted {
                None => {}
                Some(Ok(ticket)) => match confirmed(ticket).await {
                    Ok(()) => outcome.accepted = n,
                    Err(_) => outcome.dropped = n,
                },
                Some(Err(CollectorError::Busy(_) | CollectorError::Wal(_))) => outcome.dropped = n,
                Some(Err(_)) => outcome.refused += n,
            }
            outcome
        })
    }
}

/// Removes the events at `indexes` (in ascending order) from `events`; answers how many
/// observations they stood for (see [`Event::weight`]).
fn leave_out(events: &mut Vec<Event>, indexes: &[usize]) -> usize {
    if indexes.is_empty() {
        return 0;
    }
    let mut bad = indexes.iter().copied().peekable();
    let mut index = 0;
    let mut left_out = 0;
    events.retain(|e| {
        let keep = bad.next_if_eq(&index).is_none();
        index += 1;
        if !keep {
            left_out += e.weight();
        }
        keep
    });
    left_out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Op, Scope, SeriesKey};

    fn ev(name: &str, op: Op) -> Event {
        Event {
            key: SeriesKey::simple(Scope::Application, name, vec![]),
            kind: Kind::Counter,
            value: 1.0,
            op,
            timestamp_ms: 5,
            meta: None,
        }
    }

    #[test]
    fn left_out_events_count_the_lines_they_stand_for() {
        let mut events = vec![
            ev("a", Op::Repeat(4)),
            ev("b", Op::Observe),
            ev("c", Op::Repeat(3)),
            ev("d", Op::Repeat(0)),
        ];
        // Refused: the folded `a` (4 lines) and `d` (one line, whatever its count says).
        assert_eq!(leave_out(&mut events, &[0, 3]), 5);
        let kept: Vec<_> = events.iter().map(|e| e.key.name.as_str()).collect();
        assert_eq!(kept, ["b", "c"]);
        // Accepted: what stays, by weight.
        assert_eq!(events.iter().map(Event::weight).sum::<usize>(), 4);
        assert_eq!(leave_out(&mut events, &[]), 0);
    }
}
