//! The series book: which pushed series exist, per service, and when each last received an
//! event — what the collector needs for the series limits and for idle expiry without asking
//! the shards. Series are kept by [`SeriesKey::stable_hash`], 16 bytes of entry each.

use crate::config::Pipeline;
use crate::model::{Event, SeriesKey};
use std::collections::HashMap;
use std::time::Duration;

/// A limit a batch would break; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitBreach {
    /// The pipeline key: `max_series` or `max_series_per_service`.
    pub limit: &'static str,
    /// Its value.
    pub max: usize,
    /// The service, for the per-service limit.
    pub service: Option<String>,
    /// New series the batch would have created (in that service, for the per-service limit).
    pub new_series: usize,
}

/// The book's hasher for its maps (keyed by series hashes): foldhash costs a few instructions
/// where std's SipHash cost a fair part of admission. It spreads the hashes over the maps'
/// buckets; seeded from the operating system's randomness (through std's `RandomState`) once
/// per process, and per map, so that a client cannot aim keys at one bucket. (It cannot make
/// two series whose stable hashes collide distinct: the book counts series by that hash.)
#[derive(Clone, Debug)]
struct Hasher(foldhash::fast::SeedableRandomState);

impl Default for Hasher {
    fn default() -> Self {
        use std::hash::BuildHasher;
        static SHARED: std::sync::OnceLock<foldhash::SharedSeed> = std::sync::OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            foldhash::SharedSeed::from_u64(std::hash::RandomState::new().hash_one(0u64))
        });
        let per_map = std::hash::RandomState::new().hash_one(1u64);
        Hasher(foldhash::fast::SeedableRandomState::with_seed(
            per_map, shared,
        ))
    }
}

impl std::hash::BuildHasher for Hasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Admission time of the series' last event, epoch milliseconds.
    last_ms: i64,
    /// Index into `services`.
    service: u32,
    /// Index into `ttls`.
    ttl: u16,
    /// The series key's keyed hash (see [`SeriesBook::check_of`]): two keys with the same
    /// stable hash but different checks are two series the book cannot tell apart.
    check: u64,
}

/// What [`SeriesBook::plan`] found in a batch: each event's key hash and the new series.
#[derive(Debug, Default)]
pub struct Plan {
    hashes: Vec<u64>,
    checks: Vec<u64>,
    /// Index of the first event of each new series.
    new: Vec<usize>,
    /// Indexes of the events whose key has the stable hash of another series' key (crafted:
    /// the stable hash is unkeyed): the book counts series by that hash, so such a key would
    /// be a series beyond the limits' count.
    pub collisions: Vec<usize>,
}

/// Slots of the [`Memo`]: 64 KiB.
const MEMO_SLOTS: usize = 4096;

/// The stable hashes of keys admitted lately, by their checks: FNV-1a reads a key byte by
/// byte (a few percent of a batched event's CPU), the check is computed anyway, and a key
/// sent again is found by it. A slot holds the last (check, stable hash) pair written to it,
/// each computed from one key. Another key finds that pair only with the same 64-bit check,
/// and would then be counted as that key's series. That is the assumption the collision
/// check already rests on (a key crafted to share a stable hash is told apart by its check;
/// stable hashes are free to collide, so a sender needs the check to collide either way):
/// the check is foldhash under a per-process seed from the OS, which senders never see —
/// a fast keyed hash, not a cryptographic one.
struct Memo(Box<[(u64, u64)]>);

impl Default for Memo {
    fn default() -> Self {
        Memo(vec![(0, 0); MEMO_SLOTS].into_boxed_slice())
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl Memo {
    /// The stable hash of the key with check `check`, if the memo holds it (a check of 0 is
    /// never held: it marks an empty slot).
    fn get(&self, check: u64) -> Option<u64> {
        let (c, h) = self.0[check as usize % MEMO_SLOTS];
        (c == check && check != 0).then_some(h)
    }

    fn put(&mut self, check: u64, hash: u64) {
        self.0[check as usize % MEMO_SLOTS] = (check, hash);
    }
}

/// Pushed series by stable key hash, with per-service counts and idle times.
#[derive(Debug)]
pub struct SeriesBook {
    entries: HashMap<u64, Entry, Hasher>,
    /// Keys the checks (a secret per process: senders cannot aim at it).
    checker: Hasher,
    /// The identity of a series (`SeriesKey::stable_hash`; tests make keys collide).
    hash: fn(&SeriesKey) -> u64,
    /// Stable hashes of keys admitted lately, by their checks.
    memo: Memo,
    services: Vec<(String, usize)>,
    service_ids: HashMap<String, u32>,
    /// Distinct idle limits in use; index 0 is "never".
    ttls: Vec<Option<Duration>>,
}

impl Default for SeriesBook {
    fn default() -> Self {
        SeriesBook {
            entries: HashMap::default(),
            checker: Hasher::default(),
            hash: SeriesKey::stable_hash,
            memo: Memo::default(),
            services: Vec::new(),
            service_ids: HashMap::new(),
            ttls: vec![None],
        }
    }
}

impl SeriesBook {
    /// Identifies series by `hash` instead of the stable hash (tests: to make keys collide).
    #[cfg(test)]
    pub(crate) fn hash_with(&mut self, hash: fn(&SeriesKey) -> u64) {
        self.hash = hash;
    }

    /// The keyed hash of `key`, told apart from the stable hash: keys crafted to share a
    /// stable hash do not share it.
    fn check_of(&self, key: &SeriesKey) -> u64 {
        use std::hash::BuildHasher;
        self.checker.hash_one(key)
    }

    /// The stable hash and the check of `key`; the stable hash from the memo when it holds
    /// the check.
    fn hashes_of(&self, key: &SeriesKey) -> (u64, u64) {
        let check = self.check_of(key);
        let hash = self.memo.get(check).unwrap_or_else(|| (self.hash)(key));
        (hash, check)
    }

    /// Series in all.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Series of `service`.
    pub fn service_len(&self, service: &str) -> usize {
        self.service_ids
            .get(service)
            .map_or(0, |&id| self.services[id as usize].1)
    }

    /// True when some series can expire.
    pub fn expires(&self) -> bool {
        self.ttls.len() > 1
    }

    /// Finds the new series of `events` and, when `limits` are given, refuses the batch if
    /// they break one. Changes nothing.
    pub fn plan(&self, events: &[Event], limits: Option<&Pipeline>) -> Result<Plan, LimitBreach> {
        let mut plan = Plan {
            hashes: Vec::with_capacity(events.len()),
            checks: Vec::with_capacity(events.len()),
            new: Vec::new(),
            collisions: Vec::new(),
        };
        let mut fresh: HashMap<u64, u64, Hasher> = HashMap::default();
        let mut per_service: HashMap<&str, usize, Hasher> = HashMap::default();
        for (i, e) in events.iter().enumerate() {
            let (h, c) = self.hashes_of(&e.key);
            plan.hashes.push(h);
            plan.checks.push(c);
            let known = match self.entries.get(&h) {
                Some(entry) => Some(entry.check),
                None => fresh.get(&h).copied(),
            };
            match known {
                Some(check) if check != c => plan.collisions.push(i),
                Some(_) => {}
                None => {
                    fresh.insert(h, c);
                    plan.new.push(i);
                    *per_service.entry(e.key.service.as_str()).or_default() += 1;
                }
            }
        }
        let Some(pipeline) = limits else {
            return Ok(plan);
        };
        let limits = &pipeline.limits;
        if self.len() + plan.new.len() > limits.max_series {
            return Err(LimitBreach {
                limit: "max_series",
                max: limits.max_series,
                service: None,
                new_series: plan.new.len(),
            });
        }
        let mut services: Vec<_> = per_service.into_iter().collect();
        services.sort_unstable();
        for (service, n) in services {
            if self.service_len(service) + n > limits.max_series_per_service {
                return Err(LimitBreach {
                    limit: "max_series_per_service",
                    max: limits.max_series_per_service,
                    service: Some(service.to_owned()),
                    new_series: n,
                });
            }
        }
        Ok(plan)
    }

    /// The indexes of the events whose series is new and finds no room under `pipeline`'s
    /// limits, new series taking the room in the order they come: what a lenient batch (StatsD
    /// over UDP) leaves out so that the rest of it fits. Changes nothing.
    pub fn over_limits(&self, events: &[Event], pipeline: &Pipeline) -> Vec<usize> {
        let limits = &pipeline.limits;
        let mut room = limits.max_series.saturating_sub(self.len());
        let mut service_room: HashMap<&str, usize, Hasher> = HashMap::default();
        let mut fresh: HashMap<u64, (u64, bool), Hasher> = HashMap::default();
        let mut over = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let (h, c) = self.hashes_of(&e.key);
            if let Some(entry) = self.entries.get(&h) {
                // A key crafted to collide with a known series' is left out.
                if entry.check != c {
                    over.push(i);
                }
                continue;
            }
            let (check, fits) = *fresh.entry(h).or_insert_with(|| {
                let service = e.key.service.as_str();
                let left = service_room.entry(service).or_insert_with(|| {
                    limits
                        .max_series_per_service
                        .saturating_sub(self.service_len(service))
                });
                let fits = room > 0 && *left > 0;
                if fits {
                    room -= 1;
                    *left -= 1;
                }
                (c, fits)
            });
            if !fits || check != c {
                over.push(i);
            }
        }
        over
    }

    /// Records a planned batch admitted at `now_ms`: new series are added (their idle limit
    /// looked up once, in `pipeline`'s rules), and every series touched is stamped.
    pub fn commit(&mut self, events: &[Event], plan: &Plan, now_ms: i64, pipeline: &Pipeline) {
        for &i in &plan.new {
            let key = &events[i].key;
            let ttl = pipeline
                .rule_for(&key.name)
                .and_then(|r| r.series_ttl)
                .or(pipeline.limits.series_ttl);
            self.add(plan.hashes[i], plan.checks[i], &key.service, now_ms, ttl);
        }
        for (&h, &c) in plan.hashes.iter().zip(&plan.checks) {
            if let Some(entry) = self.entries.get_mut(&h) {
                entry.last_ms = entry.last_ms.max(now_ms);
            }
            self.memo.put(c, h);
        }
    }

    fn add(&mut self, hash: u64, check: u64, service: &str, last_ms: i64, ttl: Option<Duration>) {
        let service = match self.service_ids.get(service) {
            Some(&id) => id,
            None => {
                let id = self.services.len() as u32;
                self.services.push((service.to_owned(), 0));
                self.service_ids.insert(service.to_owned(), id);
                id
            }
        };
        let ttl = match self.ttls.iter().position(|t| *t == ttl) {
            Some(i) => i,
            None => {
                self.ttls.push(ttl);
                self.ttls.len() - 1
            }
        } as u16;
        if self
            .entries
            .insert(
                hash,
                Entry {
                    last_ms,
                    service,
                    ttl,
                    check,
                },
            )
            .is_none()
        {
            self.services[service as usize].1 += 1;
        }
    }

    /// Removes the series with these hashes (those not in the book are ignored); answers how
    /// many were removed.
    pub fn remove(&mut self, hashes: impl IntoIterator<Item = u64>) -> usize {
        let mut removed = 0;
        for h in hashes {
            if let Some(entry) = self.entries.remove(&h) {
                self.services[entry.service as usize].1 -= 1;
                removed += 1;
            }
        }
        removed
    }

    /// Removes and answers the series that received nothing for their idle limit by `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Vec<u64> {
        if !self.expires() {
            return Vec::new();
        }
        let ttls: Vec<Option<i64>> = self
            .ttls
            .iter()
            .map(|t| t.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .collect();
        let idle: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                ttls[e.ttl as usize].is_some_and(|ttl| now_ms.saturating_sub(e.last_ms) >= ttl)
            })
            .map(|(&h, _)| h)
            .collect();
        self.remove(idle.iter().copied());
        idle
    }

    /// The book as bytes: `(hash, last_ms)` of every series (services and idle limits follow
    /// from the keys and the pipeline on restore).
    pub fn encode(&self) -> Vec<u8> {
        let saved: Vec<(u64, i64)> = self.entries.iter().map(|(&h, e)| (h, e.last_ms)).collect();
        postcard::to_allocvec(&saved).unwrap_or_default()
    }

    /// Rebuilds the book for the series `keys` from saved bytes (an unreadable or missing
    /// entry counts the series as active at `default_ms`).
    pub fn restore<K: std::borrow::Borrow<SeriesKey>>(
        keys: impl IntoIterator<Item = K>,
        saved: Option<&[u8]>,
        default_ms: i64,
        pipeline: &Pipeline,
    ) -> SeriesBook {
        let saved: HashMap<u64, i64> = saved
            .and_then(|b| postcard::from_bytes::<Vec<(u64, i64)>>(b).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut book = SeriesBook::default();
        for key in keys {
            let key = key.borrow();
            let h = key.stable_hash();
            let ttl = pipeline
                .rule_for(&key.name)
                .and_then(|r| r.series_ttl)
                .or(pipeline.limits.series_ttl);
            let last = saved.get(&h).copied().unwrap_or(default_ms);
            let check = book.check_of(key);
            book.add(h, check, &key.service, last, ttl);
        }
        book
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Op, Scope};

    fn ev(service: &str, name: &str) -> Event {
        let mut key = SeriesKey::simple(Scope::Application, name, vec![]);
        key.service = service.into();
        Event {
            key,
            kind: Kind::Counter,
            value: 1.0,
            op: Op::Observe,
            timestamp_ms: 0,
            meta: None,
        }
    }

    fn pipeline(max: usize, per_service: usize) -> Pipeline {
        let mut p = Pipeline::default();
        p.limits.max_series = max;
        p.limits.max_series_per_service = per_service;
        p
    }

    fn admit(book: &mut SeriesBook, p: &Pipeline, events: &[Event]) -> Result<(), LimitBreach> {
        let plan = book.plan(events, Some(p))?;
        book.commit(events, &plan, 0, p);
        Ok(())
    }

    #[test]
    fn limits_count_only_new_series_and_refuse_whole_batches() {
        let p = pipeline(3, 2);
        let mut book = SeriesBook::default();
        admit(&mut book, &p, &[ev("a", "x"), ev("a", "x"), ev("a", "y")]).unwrap();
        assert_eq!((book.len(), book.service_len("a")), (2, 2));
        let breach = admit(&mut book, &p, &[ev("a", "x"), ev("a", "z")]).unwrap_err();
        assert_eq!(breach.limit, "max_series_per_service");
        assert_eq!(breach.service.as_deref(), Some("a"));
        assert_eq!(book.len(), 2, "nothing applied");
        // Existing series keep working; another service still has room in all.
        admit(&mut book, &p, &[ev("a", "x"), ev("b", "x")]).unwrap();
        let breach = admit(&mut book, &p, &[ev("c", "x")]).unwrap_err();
        assert_eq!((breach.limit, breach.max), ("max_series", 3));
        assert_eq!(book.remove([ev("b", "x").key.stable_hash()]), 1);
        admit(&mut book, &p, &[ev("c", "x")]).unwrap();
    }

    #[test]
    fn a_key_admitted_lately_is_not_hashed_byte_by_byte_again() {
        static HASHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        fn counted(key: &SeriesKey) -> u64 {
            HASHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            key.stable_hash()
        }
        let hashed = || HASHED.load(std::sync::atomic::Ordering::Relaxed);
        let p = pipeline(100, 100);
        let mut book = SeriesBook::default();
        book.hash_with(counted);
        let batch = [ev("a", "x"), ev("a", "y"), ev("b", "x")];
        admit(&mut book, &p, &batch).unwrap();
        assert_eq!(hashed(), 3);
        // Known keys again, and one new: only the new one is hashed, and the book counts
        // and removes by the same stable hashes as before.
        let again = [ev("b", "x"), ev("a", "x"), ev("a", "z"), ev("a", "y")];
        let plan = book.plan(&again, Some(&p)).unwrap();
        // 4, unless two of the first keys' checks share a memo slot (the seed is random: about
        // 3 runs in 4,096); 7 when every key is hashed again.
        assert!((4..7).contains(&hashed()), "{}", hashed());
        let stable: Vec<u64> = again.iter().map(|e| e.key.stable_hash()).collect();
        assert_eq!(plan.hashes, stable);
        assert_eq!(plan.new, [2]);
        book.commit(&again, &plan, 0, &p);
        assert_eq!((book.len(), book.service_len("a")), (4, 3));
        assert_eq!(book.remove([ev("a", "z").key.stable_hash()]), 1);
    }

    #[test]
    fn keys_whose_stable_hashes_collide_are_told_apart_and_refused() {
        // Every key collides, as keys crafted against the unkeyed stable hash would.
        let p = pipeline(100, 100);
        let mut book = SeriesBook::default();
        book.hash_with(|_| 42);
        let plan = book.plan(&[ev("a", "x")], Some(&p)).unwrap();
        assert!(plan.collisions.is_empty());
        book.commit(&[ev("a", "x")], &plan, 0, &p);
        // The same key again is the same series; another key with its hash is a collision,
        // in a later batch or within one.
        let batch = [ev("a", "x"), ev("a", "y"), ev("b", "z")];
        let plan = book.plan(&batch, Some(&p)).unwrap();
        assert_eq!(plan.collisions, vec![1, 2]);
        let mut fresh = SeriesBook::default();
        fresh.hash_with(|_| 7);
        let plan = fresh.plan(&batch, Some(&p)).unwrap();
        assert_eq!((plan.new.clone(), plan.collisions), (vec![0], vec![1, 2]));
        // A lenient batch leaves them out.
        assert_eq!(book.over_limits(&batch, &p), vec![1, 2]);
        // A book restored from the shards' keys knows each key's check again: the same key
        // is no collision with itself.
        let keys = [ev("a", "x").key, ev("a", "y").key];
        let back = SeriesBook::restore(keys.iter(), None, 0, &p);
        let plan = back.plan(&[ev("a", "y"), ev("a", "x")], Some(&p)).unwrap();
        assert!(plan.collisions.is_empty() && plan.new.is_empty());
    }

    #[test]
    fn over_limits_names_only_the_new_series_without_room() {
        let p = pipeline(4, 2);
        let mut book = SeriesBook::default();
        admit(&mut book, &p, &[ev("a", "x"), ev("b", "x")]).unwrap();
        let batch = [
            ev("a", "x"), // known
            ev("a", "y"), // fits: a's second
            ev("a", "z"), // over a's limit
            ev("a", "y"), // y again: fits
            ev("b", "y"), // fits: the fourth in all
            ev("c", "x"), // over max_series
            ev("a", "z"), // z again: over
        ];
        assert_eq!(book.over_limits(&batch, &p), vec![2, 5, 6]);
        assert_eq!(book.len(), 2, "nothing changes");
    }

    #[test]
    fn idle_series_expire_by_their_rule_or_the_default() {
        let text = r#"
            [limits]
            series_ttl = "1m"
            [[rules]]
            match = "fast.*"
            series_ttl = "10s"
            [[rules]]
            match = "keep.*"
        "#;
        let p = Pipeline::parse(text, "test").unwrap();
        let mut book = SeriesBook::default();
        let events = [ev("a", "fast.x"), ev("a", "slow"), ev("a", "keep.x")];
        let plan = book.plan(&events, Some(&p)).unwrap();
        book.commit(&events, &plan, 1_000, &p);
        assert!(book.expire(10_999).is_empty());
        assert_eq!(book.expire(11_000), vec![events[0].key.stable_hash()]);
        // An event resets the idle time of its series.
        let again = [ev("a", "slow")];
        let plan = book.plan(&again, None).unwrap();
        book.commit(&again, &plan, 50_000, &p);
        // `keep.*` sets no ttl of its own, so the default one applies to it.
        assert_eq!(book.expire(61_000), vec![events[2].key.stable_hash()]);
        assert!(book.expire(109_999).is_empty());
        assert_eq!(book.expire(110_000), vec![events[1].key.stable_hash()]);
        assert!(book.is_empty());
    }

    #[test]
    fn restore_keeps_idle_times() {
        let p = Pipeline::parse("[limits]\nseries_ttl = \"1m\"", "test").unwrap();
        let mut book = SeriesBook::default();
        let events = [ev("a", "x"), ev("b", "y")];
        let plan = book.plan(&events, None).unwrap();
        book.commit(
            &events[..1],
            &Plan {
                hashes: plan.hashes[..1].to_vec(),
                checks: plan.checks[..1].to_vec(),
                new: vec![0],
                collisions: Vec::new(),
            },
            1_000,
            &p,
        );
        let keys = [events[0].key.clone(), events[1].key.clone()];
        let restored = SeriesBook::restore(&keys, Some(&book.encode()), 30_000, &p);
        assert_eq!((restored.len(), restored.service_len("b")), (2, 1));
        let mut restored = restored;
        assert_eq!(restored.expire(61_000), vec![keys[0].stable_hash()]);
        assert_eq!(restored.expire(90_000), vec![keys[1].stable_hash()]);
    }
}
