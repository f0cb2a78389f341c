//! The log writer: one thread that appends frames in the order it receives them, in groups
//! (group commit: everything queued while the last write ran goes out in one write and one
//! fsync), and confirms each append once it is as safe as the pipeline's durability asks.
//!
//! The handle gives every record its [`Position`] as it queues it (under one lock, so
//! positions follow the order of the queue whoever appends). A segment is created on its
//! first record and named by its position.
//!
//! A failed write or fsync is fatal: the writer calls the `on_failure` it was started with
//! (meterd logs and exits at once, see `app`) and refuses every later append. The shards
//! apply a batch before the log confirms it; stopping, rather than answering 503 and going
//! on, is what keeps a batch whose logging failed out of every answer (the next start
//! recovers from the log, which does not hold it).

use super::log::Log;
use super::record::{frame, Position, RecordRef};
use super::wal::{create_segment, SEGMENT_BYTES};
use crate::config::{Durability, DurabilityMode};
use crate::telemetry::Counters;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
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

/// Called once with the outcome of an append, on the writer's thread (or at once, on the
/// caller's, when the writer has stopped): whoever waits is woken by the writer directly.
pub type Confirm = Box<dyn FnOnce(Result<(), WalError>) + Send>;

/// A [`Confirm`] that answers a [`Ticket`].
pub fn ticket() -> (Confirm, Ticket) {
    let (done, ticket) = oneshot::channel();
    let confirm: Confirm = Box::new(move |result| {
        let _ = done.send(result);
    });
    (confirm, ticket)
}

enum Command {
    Append {
        position: Position,
        frame: Vec<u8>,
        done: Confirm,
    },
    Rotate {
        done: oneshot::Sender<Result<(), WalError>>,
    },
    Stop {
        done: std::sync::mpsc::Sender<()>,
    },
}

/// What the writer calls when a write or fsync fails (after which it refuses every append).
pub type OnFailure = Arc<dyn Fn(&WalError) + Send + Sync>;

/// The handle of the writer thread. Cloning shares the same writer, queue and positions.
#[derive(Clone)]
pub struct Wal {
    tx: Sender<Command>,
    dir: PathBuf,
    /// The last position given out.
    last: Arc<Mutex<Position>>,
    /// The last position written to its segment (it survives `kill -9`; an fsync may follow).
    written: Arc<AtomicU64>,
    /// The last position found in the log at start.
    found: Arc<AtomicU64>,
}

impl Wal {
    /// Starts the writer in `dir` (created if missing), with a queue of `capacity` commands;
    /// positions continue after `last` (see [`Log::replay_after`], which moves it on to the
    /// last position found in the log).
    pub fn start(
        dir: &Path,
        durability: Durability,
        capacity: usize,
        counters: Arc<Counters>,
        on_failure: OnFailure,
    ) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let (tx, rx) = bounded(capacity.max(1));
        let written = Arc::new(AtomicU64::new(0));
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            file: None,
            written: 0,
            durability,
            dirty: false,
            failed: false,
            last_sync: Instant::now(),
            counters,
            on_failure,
            buffered: 0,
            written_position: written.clone(),
        };
        std::thread::Builder::new()
            .name("meterd-wal".into())
            .spawn(move || writer.run(rx))?;
        Ok(Wal {
            tx,
            dir: dir.to_path_buf(),
            last: Arc::new(Mutex::new(0)),
            written,
            found: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The folder of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Positions up to here were found in the log at start (written by an earlier process).
    fn replayed_last(&self) -> Position {
        self.found.load(Relaxed)
    }

    /// Queues `record`; on refusal (a full queue without `wait`, or a stopped writer) `done`
    /// comes back unused.
    fn send(
        &self,
        record: &RecordRef<'_>,
        done: Confirm,
        wait: bool,
    ) -> Result<Position, (WalError, Confirm)> {
        let mut last = self.last.lock();
        let position = *last + 1;
        let cmd = Command::Append {
            position,
            frame: frame(position, record),
            done,
        };
        let sent = if wait {
            self.tx
                .send(cmd)
                .map_err(|e| (WalError::Closed, e.into_inner()))
        } else {
            self.tx.try_send(cmd).map_err(|e| match e {
                TrySendError::Full(cmd) => (WalError::Full, cmd),
                TrySendError::Disconnected(cmd) => (WalError::Closed, cmd),
            })
        };
        match sent {
            Ok(()) => {
                *last = position;
                Ok(position)
            }
            Err((e, Command::Append { done, .. })) => Err((e, done)),
            Err(_) => unreachable!("an append is sent as an append"),
        }
    }

    /// Writes and fsyncs everything queued so far, then stops the writer; blocks until done.
    pub fn stop(&self) {
        let (done, finished) = std::sync::mpsc::channel();
        if self.tx.send(Command::Stop { done }).is_ok() {
            let _ = finished.recv();
        }
    }
}

impl Log for Wal {
    fn append(&self, record: &RecordRef<'_>) -> Result<(Position, Ticket), WalError> {
        let (done, ticket) = ticket();
        let position = self.send(record, done, false).map_err(|(e, _)| e)?;
        Ok((position, ticket))
    }

    fn append_waiting(&self, record: &RecordRef<'_>) -> (Position, Ticket) {
        let (done, ticket) = ticket();
        (self.append_then(record, done), ticket)
    }

    fn append_then(&self, record: &RecordRef<'_>, done: Confirm) -> Position {
        // Waiting for room cannot be refused; a closed writer is answered at once.
        self.send(record, done, true).unwrap_or_else(|(e, done)| {
            done(Err(e));
            *self.last.lock()
        })
    }

    fn is_full(&self) -> bool {
        self.tx.is_full()
    }

    fn last_position(&self) -> Position {
        *self.last.lock()
    }

    fn written_position(&self) -> Position {
        self.written.load(Relaxed).max(self.replayed_last())
    }

    fn cut(&self) -> oneshot::Receiver<Result<(), WalError>> {
        let (done, answer) = oneshot::channel();
        let _ = self.tx.send(Command::Rotate { done });
        answer
    }

    fn release_through(&self, covered: Position) -> std::io::Result<usize> {
        super::wal::delete_through(&self.dir, covered)
    }

    fn replay_after(
        &self,
        after: Position,
        visit: &mut dyn FnMut(Position, super::Record),
    ) -> std::io::Result<super::ReplayReport> {
        let report = super::wal::replay_after(&self.dir, after, visit)?;
        let mut last = self.last.lock();
        *last = (*last).max(report.last).max(after);
        self.found.fetch_max(*last, Relaxed);
        Ok(report)
    }

    fn close(&self) {
        self.stop();
    }
}

/// Waits for a ticket; a dropped one (writer gone) reads as closed.
pub async fn confirmed(ticket: Ticket) -> Result<(), WalError> {
    ticket.await.unwrap_or(Err(WalError::Closed))
}

struct Writer {
    dir: PathBuf,
    /// The segment being written, created by its first record.
    file: Option<File>,
    written: u64,
    durability: Durability,
    /// Written since the last fsync.
    dirty: bool,
    /// A write or fsync failed: every later append is refused.
    failed: bool,
    last_sync: Instant,
    counters: Arc<Counters>,
    on_failure: OnFailure,
    /// The last position in the buffer being committed.
    buffered: Position,
    /// The last position written (shared with the handles).
    written_position: Arc<AtomicU64>,
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
                Command::Append {
                    position,
                    frame,
                    done,
                } => {
                    if self.file.is_none() && !self.failed {
                        if let Err(e) = self.open(position) {
                            self.fail(e);
                        }
                    }
                    buf.extend_from_slice(&frame);
                    acks.push(done);
                    self.buffered = position;
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

    /// Starts the segment whose first record is at `position`.
    fn open(&mut self, position: Position) -> Result<(), WalError> {
        let file = create_segment(&self.dir, position).map_err(|e| WalError::Io(e.to_string()))?;
        self.file = Some(file);
        self.written = super::wal::SEGMENT_MAGIC.len() as u64;
        Ok(())
    }

    /// Writes `buf` and confirms `acks` as the durability mode says.
    fn commit(&mut self, buf: &mut Vec<u8>, acks: &mut Vec<Confirm>) {
        if acks.is_empty() {
            return;
        }
        let result = self.write(buf);
        buf.clear();
        if result.is_ok() {
            self.written_position.fetch_max(self.buffered, Relaxed);
        }
        for done in acks.drain(..) {
            done(result.clone());
        }
    }

    /// Records a failure: from now on every append is refused, and whoever started the
    /// writer is told.
    fn fail(&mut self, e: WalError) -> WalError {
        if !self.failed {
            self.failed = true;
            self.counters.wal_failures.fetch_add(1, Relaxed);
            (self.on_failure)(&e);
        }
        e
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), WalError> {
        if self.failed {
            return Err(WalError::Io("an earlier write failed".into()));
        }
        let Some(file) = self.file.as_mut() else {
            return Err(WalError::Io("no segment open".into()));
        };
        if let Err(e) = file.write_all(buf) {
            return Err(self.fail(WalError::Io(e.to_string())));
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
        if !self.dirty || self.failed {
            return Ok(());
        }
        self.last_sync = Instant::now();
        let Some(file) = self.file.as_ref() else {
            return Ok(());
        };
        if let Err(e) = file.sync_data() {
            return Err(self.fail(WalError::Io(e.to_string())));
        }
        self.dirty = false;
        self.counters.wal_fsyncs.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Closes the current segment (fsynced); the next record starts a new one.
    fn rotate(&mut self) -> Result<(), WalError> {
        self.sync()?;
        if self.failed {
            return Err(WalError::Io("an earlier write failed".into()));
        }
        self.file = None;
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::Record;
    use super::super::wal::{list_segments, read_segment};
    use super::*;
    use std::time::Duration;

    const FORGET: RecordRef<'static> = RecordRef::Forget {
        at_ms: 0,
        hashes: &[9],
    };

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
            let dir =
                std::env::temp_dir().join(format!("meterd-writer-{}-{mode:?}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let durability = Durability {
                mode,
                interval: Duration::from_millis(5),
                ..Durability::default()
            };
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
    fn a_full_queue_refuses_instead_of_waiting() {
        let dir = std::env::temp_dir().join(format!("meterd-writer-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let durability = Durability {
            mode: DurabilityMode::Fsync,
            interval: Duration::from_millis(10),
            ..Durability::default()
        };
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
}
