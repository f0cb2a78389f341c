//! The UDP loss test: 1,000,000 lines over loopback as fast as one sender can, then every line
//! is accounted for — received by meterd, or dropped by the kernel (its receive buffer was
//! full, read from `/proc/net/udp`), or dropped by meterd and counted. Nothing else.

mod common;

use common::udp::udp_server;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const LINES: u64 = 1_000_000;
const LINES_PER_DATAGRAM: u64 = 10;
/// The sender stops early (and the test accounts for what it did send) past this.
const SEND_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn a_million_lines_are_all_accounted_for() {
    let server = udp_server();
    let datagram = "loss.lines:1|c\n".repeat(LINES_PER_DATAGRAM as usize);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server.udp_addr()).unwrap();

    let started = Instant::now();
    let mut sent = 0;
    while sent < LINES / LINES_PER_DATAGRAM && started.elapsed() < SEND_LIMIT {
        socket.send(datagram.as_bytes()).unwrap();
        sent += 1;
    }
    let send_time = started.elapsed();
    let r = server.wait_udp(sent);
    let handled_time = started.elapsed();

    let (received, kernel) = (r.get("datagrams"), r.get("kernel.drops"));
    let lines = r.get("lines");
    let (accepted, dropped) = (r.get("events.accepted"), r.get("lines.dropped"));
    eprintln!(
        "sent {} lines in {send_time:?}; meterd received {lines} and accepted {accepted} by \
         {handled_time:?}; kernel dropped {kernel} datagrams, meterd dropped {dropped} lines; \
         receive buffer {} bytes",
        sent * LINES_PER_DATAGRAM,
        r.get("receive_buffer.bytes")
    );
    assert_eq!(received + kernel, sent, "datagrams: {}", r.0);
    assert_eq!(lines, received * LINES_PER_DATAGRAM, "{}", r.0);
    assert_eq!(r.get("lines.bad"), 0, "{}", r.0);
    assert_eq!(r.get("events.refused"), 0, "{}", r.0);
    assert_eq!(accepted + dropped, lines, "{}", r.0);
    assert_eq!(
        r.get("datagrams.dropped") * LINES_PER_DATAGRAM,
        dropped,
        "{}",
        r.0
    );
    let app = server.get_json("/metrics/application");
    assert_eq!(
        app["loss.lines"].as_f64(),
        Some(accepted as f64),
        "the counter holds every accepted line"
    );
}
