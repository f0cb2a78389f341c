//! Small helpers for reading Linux `/proc` text files.
//!
//! A missing or unreadable file reads as empty text, so every parser sees "nothing there" and
//! answers zeros instead of failing: on non-Linux hosts, or under a hardened `/proc`, meterd's
//! own readings are zeros, never an error or a panic.

use std::path::Path;

/// The whole file as text; empty when it cannot be read.
pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of a `Key:   123 kB` line (as in `/proc/meminfo` and `/proc/<pid>/status`),
/// in bytes when the line has a `kB` unit and as the plain number otherwise.
pub(crate) fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        let mut words = rest.split_whitespace();
        let number: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => Some(number.saturating_mul(1024)),
            _ => Some(number),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_reads_kb_as_bytes_and_plain_numbers_as_is() {
        let text = "Name:\tmeterd\nThreads:\t7\nVmRSS:\t    1764 kB\n";
        assert_eq!(key_value(text, "VmRSS"), Some(1764 * 1024));
        assert_eq!(key_value(text, "Threads"), Some(7));
        assert_eq!(key_value(text, "Name"), None);
        assert_eq!(key_value(text, "VmSize"), None);
    }

    #[test]
    fn missing_file_reads_as_empty() {
        assert_eq!(read(Path::new("/nonexistent/meterd/proc/file")), "");
    }
}
