//! The write-ahead log's records and how they are framed on disk.
//!
//! A frame is `length: u32 LE | crc32(payload): u32 LE | payload`, the payload a record's
//! [`Position`] and the [`Record`] in postcard (serde's compact varint format, whose wire
//! format is documented and stable). A frame that is cut short at the end of the bytes is a
//! torn tail (a write cut by a crash). A damaged frame in the middle (a bad CRC, a record that
//! does not decode) is skipped: reading resumes at the next offset where a whole frame passes
//! its CRC and decodes, and what was skipped is reported (bytes, and records by the gap in
//! positions).

use crate::model::Event;
use crate::model::Selector;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A record's place in the log: 1 for the first record ever logged, then one more for each.
/// Every part of the state says which position it covers (0: none).
pub type Position = u64;

/// Bytes of a frame's header (length and CRC).
pub const FRAME_HEADER: usize = 8;

/// One logged step of the collector, in the order the collector took them. Replay re-applies
/// them in the same order after the last snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// A batch admitted at `admitted_ms` (epoch milliseconds).
    Batch {
        /// When the collector admitted it; meters and timers count from then.
        admitted_ms: i64,
        /// The events, in their order in the batch.
        events: Vec<Event>,
    },
    /// A reset (Orion's reset and get-and-reset) of the selected series: replay must not bring
    /// back what a reset already handed out.
    Reset {
        /// When the reset was taken.
        at_ms: i64,
        /// The series reset.
        selector: Selector,
    },
    /// The selected series were removed on purpose (`DELETE /api/v1/series`).
    Remove {
        /// When.
        at_ms: i64,
        /// The series removed.
        selector: Selector,
    },
    /// Series idle beyond their `series_ttl` were forgotten, by stable key hash.
    Forget {
        /// When.
        at_ms: i64,
        /// [`SeriesKey::stable_hash`](crate::model::SeriesKey::stable_hash) of each.
        hashes: Vec<u64>,
    },
}

/// The same records, borrowing their data, for encoding without a copy. The variants must
/// stay in the order of [`Record`]'s (postcard writes the variant's index).
#[derive(Debug, Serialize)]
pub enum RecordRef<'a> {
    /// See [`Record::Batch`].
    Batch {
        /// When the collector admitted it.
        admitted_ms: i64,
        /// The events.
        events: &'a [Event],
    },
    /// See [`Record::Reset`].
    Reset {
        /// When.
        at_ms: i64,
        /// The series reset.
        selector: &'a Selector,
    },
    /// See [`Record::Remove`].
    Remove {
        /// When.
        at_ms: i64,
        /// The series removed.
        selector: &'a Selector,
    },
    /// See [`Record::Forget`].
    Forget {
        /// When.
        at_ms: i64,
        /// Stable key hashes.
        hashes: &'a [u64],
    },
}

/// `record` at `position` as one frame, ready to be appended to a segment.
pub fn frame(position: Position, record: &RecordRef<'_>) -> Vec<u8> {
    let mut out = vec![0; FRAME_HEADER];
    // Serializing plain data into a Vec cannot fail.
    out = postcard::to_extend(&(position, record), out).unwrap_or_else(|_| vec![0; FRAME_HEADER]);
    let payload = &out[FRAME_HEADER..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The last frame is cut short (a write interrupted by a crash).
    Short,
    /// A frame's payload does not match its CRC.
    BadCrc,
    /// A frame's payload passed its CRC but is not a record (written by another version?).
    Undecodable(String),
}

impl fmt::Display for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tail::Short => f.write_str("the last record is cut short"),
            Tail::BadCrc => f.write_str("a record fails its CRC"),
            Tail::Undecodable(why) => write!(f, "a record does not decode: {why}"),
        }
    }
}

/// A damaged run of bytes in the middle of the log, skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Offset of the damage in the bytes read.
    pub at: usize,
    /// Bytes skipped.
    pub bytes: usize,
    /// What was wrong with the first damaged frame.
    pub reason: Tail,
}

/// The records read from a run of frames.
#[derive(Debug, Default)]
pub struct Frames {
    /// The good records with their positions, in order.
    pub records: Vec<(Position, Record)>,
    /// Bytes up to the end of the last good frame.
    pub valid_len: usize,
    /// Why reading stopped early, if it did; everything after `valid_len` is a torn tail.
    pub tail: Option<Tail>,
    /// Damaged runs in the middle, skipped (good frames follow each).
    pub skipped: Vec<Skipped>,
}

/// The frame at the start of `rest`: its record and length, or why there is none.
fn frame_at(rest: &[u8]) -> Result<((Position, Record), usize), Tail> {
    if rest.len() < FRAME_HEADER {
        return Err(Tail::Short);
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let Some(payload) = rest[FRAME_HEADER..].get(..len) else {
        return Err(Tail::Short);
    };
    if crc32fast::hash(payload) != crc {
        return Err(Tail::BadCrc);
    }
    match postcard::from_bytes::<(Position, Record)>(payload) {
        Ok(record) => Ok((record, FRAME_HEADER + len)),
        Err(e) => Err(Tail::Undecodable(e.to_string())),
    }
}

/// Reads frames from `bytes` to the end, skipping damaged runs in the middle (see the module
/// doc). Never panics, whatever the bytes.
pub fn read_frames(bytes: &[u8]) -> Frames {
    let mut frames = Frames::default();
    let mut at = 0;
    while at < bytes.len() {
        match frame_at(&bytes[at..]) {
            Ok((record, len)) => {
                frames.records.push(record);
                at += len;
                frames.valid_len = at;
            }
            Err(reason) => {
                // A whole good frame further on means damage in the middle, not a torn tail.
                let next = (at + 1..bytes.len()).find(|&j| frame_at(&bytes[j..]).is_ok());
                match next {
                    Some(j) => {
                        frames.skipped.push(Skipped {
                            at,
                            bytes: j - at,
                            reason,
                        });
                        at = j;
                    }
                    None => {
                        frames.tail = Some(reason);
                        break;
                    }
                }
            }
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Metadata, Op, Scope, SeriesKey};

    fn sample_events() -> Vec<Event> {
        vec![
            Event {
                key: SeriesKey::simple(Scope::Application, "c", vec![("a".into(), "b".into())]),
                kind: Kind::Counter,
                value: 2.0,
                op: Op::Observe,
                timestamp_ms: 1_700_000_000_123,
                meta: Some(Box::new(Metadata {
                    unit: Some("bytes".into()),
                    description: None,
                    display_name: Some("C".into()),
                })),
            },
            Event {
                key: SeriesKey::simple(Scope::Application, "s", vec![]),
                kind: Kind::Gauge,
                value: 0.0,
                op: Op::SetMember(42),
                timestamp_ms: -5,
                meta: None,
            },
        ]
    }

    #[test]
    fn borrowed_records_read_back_as_owned_ones() {
        let events = sample_events();
        let selector = Selector {
            scope: Some(Scope::Application),
            name: Some("c".into()),
            service: None,
        };
        let mut log = Vec::new();
        log.extend(frame(
            1,
            &RecordRef::Batch {
                admitted_ms: 7,
                events: &events,
            },
        ));
        log.extend(frame(
            2,
            &RecordRef::Reset {
                at_ms: 8,
                selector: &selector,
            },
        ));
        log.extend(frame(
            3,
            &RecordRef::Remove {
                at_ms: 9,
                selector: &selector,
            },
        ));
        log.extend(frame(
            u64::MAX,
            &RecordRef::Forget {
                at_ms: 10,
                hashes: &[1, u64::MAX],
            },
        ));
        let read = read_frames(&log);
        assert_eq!(read.tail, None);
        assert_eq!(read.valid_len, log.len());
        assert_eq!(
            read.records,
            vec![
                (
                    1,
                    Record::Batch {
                        admitted_ms: 7,
                        events
                    }
                ),
                (
                    2,
                    Record::Reset {
                        at_ms: 8,
                        selector: selector.clone()
                    }
                ),
                (3, Record::Remove { at_ms: 9, selector }),
                (
                    u64::MAX,
                    Record::Forget {
                        at_ms: 10,
                        hashes: vec![1, u64::MAX]
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_where_it_starts() {
        let events = sample_events();
        let one = frame(
            1,
            &RecordRef::Batch {
                admitted_ms: 1,
                events: &events,
            },
        );
        let mut log = one.clone();
        log.extend(&one);
        // Cut anywhere inside the second frame: the first one survives.
        for cut in one.len() + 1..log.len() {
            let read = read_frames(&log[..cut]);
            assert_eq!(read.records.len(), 1, "cut at {cut}");
            assert_eq!(read.valid_len, one.len());
            assert_eq!(read.tail, Some(Tail::Short));
        }
        // A flipped bit in the second payload fails its CRC.
        let mut bad = log.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let read = read_frames(&bad);
        assert_eq!((read.records.len(), read.tail), (1, Some(Tail::BadCrc)));
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_reported() {
        let events = sample_events();
        let at = |p| {
            frame(
                p,
                &RecordRef::Batch {
                    admitted_ms: 1,
                    events: &events,
                },
            )
        };
        let (a, b, c) = (at(1), at(2), at(3));
        let mut log = a.clone();
        log.extend(&b);
        log.extend(&c);
        // A flipped bit in the second frame, or its length field, or its header cut out.
        for damage in [a.len() + b.len() - 2, a.len() + 1, a.len() + 5] {
            let mut bad = log.clone();
            bad[damage] ^= 0x21;
            let read = read_frames(&bad);
            let positions: Vec<u64> = read.records.iter().map(|(p, _)| *p).collect();
            assert_eq!(positions, vec![1, 3], "damage at {damage}");
            assert_eq!(read.tail, None);
            assert_eq!(read.valid_len, bad.len());
            assert_eq!(read.skipped.len(), 1);
            assert_eq!(
                (read.skipped[0].at, read.skipped[0].bytes),
                (a.len(), b.len())
            );
        }
    }

    #[test]
    fn a_record_from_before_repeats_decodes_next_to_one_with_a_repeat() {
        let event = |op| Event {
            key: SeriesKey::simple(Scope::Application, "c", vec![]),
            kind: Kind::Counter,
            value: 1.0,
            op,
            timestamp_ms: 5,
            meta: None,
        };
        // A batch of one plain observation as a build without Op::Repeat wrote it (position
        // 1, admitted at 7): the variants before Repeat keep their indexes.
        let old: &[u8] = &[
            1, 0, 14, 1, 15, 100, 101, 102, 97, 117, 108, 116, 45, 115, 101, 114, 118, 105, 99,
            101, 1, 47, 2, 1, 99, 0, 0, 0, 0, 0, 0, 0, 0, 240, 63, 0, 10, 0,
        ];
        let mut log = frame(
            1,
            &RecordRef::Batch {
                admitted_ms: 7,
                events: &[event(Op::Observe)],
            },
        );
        assert_eq!(&log[FRAME_HEADER..], old);
        let repeated = [event(Op::Repeat(3))];
        log.extend(frame(
            2,
            &RecordRef::Batch {
                admitted_ms: 8,
                events: &repeated,
            },
        ));
        let frames = read_frames(&log);
        assert_eq!(frames.tail, None);
        let ops: Vec<(Position, Op)> = frames
            .records
            .into_iter()
            .map(|(p, r)| match r {
                Record::Batch { events, .. } => (p, events[0].op.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ops, [(1, Op::Observe), (2, Op::Repeat(3))]);
    }
}
