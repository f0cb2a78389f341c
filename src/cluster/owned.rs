//! One partition as its owner holds it: today's aggregation (a [`ShardState`]) over the
//! partition's series, the families its events registered, and the stream position applied.
//! Entries are applied at their positions the way recovery replays the write-ahead log: each
//! position once, in order, meters and timers counting from the admission time logged.

use super::read::PartView;
use super::wire::Entry;
use crate::aggregate::{decode_series, encode_series, AggregateSettings, ShardState};
use crate::clock::Clock;
use crate::model::{Event, Scope, SeriesKey, ValueView};
use crate::model::{Kind, Selector};
use crate::registry::{Registry, SavedFamily};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// What applying one entry did.
#[derive(Debug, PartialEq)]
pub enum Applied {
    /// The position was applied already (a replay overlapping the state); nothing changed.
    Skipped,
    /// A batch's events were applied; `refused` of them left out for a type conflict.
    Batch {
        /// Events applied.
        applied: usize,
        /// Events left out: their kind conflicts with their family's in this partition.
        refused: usize,
    },
    /// A reset marker: the selected series were drained at this position.
    Reset {
        /// Where the drained views go.
        reply: String,
        /// The drained part of this partition.
        part: PartView,
    },
    /// A pending part of a batch over several partitions: held until its marker.
    Pending,
    /// An abort marker: the parts held of its batch (`events` events) were dropped.
    Dropped {
        /// Events dropped.
        events: usize,
    },
    /// A commit or abort marker of a batch with no part held here (a second marker of it).
    Unmatched,
    /// The payload is not an entry; skipped.
    Undecodable,
}

/// A batch's part held until its commit or abort marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    admitted_ms: i64,
    events: Vec<Event>,
}

/// A partition's state at a position.
pub struct PartitionState {
    partition: u32,
    shard: ShardState,
    families: Registry,
    position: u64,
    /// Parts of batches over several partitions whose marker has not come yet, by batch id.
    pending: BTreeMap<String, Held>,
}

/// A partition's checkpoint as stored (the `state` of `{state, position, epoch}`): its
/// families and series, and the clocks' readings when it was taken (so that ages survive the
/// move to another process).
#[derive(Serialize, Deserialize)]
struct Saved {
    taken_ms: i64,
    taken_mono: u64,
    families: Vec<SavedFamily>,
    series: Vec<u8>,
    pending: BTreeMap<String, Held>,
}

/// [`Saved`] as checkpoints were written before batches over several partitions were held
/// pending: read so that an upgraded owner loads them instead of replaying the partition.
#[derive(Deserialize)]
struct SavedBeforeParts {
    taken_ms: i64,
    taken_mono: u64,
    families: Vec<SavedFamily>,
    series: Vec<u8>,
}

impl From<SavedBeforeParts> for Saved {
    fn from(old: SavedBeforeParts) -> Saved {
        Saved {
            taken_ms: old.taken_ms,
            taken_mono: old.taken_mono,
            families: old.families,
            series: old.series,
            pending: BTreeMap::new(),
        }
    }
}

/// Maps an epoch-millisecond time of the stream to `clock`'s monotonic reading.
fn mono(clock: &dyn Clock, ms: i64) -> u64 {
    let (now_mono, now_ms) = (clock.monotonic_nanos(), clock.epoch_millis());
    let ago = i128::from(now_ms.saturating_sub(ms).max(0)) * 1_000_000;
    u64::try_from((i128::from(now_mono) - ago).max(0)).unwrap_or(0)
}

impl PartitionState {
    /// Partition `partition` empty, before its first position.
    pub fn new(partition: u32, settings: AggregateSettings) -> Self {
        PartitionState {
            partition,
            shard: ShardState::new(settings),
            families: Registry::default(),
            position: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Which partition this is.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The last stream position applied (0: none).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.shard.len()
    }

    /// True when no series is held.
    pub fn is_empty(&self) -> bool {
        self.shard.is_empty()
    }

    /// Applies the message at stream position `position`, once: a position at or below the
    /// one applied is skipped. A batch is applied at once; a part of a batch over several
    /// partitions is held until its batch's commit marker (applied then) or abort marker
    /// (dropped).
    pub fn apply(&mut self, position: u64, payload: &[u8], clock: &dyn Clock) -> Applied {
        if position <= self.position {
            return Applied::Skipped;
        }
        self.position = position;
        match Entry::decode(payload) {
            None => Applied::Undecodable,
            Some(Entry::Batch {
                admitted_ms,
                events,
            }) => self.apply_batch(admitted_ms, events, clock),
            Some(Entry::Part {
                tx,
                admitted_ms,
                events,
            }) => {
                let held = self.pending.entry(tx).or_insert(Held {
                    admitted_ms,
                    events: Vec::new(),
                });
                held.events.extend(events);
                Applied::Pending
            }
            Some(Entry::Commit { tx }) => match self.pending.remove(&tx) {
                Some(held) => self.apply_batch(held.admitted_ms, held.events, clock),
                None => Applied::Unmatched,
            },
            Some(Entry::Abort { tx }) => match self.pending.remove(&tx) {
                Some(held) => Applied::Dropped {
                    events: held.events.len(),
                },
                None => Applied::Unmatched,
            },
            Some(Entry::Reset {
                at_ms,
                selector,
                reply,
            }) => {
                let views = self.shard.drain(&selector, mono(clock, at_ms));
                Applied::Reset {
                    reply,
                    part: self.part(views),
                }
            }
        }
    }

    /// Applies a batch's events (or a committed batch's part) at the admission time: events
    /// whose kind conflicts with their family in this partition are left out (the ingesting
    /// node checked the families it knows; two nodes may take conflicting kinds at once).
    fn apply_batch(
        &mut self,
        admitted_ms: i64,
        mut events: Vec<Event>,
        clock: &dyn Clock,
    ) -> Applied {
        let conflicts = self.families.conflicts(&events);
        let refused = conflicts.len();
        if refused > 0 {
            let bad: HashSet<usize> = conflicts.iter().map(|c| c.index).collect();
            let mut index = 0;
            events.retain(|_| {
                index += 1;
                !bad.contains(&(index - 1))
            });
        }
        // No conflict is left: this registers the new families.
        let _ = self.families.admit(&events);
        let applied = events.len();
        self.shard
            .apply_at(events, mono(clock, admitted_ms), admitted_ms);
        Applied::Batch { applied, refused }
    }

    /// When batch `tx`, whose part is held here, was admitted (epoch milliseconds).
    pub fn held_admitted_ms(&self, tx: &str) -> Option<i64> {
        self.pending.get(tx).map(|held| held.admitted_ms)
    }

    /// The ids of the batches with a part held here, waiting for their marker.
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(String::as_str)
    }

    /// Views of the selected series (without quantiles when `measure`: stream subscriptions).
    pub fn read(&mut self, selector: &Selector, measure: bool, clock: &dyn Clock) -> PartView {
        let now = clock.monotonic_nanos();
        let views = if measure {
            self.shard.measure(selector, now)
        } else {
            self.shard.collect(selector, now)
        };
        self.part(views)
    }

    /// `views` of this partition with the families they belong to, at the position applied.
    fn part(&self, views: Vec<(SeriesKey, ValueView)>) -> PartView {
        let mut named: HashSet<(&str, Scope, &str)> = HashSet::new();
        let mut families = Vec::new();
        for (key, _) in &views {
            if named.insert((&key.service, key.scope, &key.name)) {
                if let Some(info) = self.families.get(&key.service, key.scope, &key.name) {
                    families.push((
                        key.service.to_string(),
                        key.scope,
                        key.name.to_string(),
                        info.clone(),
                    ));
                }
            }
        }
        PartView {
            partition: self.partition,
            position: self.position,
            views,
            families,
        }
    }

    /// The state as checkpoint bytes (the position and epoch go beside them).
    pub fn save(&self, clock: &dyn Clock) -> Vec<u8> {
        let saved = Saved {
            taken_ms: clock.epoch_millis(),
            taken_mono: clock.monotonic_nanos(),
            families: self.families.pushed(),
            series: encode_series(&self.shard),
            pending: self.pending.clone(),
        };
        // Serializing plain data into a Vec cannot fail.
        postcard::to_allocvec(&saved).unwrap_or_default()
    }

    /// Partition `partition` from checkpoint bytes saved at `position` (by any node), its
    /// monotonic readings moved onto `clock`.
    pub fn load(
        partition: u32,
        settings: AggregateSettings,
        position: u64,
        bytes: &[u8],
        clock: &dyn Clock,
    ) -> Result<Self, String> {
        let saved: Saved = match postcard::from_bytes(bytes) {
            Ok(saved) => saved,
            Err(e) => postcard::from_bytes::<SavedBeforeParts>(bytes)
                .map(Saved::from)
                .map_err(|_| e.to_string())?,
        };
        let cut = crate::persist::Cut {
            format: crate::persist::FORMAT,
            position,
            taken_ms: saved.taken_ms,
            taken_mono: saved.taken_mono,
        };
        let shift = cut.shift(clock.monotonic_nanos(), clock.epoch_millis());
        let image = decode_series(&saved.series, shift).map_err(|e| e.to_string())?;
        let mut state = PartitionState::new(partition, settings);
        for (key, series, id, down) in image.series {
            state.shard.restore(key, series, id, down);
        }
        for (service, scope, name, info) in saved.families {
            state.families.restore(&service, scope, &name, info);
        }
        state.position = position;
        state.pending = saved.pending;
        Ok(state)
    }

    /// The kind of the family `(service, scope, name)` here, if registered.
    pub fn kind_of(&self, service: &str, scope: Scope, name: &str) -> Option<Kind> {
        self.families.get(service, scope, name).map(|f| f.kind)
    }
}

/// [`Entry`]'s variants that ingest writes, borrowing their events: the variants must keep
/// their places as in [`Entry`] (postcard writes the variant's index).
#[derive(Serialize)]
enum EntryRef<'a> {
    Batch {
        admitted_ms: i64,
        events: &'a [Event],
    },
    /// Never written from here; keeps `Part` at its index.
    #[allow(dead_code)]
    Reset,
    Part {
        tx: &'a str,
        admitted_ms: i64,
        events: &'a [Event],
    },
}

/// A batch entry of `events` as a payload (what ingest publishes), encoded without a copy.
pub fn batch_payload(admitted_ms: i64, events: &[Event]) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_allocvec(&EntryRef::Batch {
        admitted_ms,
        events,
    })
    .unwrap_or_default()
}

/// A pending part of batch `tx` as a payload, encoded without a copy.
pub fn part_payload(tx: &str, admitted_ms: i64, events: &[Event]) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_allocvec(&EntryRef::Part {
        tx,
        admitted_ms,
        events,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn event(name: &str, kind: Kind, value: f64) -> Event {
        let key = SeriesKey::simple(Scope::Application, name, vec![("k".into(), "v".into())]);
        Event::observe(key, kind, value, 1_000)
    }

    fn all(state: &mut PartitionState, clock: &dyn Clock) -> Vec<(SeriesKey, ValueView)> {
        let mut views = state.read(&Selector::default(), false, clock).views;
        views.sort_by(|a, b| a.0.cmp(&b.0));
        views
    }

    #[test]
    fn batch_and_part_payloads_are_their_entries() {
        let events = vec![event("c", Kind::Counter, 2.0), event("t", Kind::Timer, 3.0)];
        assert_eq!(
            Entry::decode(&part_payload("tx1", 5, &events)),
            Some(Entry::Part {
                tx: "tx1".into(),
                admitted_ms: 5,
                events: events.clone()
            })
        );
        assert_eq!(
            Entry::decode(&batch_payload(5, &events)),
            Some(Entry::Batch {
                admitted_ms: 5,
                events
            })
        );
    }

    #[test]
    fn each_position_applies_once_in_order() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(3, AggregateSettings::default());
        let payload = batch_payload(10_000, &[event("c", Kind::Counter, 2.0)]);
        assert_eq!(
            p.apply(5, &payload, &clock),
            Applied::Batch {
                applied: 1,
                refused: 0
            }
        );
        assert_eq!(p.apply(5, &payload, &clock), Applied::Skipped);
        assert_eq!(p.apply(4, &payload, &clock), Applied::Skipped);
        assert_eq!(p.apply(6, b"\xff\xff", &clock), Applied::Undecodable);
        assert_eq!(p.position(), 6);
        assert_eq!(all(&mut p, &clock)[0].1, ValueView::Counter(2.0));
    }

    #[test]
    fn a_conflicting_kind_is_left_out_of_the_batch() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(0, AggregateSettings::default());
        p.apply(
            1,
            &batch_payload(0, &[event("x", Kind::Counter, 1.0)]),
            &clock,
        );
        let mixed = vec![event("x", Kind::Gauge, 9.0), event("x", Kind::Counter, 4.0)];
        assert_eq!(
            p.apply(2, &batch_payload(0, &mixed), &clock),
            Applied::Batch {
                applied: 1,
                refused: 1
            }
        );
        assert_eq!(all(&mut p, &clock)[0].1, ValueView::Counter(5.0));
        assert_eq!(
            p.kind_of("default-service", Scope::Application, "x"),
            Some(Kind::Counter)
        );
    }

    #[test]
    fn a_reset_marker_drains_at_its_position() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(1, AggregateSettings::default());
        p.apply(
            1,
            &batch_payload(0, &[event("c", Kind::Counter, 3.0)]),
            &clock,
        );
        let marker = Entry::Reset {
            at_ms: 10_000,
            selector: Selector::default(),
            reply: "inbox.1".into(),
        };
        let Applied::Reset { reply, part } = p.apply(2, &marker.encode(), &clock) else {
            panic!("not a reset");
        };
        assert_eq!(reply, "inbox.1");
        assert_eq!((part.partition, part.position), (1, 2));
        assert_eq!(part.views[0].1, ValueView::Counter(3.0));
        assert_eq!(part.families.len(), 1);
        p.apply(
            3,
            &batch_payload(0, &[event("c", Kind::Counter, 1.0)]),
            &clock,
        );
        assert_eq!(all(&mut p, &clock)[0].1, ValueView::Counter(1.0));
    }

    #[test]
    fn a_checkpoint_restores_on_another_clock_and_replay_continues_after_it() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(2, AggregateSettings::default());
        let timer = |v| event("t", Kind::Timer, v);
        p.apply(7, &batch_payload(10_000, &[timer(5.0), timer(7.0)]), &clock);
        p.apply(
            8,
            &batch_payload(10_000, &[event("g", Kind::Gauge, 4.0)]),
            &clock,
        );
        let bytes = p.save(&clock);
        let later = ManualClock::starting_at(20_000);
        let mut back =
            PartitionState::load(2, AggregateSettings::default(), 8, &bytes, &later).unwrap();
        assert_eq!((back.partition(), back.position(), back.len()), (2, 8, 2));
        let third = batch_payload(20_000, &[timer(9.0)]);
        assert_eq!(back.apply(8, &third, &later), Applied::Skipped);
        p.apply(9, &third, &clock);
        back.apply(9, &third, &later);
        let count = |views: Vec<(SeriesKey, ValueView)>| -> Vec<(String, Option<u64>)> {
            views
                .into_iter()
                .map(|(k, v)| match v {
                    ValueView::Timer(_, h) => (k.name.into(), Some(h.count)),
                    _ => (k.name.into(), None),
                })
                .collect()
        };
        assert_eq!(count(all(&mut back, &later)), count(all(&mut p, &clock)));
        assert_eq!(
            back.kind_of("default-service", Scope::Application, "t"),
            Some(Kind::Timer)
        );
        assert!(PartitionState::load(2, AggregateSettings::default(), 8, b"\x01", &later).is_err());
    }

    #[test]
    fn a_part_waits_for_its_commit_and_an_aborted_one_is_dropped() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(0, AggregateSettings::default());
        let commit = |tx: &str| Entry::Commit { tx: tx.into() }.encode();
        let abort = |tx: &str| Entry::Abort { tx: tx.into() }.encode();
        let part = |tx: &str, v| part_payload(tx, 10_000, &[event("c", Kind::Counter, v)]);
        assert_eq!(p.apply(1, &part("a", 2.0), &clock), Applied::Pending);
        assert_eq!(p.apply(2, &part("a", 3.0), &clock), Applied::Pending);
        assert_eq!(p.apply(3, &part("b", 100.0), &clock), Applied::Pending);
        assert!(
            all(&mut p, &clock).is_empty(),
            "a pending part is not visible"
        );
        assert_eq!(p.pending().collect::<Vec<_>>(), ["a", "b"]);
        // A reset between a part and its commit leaves the part for after the cut.
        let marker = Entry::Reset {
            at_ms: 10_000,
            selector: Selector::default(),
            reply: "r".into(),
        };
        let Applied::Reset { part: drained, .. } = p.apply(4, &marker.encode(), &clock) else {
            panic!("not a reset");
        };
        assert!(drained.views.is_empty());
        assert_eq!(
            p.apply(5, &commit("a"), &clock),
            Applied::Batch {
                applied: 2,
                refused: 0
            }
        );
        assert_eq!(
            p.apply(6, &abort("b"), &clock),
            Applied::Dropped { events: 1 }
        );
        assert_eq!(p.apply(7, &commit("b"), &clock), Applied::Unmatched);
        assert_eq!(p.apply(8, &abort("a"), &clock), Applied::Unmatched);
        assert_eq!(all(&mut p, &clock)[0].1, ValueView::Counter(5.0));
        assert_eq!(p.pending().count(), 0);
    }

    #[test]
    fn pending_parts_survive_a_checkpoint() {
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(4, AggregateSettings::default());
        let part = part_payload("t", 10_000, &[event("c", Kind::Counter, 7.0)]);
        p.apply(1, &part, &clock);
        let bytes = p.save(&clock);
        let mut back =
            PartitionState::load(4, AggregateSettings::default(), 1, &bytes, &clock).unwrap();
        assert_eq!(back.pending().collect::<Vec<_>>(), ["t"]);
        back.apply(2, &Entry::Commit { tx: "t".into() }.encode(), &clock);
        assert_eq!(all(&mut back, &clock)[0].1, ValueView::Counter(7.0));
    }

    #[test]
    fn a_checkpoint_from_before_held_parts_still_loads() {
        #[derive(Serialize)]
        struct Old {
            taken_ms: i64,
            taken_mono: u64,
            families: Vec<SavedFamily>,
            series: Vec<u8>,
        }
        let clock = ManualClock::starting_at(10_000);
        let mut p = PartitionState::new(1, AggregateSettings::default());
        p.apply(
            3,
            &batch_payload(10_000, &[event("c", Kind::Counter, 4.0)]),
            &clock,
        );
        let old = Old {
            taken_ms: clock.epoch_millis(),
            taken_mono: clock.monotonic_nanos(),
            families: p.families.pushed(),
            series: encode_series(&p.shard),
        };
        let bytes = postcard::to_allocvec(&old).unwrap();
        let mut back =
            PartitionState::load(1, AggregateSettings::default(), 3, &bytes, &clock).unwrap();
        assert_eq!(all(&mut back, &clock)[0].1, ValueView::Counter(4.0));
        assert_eq!(back.pending().count(), 0);
    }
}
