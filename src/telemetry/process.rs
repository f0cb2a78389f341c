//! meterd's own process readings for the MicroProfile `base` scope, read from `/proc/self`.

use super::procfs;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Clock ticks per second in `/proc/<pid>/stat` and `/proc/stat` (`USER_HZ`).
///
/// The kernel reports these times in `USER_HZ` units, which its ABI fixes at 100 on every
/// mainstream architecture (x86, ARM, RISC-V, POWER, s390), whatever `CONFIG_HZ` is.
/// `sysconf(_SC_CLK_TCK)` would tell us too, but calling it needs `unsafe`, which this crate
/// forbids, so the ABI constant is assumed.
const USER_HZ: f64 = 100.0;

/// One reading of meterd's own process. Every field is 0 where `/proc` is not available,
/// except the two times, which fall back to what the `started` instant tells.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessReadings {
    /// Live threads (`Threads:` in `/proc/self/status`).
    pub threads: u64,
    /// Resident set size in bytes (`VmRSS:`).
    pub resident_bytes: u64,
    /// Virtual memory size in bytes (`VmSize:`).
    pub virtual_bytes: u64,
    /// User plus system CPU time spent, in seconds.
    pub cpu_seconds: f64,
    /// Seconds since the `started` instant given to [`read_process`].
    pub uptime_seconds: f64,
    /// Open file descriptors, counting the one used to list `/proc/self/fd` (as Prometheus'
    /// process collector does).
    pub open_fds: u64,
    /// The soft limit on open files; `u64::MAX` when it is `unlimited`.
    pub max_fds: u64,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Reads meterd's own process from `/proc/self`; `started` is the instant meterd started,
/// from which the uptime is measured. Never fails: what cannot be read is 0.
pub fn read_process(started: Instant) -> ProcessReadings {
    let proc = Path::new("/proc");
    let status = procfs::read(&proc.join("self/status"));
    let stat = parse_self_stat(&procfs::read(&proc.join("self/stat")));
    let boot_time = parse_boot_time(&procfs::read(&proc.join("stat")));
    let uptime_seconds = started.elapsed().as_secs_f64();
    let start_time_seconds = match (boot_time, stat) {
        (Some(boot), Some(stat)) => boot as f64 + stat.start_ticks as f64 / USER_HZ,
        _ => epoch_seconds_now() - uptime_seconds,
    };
    ProcessReadings {
        threads: procfs::key_value(&status, "Threads").unwrap_or(0),
        resident_bytes: procfs::key_value(&status, "VmRSS").unwrap_or(0),
        virtual_bytes: procfs::key_value(&status, "VmSize").unwrap_or(0),
        cpu_seconds: stat.map_or(0.0, |s| s.cpu_ticks as f64 / USER_HZ),
        uptime_seconds,
        open_fds: std::fs::read_dir(proc.join("self/fd")).map_or(0, |dir| dir.count() as u64),
        max_fds: parse_max_open_files(&procfs::read(&proc.join("self/limits"))).unwrap_or(0),
        start_time_seconds,
    }
}

/// The readings as `base`-scope gauges: `(name, value, unit, description)`.
///
/// Names follow MicroProfile's base-scope style; JVM-only names (`memory.usedHeap`,
/// `jvm.uptime`) are replaced by `process.*` names that fit a native process. Units are
/// MicroProfile unit names (`bytes`, `seconds`, `none`). `cpu.processCpuTime` is in seconds,
/// not MicroProfile's nanoseconds, and says so in its unit.
pub fn base_gauges(r: &ProcessReadings) -> Vec<(&'static str, f64, &'static str, &'static str)> {
    vec![
        (
            "thread.count",
            r.threads as f64,
            "none",
            "Number of live threads of the meterd process.",
        ),
        (
            "process.residentMemory",
            r.resident_bytes as f64,
            "bytes",
            "Resident memory (RSS) of the meterd process.",
        ),
        (
            "process.virtualMemory",
            r.virtual_bytes as f64,
            "bytes",
            "Virtual memory size of the meterd process.",
        ),
        (
            "cpu.processCpuTime",
            r.cpu_seconds,
            "seconds",
            "CPU time (user plus system) used by the meterd process.",
        ),
        (
            "process.uptime",
            r.uptime_seconds,
            "seconds",
            "Time since meterd started.",
        ),
        (
            "process.openFileDescriptors",
            r.open_fds as f64,
            "none",
            "Number of open file descriptors of the meterd process.",
        ),
        (
            "process.maxFileDescriptors",
            r.max_fds as f64,
            "none",
            "Soft limit on open file descriptors of the meterd process.",
        ),
        (
            "process.startTime",
            r.start_time_seconds,
            "seconds",
            "Start time of the meterd process since the Unix epoch.",
        ),
    ]
}

/// The fields of `/proc/self/stat` meterd uses, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SelfStat {
    /// `utime + stime`.
    cpu_ticks: u64,
    /// `starttime`: ticks after boot at which the process started.
    start_ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
/// the fields are counted from its last `)`.
fn parse_self_stat(text: &str) -> Option<SelfStat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(SelfStat {
        cpu_ticks: field(14)?.saturating_add(field(15)?),
        start_ticks: field(22)?,
    })
}

/// Boot time in seconds since the epoch: the `btime` line of `/proc/stat`.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}

/// The soft limit of the `Max open files` line of `/proc/<pid>/limits`.
fn parse_max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    match line["Max open files".len()..].split_whitespace().next()? {
        "unlimited" => Some(u64::MAX),
        soft => soft.parse().ok(),
    }
}

fn epoch_seconds_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "8404 (meterd (w) x) S 8399 8399 7192 0 -1 4194304 1040 0 3 0 \
        250 70 0 0 20 0 9 0 41410 313344000 4170 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 \
        17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                1048576              files
Max locked memory         8388608              8388608              bytes
";

    #[test]
    fn self_stat_counts_fields_after_the_command_name() {
        let stat = parse_self_stat(STAT).unwrap();
        assert_eq!(stat.cpu_ticks, 320);
        assert_eq!(stat.start_ticks, 41410);
        assert_eq!(parse_self_stat(""), None);
        assert_eq!(parse_self_stat("1 (x) S 0 0"), None);
    }

    #[test]
    fn boot_time_and_open_file_limit() {
        let stat = "cpu  1 2 3 4 5 6 7 8 0 0\nintr 0\nbtime 1700000000\nprocesses 9\n";
        assert_eq!(parse_boot_time(stat), Some(1_700_000_000));
        assert_eq!(parse_boot_time("cpu 1 2 3"), None);
        assert_eq!(parse_max_open_files(LIMITS), Some(20000));
        let unlimited = "Max open files            unlimited            unlimited            files";
        assert_eq!(parse_max_open_files(unlimited), Some(u64::MAX));
        assert_eq!(parse_max_open_files(""), None);
    }

    #[test]
    fn base_gauges_name_every_reading_once() {
        let r = ProcessReadings {
            threads: 9,
            cpu_seconds: 3.2,
            ..ProcessReadings::default()
        };
        let gauges = base_gauges(&r);
        assert_eq!(gauges.len(), 8);
        assert_eq!(gauges[0], ("thread.count", 9.0, "none", gauges[0].3));
        let cpu = gauges.iter().find(|g| g.0 == "cpu.processCpuTime").unwrap();
        assert_eq!((cpu.1, cpu.2), (3.2, "seconds"));
        for (name, _, _, description) in &gauges {
            assert!(crate::model::valid_name(name, 255), "{name}");
            assert!(!description.is_empty());
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let r = read_process(Instant::now());
        assert!(r.threads >= 1);
        assert!(r.resident_bytes > 0 && r.virtual_bytes >= r.resident_bytes);
        assert!(r.open_fds >= 3 && r.max_fds >= r.open_fds);
        assert!(r.start_time_seconds > 1_500_000_000.0);
        assert!(r.start_time_seconds <= epoch_seconds_now() + 1.0);
    }
}
