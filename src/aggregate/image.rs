//! Aggregates as bytes, for snapshots: serde for the HdrHistogram counts (stored as the
//! recorded `(value, count)` pairs, which rebuild the same buckets), and a shard's series as
//! one postcard blob.
//!
//! Monotonic readings (meter and timer ages) are stored as they were in the process that took
//! the snapshot; whoever restores them moves them with [`SeriesState::rebase`] by the shift
//! between that process's clock and its own.

use super::downsample::{Downsampler, DownsamplerImage, FlushImage};
use super::hdr::Magnitudes;
use super::{SeriesState, ShardState};
use crate::model::PackedKey;
use crate::model::SeriesKey;
use hdrhistogram::{Counter, Histogram as Hdr};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a [`Magnitudes`] is saved as.
#[derive(Serialize, Deserialize)]
struct MagnitudesImage {
    /// `u64` counters (the histogram outgrew `u32`).
    wide: bool,
    low: u64,
    high: u64,
    sigfig: u8,
    auto_resize: bool,
    /// `(highest value equivalent to the bucket, count)` for every non-empty bucket.
    counts: Vec<(u64, u64)>,
}

fn image_of<T: Counter>(h: &Hdr<T>, wide: bool) -> MagnitudesImage {
    MagnitudesImage {
        wide,
        low: h.low(),
        high: h.high(),
        sigfig: h.sigfig(),
        auto_resize: h.is_auto_resize(),
        counts: h
            .iter_recorded()
            .map(|b| (b.value_iterated_to(), b.count_at_value().as_u64()))
            .collect(),
    }
}

fn rebuild<T: Counter + TryFrom<u64>>(image: &MagnitudesImage) -> Result<Hdr<T>, String> {
    let mut h = Hdr::<T>::new_with_bounds(image.low.max(1), image.high.max(2), image.sigfig)
        .map_err(|e| format!("histogram bounds: {e:?}"))?;
    h.auto(image.auto_resize);
    for &(value, count) in &image.counts {
        let count = T::try_from(count).map_err(|_| "histogram count too large".to_owned())?;
        h.record_n(value, count)
            .map_err(|e| format!("histogram value {value}: {e:?}"))?;
    }
    Ok(h)
}

impl Serialize for Magnitudes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Magnitudes::Narrow(h) => image_of(h, false),
            Magnitudes::Wide(h) => image_of(h, true),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Magnitudes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let image = MagnitudesImage::deserialize(d)?;
        let rebuilt = if image.wide {
            rebuild::<u64>(&image).map(Magnitudes::Wide)
        } else {
            rebuild::<u32>(&image).map(Magnitudes::Narrow)
        };
        rebuilt.map_err(serde::de::Error::custom)
    }
}

/// Why saved series could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("saved series are unreadable: {0}")]
pub struct ImageError(#[from] postcard::Error);

/// What a shard's section holds, borrowed for encoding.
#[derive(Serialize)]
struct ShardImageRef<'a> {
    series: Vec<(&'a PackedKey, &'a SeriesState, u64, DownsamplerImage<'a>)>,
    unconfirmed: Vec<FlushImage>,
}

/// A shard's section read back: every series with its history id and downsampler (open
/// buckets, last sample time), and the flushes not known written to the history store.
#[derive(Deserialize)]
pub struct ShardImage {
    /// (key, live aggregate, history id, downsampler) of every series.
    pub series: Vec<(SeriesKey, SeriesState, u64, Downsampler)>,
    /// Flushes sent to the history writer and not confirmed at the cut, oldest first.
    pub unconfirmed: Vec<FlushImage>,
}

/// The series of `shard` as bytes: aggregates, history ids, downsamplers and unconfirmed
/// flushes.
pub fn encode_series(shard: &ShardState) -> Vec<u8> {
    let tiers = &shard.history.setup.tiers;
    let image = ShardImageRef {
        series: shard
            .series
            .iter()
            .map(|(k, s)| (k, &s.state, s.id, s.down.image(tiers)))
            .collect(),
        unconfirmed: shard.history.flushes.unconfirmed(),
    };
    // Serializing plain data into a Vec cannot fail.
    postcard::to_allocvec(&image).unwrap_or_default()
}

/// A shard saved by [`encode_series`], its monotonic readings moved by `shift` nanoseconds.
pub fn decode_series(bytes: &[u8], shift: i64) -> Result<ShardImage, ImageError> {
    let mut image: ShardImage = postcard::from_bytes(bytes)?;
    for (_, state, _, _) in &mut image.series {
        state.rebase(shift);
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggregateSettings;
    use crate::model::{Event, Kind, Op, Scope};

    const SEC: u64 = 1_000_000_000;

    fn event(name: &str, kind: Kind, value: f64, op: Op) -> Event {
        Event {
            key: SeriesKey::simple(Scope::Application, name, vec![("k".into(), "v".into())]),
            kind,
            value,
            op,
            timestamp_ms: 1_700_000_000_000,
            meta: None,
        }
    }

    #[test]
    fn every_kind_reads_back_the_same() {
        let settings = AggregateSettings::default();
        let mut shard = ShardState::new(settings.clone());
        let mut events = vec![
            event("c", Kind::Counter, 2.5, Op::Observe),
            event("g", Kind::Gauge, -3.0, Op::Observe),
            event("s", Kind::Gauge, 0.0, Op::SetMember(7)),
            event("s", Kind::Gauge, 0.0, Op::SetMember(9)),
            event("m", Kind::Meter, 4.0, Op::Observe),
        ];
        for v in [-5.0, 0.0, 1.0, 250.0, 1e6, 7e12] {
            events.push(event("h", Kind::Histogram, v, Op::Observe));
            events.push(event("t", Kind::Timer, v.abs(), Op::Observe));
        }
        shard.apply(events, 3 * SEC);
        let before = shard.collect(&Default::default(), 17 * SEC);

        let bytes = encode_series(&shard);
        let mut restored = ShardState::new(settings);
        for (key, state, id, down) in decode_series(&bytes, 0).unwrap().series {
            restored.restore(key, state, id, down);
        }
        let mut after = restored.collect(&Default::default(), 17 * SEC);
        let mut before = before;
        before.sort_by(|a, b| a.0.cmp(&b.0));
        after.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(before, after);
    }

    #[test]
    fn rebase_keeps_ages_on_a_new_clock() {
        let settings = AggregateSettings::default();
        let mut shard = ShardState::new(settings.clone());
        shard.apply(vec![event("m", Kind::Meter, 6.0, Op::Observe)], 100 * SEC);
        let before = shard.collect(&Default::default(), 160 * SEC);
        // The new process's clock reads 5000 s where the old one read 160 s.
        let shift = (5000 * SEC - 160 * SEC) as i64;
        let mut restored = ShardState::new(settings);
        for (key, state, id, down) in decode_series(&encode_series(&shard), shift).unwrap().series {
            restored.restore(key, state, id, down);
        }
        assert_eq!(restored.collect(&Default::default(), 5000 * SEC), before);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_series(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2], 0).is_err());
        assert!(decode_series(&[], 0).is_err());
    }
}
