//! The write-ahead log's records and how they are framed on disk.
//!
//! A frame is `length: u32 LE | crc32(payload): u32 LE | payload`, the payload a [`Record`] in
//! postcard (serde's compact varint format, whose wire format is documented and stable). A
//! frame that is cut short, fails its CRC or does not decode ends the readable log: everything
//! from it on is a torn tail.

use crate::model::Event;
use crate::registry::Selector;
use serde::{Deserialize, Serialize};
use std::fmt;

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

/// `record` as one frame, ready to be appended to a segment.
pub fn frame(record: &RecordRef<'_>) -> Vec<u8> {
    let mut out = vec![0; FRAME_HEADER];
    // Serializing plain data into a Vec cannot fail.
    out = postcard::to_extend(record, out).unwrap_or_else(|_| vec![0; FRAME_HEADER]);
    let payload = &out[FRAME_HEADER..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Why reading stopped before the end of the bytes.
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

/// The records read from a run of frames.
#[derive(Debug, Default)]
pub struct Frames {
    /// The good records, in order.
    pub records: Vec<Record>,
    /// Bytes up to the end of the last good frame.
    pub valid_len: usize,
    /// Why reading stopped early, if it did; everything after `valid_len` is a torn tail.
    pub tail: Option<Tail>,
}

/// Reads frames from `bytes` until the end or the first bad frame. Never panics, whatever
/// the bytes.
pub fn read_frames(bytes: &[u8]) -> Frames {
    let mut frames = Frames::default();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < FRAME_HEADER {
            frames.tail = Some(Tail::Short);
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let Some(payload) = rest[FRAME_HEADER..].get(..len) else {
            frames.tail = Some(Tail::Short);
            break;
        };
        if crc32fast::hash(payload) != crc {
            frames.tail = Some(Tail::BadCrc);
            break;
        }
        match postcard::from_bytes::<Record>(payload) {
            Ok(record) => frames.records.push(record),
            Err(e) => {
                frames.tail = Some(Tail::Undecodable(e.to_string()));
                break;
            }
        }
        at += FRAME_HEADER + len;
        frames.valid_len = at;
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
        log.extend(frame(&RecordRef::Batch {
            admitted_ms: 7,
            events: &events,
        }));
        log.extend(frame(&RecordRef::Reset {
            at_ms: 8,
            selector: &selector,
        }));
        log.extend(frame(&RecordRef::Remove {
            at_ms: 9,
            selector: &selector,
        }));
        log.extend(frame(&RecordRef::Forget {
            at_ms: 10,
            hashes: &[1, u64::MAX],
        }));
        let read = read_frames(&log);
        assert_eq!(read.tail, None);
        assert_eq!(read.valid_len, log.len());
        assert_eq!(
            read.records,
            vec![
                Record::Batch {
                    admitted_ms: 7,
                    events
                },
                Record::Reset {
                    at_ms: 8,
                    selector: selector.clone()
                },
                Record::Remove { at_ms: 9, selector },
                Record::Forget {
                    at_ms: 10,
                    hashes: vec![1, u64::MAX]
                },
            ]
        );
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_where_it_starts() {
        let events = sample_events();
        let one = frame(&RecordRef::Batch {
            admitted_ms: 1,
            events: &events,
        });
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
}
