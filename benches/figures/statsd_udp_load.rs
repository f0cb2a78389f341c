//! How many StatsD lines per second meterd takes over loopback UDP, and whether any are lost.
//!
//! Starts meterd in this process (UDP on a free loopback port), sends `--lines` counter lines
//! packed `--per-datagram` to a datagram from one sender thread — as fast as it can, or paced at
//! `--rate` lines per second — then waits until meterd has handled them and prints what it
//! received, accepted and dropped (meterd's own drops and the kernel's). Bounded: it stops
//! sending after `--seconds`.
//!
//! ```text
//! cargo run --release --example statsd_udp_load -- --lines 1000000 --per-datagram 10
//! cargo run --release --example statsd_udp_load -- --rate 500000
//! ```

use meterd::app::{spawn, Options};
use serde_json::Value;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

struct Args {
    lines: u64,
    per_datagram: u64,
    rate: u64,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        lines: 1_000_000,
        per_datagram: 10,
        rate: 0,
        seconds: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--lines" => a.lines = value,
            "--per-datagram" => a.per_datagram = value.max(1),
            "--rate" => a.rate = value,
            "--seconds" => a.seconds = value.max(1),
            other => panic!("unknown flag {other}: --lines --per-datagram --rate --seconds"),
        }
    }
    a
}

fn vendor(url: &str) -> Value {
    ureq::get(url)
        .set("Accept", "application/json")
        .call()
        .expect("meterd answers")
        .into_json()
        .expect("JSON")
}

fn get(v: &Value, name: &str) -> u64 {
    v[&format!("meterd.statsd.udp.{name}")]
        .as_f64()
        .unwrap_or(0.0) as u64
}

fn main() -> std::io::Result<()> {
    let a = args();
    let dir = std::env::temp_dir().join(format!("meterd-udp-load-{}", std::process::id()));
    let mut opts = Options::for_tests(dir.join("data"));
    opts.statsd_udp = Some("127.0.0.1:0".into());
    opts.workers = 1;
    let server = spawn(opts)?;
    let udp = server.udp_addr.expect("UDP on");
    let url = server.url("/metrics/vendor");

    let datagram = "load.lines:1|c\n".repeat(a.per_datagram as usize);
    let datagrams = a.lines / a.per_datagram;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(udp)?;
    let limit = Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < datagrams && started.elapsed() < limit {
        if a.rate > 0 {
            // Paced: never ahead of `rate` lines per second.
            let due = (started.elapsed().as_secs_f64() * a.rate as f64) as u64 / a.per_datagram;
            if sent >= due {
                std::thread::yield_now();
                continue;
            }
        }
        socket.send(datagram.as_bytes())?;
        sent += 1;
    }
    let send_time = started.elapsed();

    let deadline = Instant::now() + limit;
    let v = loop {
        let v = vendor(&url);
        let done =
            get(&v, "datagrams") + get(&v, "kernel.drops") >= sent && get(&v, "lines.pending") == 0;
        if done || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let handled_time = started.elapsed();
    let lines_sent = sent * a.per_datagram;
    let accepted = get(&v, "events.accepted");
    let kernel_lines = get(&v, "kernel.drops") * a.per_datagram;
    let meterd_lines = get(&v, "lines.dropped");
    println!(
        "sent        {lines_sent} lines in {} datagrams in {:.3} s ({:.0} lines/s)",
        sent,
        send_time.as_secs_f64(),
        lines_sent as f64 / send_time.as_secs_f64()
    );
    println!(
        "accepted    {accepted} lines by {:.3} s ({:.0} lines/s)",
        handled_time.as_secs_f64(),
        accepted as f64 / handled_time.as_secs_f64()
    );
    println!("lost        {kernel_lines} lines in the kernel, {meterd_lines} dropped by meterd");
    println!(
        "buffer      {} bytes granted for the socket",
        get(&v, "receive_buffer.bytes")
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
