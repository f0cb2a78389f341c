use super::super::record::Record;
use super::super::wal::{list_segments, read_segment};
use super::*;
use std::time::Duration;

const FORGET: RecordRef<'static> = RecordRef::Forget {
    at_ms: 0,
    hashes: &[9],
};

/// An empty temporary folder of this process named after `name`.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meterd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `mode` with a 5 ms fsync interval (used under "interval" only).
fn durability(mode: DurabilityMode) -> Durability {
    Durability {
        mode,
        interval: Duration::from_millis(5),
        ..Durability::default()
    }
}

fn start(dir: &Path, durability: Durability, capacity: usize, counters: Arc<Counters>) -> Wal {
    Wal::start(dir, durability, capacity, counters, Arc::new(|_| {})).unwrap()
}

#[test]
fn appends_get_positions_in_order_and_a_cut_starts_a_segment_at_the_next() {
    for mode in [
        DurabilityMode::Fsync,
        DurabilityMode::Interval,
        DurabilityMode::NoFsync,
    ] {
        let dir = fresh_dir(&format!("writer-{mode:?}"));
        let durability = durability(mode);
        let counters = Arc::new(Counters::default());
        let wal = start(&dir, durability, 64, counters.clone());
        let mut found = Vec::new();
        wal.replay_after(6, &mut |p, _| found.push(p)).unwrap();
        assert!(found.is_empty());
        assert_eq!(
            wal.last_position(),
            6,
            "positions go on after the covered one"
        );
        let tickets: Vec<_> = (0..10).map(|_| wal.append(&FORGET).unwrap()).collect();
        let positions: Vec<u64> = tickets.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, (7..=16).collect::<Vec<_>>());
        let marked = wal.cut();
        let (late, ticket) = wal.append(&FORGET).unwrap();
        assert_eq!(late, 17);
        for (_, t) in tickets {
            assert_eq!(t.blocking_recv().unwrap(), Ok(()));
        }
        assert_eq!(marked.blocking_recv().unwrap(), Ok(()));
        assert_eq!(ticket.blocking_recv().unwrap(), Ok(()));
        wal.stop();
        assert_eq!(wal.append(&FORGET).unwrap_err(), WalError::Closed);

        assert_eq!(list_segments(&dir).unwrap(), vec![7, 17]);
        let first = read_segment(&dir, 7).unwrap().records;
        assert_eq!(first.len(), 10);
        assert_eq!(first[0].0, 7);
        assert!(matches!(first[9], (16, Record::Forget { .. })));
        assert_eq!(read_segment(&dir, 17).unwrap().records.len(), 1);
        if mode != DurabilityMode::NoFsync {
            assert!(counters.wal_fsyncs.load(Relaxed) > 0, "{mode:?}");
        }
        assert_eq!(wal.release_through(16).unwrap(), 1);
        assert_eq!(list_segments(&dir).unwrap(), vec![17]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn held_appends_wait_for_a_flush_and_keep_their_place_before_queued_ones() {
    for mode in [DurabilityMode::Interval, DurabilityMode::NoFsync] {
        let dir = fresh_dir(&format!("held-{mode:?}"));
        let durability = durability(mode);
        let counters = Arc::new(Counters::default());
        let wal = start(&dir, durability, 64, counters.clone());
        let held = |wal: &Wal| {
            let (done, ticket) = ticket();
            (wal.append_then(&FORGET, done), ticket)
        };
        // The thread idle: nothing queued, nothing left to fsync.
        let idle = |wal: &Wal| {
            let deadline = Instant::now() + Duration::from_secs(2);
            while (wal.queued.load(SeqCst) > 0 || wal.writer.lock().dirty)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        // An append is held when nothing is queued and the thread does not have the
        // writer at that moment (it takes it briefly between commands); else it is queued,
        // and written by the thread in its place. Tries until one is held.
        let hold_one = |wal: &Wal| loop {
            idle(wal);
            let (position, ticket) = held(wal);
            if wal.writer.lock().held_acks.len() == 1 {
                return (position, ticket);
            }
            let mut ticket = ticket;
            let deadline = Instant::now() + Duration::from_secs(2);
            while ticket.try_recv().is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        // Nothing queued: held, not written, until a flush writes it on this thread.
        let (p1, mut t1) = hold_one(&wal);
        std::thread::sleep(Duration::from_millis(30));
        assert!(t1.try_recv().is_err(), "{mode:?}: held until flushed");
        wal.flush();
        assert_eq!(
            t1.try_recv().unwrap(),
            Ok(()),
            "{mode:?}: written by the flush"
        );
        assert_eq!(wal.written_position(), p1);
        if mode == DurabilityMode::Interval {
            // The thread was idle: the flush wakes it to fsync within the interval.
            let deadline = Instant::now() + Duration::from_secs(2);
            while counters.wal_fsyncs.load(Relaxed) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(
                counters.wal_fsyncs.load(Relaxed) >= 1,
                "fsynced by the thread"
            );
        }
        // A flush while the thread has the writer does not wait for it: the thread is woken
        // and writes what is held once it lets the writer go.
        let (_, mut held_back) = hold_one(&wal);
        let taken = wal.writer.lock();
        wal.flush();
        assert!(held_back.try_recv().is_err(), "{mode:?}: not written yet");
        drop(taken);
        let deadline = Instant::now() + Duration::from_secs(5);
        let written = loop {
            match held_back.try_recv() {
                Ok(answer) => break Some(answer),
                Err(_) if Instant::now() > deadline => break None,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        assert_eq!(
            written,
            Some(Ok(())),
            "{mode:?}: written by the thread once woken"
        );
        // Held, then queued: the thread writes the held one first.
        let (p2, t2) = hold_one(&wal);
        let (p3, t3) = wal.append_waiting(&FORGET);
        assert_eq!(t3.blocking_recv().unwrap(), Ok(()));
        assert_eq!(t2.blocking_recv().unwrap(), Ok(()));
        assert_eq!(p3, p2 + 1);
        // A cut closes the segment after everything held.
        let (p4, t4) = hold_one(&wal);
        let marked = wal.cut();
        assert_eq!(marked.blocking_recv().unwrap(), Ok(()));
        assert_eq!(t4.blocking_recv().unwrap(), Ok(()));
        let (p5, t5) = held(&wal);
        wal.flush();
        assert_eq!(t5.blocking_recv().unwrap(), Ok(()));
        // Held and never flushed: stopping writes it.
        let (p6, t6) = hold_one(&wal);
        wal.stop();
        assert_eq!(
            t6.blocking_recv().unwrap(),
            Ok(()),
            "{mode:?}: written at stop"
        );
        let (_, t7) = held(&wal);
        assert_eq!(t7.blocking_recv().unwrap(), Err(WalError::Closed));

        // Every position once, in order, across the cut.
        assert_eq!(list_segments(&dir).unwrap(), vec![p1, p4 + 1]);
        let positions = |from| -> Vec<u64> {
            read_segment(&dir, from)
                .unwrap()
                .records
                .iter()
                .map(|(p, _)| *p)
                .collect()
        };
        assert_eq!(positions(p1), (p1..=p4).collect::<Vec<_>>(), "{mode:?}");
        assert_eq!(
            positions(p4 + 1),
            (p4 + 1..=p6).collect::<Vec<_>>(),
            "{mode:?}"
        );
        assert!(p5 > p4 && p6 > p5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn under_fsync_nothing_is_held() {
    let dir = fresh_dir("unheld");
    let durability = durability(DurabilityMode::Fsync);
    let wal = start(&dir, durability, 64, Arc::new(Counters::default()));
    let (done, ticket) = ticket();
    wal.append_then(&FORGET, done);
    assert_eq!(ticket.blocking_recv().unwrap(), Ok(()), "no flush needed");
    wal.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_queue_refuses_instead_of_waiting() {
    let dir = fresh_dir("writer-full");
    let durability = durability(DurabilityMode::Fsync);
    let wal = start(&dir, durability, 1, Arc::new(Counters::default()));
    // Fill faster than the writer fsyncs: some append must be refused, none may block.
    let mut refused = 0;
    let mut tickets = Vec::new();
    for _ in 0..10_000 {
        match wal.append(&FORGET) {
            Ok((_, t)) => tickets.push(t),
            Err(WalError::Full) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused > 0);
    for t in tickets {
        assert_eq!(t.blocking_recv().unwrap(), Ok(()));
    }
    wal.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}
