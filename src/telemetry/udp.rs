//! What the StatsD UDP receiver counts, and the kernel's own drop count for its socket.
//!
//! Every line that arrives ends in exactly one place, so that nothing is dropped silently:
//!
//! ```text
//! datagrams sent = datagrams received + kernel drops (receive buffer full)
//! lines received = bad + pending + dropped + accepted events' lines + refused events' lines
//! ```
//!
//! (for lines with one value each; a DogStatsD multi-value line is one line and several events).

use super::procfs;
use std::path::Path;
use std::sync::atomic::{
    AtomicI64, AtomicU64,
    Ordering::{Acquire, Relaxed},
};

/// Counters of the StatsD UDP receiver (shown in the vendor scope as `meterd.statsd.udp.*`).
#[derive(Debug, Default)]
pub struct UdpCounters {
    /// Datagrams read from the socket.
    pub datagrams: AtomicU64,
    /// Non-blank lines in those datagrams.
    pub lines: AtomicU64,
    /// Lines that did not parse (skipped).
    pub lines_bad: AtomicU64,
    /// Parsed lines not yet handed to the collector.
    pub lines_pending: AtomicI64,
    /// Datagrams meterd read but could not hand to the collector (its queue was full or it was
    /// stopping).
    pub datagrams_dropped: AtomicU64,
    /// Parsed lines of those datagrams.
    pub lines_dropped: AtomicU64,
    /// Events the collector accepted.
    pub events_accepted: AtomicU64,
    /// Events the collector refused (their type conflicts with their metric's).
    pub events_refused: AtomicU64,
    /// The socket's receive buffer as the kernel granted it, in bytes.
    pub receive_buffer_bytes: AtomicU64,
    /// The socket's inode, to find it in `/proc/net/udp` (0 when UDP is off).
    pub socket_inode: AtomicU64,
}

impl UdpCounters {
    /// Datagrams the kernel dropped for the socket because its receive buffer was full (the
    /// `drops` column of `/proc/net/udp` or `udp6`); 0 when UDP is off or `/proc` is unreadable.
    pub fn kernel_drops(&self) -> u64 {
        let inode = self.socket_inode.load(Relaxed);
        if inode == 0 {
            return 0;
        }
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .find_map(|path| socket_drops(&procfs::read(Path::new(path)), inode))
            .unwrap_or(0)
    }

    /// The vendor-scope readings: `(name, kind is counter, value, description)`.
    pub fn readings(&self) -> Vec<(&'static str, bool, f64, &'static str)> {
        let g = |a: &AtomicU64| a.load(Relaxed) as f64;
        vec![
            // Datagrams first, with Acquire: the receiver counts a datagram (Release) after its
            // lines, so whoever sees a datagram counted sees its lines below too.
            (
                "meterd.statsd.udp.datagrams",
                true,
                self.datagrams.load(Acquire) as f64,
                "StatsD datagrams received over UDP",
            ),
            (
                "meterd.statsd.udp.lines",
                true,
                g(&self.lines),
                "Non-blank StatsD lines received over UDP",
            ),
            (
                "meterd.statsd.udp.lines.bad",
                true,
                g(&self.lines_bad),
                "StatsD lines received over UDP that did not parse and were skipped",
            ),
            (
                "meterd.statsd.udp.lines.pending",
                false,
                self.lines_pending.load(Acquire).max(0) as f64,
                "StatsD lines parsed and not yet handed to the collector",
            ),
            (
                "meterd.statsd.udp.datagrams.dropped",
                true,
                g(&self.datagrams_dropped),
                "StatsD datagrams received but dropped because the collector could not take them",
            ),
            (
                "meterd.statsd.udp.lines.dropped",
                true,
                g(&self.lines_dropped),
                "Parsed StatsD lines dropped because the collector could not take them",
            ),
            (
                "meterd.statsd.udp.events.accepted",
                true,
                g(&self.events_accepted),
                "Events from StatsD over UDP accepted by the collector",
            ),
            (
                "meterd.statsd.udp.events.refused",
                true,
                g(&self.events_refused),
                "Events from StatsD over UDP refused for a type conflict with their metric",
            ),
            (
                "meterd.statsd.udp.kernel.drops",
                true,
                self.kernel_drops() as f64,
                "StatsD datagrams the kernel dropped because the socket's receive buffer was full",
            ),
            (
                "meterd.statsd.udp.receive_buffer.bytes",
                false,
                g(&self.receive_buffer_bytes),
                "Receive buffer of the StatsD UDP socket as granted by the kernel",
            ),
        ]
    }
}

/// The `drops` column of the row of `/proc/net/udp` text whose `inode` column is `inode`.
fn socket_drops(text: &str, inode: u64) -> Option<u64> {
    let inode = inode.to_string();
    text.lines().skip(1).find_map(|row| {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        (cols.get(9) == Some(&inode.as_str())).then(|| cols.get(12)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
        retrnsmt   uid  timeout inode ref pointer drops\n\
        \x20 45: 0100007F:1F8D 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 \
        123456 2 0000000000000000 0\n\
        \x20 46: 0100007F:A3C1 00000000:0000 07 00000000:00003400 00:00000000 00000000     0        0 \
        654321 2 0000000000000000 1742\n";

    #[test]
    fn finds_the_drops_of_the_socket_by_inode() {
        assert_eq!(socket_drops(TEXT, 654321), Some(1742));
        assert_eq!(socket_drops(TEXT, 123456), Some(0));
        assert_eq!(socket_drops(TEXT, 999), None);
        assert_eq!(socket_drops("", 654321), None);
    }

    #[test]
    fn no_socket_reads_zero_drops() {
        assert_eq!(UdpCounters::default().kernel_drops(), 0);
    }

    #[test]
    fn our_own_socket_is_found_in_proc() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
            .unwrap()
            .ino();
        let text = procfs::read(Path::new("/proc/net/udp"));
        assert_eq!(socket_drops(&text, inode), Some(0), "{text}");
    }
}
