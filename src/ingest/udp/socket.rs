//! Binding the StatsD socket with a receive buffer large enough for bursts at loopback speed.

use std::io;
use std::net::UdpSocket;

/// The receive buffer meterd asks for: 32 MiB. The kernel's default (`net.core.rmem_default`,
/// usually 208 KiB) holds a few hundred small datagrams, which one sender on loopback fills in
/// well under a millisecond whenever the reader is not scheduled; 32 MiB holds tens of
/// thousands, enough to ride out scheduling gaps of a busy machine.
pub const RECEIVE_BUFFER_BYTES: usize = 32 << 20;

/// Binds `addr`; an address in use (or any other failure) is an error that names it and says
/// what to do.
pub fn bind(addr: &str) -> io::Result<UdpSocket> {
    UdpSocket::bind(addr).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            " (is another StatsD server running? choose another address with --statsd-udp \
             ADDR, or turn StatsD over UDP off with --statsd-udp off)"
        } else {
            " (set another address with --statsd-udp ADDR, or off)"
        };
        io::Error::new(
            e.kind(),
            format!("cannot bind the StatsD UDP socket to {addr}: {e}{hint}"),
        )
    })
}

/// How the receive buffer was sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveBuffer {
    /// What meterd asked for.
    pub asked: usize,
    /// What the kernel reports now (Linux reports twice the usable size: it counts its own
    /// bookkeeping).
    pub granted: usize,
    /// True when `SO_RCVBUFFORCE` worked (it needs `CAP_NET_ADMIN`, e.g. root), so that
    /// `net.core.rmem_max` did not cap the size.
    pub forced: bool,
}

/// Asks for a `bytes` receive buffer: first with `SO_RCVBUFFORCE`, which only a process with
/// `CAP_NET_ADMIN` may use and which is not capped by `net.core.rmem_max`; failing that with
/// `SO_RCVBUF`, which the kernel silently caps at `net.core.rmem_max`. Never fails: the worst
/// case is the default buffer, reported as such.
pub fn size_receive_buffer(socket: &UdpSocket, bytes: usize) -> ReceiveBuffer {
    use rustix::net::sockopt;
    let forced = force(socket, bytes);
    if !forced {
        if let Err(e) = sockopt::set_socket_recv_buffer_size(socket, bytes) {
            tracing::warn!(error = %e, "could not set SO_RCVBUF on the StatsD socket");
        }
    }
    let granted = sockopt::socket_recv_buffer_size(socket).unwrap_or(0);
    ReceiveBuffer {
        asked: bytes,
        granted,
        forced,
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn force(socket: &UdpSocket, bytes: usize) -> bool {
    rustix::net::sockopt::set_socket_recv_buffer_size_force(socket, bytes).is_ok()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn force(_: &UdpSocket, _: usize) -> bool {
    false
}

/// The socket's inode, which names it in `/proc/net/udp`; 0 where `/proc` is not there.
pub fn inode(socket: &UdpSocket) -> u64 {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
        .map(|m| m.ino())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_in_use_is_named_with_a_hint() {
        let first = bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap().to_string();
        let e = bind(&addr).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let text = e.to_string();
        assert!(text.contains(&addr), "{text}");
        assert!(text.contains("--statsd-udp"), "{text}");
    }

    #[test]
    fn the_buffer_grows_at_least_past_the_default() {
        let socket = bind("127.0.0.1:0").unwrap();
        let before = rustix::net::sockopt::socket_recv_buffer_size(&socket).unwrap();
        let sized = size_receive_buffer(&socket, 4 << 20);
        assert_eq!(sized.asked, 4 << 20);
        assert!(sized.granted >= before, "{sized:?} vs {before}");
        if sized.forced {
            // Linux doubles what it was asked for.
            assert!(sized.granted >= 4 << 20, "{sized:?}");
        }
    }

    #[test]
    fn sockets_have_an_inode() {
        let socket = bind("127.0.0.1:0").unwrap();
        assert_ne!(inode(&socket), 0);
    }
}
