//! What a cluster's stream holds: one [`Entry`] per message of a partition's subject, in
//! postcard (as the write-ahead log's records), its stream sequence being its position.

use crate::model::{Event, Selector};
use serde::{Deserialize, Serialize};

/// One message of a partition: a batch's part, a reset marker, or the pieces of a batch that
/// spans partitions (its pending parts and the marker that commits or aborts them here).
///
/// A batch whose events fall in one partition is one [`Entry::Batch`]: one message, stored or
/// not. A batch over several partitions is written as [`Entry::Part`]s, pending until its
/// outcome is decided once for all its partitions (the first decision stored for the batch,
/// see [`super::nats::decision`]) and marked in each partition by [`Entry::Commit`] or
/// [`Entry::Abort`]: a part is applied at its commit marker's position, or dropped, so a batch
/// is never applied in some partitions and not in others. New variants go last (postcard
/// writes the variant's index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// The events of one ingested batch that belong to this partition, admitted at
    /// `admitted_ms` (epoch milliseconds) by the node that took the batch.
    Batch {
        /// When the ingesting node admitted the batch; meters and timers count from then.
        admitted_ms: i64,
        /// The events, in their order in the batch.
        events: Vec<Event>,
    },
    /// A cut of a cluster-wide get-and-reset: the owner drains the selected series at this
    /// message's position and sends what it drained to `reply` (the requester's inbox).
    Reset {
        /// When the reset was asked.
        at_ms: i64,
        /// The series reset.
        selector: Selector,
        /// The NATS subject the drained views go to.
        reply: String,
    },
    /// A pending part of batch `tx`, which spans several partitions: held, not applied, until
    /// this partition's [`Entry::Commit`] or [`Entry::Abort`] of `tx`.
    Part {
        /// The batch's id, the same in every partition it touches.
        tx: String,
        /// When the ingesting node admitted the batch.
        admitted_ms: i64,
        /// This partition's events of the batch (a large part comes as several `Part`s).
        events: Vec<Event>,
    },
    /// Batch `tx` is committed: its parts held here are applied at this position.
    Commit {
        /// The batch's id.
        tx: String,
    },
    /// Batch `tx` is aborted: its parts held here are dropped.
    Abort {
        /// The batch's id.
        tx: String,
    },
}

impl Entry {
    /// The entry as a message payload.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// A payload read back; `None` when it is not an entry (written by another version?).
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        postcard::from_bytes(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Scope, SeriesKey};

    #[test]
    fn entries_round_trip_and_garbage_is_none() {
        let batch = Entry::Batch {
            admitted_ms: 1_700_000_000_000,
            events: vec![Event::observe(
                SeriesKey::simple(Scope::Application, "a", vec![("k".into(), "v".into())]),
                Kind::Timer,
                12.5,
                5,
            )],
        };
        let reset = Entry::Reset {
            at_ms: 7,
            selector: Selector::default(),
            reply: "_INBOX.x".into(),
        };
        let part = Entry::Part {
            tx: "t1".into(),
            admitted_ms: 9,
            events: vec![],
        };
        let marks = [
            Entry::Commit { tx: "t1".into() },
            Entry::Abort { tx: "t1".into() },
        ];
        for entry in [batch, reset, part].into_iter().chain(marks) {
            assert_eq!(Entry::decode(&entry.encode()), Some(entry));
        }
        assert_eq!(Entry::decode(&[0xff, 0xff, 0xff]), None);
    }
}
