//! Entity ids: 24 hexadecimal characters, like a MongoDB ObjectId — 4 bytes of capture time
//! in epoch seconds, then 8 bytes of a capture sequence number. Unique in a process and
//! ordered by capture (the seconds never go backwards, even when the wall clock does).

use std::fmt;

/// The id of one captured entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId {
    /// Capture time, epoch seconds.
    pub secs: u32,
    /// Capture sequence number, from 0 at start.
    pub seq: u64,
}

impl EntityId {
    /// Parses 24 hexadecimal characters (either case).
    pub fn parse(text: &str) -> Option<EntityId> {
        if text.len() != 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(EntityId {
            secs: u32::from_str_radix(&text[..8], 16).ok()?,
            seq: u64::from_str_radix(&text[8..], 16).ok()?,
        })
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}{:016x}", self.secs, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let id = EntityId {
            secs: 0x673d_b778,
            seq: 0x5883_4c6a_164e_dfd7,
        };
        assert_eq!(id.to_string(), "673db77858834c6a164edfd7");
        assert_eq!(EntityId::parse("673DB77858834C6A164EDFD7"), Some(id));
        let later = EntityId { secs: 1, seq: 0 };
        assert!(EntityId { secs: 0, seq: 9 } < later);
        assert!(EntityId { secs: 0, seq: 9 }.to_string() < later.to_string());
        for bad in [
            "",
            "673db77858834c6a164edfd",
            "673db77858834c6a164edfdg",
            "+73db77858834c6a164edfd7",
        ] {
            assert_eq!(EntityId::parse(bad), None, "{bad}");
        }
    }
}
