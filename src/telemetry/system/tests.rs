use super::*;

const STAT: &str = "\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335787 34018 563437 13372355 4123 0 3014 0 23445 0
intr 1462898 0 9 0 0 0 0 3 0 1 0 0 0 0 0 0 0 0 0
ctxt 4352344
btime 1700000000
processes 27395
procs_running 2
procs_blocked 0
softirq 1125437 0 376734 2 10561 84 0 3254 384520 0 350282
";

const MEMINFO: &str = "\
MemTotal:       16303412 kB
MemFree:         6511340 kB
MemAvailable:    9876544 kB
Buffers:          412316 kB
Cached:          3123468 kB
SwapCached:            0 kB
Active:          5512352 kB
Inactive:        3101692 kB
SwapTotal:       2097148 kB
SwapFree:        2097148 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
";

// Kernel 5.5+ layout: 20 columns. Sectors read are column 6, sectors written column 10.
const DISKSTATS: &str = "\
   7       0 loop0 94 0 2206 40 0 0 0 0 0 72 40 0 0 0 0 0 0
 259       0 nvme0n1 225390 71231 15603422 46093 548309 294836 31245098 361541 0 298548 434716 0 0 0 0 36279 27081
 259       1 nvme0n1p1 341 1020 12050 92 2 0 2 0 0 68 92 0 0 0 0 0 0
 259       2 nvme0n1p2 224969 70211 15587364 45990 548307 294836 31245096 361541 0 298480 407531 0 0 0 0 0 0
 259       3 nvme0n10 10 0 100 1 20 0 200 2 0 3 3 0 0 0 0 0 0
   8       0 sda 1000 0 4000 10 2000 0 8000 20 0 30 30 0 0 0 0 0 0
   8       1 sda1 999 0 3990 10 1999 0 7990 20 0 30 30 0 0 0 0 0 0
   8     240 sdp 1 0 2 0 1 0 2 0 0 0 0 0 0 0 0 0 0
   8     241 sdp1 1 0 2 0 1 0 2 0 0 0 0 0 0 0 0 0 0
 179       0 mmcblk0 50 0 400 5 60 0 600 6 0 11 11 0 0 0 0 0 0
 179       1 mmcblk0p1 50 0 400 5 60 0 600 6 0 11 11 0 0 0 0 0 0
 253       0 dm-0 224000 0 15500000 46000 840000 0 31000000 361000 0 298000 407000 0 0 0 0 0 0
   9       0 md0 5 0 50 0 5 0 50 0 0 0 0 0 0 0 0 0 0
 252       0 zram0 300 0 2400 0 700 0 5600 0 0 0 0 0 0 0 0 0 0
   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
";

const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 8273531   54367    0    0    0     0          0         0  8273531   54367    0    0    0     0       0          0
  eth0: 44527313    2134    0    0    0     0          0         0   170996    1307    0    0    0     0       0          0
 wlan0: 1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
  eth1:5000      50    0    0    0     0          0         0     7000      70    0    0    0     0       0          0
";

const LOADAVG: &str = "0.52 0.58 0.59 3/1163 123456\n";

#[test]
fn stat_cpu_reads_the_aggregate_line() {
    let cpu = parse_stat_cpu(STAT).unwrap();
    assert_eq!(cpu.idle, 46828483 + 16683);
    // guest (175628) is inside user already and is not added again.
    assert_eq!(
        cpu.total,
        10132153 + 290696 + 3084719 + 46828483 + 16683 + 25195
    );
    assert_eq!(parse_stat_cpu("cpu0 1 2 3 4\n"), None);
    assert_eq!(parse_stat_cpu(""), None);
}

#[test]
fn cpu_utilization_is_the_busy_share_of_the_interval() {
    let before = CpuTimes {
        idle: 1000,
        total: 5000,
    };
    // 400 busy ticks out of 1000.
    let after = CpuTimes {
        idle: 1600,
        total: 6000,
    };
    assert_eq!(after.busy_percent_since(before), 40.0);
    assert_eq!(before.busy_percent_since(before), 0.0);
    // Counters going backwards never give a negative or above-100 reading.
    assert_eq!(before.busy_percent_since(after), 0.0);
    let idle_back = CpuTimes {
        idle: 900,
        total: 5100,
    };
    assert_eq!(idle_back.busy_percent_since(before), 100.0);
}

#[test]
fn meminfo_used_is_total_minus_available() {
    let memory = parse_meminfo(MEMINFO);
    assert_eq!(memory.total, 16303412 * 1024);
    assert_eq!(memory.used(), (16303412 - 9876544) * 1024);
    let percent = memory.used_percent();
    assert!((percent - 39.4201).abs() < 1e-3, "{percent}");
    assert_eq!(parse_meminfo(""), Memory::default());
    assert_eq!(parse_meminfo("").used_percent(), 0.0);
}

#[test]
fn meminfo_without_mem_available_falls_back_to_free_buffers_cached() {
    let old = "MemTotal: 1000 kB\nMemFree: 300 kB\nBuffers: 100 kB\nCached: 200 kB\n";
    let memory = parse_meminfo(old);
    assert_eq!(memory.used(), 400 * 1024);
    assert_eq!(memory.used_percent(), 40.0);
}

#[test]
fn diskstats_sums_whole_disks_only() {
    let traffic = parse_diskstats(DISKSTATS);
    // nvme0n1, nvme0n10 (a namespace, not a partition), sda, sdp, mmcblk0.
    let sectors_read = 15603422 + 100 + 4000 + 2 + 400;
    let sectors_written = 31245098 + 200 + 8000 + 2 + 600;
    assert_eq!(traffic.read, sectors_read * 512);
    assert_eq!(traffic.written, sectors_written * 512);
    assert_eq!(parse_diskstats(""), Traffic::default());
}

#[test]
fn partitions_follow_the_kernel_naming_rule() {
    let names: HashSet<&str> = ["sda", "sdp", "nvme0n1", "mmcblk0", "nvme0n10"].into();
    for partition in ["sda1", "sda12", "sdp1", "nvme0n1p1", "mmcblk0p2"] {
        assert!(is_partition(partition, &names), "{partition}");
    }
    for disk in ["sda", "sdp", "nvme0n1", "nvme0n10", "mmcblk0", "sr0", "vdb"] {
        assert!(!is_partition(disk, &names), "{disk}");
    }
}

#[test]
fn net_dev_sums_every_interface_but_loopback() {
    let traffic = parse_net_dev(NET_DEV);
    assert_eq!(traffic.read, 44527313 + 1000 + 5000);
    assert_eq!(traffic.written, 170996 + 2000 + 7000);
    assert_eq!(parse_net_dev(""), Traffic::default());
}

#[test]
fn loadavg_total_tasks() {
    assert_eq!(parse_loadavg_tasks(LOADAVG), Some(1163));
    assert_eq!(parse_loadavg_tasks("0.1 0.2 0.3"), None);
}

/// A procfs fixture in a fresh temporary directory.
struct Fixture(PathBuf);

impl Fixture {
    fn new(name: &str) -> Self {
        let root =
            std::env::temp_dir().join(format!("meterd-telemetry-{}-{name}", std::process::id()));
        std::fs::create_dir_all(root.join("net")).unwrap();
        let fixture = Fixture(root);
        fixture.write("meminfo", MEMINFO);
        fixture.write("diskstats", DISKSTATS);
        fixture.write("net/dev", NET_DEV);
        fixture.write("loadavg", LOADAVG);
        fixture
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.0.join(file), text).unwrap();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn value(sample: &[(&'static str, f64)], id: &str) -> f64 {
    sample.iter().find(|(i, _)| *i == id).unwrap().1
}

#[test]
fn sampler_reports_every_id_and_cpu_from_the_second_sample_on() {
    let fixture = Fixture::new("sampler");
    fixture.write("stat", "cpu  100 0 100 700 100 0 0 0 0 0\n");
    let mut sampler = SystemSampler::with_root(&fixture.0);
    let first = sampler.sample();
    let ids: Vec<&str> = first.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, SYSTEM_IDS);
    assert_eq!(value(&first, "cpu.utilization"), 0.0);
    assert_eq!(value(&first, "memory.total"), 16303412.0 * 1024.0);
    assert_eq!(value(&first, "net.readBytes"), 44533313.0);
    assert_eq!(value(&first, "pids"), 1163.0);

    // +250 busy, +750 idle/iowait ticks.
    fixture.write("stat", "cpu  300 0 150 1400 150 0 0 0 0 0\n");
    assert_eq!(value(&sampler.sample(), "cpu.utilization"), 25.0);
}

#[test]
fn sampler_without_procfs_reports_zeros() {
    let mut sampler = SystemSampler::with_root("/nonexistent/meterd/proc");
    for _ in 0..2 {
        let sample = sampler.sample();
        assert_eq!(sample.len(), SYSTEM_IDS.len());
        assert!(sample.iter().all(|(_, v)| *v == 0.0), "{sample:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn sampler_reads_this_host() {
    let mut sampler = SystemSampler::new();
    sampler.sample();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let sample = sampler.sample();
    let ids: Vec<&str> = sample.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, SYSTEM_IDS);
    let total = value(&sample, "memory.total");
    assert!(total > 0.0);
    assert!(value(&sample, "memory.used") <= total);
    for id in ["cpu.utilization", "memory.utilization"] {
        assert!((0.0..=100.0).contains(&value(&sample, id)), "{id}");
    }
    assert!(value(&sample, "pids") >= 1.0);
    assert!(sample.iter().all(|(_, v)| v.is_finite() && *v >= 0.0));
}
