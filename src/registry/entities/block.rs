//! The blocks of the entity file: the entities captured together, their series once.
//!
//! A block is written compact: a 0 byte, then postcard of its series and of each entity as
//! its series' index, its value (a whole number in a few bytes, any other value as the f64
//! it is), its timestamp less the start of its capture second, and its capture second less
//! the entity's before it. An entity stamped on arrival takes about 7 bytes instead of the
//! 21 of the plain form (every field whole), and the keeper writes every captured entity
//! each second. Plain blocks, written before, start with their number of series (at least
//! one: a block is written only with entities), never 0, and are still read.

use crate::model::{Kind, PackedKey, SeriesKey};
use serde::ser::{Serialize, Serializer};
use serde::Deserialize;

/// The first byte of a compact block.
const COMPACT: u8 = 0;

/// Whole values up to this size are kept as integers (every one of them is an exact f64).
const WHOLE_MAX: f64 = 9_007_199_254_740_992.0; // 2^53

/// One series as a block keeps it.
#[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
pub(super) struct SeriesImage {
    pub(super) key: SeriesKey,
    pub(super) kind: Kind,
    pub(super) unit: Option<String>,
}

/// A [`SeriesImage`] as a block is written, borrowed from the interned entry: the same bytes
/// (the packed key serializes as the key).
#[derive(serde::Serialize)]
pub(super) struct SeriesImageRef<'a> {
    pub(super) key: &'a PackedKey,
    pub(super) kind: Kind,
    pub(super) unit: Option<&'a str>,
}

/// One entity: (series index, value, timestamp ms, capture second).
pub(super) type EntityImage = (u32, f64, i64, u32);

/// Entities captured together, in capture order (the plain form on disk).
#[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
pub(super) struct Block {
    pub(super) series: Vec<SeriesImage>,
    pub(super) entities: Vec<EntityImage>,
}

/// An entity's value: whole numbers (most counts) as a varint.
#[derive(serde::Serialize, Deserialize)]
enum Value {
    Whole(i64),
    Other(f64),
}

impl Value {
    fn of(v: f64) -> Value {
        // -0.0 stays a float: as a whole number it would come back as +0.0.
        if v.fract() == 0.0 && v.abs() <= WHOLE_MAX && !(v == 0.0 && v.is_sign_negative()) {
            Value::Whole(v as i64)
        } else {
            Value::Other(v)
        }
    }

    fn get(&self) -> f64 {
        match *self {
            Value::Whole(i) => i as f64,
            Value::Other(v) => v,
        }
    }
}

/// One entity of a compact block.
#[derive(serde::Serialize, Deserialize)]
struct Packed {
    series: u32,
    value: Value,
    /// The timestamp less the start of the capture second, ms (wrapping).
    stamped: i64,
    /// The capture second less the previous entity's (the first's: less 0).
    step: i64,
}

/// The entities of a compact block, packed as they are written.
struct PackedEntities<'a>(&'a [EntityImage]);

impl Serialize for PackedEntities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut last = 0i64;
        s.collect_seq(self.0.iter().map(|&(series, value, timestamp_ms, secs)| {
            let secs = i64::from(secs);
            let packed = Packed {
                series,
                value: Value::of(value),
                stamped: timestamp_ms.wrapping_sub(secs * 1000),
                step: secs - last,
            };
            last = secs;
            packed
        }))
    }
}

#[derive(serde::Serialize)]
struct CompactOut<'a, S> {
    series: &'a [S],
    entities: PackedEntities<'a>,
}

#[derive(Deserialize)]
struct CompactIn {
    series: Vec<SeriesImage>,
    entities: Vec<Packed>,
}

/// The block of `series` and `entities` as written: compact.
pub(super) fn encode<S: Serialize>(
    series: &[S],
    entities: &[EntityImage],
) -> Result<Vec<u8>, postcard::Error> {
    // Sized once for the usual case, rather than grown by doubling through megabytes.
    let mut out = Vec::with_capacity(1 + entities.len() * 12 + series.len() * 128);
    out.push(COMPACT);
    postcard::to_extend(
        &CompactOut {
            series,
            entities: PackedEntities(entities),
        },
        out,
    )
}

/// A block read back, compact or plain.
pub(super) fn decode(bytes: &[u8]) -> Result<Block, String> {
    let Some((&COMPACT, rest)) = bytes.split_first() else {
        return postcard::from_bytes(bytes).map_err(|e| e.to_string());
    };
    let compact: CompactIn = postcard::from_bytes(rest).map_err(|e| e.to_string())?;
    let mut last = 0i64;
    let mut entities = Vec::with_capacity(compact.entities.len());
    for p in compact.entities {
        let secs = last
            .checked_add(p.step)
            .and_then(|s| u32::try_from(s).ok())
            .ok_or("a compact block's capture second is out of range")?;
        last = i64::from(secs);
        let timestamp_ms = p.stamped.wrapping_add(last * 1000);
        entities.push((p.series, p.value.get(), timestamp_ms, secs));
    }
    Ok(Block {
        series: compact.series,
        entities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    fn series() -> Vec<SeriesImage> {
        vec![SeriesImage {
            key: SeriesKey::simple(Scope::Application, "m", vec![("host".into(), "a".into())]),
            kind: Kind::Gauge,
            unit: Some("bytes".into()),
        }]
    }

    #[test]
    fn every_value_timestamp_and_second_reads_back_exactly() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -7.0,
            1.5,
            0.1,
            WHOLE_MAX,
            WHOLE_MAX + 2.0,
            -WHOLE_MAX,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::INFINITY,
        ];
        let stamps = [0, -1, 1_700_000_000_123, i64::MIN, i64::MAX];
        let seconds = [1_700_000_000, 0, u32::MAX, 1_700_000_000, 5];
        let mut entities = Vec::new();
        for (i, v) in values.iter().enumerate() {
            for (j, t) in stamps.iter().enumerate() {
                entities.push((i as u32, *v, *t, seconds[(i + j) % seconds.len()]));
            }
        }
        let back = decode(&encode(&series(), &entities).unwrap()).unwrap();
        assert_eq!(back.series, series());
        assert_eq!(back.entities.len(), entities.len());
        for (a, b) in entities.iter().zip(&back.entities) {
            assert_eq!(
                (a.0, a.1.to_bits(), a.2, a.3),
                (b.0, b.1.to_bits(), b.2, b.3)
            );
        }
    }

    #[test]
    fn plain_blocks_written_before_still_read() {
        let plain = Block {
            series: series(),
            entities: vec![(0, 2.5, 1_700_000_000_500, 1_700_000_000), (0, -0.0, 7, 3)],
        };
        let bytes = postcard::to_allocvec(&plain).unwrap();
        assert_ne!(bytes[0], COMPACT);
        assert_eq!(decode(&bytes).unwrap(), plain);
    }

    #[test]
    fn entities_stamped_on_arrival_take_a_third_of_the_plain_form() {
        let entities: Vec<EntityImage> = (0..1000)
            .map(|i| {
                (
                    0,
                    f64::from(i % 7 + 1),
                    1_700_000_000_000 + i64::from(i),
                    1_700_000_000,
                )
            })
            .collect();
        let compact = encode(&series(), &entities).unwrap().len();
        let plain = postcard::to_allocvec(&Block {
            series: series(),
            entities: entities.clone(),
        })
        .unwrap()
        .len();
        assert!(compact * 3 <= plain, "compact {compact} B, plain {plain} B");
        // No series, one entity: series 0, whole 0, stamped 0, a step of -1 (zigzag 1).
        let bad = [COMPACT, 0, 1, 0, 0, 0, 0, 1];
        assert!(decode(&bad).is_err(), "a second before 0 is refused");
    }
}
