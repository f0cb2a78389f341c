//! Host readings for the Kanto `SYSTEM` originator: CPU, memory, disk and network traffic, and
//! tasks, read from `/proc`. [`SystemSampler`] is a plain struct; an actor samples it every
//! second.

use super::procfs;
use std::collections::HashSet;
use std::path::PathBuf;

/// The Kanto originator under which these readings are published.
pub const ORIGINATOR: &str = "SYSTEM";

/// Every measurement id [`SystemSampler::sample`] returns, in the order it returns them (the
/// order of the Kanto metrics API's list of supported ids).
pub const SYSTEM_IDS: [&str; 9] = [
    "cpu.utilization",
    "memory.utilization",
    "memory.total",
    "memory.used",
    "io.readBytes",
    "io.writeBytes",
    "net.readBytes",
    "net.writeBytes",
    "pids",
];

/// Disk traffic in `/proc/diskstats` is counted in 512-byte sectors, whatever the device's
/// own sector size.
const SECTOR_BYTES: u64 = 512;

/// Device name prefixes whose traffic is not the host's disk traffic: memory-backed devices
/// (`loop`, `ram`, `zram`) and devices stacked on other disks (`dm-`, `md`), which would count
/// the same bytes twice.
const SKIPPED_DEVICES: [&str; 5] = ["loop", "ram", "zram", "dm-", "md"];

/// Samples the host's readings; keeps the previous CPU times so that `cpu.utilization` is
/// the busy share of the interval between two samples.
#[derive(Debug, Clone)]
pub struct SystemSampler {
    /// CPU times of the last sample that could read them.
    prev: Option<CpuTimes>,
    /// Where procfs is mounted: `/proc`, or e.g. a host's `/proc` mounted into a container.
    root: PathBuf,
}

impl Default for SystemSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemSampler {
    /// A sampler reading `/proc`.
    pub fn new() -> Self {
        Self::with_root("/proc")
    }

    /// A sampler reading procfs mounted at `root` (a host's `/proc` seen from a container, or
    /// a test fixture).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        SystemSampler {
            prev: None,
            root: root.into(),
        }
    }

    /// One `(id, value)` for every id of [`SYSTEM_IDS`], in that order. Percentages are
    /// 0–100; bytes and tasks are cumulative host totals. `cpu.utilization` is 0 on the first
    /// sample. What cannot be read is 0.
    pub fn sample(&mut self) -> Vec<(&'static str, f64)> {
        let cpu = parse_stat_cpu(&self.read("stat"));
        let cpu_percent = match (self.prev, cpu) {
            (Some(prev), Some(now)) => now.busy_percent_since(prev),
            _ => 0.0,
        };
        if cpu.is_some() {
            self.prev = cpu;
        }
        let memory = parse_meminfo(&self.read("meminfo"));
        let disk = parse_diskstats(&self.read("diskstats"));
        let net = parse_net_dev(&self.read("net/dev"));
        let tasks = parse_loadavg_tasks(&self.read("loadavg")).unwrap_or(0);
        vec![
            ("cpu.utilization", cpu_percent),
            ("memory.utilization", memory.used_percent()),
            ("memory.total", memory.total as f64),
            ("memory.used", memory.used() as f64),
            ("io.readBytes", disk.read as f64),
            ("io.writeBytes", disk.written as f64),
            ("net.readBytes", net.read as f64),
            ("net.writeBytes", net.written as f64),
            ("pids", tasks as f64),
        ]
    }

    fn read(&self, file: &str) -> String {
        procfs::read(&self.root.join(file))
    }
}

/// The aggregate `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTimes {
    /// `idle + iowait`.
    idle: u64,
    /// `user + nice + system + idle + iowait + irq + softirq + steal` (guest time is already
    /// inside user and nice).
    total: u64,
}

impl CpuTimes {
    /// Percent of all CPUs busy between `prev` and `self`; 0 when no time passed. Counters
    /// that went backwards (iowait can) are clamped, never negative or above 100.
    fn busy_percent_since(self, prev: CpuTimes) -> f64 {
        let total = self.total.saturating_sub(prev.total);
        if total == 0 {
            return 0.0;
        }
        let busy = total.saturating_sub(self.idle.saturating_sub(prev.idle));
        (busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
    }
}

/// Total and available memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Memory {
    total: u64,
    available: u64,
}

impl Memory {
    fn used(self) -> u64 {
        self.total.saturating_sub(self.available)
    }

    fn used_percent(self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.used() as f64 / self.total as f64 * 100.0
    }
}

/// Cumulative bytes read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Traffic {
    read: u64,
    written: u64,
}

/// Parses the aggregate `cpu ` line of `/proc/stat`.
fn parse_stat_cpu(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    if ticks.len() < 4 {
        return None;
    }
    let tick = |i: usize| ticks.get(i).copied().unwrap_or(0);
    Some(CpuTimes {
        idle: tick(3) + tick(4),
        total: (0..8).map(tick).sum(),
    })
}

/// Parses `/proc/meminfo`. Kernels before 3.14 lack `MemAvailable`; there free + buffers +
/// page cache stands in for it.
fn parse_meminfo(text: &str) -> Memory {
    let value = |key| procfs::key_value(text, key);
    let total = value("MemTotal").unwrap_or(0);
    let available = value("MemAvailable").unwrap_or_else(|| {
        ["MemFree", "Buffers", "Cached"]
            .into_iter()
            .filter_map(value)
            .sum()
    });
    Memory {
        total,
        available: available.min(total),
    }
}

/// Sums the bytes read and written by whole disks in `/proc/diskstats`.
///
/// Partitions are recognised by the kernel's naming rule (a disk whose name ends in a digit
/// has partitions `<disk>p<n>`, others `<disk><n>`) and skipped, as are the devices of
/// [`SKIPPED_DEVICES`], so no byte is counted twice.
fn parse_diskstats(text: &str) -> Traffic {
    let devices: Vec<(&str, u64, u64)> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let sectors = |i: usize| fields.get(i)?.parse::<u64>().ok();
            // major minor name reads merged sectors_read ms writes merged sectors_written ...
            Some((*fields.get(2)?, sectors(5)?, sectors(9)?))
        })
        .collect();
    let names: HashSet<&str> = devices.iter().map(|d| d.0).collect();
    devices
        .iter()
        .filter(|(name, _, _)| !SKIPPED_DEVICES.iter().any(|p| name.starts_with(p)))
        .filter(|(name, _, _)| !is_partition(name, &names))
        .fold(Traffic::default(), |sum, (_, read, written)| Traffic {
            read: sum.read.saturating_add(read.saturating_mul(SECTOR_BYTES)),
            written: sum
                .written
                .saturating_add(written.saturating_mul(SECTOR_BYTES)),
        })
}

/// Whether `name` is a partition of one of the devices in `names`.
fn is_partition(name: &str, names: &HashSet<&str>) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if base.len() == name.len() || base.is_empty() {
        return false;
    }
    let p_disk = base
        .strip_suffix('p')
        .filter(|disk| disk.ends_with(|c: char| c.is_ascii_digit()));
    match p_disk {
        Some(disk) if names.contains(disk) => true,
        _ => names.contains(base),
    }
}

/// Sums received and transmitted bytes over the interfaces of `/proc/net/dev`, except `lo`.
fn parse_net_dev(text: &str) -> Traffic {
    text.lines()
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let fields: Vec<&str> = counters.split_whitespace().collect();
            // 8 receive columns (bytes first), then 8 transmit columns (bytes first).
            let bytes = |i: usize| fields.get(i)?.parse::<u64>().ok();
            Some((bytes(0)?, bytes(8)?))
        })
        .fold(Traffic::default(), |sum, (read, written)| Traffic {
            read: sum.read.saturating_add(read),
            written: sum.written.saturating_add(written),
        })
}

/// The number of tasks (processes and threads) on the host: the total after the `/` in the
/// fourth field of `/proc/loadavg`. Like the cgroup `pids` controller behind Kanto's
/// container `pids`, it counts every task.
fn parse_loadavg_tasks(text: &str) -> Option<u64> {
    let field = text.split_whitespace().nth(3)?;
    field.split_once('/')?.1.parse().ok()
}

#[cfg(test)]
mod tests;
