//! The log writer: one thread that appends frames in the order it receives them, in groups
//! (group commit: everything queued while the last write ran goes out in one write and one
//! fsync), and confirms each append once it is as safe as the pipeline's durability asks.

use super::wal::{create_segment, SEGMENT_BYTES};
use crate::config::{Durability, DurabilityMode};
use crate::telemetry::Counters;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

/// Commands taken from the queue at once, at most, into one group.
const MAX_GROUP: usize = 4096;

/// Why an append was not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    /// The writer's queue is full: retry shortly (HTTP answers 503 with `Retry-After`).
    #[error("the write-ahead log queue is full")]
    Full,
    /// Writing or syncing failed (disk full, I/O error): free space or fix the disk.
    #[error("the write-ahead log failed: {0}")]
    Io(String),
    /// The writer has stopped (meterd is shutting down).
    #[error("the write-ahead log is closed")]
    Closed,
}

/// Resolves once the append is confirmed (or failed).
pub type Ticket = oneshot::Receiver<Result<(), WalError>>;

enum Command {
    Append {
        frame: Vec<u8>,
        done: oneshot::Sender<Result<(), WalError>>,
    },
    Rotate {
        done: oneshot::Sender<Result<u64, WalError>>,
    },
    Stop {
        done: std::sync::mpsc::Sender<()>,
    },
}

/// The handle of the writer thread. Cloning shares the same writer and queue.
#[derive(Clone)]
pub struct Wal {
    tx: Sender<Command>,
}

impl Wal {
    /// Starts the writer on a new segment `first` in `dir` (created if missing), with a queue
    /// of `capacity` commands.
    pub fn start(
        dir: &Path,
        first: u64,
        durability: Durability,
        capacity: usize,
        counters: Arc<Counters>,
    ) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let file = create_segment(dir, first)?;
        let (tx, rx) = bounded(capacity.max(1));
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            segment: first,
            file,
            written: super::wal::SEGMENT_MAGIC.len() as u64,
            durability,
            dirty: false,
            broken: false,
            last_sync: Instant::now(),
            counters,
        };
        std::thread::Builder::new()
            .name("meterd-wal".into())
            .spawn(move || writer.run(rx))?;
        Ok(Wal { tx })
    }

    /// True when an append would be refused now for a full queue.
    pub fn is_full(&self) -> bool {
        self.tx.is_full()
    }

    /// Queues `frame` without waiting; refused with [`WalError::Full`] when the queue is full.
    pub fn append(&self, frame: Vec<u8>) -> Result<Ticket, WalError> {
        let (done, ticket) = oneshot::channel();
        match self.tx.try_send(Command::Append { frame, done }) {
            Ok(()) => Ok(ticket),
            Err(TrySendError::Full(_)) => Err(WalError::Full),
            Err(TrySendError::Disconnected(_)) => Err(WalError::Closed),
        }
    }

    /// Queues `frame`, waiting for room if the queue is full: for the rare records that must
    /// not be refused (resets, removals, expiries).
    pub fn append_waiting(&self, frame: Vec<u8>) -> Ticket {
        let (done, ticket) = oneshot::channel();
        // A closed writer drops `done`, which the ticket reports as closed.
        let _ = self.tx.send(Command::Append { frame, done });
        ticket
    }

    /// Closes the current segment after everything queued so far and starts the next one;
    /// answers the new segment's id (the position of a snapshot cut here).
    pub fn rotate(&self) -> oneshot::Receiver<Result<u64, WalError>> {
        let (done, answer) = oneshot::channel();
        let _ = self.tx.send(Command::Rotate { done });
        answer
    }

    /// Writes and fsyncs everything queued so far, then stops the writer; blocks until done.
    pub fn stop(&self) {
        let (done, finished) = std::sync::mpsc::channel();
        if self.tx.send(Command::Stop { done }).is_ok() {
            let _ = finished.recv();
        }
    }
}

/// Waits for a ticket; a dropped one (writer gone) reads as closed.
pub async fn confirmed(ticket: Ticket) -> Result<(), WalError> {
    ticket.await.unwrap_or(Err(WalError::Closed))
}

struct Writer {
    dir: PathBuf,
    segment: u64,
    file: File,
    written: u64,
    durability: Durability,
    /// Written since the last fsync.
    dirty: bool,
    /// A write failed part-way: the segment may end in a torn frame, so the next write goes
    /// to a new segment (replay cuts the torn tail and goes on with the next segment).
    broken: bool,
    last_sync: Instant,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Command>) {
        let mut group = Vec::new();
        loop {
            let first = if self.dirty && self.durability.mode == DurabilityMode::Interval {
                let wait = self
                    .durability
                    .interval
                    .saturating_sub(self.last_sync.elapsed());
                match rx.recv_timeout(wait) {
                    Ok(cmd) => cmd,
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = self.sync();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(cmd) => cmd,
                    Err(_) => break,
                }
            };
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(cmd) => group.push(cmd),
                    Err(_) => break,
                }
            }
            if let Some(stopped) = self.process(&mut group) {
                // Closed before answering: whoever asked to stop sees later appends refused.
                drop(rx);
                let _ = stopped.send(());
                return;
            }
        }
        let _ = self.sync();
    }

    /// Runs a group in order; once told to stop, answers whom to tell it has stopped.
    fn process(&mut self, group: &mut Vec<Command>) -> Option<std::sync::mpsc::Sender<()>> {
        let mut buf = Vec::new();
        let mut acks = Vec::new();
        for cmd in group.drain(..) {
            match cmd {
                Command::Append { frame, done } => {
                    buf.extend_from_slice(&frame);
                    acks.push(done);
                }
                Command::Rotate { done } => {
                    self.commit(&mut buf, &mut acks);
                    let _ = done.send(self.rotate());
                }
                Command::Stop { done } => {
                    self.commit(&mut buf, &mut acks);
                    let _ = self.sync();
                    return Some(done);
                }
            }
        }
        self.commit(&mut buf, &mut acks);
        if self.written >= SEGMENT_BYTES {
            let _ = self.rotate();
        }
        None
    }

    /// Writes `buf` and confirms `acks` as the durability mode says.
    fn commit(&mut self, buf: &mut Vec<u8>, acks: &mut Vec<oneshot::Sender<Result<(), WalError>>>) {
        if acks.is_empty() {
            return;
        }
        let result = self.write(buf);
        buf.clear();
        for done in acks.drain(..) {
            let _ = done.send(result.clone());
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), WalError> {
        if self.broken {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(buf) {
            self.broken = true;
            return Err(WalError::Io(e.to_string()));
        }
        self.written += buf.len() as u64;
        self.counters.wal_bytes.fetch_add(buf.len() as u64, Relaxed);
        self.dirty = true;
        match self.durability.mode {
            DurabilityMode::Fsync => self.sync(),
            DurabilityMode::Interval if self.last_sync.elapsed() >= self.durability.interval => {
                self.sync()
            }
            DurabilityMode::Interval | DurabilityMode::NoFsync => Ok(()),
        }
    }

    fn sync(&mut self) -> Result<(), WalError> {
        if !self.dirty {
            return Ok(());
        }
        self.last_sync = Instant::now();
        self.file.sync_data().map_err(|e| {
            self.broken = true;
            WalError::Io(e.to_string())
        })?;
        self.dirty = false;
        self.counters.wal_fsyncs.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next one.
    fn rotate(&mut self) -> Result<u64, WalError> {
        if !self.broken {
            self.sync()?;
        }
        let next = self.segment + 1;
        self.file = create_segment(&self.dir, next).map_err(|e| WalError::Io(e.to_string()))?;
        self.segment = next;
        self.written = super::wal::SEGMENT_MAGIC.len() as u64;
        self.dirty = false;
        self.broken = false;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{frame, RecordRef};
    use super::super::wal::{list_segments, read_segment};
    use super::*;
    use std::time::Duration;

    fn forget(n: u64) -> Vec<u8> {
        frame(&RecordRef::Forget {
            at_ms: 0,
            hashes: &[n],
        })
    }

    #[test]
    fn appends_are_confirmed_in_order_and_rotation_cuts_between_them() {
        for mode in [
            DurabilityMode::Fsync,
            DurabilityMode::Interval,
            DurabilityMode::NoFsync,
        ] {
            let dir =
                std::env::temp_dir().join(format!("meterd-writer-{}-{mode:?}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let durability = Durability {
                mode,
                interval: Duration::from_millis(5),
                ..Durability::default()
            };
            let counters = Arc::new(Counters::default());
            let wal = Wal::start(&dir, 1, durability, 64, counters.clone()).unwrap();
            let tickets: Vec<_> = (0..10).map(|n| wal.append(forget(n)).unwrap()).collect();
            let segment = wal.rotate();
            let late = wal.append(forget(10)).unwrap();
            for t in tickets {
                assert_eq!(t.blocking_recv().unwrap(), Ok(()));
            }
            assert_eq!(segment.blocking_recv().unwrap(), Ok(2));
            assert_eq!(late.blocking_recv().unwrap(), Ok(()));
            wal.stop();
            assert_eq!(wal.append(forget(11)).unwrap_err(), WalError::Closed);

            assert_eq!(list_segments(&dir).unwrap(), vec![1, 2]);
            assert_eq!(read_segment(&dir, 1).unwrap().records.len(), 10);
            assert_eq!(read_segment(&dir, 2).unwrap().records.len(), 1);
            if mode != DurabilityMode::NoFsync {
                assert!(counters.wal_fsyncs.load(Relaxed) > 0, "{mode:?}");
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_full_queue_refuses_instead_of_waiting() {
        let dir = std::env::temp_dir().join(format!("meterd-writer-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let durability = Durability {
            mode: DurabilityMode::Fsync,
            interval: Duration::from_millis(10),
            ..Durability::default()
        };
        let wal = Wal::start(&dir, 1, durability, 1, Arc::new(Counters::default())).unwrap();
        // Fill faster than the writer fsyncs: some append must be refused, none may block.
        let mut refused = 0;
        let mut tickets = Vec::new();
        for n in 0..10_000 {
            match wal.append(forget(n)) {
                Ok(t) => tickets.push(t),
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
}
