//! The downsampler of one series: the open bucket of each tier, nothing more. Closed buckets
//! leave for [`Pending`] at once, so memory per series does not grow with retention.

use super::{Bucket, Pending, TierSpec};
use serde::{Deserialize, Serialize};

/// The open buckets of one series: the open bucket of each tier, tiers holding the same
/// samples sharing one.
///
/// A tier's open bucket is the one of the window the clock is in. A sample for that window
/// goes into it; a sample for any other window that the tier still keeps (a late or a future
/// timestamp) becomes a partial bucket in [`Pending`], merged with what is stored when it is
/// written. [`Downsampler::close_due`] moves open buckets whose window has passed to
/// [`Pending`].
///
/// Memory holds only the open buckets that hold samples, and one for consecutive tiers whose
/// buckets hold the same ones (a new series: one bucket where every tier opened one); a
/// series whose windows all closed holds none.
///
/// Snapshots keep it whole (every tier's open bucket and the last sample's time, as
/// [`Downsampler::image`] writes it), so that what an open bucket held before a checkpoint is
/// neither lost nor counted twice after a restart.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Image")]
pub struct Downsampler {
    /// The open buckets, by first tier.
    open: Box<[Shared]>,
    last_ms: i64,
    first_tier: u8,
}

/// A tier's open bucket (empty when its count is 0), as snapshots keep it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Open {
    start: i64,
    bucket: Bucket,
}

const EMPTY: Open = Open {
    start: 0,
    bucket: Bucket {
        count: 0,
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        first: 0.0,
        first_ms: 0,
        last: 0.0,
        last_ms: 0,
    },
};

/// The open bucket of `span` consecutive tiers from `tier`, which hold the same samples. It
/// starts, in each of them, at the tier's window of `bucket.first_ms`: every sample of an
/// open bucket is in its window.
#[derive(Debug, Clone, Copy)]
struct Shared {
    bucket: Bucket,
    tier: u8,
    span: u8,
}

impl Shared {
    fn tiers(&self) -> std::ops::Range<usize> {
        let from = usize::from(self.tier);
        from..from + usize::from(self.span)
    }

    /// The start of this bucket in a tier of [`Shared::tiers`].
    fn start_in(&self, spec: &TierSpec) -> i64 {
        spec.start_of(self.bucket.first_ms)
    }
}

/// True when `a` and `b` hold the same samples, bit for bit.
fn same(a: &Bucket, b: &Bucket) -> bool {
    let bits = |b: &Bucket| {
        [
            b.count,
            b.sum.to_bits(),
            b.min.to_bits(),
            b.max.to_bits(),
            b.first.to_bits(),
            b.first_ms as u64,
            b.last.to_bits(),
            b.last_ms as u64,
        ]
    };
    bits(a) == bits(b)
}

/// Tiers handled in a buffer on the stack (more take one on the heap).
const STACK_TIERS: usize = 8;

/// What a snapshot holds of a [`Downsampler`]: every tier's open bucket (the layout snapshots
/// have always had).
#[derive(Deserialize)]
#[serde(rename = "Downsampler")]
struct Image {
    open: Vec<Open>,
    first_tier: u8,
    last_ms: i64,
}

impl From<Image> for Downsampler {
    fn from(image: Image) -> Self {
        let open = image
            .open
            .iter()
            .enumerate()
            .filter(|(_, o)| o.bucket.count > 0);
        Downsampler {
            open: open
                .map(|(tier, o)| Shared {
                    bucket: o.bucket,
                    tier: u8::try_from(tier).unwrap_or(u8::MAX),
                    span: 1,
                })
                .collect(),
            first_tier: image.first_tier,
            last_ms: image.last_ms,
        }
    }
}

/// A [`Downsampler`] as snapshots keep it, over its tiers (see [`Downsampler::image`]).
#[derive(Serialize)]
#[serde(rename = "Downsampler")]
pub struct DownsamplerImage<'a> {
    open: Slots<'a>,
    first_tier: u8,
    last_ms: i64,
}

struct Slots<'a>(&'a Downsampler, &'a [TierSpec]);

impl Serialize for Slots<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Slots(down, tiers) = *self;
        s.collect_seq((0..tiers.len()).map(|t| down.slot(tiers, t)))
    }
}

impl Downsampler {
    /// A downsampler that skips the tiers before `first_tier` (a pipeline rule's `tier`).
    pub fn new(first_tier: usize) -> Self {
        Downsampler {
            open: Box::default(),
            first_tier: u8::try_from(first_tier).unwrap_or(u8::MAX),
            last_ms: i64::MIN,
        }
    }

    /// Epoch ms of the latest sample seen (`i64::MIN` before the first).
    pub fn last_ms(&self) -> i64 {
        self.last_ms
    }

    /// The first tier this series is downsampled into.
    pub fn first_tier(&self) -> usize {
        usize::from(self.first_tier)
    }

    /// What a snapshot keeps of it, with `tiers` its tiers.
    pub fn image<'a>(&'a self, tiers: &'a [TierSpec]) -> DownsamplerImage<'a> {
        DownsamplerImage {
            open: Slots(self, tiers),
            first_tier: self.first_tier,
            last_ms: self.last_ms,
        }
    }

    /// The open bucket of tier `tier` (empty when it has none).
    fn slot(&self, tiers: &[TierSpec], tier: usize) -> Open {
        let held = self.open.iter().find(|s| s.tiers().contains(&tier));
        match (held, tiers.get(tier)) {
            (Some(s), Some(spec)) => Open {
                start: s.start_in(spec),
                bucket: s.bucket,
            },
            _ => EMPTY,
        }
    }

    /// Every tier's open bucket into `slots` (one per tier).
    fn expand(&self, tiers: &[TierSpec], slots: &mut [Open]) {
        for (t, slot) in slots.iter_mut().enumerate() {
            *slot = self.slot(tiers, t);
        }
    }

    /// Holds `slots` (one per tier), sharing one bucket among consecutive tiers that hold
    /// the same samples; allocates only when the number of buckets changes.
    fn compress(&mut self, slots: &[Open]) {
        let shared = group(slots);
        if shared.clone().count() == self.open.len() {
            for (held, s) in self.open.iter_mut().zip(shared) {
                *held = s;
            }
        } else {
            self.open = shared.collect();
        }
    }

    /// Runs `change` on every tier's open bucket, laid out one per tier.
    fn with_slots(&mut self, tiers: &[TierSpec], change: impl FnOnce(&mut [Open])) {
        let mut stack = [EMPTY; STACK_TIERS];
        let mut heap = Vec::new();
        let slots: &mut [Open] = if tiers.len() <= STACK_TIERS {
            &mut stack[..tiers.len()]
        } else {
            heap.resize(tiers.len(), EMPTY);
            &mut heap
        };
        self.expand(tiers, slots);
        change(slots);
        self.compress(slots);
    }

    /// Records `value` at `timestamp_ms` for series `id` in every tier that still keeps that
    /// time at `now_ms`; samples outside a tier's open window go to `pending`.
    pub fn record(
        &mut self,
        id: u64,
        tiers: &[TierSpec],
        value: f64,
        timestamp_ms: i64,
        now_ms: i64,
        pending: &mut Pending,
    ) {
        self.record_bucket(id, tiers, Bucket::of(value, timestamp_ms), now_ms, pending);
    }

    /// Records the samples summarised by `samples` (all stamped `samples.last_ms`), as
    /// [`record`](Self::record) records one.
    pub fn record_bucket(
        &mut self,
        id: u64,
        tiers: &[TierSpec],
        samples: Bucket,
        now_ms: i64,
        pending: &mut Pending,
    ) {
        let timestamp_ms = samples.last_ms;
        self.last_ms = self.last_ms.max(timestamp_ms);
        if self.merge_in_place(tiers, &samples, now_ms) {
            return;
        }
        let first = self.first_tier();
        let opens = |t: &TierSpec| t.start_of(timestamp_ms) == t.start_of(now_ms);
        if self.open.is_empty() && !tiers.iter().skip(first).any(opens) {
            // Late (or early) for every window, nothing open: straight to pending.
            for (i, tier) in tiers.iter().enumerate().skip(first) {
                if tier.covers(timestamp_ms, now_ms) {
                    pending.add(id, i, tier.start_of(timestamp_ms), &samples);
                }
            }
            return;
        }
        self.with_slots(tiers, |slots| {
            for (i, (tier, open)) in tiers.iter().zip(slots.iter_mut()).enumerate() {
                if i < first || !tier.covers(timestamp_ms, now_ms) {
                    continue;
                }
                let start = tier.start_of(timestamp_ms);
                if open.bucket.count > 0 && open.start == start {
                    open.bucket.merge(&samples);
                } else if start == tier.start_of(now_ms) {
                    if open.bucket.count > 0 {
                        pending.add(id, i, open.start, &open.bucket);
                    }
                    *open = Open {
                        start,
                        bucket: samples,
                    };
                } else {
                    pending.add(id, i, start, &samples);
                }
            }
        });
    }

    /// The common case of [`Downsampler::record_bucket`]: every tier that keeps the samples'
    /// time has its open bucket in their window (and no other tier has one), so each bucket
    /// takes them once, shared or not. False (nothing done) otherwise.
    fn merge_in_place(&mut self, tiers: &[TierSpec], samples: &Bucket, now_ms: i64) -> bool {
        let timestamp_ms = samples.last_ms;
        let keeping = tiers
            .iter()
            .skip(self.first_tier())
            .filter(|t| t.covers(timestamp_ms, now_ms))
            .count();
        let mut held = 0;
        for s in self.open.iter() {
            for t in s.tiers() {
                let Some(spec) = tiers.get(t) else {
                    return false;
                };
                if t < self.first_tier() || !spec.covers(timestamp_ms, now_ms) {
                    return false;
                }
                // In the bucket's window (one division, not two).
                let start = s.start_in(spec);
                if timestamp_ms < start || timestamp_ms.saturating_sub(start) >= spec.resolution_ms
                {
                    return false;
                }
                held += 1;
            }
        }
        if held != keeping {
            return false;
        }
        for s in self.open.iter_mut() {
            s.bucket.merge(samples);
        }
        true
    }

    /// Moves every open bucket whose window has ended by `now_ms` to `pending`.
    pub fn close_due(&mut self, id: u64, tiers: &[TierSpec], now_ms: i64, pending: &mut Pending) {
        let due = self.open.iter().any(|s| {
            s.tiers().any(|t| {
                tiers
                    .get(t)
                    .is_none_or(|spec| s.start_in(spec) + spec.resolution_ms <= now_ms)
            })
        });
        if !due {
            return;
        }
        self.with_slots(tiers, |slots| {
            for (i, (tier, open)) in tiers.iter().zip(slots.iter_mut()).enumerate() {
                if open.bucket.count > 0 && open.start + tier.resolution_ms <= now_ms {
                    pending.add(id, i, open.start, &open.bucket);
                    *open = EMPTY;
                }
            }
        });
    }

    /// The open bucket of `tier` (of `tiers`), with its start.
    pub fn open(&self, tiers: &[TierSpec], tier: usize) -> Option<(i64, Bucket)> {
        let open = self.slot(tiers, tier);
        (open.bucket.count > 0).then_some((open.start, open.bucket))
    }
}

/// The non-empty `slots` (one per tier), consecutive tiers holding the same samples as one.
fn group(slots: &[Open]) -> impl Iterator<Item = Shared> + Clone + '_ {
    let mut t = 0;
    std::iter::from_fn(move || {
        while slots.get(t)?.bucket.count == 0 {
            t += 1;
        }
        let first = slots[t];
        let mut shared = Shared {
            bucket: first.bucket,
            tier: u8::try_from(t).unwrap_or(u8::MAX),
            span: 1,
        };
        t += 1;
        while let Some(next) = slots.get(t) {
            let joins = next.bucket.count > 0
                && same(&next.bucket, &shared.bucket)
                && shared.span < u8::MAX
                && t < usize::from(u8::MAX);
            if !joins {
                break;
            }
            shared.span += 1;
            t += 1;
        }
        Some(shared)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tiers() -> Vec<TierSpec> {
        vec![
            TierSpec::new(Duration::from_secs(10), Duration::from_secs(60)),
            TierSpec::new(Duration::from_secs(60), Duration::from_secs(3600)),
        ]
    }

    #[test]
    fn current_window_stays_open_others_go_pending() {
        let tiers = tiers();
        let mut d = Downsampler::new(0);
        let mut p = Pending::default();
        let now = 1_000_005_000;
        d.record(1, &tiers, 2.0, now, now, &mut p);
        d.record(1, &tiers, 4.0, now + 1_000, now, &mut p);
        assert_eq!(d.open(&tiers, 0).unwrap().1.count, 2);
        assert!(p.is_empty());
        // 30 s late: outside the 10 s window, inside the 1 m one.
        d.record(1, &tiers, 8.0, now - 30_000, now, &mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(d.open(&tiers, 1).unwrap().1.count, 3);
        // 2 h late: kept by no tier.
        d.record(1, &tiers, 8.0, now - 7_200_000, now, &mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(d.last_ms(), now + 1_000);
        d.close_due(1, &tiers, now + 10_000, &mut p);
        assert!(d.open(&tiers, 0).is_none());
        assert!(d.open(&tiers, 1).is_some());
        assert_eq!(p.len(), 2);
    }

    /// Every tier's open bucket as a plain slot per tier, as the downsampler held them before
    /// it shared them: the model the shared layout must read exactly like.
    struct Model {
        slots: Vec<Open>,
        first: usize,
    }

    impl Model {
        fn record(&mut self, tiers: &[TierSpec], b: Bucket, now: i64, pending: &mut Pending) {
            let ts = b.last_ms;
            for (i, (tier, open)) in tiers.iter().zip(self.slots.iter_mut()).enumerate() {
                if i < self.first || !tier.covers(ts, now) {
                    continue;
                }
                let start = tier.start_of(ts);
                if open.bucket.count > 0 && open.start == start {
                    open.bucket.merge(&b);
                } else if start == tier.start_of(now) {
                    if open.bucket.count > 0 {
                        pending.add(1, i, open.start, &open.bucket);
                    }
                    *open = Open { start, bucket: b };
                } else {
                    pending.add(1, i, start, &b);
                }
            }
        }

        fn close_due(&mut self, tiers: &[TierSpec], now: i64, pending: &mut Pending) {
            for (i, (tier, open)) in tiers.iter().zip(self.slots.iter_mut()).enumerate() {
                if open.bucket.count > 0 && open.start + tier.resolution_ms <= now {
                    pending.add(1, i, open.start, &open.bucket);
                    *open = EMPTY;
                }
            }
        }
    }

    fn slots(d: &Downsampler, tiers: &[TierSpec]) -> Vec<Option<(i64, Bucket)>> {
        (0..tiers.len()).map(|t| d.open(tiers, t)).collect()
    }

    #[test]
    fn a_new_series_holds_one_bucket_for_all_its_tiers_until_one_closes() {
        // One bucket and its tiers in 72 bytes (80 with the allocator's header).
        assert_eq!(std::mem::size_of::<Shared>(), 72);
        let tiers = vec![
            TierSpec::new(Duration::from_secs(10), Duration::from_secs(3600)),
            TierSpec::new(Duration::from_secs(60), Duration::from_secs(86_400)),
            TierSpec::new(Duration::from_secs(3600), Duration::from_secs(864_000)),
        ];
        let mut d = Downsampler::new(0);
        let mut p = Pending::default();
        let now = 1_700_000_123_456;
        d.record(1, &tiers, 3.0, now, now, &mut p);
        d.record(1, &tiers, -1.5, now + 2, now, &mut p);
        assert_eq!(d.open.len(), 1, "one bucket shared by three tiers");
        for (t, spec) in tiers.iter().enumerate() {
            let (start, b) = d.open(&tiers, t).unwrap();
            assert_eq!(start, spec.start_of(now));
            assert_eq!((b.count, b.sum, b.min, b.max), (2, 1.5, -1.5, 3.0));
        }
        // The 10 s window ends: its bucket leaves, the other two still share theirs.
        let end = tiers[0].start_of(now) + 10_000;
        d.close_due(1, &tiers, end, &mut p);
        assert_eq!(p.len(), 1);
        assert_eq!(d.open.len(), 1);
        assert!(d.open(&tiers, 0).is_none());
        // A sample in the next 10 s window: tier 0 alone holds it apart.
        d.record(1, &tiers, 10.0, end + 1, end + 1, &mut p);
        assert_eq!(d.open.len(), 2);
        assert_eq!(d.open(&tiers, 0).unwrap().1.count, 1);
        assert_eq!(d.open(&tiers, 1).unwrap().1.count, 3);
        assert_eq!(d.open(&tiers, 2).unwrap().1.count, 3);
        d.close_due(1, &tiers, i64::MAX, &mut p);
        assert!(d.open.is_empty(), "no bucket held once every window closed");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn shared_buckets_read_as_one_bucket_per_tier_would() {
        // Nested and not nested tiers, a rule skipping the finest, late and future samples.
        let tier_sets = [
            vec![
                TierSpec::new(Duration::from_secs(10), Duration::from_secs(60)),
                TierSpec::new(Duration::from_secs(60), Duration::from_secs(3600)),
                TierSpec::new(Duration::from_secs(3600), Duration::from_secs(86_400)),
            ],
            vec![
                TierSpec::new(Duration::from_secs(7), Duration::from_secs(30)),
                TierSpec::new(Duration::from_secs(10), Duration::from_secs(50)),
                TierSpec::new(Duration::from_secs(45), Duration::from_secs(400)),
                TierSpec::new(Duration::from_millis(60_001), Duration::from_secs(900)),
            ],
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for tiers in &tier_sets {
            for first in [0, 1] {
                let mut d = Downsampler::new(first);
                let mut model = Model {
                    slots: vec![EMPTY; tiers.len()],
                    first,
                };
                let (mut p, mut q) = (Pending::default(), Pending::default());
                let mut now: i64 = 1_700_000_000_000;
                for step in 0..3_000 {
                    now += next(4_000) as i64;
                    let ts = match next(10) {
                        0 => now - next(600_000) as i64,
                        1 => now + next(20_000) as i64,
                        _ => now - next(1_000) as i64,
                    };
                    let value = [0.0, -0.0, 1.5, -7.0, f64::NAN][next(5) as usize];
                    let b = if next(4) == 0 {
                        Bucket::of_distribution(next(5), value, -1.0, 9.0, ts)
                    } else {
                        Bucket::of(value, ts)
                    };
                    if next(3) == 0 {
                        d.close_due(1, tiers, now, &mut p);
                        model.close_due(tiers, now, &mut q);
                    }
                    d.record_bucket(1, tiers, b, now, &mut p);
                    model.record(tiers, b, now, &mut q);
                    let expected: Vec<_> = model
                        .slots
                        .iter()
                        .map(|o| (o.bucket.count > 0).then_some((o.start, o.bucket)))
                        .collect();
                    let got = slots(&d, tiers);
                    let bits = |v: &[Option<(i64, Bucket)>]| format!("{v:?}");
                    assert_eq!(bits(&got), bits(&expected), "step {step}");
                    assert_eq!(format!("{:?}", p.sorted()), format!("{:?}", q.sorted()));
                }
            }
        }
    }

    #[test]
    fn snapshots_keep_the_layout_of_one_bucket_per_tier() {
        #[derive(Serialize)]
        #[serde(rename = "Downsampler")]
        struct Old {
            open: Box<[Open]>,
            first_tier: u8,
            last_ms: i64,
        }
        let tiers = tiers();
        let mut d = Downsampler::new(0);
        let mut p = Pending::default();
        let now = 1_000_005_000;
        d.record(1, &tiers, 2.0, now, now, &mut p);
        d.record(1, &tiers, 4.0, now - 30_000, now, &mut p);
        let old = Old {
            open: (0..2).map(|t| d.slot(&tiers, t)).collect(),
            first_tier: 0,
            last_ms: now,
        };
        let bytes = postcard::to_allocvec(&d.image(&tiers)).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&old).unwrap());
        let back: Downsampler = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            format!("{:?}", slots(&back, &tiers)),
            format!("{:?}", slots(&d, &tiers))
        );
        assert_eq!((back.last_ms(), back.first_tier()), (now, 0));
        // An empty tier and a fresh downsampler read back too.
        let fresh = Downsampler::new(1);
        let back: Downsampler =
            postcard::from_bytes(&postcard::to_allocvec(&fresh.image(&tiers)).unwrap()).unwrap();
        assert!(back.open.is_empty());
        assert_eq!((back.last_ms(), back.first_tier()), (i64::MIN, 1));
    }

    #[test]
    fn a_rule_skips_fine_tiers() {
        let tiers = tiers();
        let mut d = Downsampler::new(1);
        let mut p = Pending::default();
        d.record(1, &tiers, 1.0, 5_000, 5_000, &mut p);
        assert!(d.open(&tiers, 0).is_none());
        assert!(d.open(&tiers, 1).is_some());
    }
}
