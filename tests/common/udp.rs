//! StatsD over UDP in tests: a server with UDP on, sending datagrams, waiting until meterd has
//! handled every one, and meterd's own `meterd.statsd.udp.*` counters.

use super::Server;
use serde_json::Value;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A server with StatsD over UDP on a free loopback port.
pub fn udp_server() -> Server {
    Server::with(|o| o.statsd_udp = Some("127.0.0.1:0".into()))
}

impl Server {
    /// The StatsD UDP address; panics when UDP is off.
    pub fn udp_addr(&self) -> SocketAddr {
        self.running.udp_addr.expect("StatsD UDP is on")
    }

    /// Sends each text as one datagram.
    pub fn send_udp(&self, datagrams: &[&str]) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in datagrams {
            socket.send_to(d.as_bytes(), self.udp_addr()).unwrap();
        }
    }

    /// meterd's own UDP counters, by the part of the name after `meterd.statsd.udp.`.
    pub fn udp_counters(&self) -> UdpReadings {
        UdpReadings(self.get_json("/metrics/vendor"))
    }

    /// Waits until meterd has read (or the kernel has dropped) `datagrams` datagrams in all and
    /// handed every parsed line on; answers the counters then. Panics after 30 s.
    pub fn wait_udp(&self, datagrams: u64) -> UdpReadings {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.udp_counters();
            if r.get("datagrams") + r.get("kernel.drops") >= datagrams
                && r.get("lines.pending") == 0
            {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "meterd did not handle {datagrams} datagrams in time: {}",
                r.0
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The vendor scope as JSON.
pub struct UdpReadings(pub Value);

impl UdpReadings {
    /// `meterd.statsd.udp.<name>` as an integer.
    pub fn get(&self, name: &str) -> u64 {
        let key = format!("meterd.statsd.udp.{name}");
        let v = self.0[&key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing from {}", self.0));
        v as u64
    }
}
