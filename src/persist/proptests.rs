//! Fuzzing the log decoder: arbitrary bytes never panic, and good frames followed by any
//! garbage read back as exactly the good records.

use super::record::{frame, read_frames, Record, RecordRef};
use proptest::prelude::*;

fn forget(hashes: &[u64]) -> Vec<u8> {
    frame(7, &RecordRef::Forget { at_ms: 1, hashes })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let read = read_frames(&bytes);
        prop_assert!(read.valid_len <= bytes.len());
        prop_assert!(read.tail.is_some() || read.valid_len == bytes.len());
        let skipped: usize = read.skipped.iter().map(|s| s.bytes).sum();
        prop_assert!(skipped <= bytes.len());
    }

    #[test]
    fn arbitrary_payloads_with_a_valid_crc_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        // Frames that pass the CRC reach postcard: it must refuse garbage cleanly too.
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend(crc32fast::hash(&payload).to_le_bytes());
        bytes.extend(&payload);
        let read = read_frames(&bytes);
        prop_assert!(read.records.len() <= 1);
    }

    #[test]
    fn good_frames_then_garbage_keep_the_good_ones(
        hashes in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 0..8), 1..8),
        garbage in proptest::collection::vec(any::<u8>(), 1..64),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut log = Vec::new();
        for h in &hashes {
            log.extend(forget(h));
        }
        let good = log.len();
        log.extend(&garbage);
        let read = read_frames(&log);
        // Garbage may by chance hold a valid frame only with a matching CRC; what was good stays.
        prop_assert!(read.records.len() >= hashes.len());
        for (r, h) in read.records.iter().zip(&hashes) {
            prop_assert_eq!(r, &(7, Record::Forget { at_ms: 1, hashes: h.clone() }));
        }
        // A log cut anywhere reads as a prefix of the records.
        let at = cut.index(good + 1);
        let read = read_frames(&log[..at]);
        prop_assert!(read.records.len() <= hashes.len());
        prop_assert!(read.valid_len <= at);
    }
}
