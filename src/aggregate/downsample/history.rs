//! What a shard has closed but not yet seen written: pending buckets (not sent yet) and
//! batches in flight to the history writer, numbered so that a read can tell which of them
//! the store already holds.

use super::Bucket;
use crate::model::{Kind, SeriesKey};
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// A closed (or partial, late) bucket of one series and tier, on its way to the store.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClosedBucket {
    /// Series id.
    pub series: u64,
    /// Tier index.
    pub tier: u8,
    /// Bucket start, epoch ms.
    pub start: i64,
    /// The summary; merged into what the store holds for the same bucket.
    pub bucket: Bucket,
}

/// A series the store does not know yet: its id, key and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSeries {
    /// The id the shard gave it.
    pub id: u64,
    /// Its key.
    pub key: SeriesKey,
    /// Its kind.
    pub kind: Kind,
}

/// One batch for the history writer: what shard `shard` closed up to checkpoint `seq`.
#[derive(Debug, Clone)]
pub struct Flush {
    /// The shard that sent it.
    pub shard: usize,
    /// The checkpoint's number: its log position, or one above the previous checkpoint's
    /// when the log has not moved since (buckets close with time alone), so that every
    /// checkpoint's is higher than the last. The store records the last one written and
    /// skips flushes at or below it.
    pub seq: u64,
    /// Buckets to merge into the store.
    pub buckets: Arc<[ClosedBucket]>,
    /// Series to record (before their buckets).
    pub series: Vec<NewSeries>,
}

/// A [`Flush`] as a snapshot keeps it (one not known written yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlushImage {
    /// See [`Flush::seq`].
    pub seq: u64,
    /// See [`Flush::buckets`].
    pub buckets: Vec<ClosedBucket>,
    /// See [`Flush::series`].
    pub series: Vec<NewSeries>,
}

impl FlushImage {
    /// The flush again, as shard `shard`'s.
    pub fn into_flush(self, shard: usize) -> Flush {
        Flush {
            shard,
            seq: self.seq,
            buckets: self.buckets.into(),
            series: self.series,
        }
    }
}

/// Closed buckets waiting for the next flush, merged by (series, tier, start).
#[derive(Debug, Default)]
pub struct Pending {
    map: HashMap<(u64, u8, i64), Bucket>,
}

impl Pending {
    /// Adds `bucket` of series `id`, tier `tier`, starting at `start`.
    pub fn add(&mut self, id: u64, tier: usize, start: i64, bucket: &Bucket) {
        let tier = u8::try_from(tier).unwrap_or(u8::MAX);
        self.map
            .entry((id, tier, start))
            .and_modify(|b| b.merge(bucket))
            .or_insert(*bucket);
    }

    /// Number of buckets waiting.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The waiting buckets, sorted by (tier, start, series).
    fn take(&mut self) -> Vec<ClosedBucket> {
        let mut out: Vec<ClosedBucket> = self
            .map
            .drain()
            .map(|((series, tier, start), bucket)| ClosedBucket {
                series,
                tier,
                start,
                bucket,
            })
            .collect();
        out.sort_unstable_by_key(|c| (c.tier, c.start, c.series));
        out
    }

    /// The waiting buckets, sorted by (tier, start, series), left waiting (tests).
    #[cfg(test)]
    pub(super) fn sorted(&self) -> Vec<ClosedBucket> {
        let mut out: Vec<ClosedBucket> = self.iter().collect();
        out.sort_unstable_by_key(|c| (c.tier, c.start, c.series));
        out
    }

    fn iter(&self) -> impl Iterator<Item = ClosedBucket> + '_ {
        self.map
            .iter()
            .map(|(&(series, tier, start), &bucket)| ClosedBucket {
                series,
                tier,
                start,
                bucket,
            })
    }
}

/// Ids of new series still live in a shard and not named yet: sorted (ids are given in
/// increasing order), 8 bytes each, with the few that left before being named set apart.
#[derive(Debug, Default)]
pub struct Unnamed {
    ids: Vec<u64>,
    gone: HashSet<u64>,
}

impl Unnamed {
    fn insert(&mut self, id: u64) {
        match self.ids.last() {
            Some(&last) if last >= id => {
                if let Err(at) = self.ids.binary_search(&id) {
                    self.ids.insert(at, id);
                }
                self.gone.remove(&id);
            }
            _ => self.ids.push(id),
        }
    }

    /// True when `id` is one of them.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.binary_search(&id).is_ok() && !self.gone.contains(&id)
    }

    /// Takes `id` out; true when it was one of them.
    fn remove(&mut self, id: u64) -> bool {
        self.contains(id) && self.gone.insert(id)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.len() == self.gone.len()
    }
}

/// Batches in flight kept at most (a writer that keeps failing must not grow memory).
pub const MAX_IN_FLIGHT: usize = 600;

/// A shard's history bookkeeping between its series and the store.
#[derive(Debug)]
pub struct History {
    pending: Pending,
    in_flight: VecDeque<Flush>,
    /// New series the store must learn about that left the shard before their flush, named.
    new_series: Vec<NewSeries>,
    /// New series the store must learn about, still live in the shard: their ids. Their keys
    /// and kinds are the shard's and are copied only into the flush that announces them, so
    /// that a new series costs no second copy of its key while it waits, only its id here.
    unnamed: Unnamed,
    /// Ids given to series the store does not hold yet and named (in `new_series` or a flush
    /// in flight), by the key's [`stable_hash`](SeriesKey::stable_hash) (the series book's
    /// identity of a series), so that a series removed and pushed again before its first
    /// flush is written keeps its id (and its buckets). The hash is unkeyed (senders can make
    /// two keys collide), so a hit is checked against the full key (see
    /// [`History::unstored_id`]). Live unnamed series are found by their live id instead.
    unstored: HashMap<u64, u64>,
    /// Ids given to series the store does not hold yet whose hash collided with another's
    /// in `unstored`, by their full keys (empty but for crafted or unlucky keys).
    collided: HashMap<SeriesKey, u64>,
    /// The hash `unstored` is keyed by ([`SeriesKey::stable_hash`]; tests make it collide).
    hash: fn(&SeriesKey) -> u64,
    next_seq: u64,
}

impl History {
    /// Bookkeeping whose flushes come after position `last_seq` (the one the store covers).
    pub fn new(last_seq: u64) -> Self {
        History {
            pending: Pending::default(),
            in_flight: VecDeque::new(),
            new_series: Vec::new(),
            unnamed: Unnamed::default(),
            unstored: HashMap::new(),
            collided: HashMap::new(),
            hash: SeriesKey::stable_hash,
            next_seq: last_seq + 1,
        }
    }

    /// Where closed and late buckets go.
    pub fn pending_mut(&mut self) -> &mut Pending {
        &mut self.pending
    }

    /// Keys `unstored` by `hash` instead of the stable hash (tests: to make keys collide).
    #[cfg(test)]
    pub(crate) fn hash_with(&mut self, hash: fn(&SeriesKey) -> u64) {
        self.hash = hash;
    }

    /// Notes a series the store must learn about.
    pub fn created(&mut self, series: NewSeries) {
        self.note_unstored(&series.key, series.id);
        self.new_series.push(series);
    }

    /// Notes the id given to `key`, which [`History::unstored_id`] did not know.
    fn note_unstored(&mut self, key: &SeriesKey, id: u64) {
        match self.unstored.entry((self.hash)(key)) {
            // Another key with the same hash waits too: this one is known by its full key.
            Entry::Occupied(_) => {
                self.collided.insert(key.clone(), id);
            }
            Entry::Vacant(v) => {
                v.insert(id);
            }
        }
    }

    /// Notes a series the store must learn about, live in the shard as id `id`: its key and
    /// kind are asked for (see [`History::take_unnamed`]) when its flush is made.
    pub fn created_live(&mut self, id: u64) {
        self.unnamed.insert(id);
    }

    /// The series `id` (key `key`, kind `kind`) leaves the shard: if the store has not been
    /// told about it yet, it is named now.
    pub fn departed(&mut self, id: u64, key: &SeriesKey, kind: Kind) {
        if self.unnamed.remove(id) {
            self.created(NewSeries {
                id,
                key: key.clone(),
                kind,
            });
        }
    }

    /// The live new series waiting to be named, by id; the caller names them with
    /// [`History::named`] before the next flush.
    pub fn take_unnamed(&mut self) -> Unnamed {
        std::mem::take(&mut self.unnamed)
    }

    /// New series named by their keys (see [`History::take_unnamed`]), for the next flush.
    pub fn named(&mut self, series: impl IntoIterator<Item = NewSeries>) {
        for s in series {
            self.created(s);
        }
    }

    /// The id given to `key` that the store does not hold yet, if any; `live` is the id of
    /// the series live in the shard as `key`, if there is one. A hit by hash is taken only
    /// when it is `key`'s own: live as `key`, or named as `key` (waiting to be flushed or in
    /// flight); another key with the same hash never shares its id (nor its history).
    pub fn unstored_id(&self, key: &SeriesKey, live: Option<u64>) -> Option<u64> {
        if let Some(id) = live.filter(|&id| self.unnamed.contains(id)) {
            return Some(id);
        }
        if !self.collided.is_empty() {
            if let Some(&id) = self.collided.get(key) {
                return Some(id);
            }
        }
        let id = *self.unstored.get(&(self.hash)(key))?;
        let own = live == Some(id) || self.named_as(id, key);
        own.then_some(id)
    }

    /// True when the series `id` is named as `key` in a flush to come or in flight.
    fn named_as(&self, id: u64, key: &SeriesKey) -> bool {
        let in_flight = self.in_flight.iter().flat_map(|f| &f.series);
        let mut named = self.new_series.iter().chain(in_flight);
        named.any(|s| s.id == id && s.key == *key)
    }

    fn stored(&mut self, flush: &Flush) {
        for s in &flush.series {
            if self.collided.get(&s.key) == Some(&s.id) {
                self.collided.remove(&s.key);
                continue;
            }
            let h = (self.hash)(&s.key);
            if self.unstored.get(&h) == Some(&s.id) {
                self.unstored.remove(&h);
            }
        }
        if self.unstored.is_empty() {
            // A burst of new series leaves no table behind.
            self.unstored.shrink_to_fit();
        }
    }

    /// The position the next flush takes when none is given (one after the last).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next batch for the writer, numbered `seq` (a checkpoint's), if there is anything to
    /// write; it stays in flight until [`History::committed`] says the store holds it.
    /// Answers also how many old batches were given up because more than [`MAX_IN_FLIGHT`]
    /// were unconfirmed.
    pub fn take_flush(&mut self, shard: usize, seq: u64) -> (Option<Flush>, usize) {
        if self.pending.is_empty() && self.new_series.is_empty() {
            return (None, 0);
        }
        let seq = seq.max(self.next_seq);
        self.next_seq = seq + 1;
        let flush = Flush {
            shard,
            seq,
            buckets: self.pending.take().into(),
            series: std::mem::take(&mut self.new_series),
        };
        self.in_flight.push_back(flush.clone());
        let mut dropped = 0;
        while self.in_flight.len() > MAX_IN_FLIGHT {
            if let Some(gone) = self.in_flight.pop_front() {
                self.stored(&gone);
            }
            dropped += 1;
        }
        (Some(flush), dropped)
    }

    /// The store holds every batch up to `seq`: forget them.
    pub fn committed(&mut self, seq: u64) {
        while self.in_flight.front().is_some_and(|f| f.seq <= seq) {
            if let Some(done) = self.in_flight.pop_front() {
                self.stored(&done);
            }
        }
    }

    /// The flushes sent and not known written, oldest first.
    pub fn in_flight_flushes(&self) -> Vec<Flush> {
        self.in_flight.iter().cloned().collect()
    }

    /// The flushes sent and not known written, for a snapshot.
    pub fn unconfirmed(&self) -> Vec<FlushImage> {
        self.in_flight
            .iter()
            .map(|f| FlushImage {
                seq: f.seq,
                buckets: f.buckets.to_vec(),
                series: f.series.clone(),
            })
            .collect()
    }

    /// Buckets closed but not in a store that holds this shard's batches up to `stored_seq`:
    /// the batches in flight after it, then the pending ones.
    pub fn unwritten(&self, stored_seq: u64) -> impl Iterator<Item = ClosedBucket> + '_ {
        self.in_flight
            .iter()
            .filter(move |f| f.seq > stored_seq)
            .flat_map(|f| f.buckets.iter().copied())
            .chain(self.pending.iter())
    }

    /// True when nothing is pending or in flight.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.in_flight.is_empty()
    }

    /// Batches sent and not confirmed yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_ids_are_found_taken_out_and_given_again() {
        let mut u = Unnamed::default();
        assert!(u.is_empty());
        for id in [3, 5, 9, u64::MAX] {
            u.insert(id);
        }
        u.insert(4); // out of order: kept sorted
        u.insert(5); // twice: once
        assert!([3, 4, 5, 9, u64::MAX].iter().all(|&id| u.contains(id)));
        assert!(!u.contains(0) && !u.contains(6));
        assert_eq!(u.ids.len(), 5);
        assert!(u.remove(5));
        assert!(!u.remove(5), "taken out once");
        assert!(!u.remove(6), "never there");
        assert!(!u.contains(5));
        u.insert(5);
        assert!(u.contains(5), "given again");
        for id in [3, 4, 5, 9, u64::MAX] {
            assert!(u.remove(id));
        }
        assert!(u.is_empty());
    }

    #[test]
    fn a_series_named_when_it_leaves_keeps_its_id_when_pushed_again() {
        use crate::model::Scope;
        let key = SeriesKey::simple(Scope::Application, "a", vec![]);
        let other = SeriesKey::simple(Scope::Application, "b", vec![]);
        let mut h = History::new(0);
        h.created_live(7);
        assert_eq!(h.unstored_id(&key, Some(7)), Some(7), "live and unnamed");
        assert_eq!(h.unstored_id(&key, None), None);
        h.departed(7, &key, Kind::Gauge);
        assert_eq!(h.unstored_id(&key, None), Some(7), "named as it left");
        assert_eq!(h.unstored_id(&other, None), None);
        let (f, _) = h.take_flush(0, 1);
        assert_eq!(f.unwrap().series[0].kind, Kind::Gauge);
        assert_eq!(h.unstored_id(&key, None), Some(7), "in flight");
        h.committed(1);
        assert_eq!(h.unstored_id(&key, None), None, "stored");
    }

    #[test]
    fn flushes_are_numbered_and_forgotten_once_committed() {
        let mut h = History::new(41);
        assert!(h.take_flush(0, 0).0.is_none());
        h.pending_mut().add(7, 0, 10_000, &Bucket::of(1.0, 10_001));
        h.pending_mut().add(7, 0, 10_000, &Bucket::of(2.0, 10_002));
        let (f, dropped) = h.take_flush(3, 0);
        let f = f.unwrap();
        assert_eq!((f.shard, f.seq, f.buckets.len(), dropped), (3, 42, 1, 0));
        assert_eq!(f.buckets[0].bucket.count, 2);
        h.pending_mut().add(8, 1, 0, &Bucket::of(5.0, 1));
        assert_eq!(h.unwritten(41).count(), 2);
        assert_eq!(h.unwritten(42).count(), 1);
        h.committed(42);
        assert_eq!(h.in_flight(), 0);
        assert_eq!(h.unwritten(0).count(), 1);
    }
}
