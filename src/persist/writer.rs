//! The log writer: one thread that appends frames in the order it receives them, in groups
//! (group commit: everything queued while the last write ran goes out in one write and one
//! fsync), and confirms each append once it is as safe as the pipeline's durability asks.
//!
//! The handle gives every record its [`Position`] as it queues it (under one lock, so
//! positions follow the order of the queue whoever appends). A segment is created on its
//! first record and named by its position.
//!
//! Under `"interval"` and `"none"` (no fsync before the answer) a [`Log::append_then`] made
//! while nothing is queued for the thread is held instead, and written by whoever calls
//! [`Log::flush`] next (the collector, at the end of each turn: one write for the turn, and
//! its answers sent with no hop through this thread). The thread writes what is held before
//! any command it takes, and fsyncs within the interval, out of the writer's lock.
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
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Commands taken from the queue at once, at most, into one group.
const MAX_GROUP: usize = 4096;

/// The largest buffer of held frames kept for the next turn, in bytes.
const HELD_KEPT: usize = 256 << 10;

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

/// Called once with the outcome of an append, by whichever thread wrote it — the log thread,
/// or the flusher's under `"interval"`/`"none"` (see [`Log::flush`]) — or at once on the
/// caller's when the writer has stopped: whoever waits is woken by the writer directly. It
/// runs under the writer's lock, so it must not call into the log.
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
    /// Look again at what to wait for (a flush made the segment dirty).
    Wake,
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
    /// The writer, shared with its thread (see the module doc on held appends).
    writer: Arc<Mutex<Writer>>,
    /// Commands sent to the thread and not processed yet: appends are held only at zero.
    queued: Arc<AtomicUsize>,
    /// Appends may be held (the durability mode does not fsync before answering).
    holds: bool,
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
        let writer = Arc::new(Mutex::new(Writer {
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
            held: Vec::new(),
            held_acks: Vec::new(),
            held_last: 0,
            stopped: false,
        }));
        let queued = Arc::new(AtomicUsize::new(0));
        let (shared, counted) = (writer.clone(), queued.clone());
        std::thread::Builder::new()
            .name("meterd-wal".into())
            .spawn(move || run(&shared, &counted, rx))?;
        Ok(Wal {
            tx,
            dir: dir.to_path_buf(),
            last: Arc::new(Mutex::new(0)),
            written,
            found: Arc::new(AtomicU64::new(0)),
            writer,
            queued,
            holds: durability.mode != DurabilityMode::Fsync,
        })
    }

    /// Queues `cmd` for the thread, counted in `queued` until processed.
    fn enqueue(&self, cmd: Command, wait: bool) -> Result<(), TrySendError<Command>> {
        self.queued.fetch_add(1, SeqCst);
        let sent = if wait {
            self.tx
                .send(cmd)
                .map_err(|e| TrySendError::Disconnected(e.into_inner()))
        } else {
            self.tx.try_send(cmd)
        };
        if sent.is_err() {
            self.queued.fetch_sub(1, SeqCst);
        }
        sent
    }

    /// Appends, waiting for room (which cannot be refused); a closed writer is answered at
    /// once.
    fn queue_waiting(&self, record: &RecordRef<'_>, done: Confirm, hold: bool) -> Position {
        self.send(record, done, true, hold)
            .unwrap_or_else(|(e, done)| {
                done(Err(e));
                *self.last.lock()
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

    /// Queues `record` (or, with `hold`, holds it when nothing is queued, see
    /// [`Log::flush`]); on refusal (a full queue without `wait`, or a stopped writer) `done`
    /// comes back unused.
    fn send(
        &self,
        record: &RecordRef<'_>,
        done: Confirm,
        wait: bool,
        hold: bool,
    ) -> Result<Position, (WalError, Confirm)> {
        let mut last = self.last.lock();
        let position = *last + 1;
        let frame = frame(position, record);
        // Held only while nothing is queued: the thread writes what is held before any
        // command, so the order of positions is the order of writing. Appends count up in
        // `queued` under `last` (held here), the thread counts down under the writer's lock.
        if hold && self.holds && self.queued.load(SeqCst) == 0 {
            if let Some(mut writer) = self.writer.try_lock() {
                if self.queued.load(SeqCst) == 0 {
                    if writer.stopped {
                        return Err((WalError::Closed, done));
                    }
                    writer.hold(position, &frame, done);
                    *last = position;
                    return Ok(position);
                }
            }
        }
        let cmd = Command::Append {
            position,
            frame,
            done,
        };
        match self.enqueue(cmd, wait) {
            Ok(()) => {
                *last = position;
                Ok(position)
            }
            Err(e) => {
                let refused = match e {
                    TrySendError::Full(_) => WalError::Full,
                    TrySendError::Disconnected(_) => WalError::Closed,
                };
                match e.into_inner() {
                    Command::Append { done, .. } => Err((refused, done)),
                    _ => unreachable!("an append is sent as an append"),
                }
            }
        }
    }

    /// Writes and fsyncs everything queued so far, then stops the writer; blocks until done.
    pub fn stop(&self) {
        let (done, finished) = std::sync::mpsc::channel();
        if self.enqueue(Command::Stop { done }, true).is_ok() {
            let _ = finished.recv();
        }
    }
}

impl Log for Wal {
    fn append(&self, record: &RecordRef<'_>) -> Result<(Position, Ticket), WalError> {
        let (done, ticket) = ticket();
        let position = self.send(record, done, false, false).map_err(|(e, _)| e)?;
        Ok((position, ticket))
    }

    fn append_waiting(&self, record: &RecordRef<'_>) -> (Position, Ticket) {
        let (done, ticket) = ticket();
        (self.queue_waiting(record, done, false), ticket)
    }

    fn append_then(&self, record: &RecordRef<'_>, done: Confirm) -> Position {
        self.queue_waiting(record, done, true)
    }

    fn flush(&self) {
        if !self.holds {
            return;
        }
        // Never wait for the thread: while it holds the writer (a rotation's fsync, a group),
        // it is told to write what is held itself, first thing in its next group. A full queue
        // means it has a next group anyway.
        let Some(mut writer) = self.writer.try_lock() else {
            let _ = self.enqueue(Command::Wake, false);
            return;
        };
        let was_dirty = writer.dirty;
        writer.write_held();
        // A full segment is rotated (and fsynced) by the thread, not on the flusher's thread;
        // under "interval" the thread may be waiting with nothing to fsync: it must look again.
        let wake = writer.written >= SEGMENT_BYTES
            || (writer.dirty && !was_dirty && writer.durability.mode == DurabilityMode::Interval);
        drop(writer);
        if wake {
            let _ = self.enqueue(Command::Wake, false);
        }
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
        let _ = self.enqueue(Command::Rotate { done }, true);
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
    /// Frames held for the next flush (see [`Log::flush`]), their confirmations and the
    /// last position among them.
    held: Vec<u8>,
    held_acks: Vec<Confirm>,
    held_last: Position,
    /// The thread has stopped: nothing may be held any more.
    stopped: bool,
}

/// The writer thread: takes commands in groups and runs each group under the writer's lock,
/// after what is held; between groups, fsyncs within the interval.
fn run(shared: &Mutex<Writer>, queued: &AtomicUsize, rx: Receiver<Command>) {
    let mut group = Vec::new();
    loop {
        let wait = shared.lock().wait();
        let first = match wait {
            Some(Duration::ZERO) => {
                sync_outside(shared);
                continue;
            }
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(cmd) => cmd,
                Err(RecvTimeoutError::Timeout) => {
                    sync_outside(shared);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(cmd) => cmd,
                Err(_) => break,
            },
        };
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(cmd) => group.push(cmd),
                Err(_) => break,
            }
        }
        let n = group.len();
        let mut writer = shared.lock();
        let stopped = writer.process(&mut group);
        queued.fetch_sub(n, SeqCst);
        drop(writer);
        if let Some(stopped) = stopped {
            // Closed before answering: whoever asked to stop sees later appends refused.
            drop(rx);
            let _ = stopped.send(());
            return;
        }
    }
    let mut writer = shared.lock();
    writer.write_held();
    let _ = writer.sync();
}

/// Writes what is held and, under `"interval"`, fsyncs what is written, with the fsync out of
/// the writer's lock: a [`Log::flush`] never waits for one.
fn sync_outside(shared: &Mutex<Writer>) {
    let file = {
        let mut writer = shared.lock();
        writer.write_held();
        writer.begin_sync()
    };
    if let Some(file) = file {
        let synced = file.sync_data();
        shared.lock().end_sync(synced);
    }
}

impl Writer {
    /// How long the thread may wait for a command: until the next fsync is due; `None` for
    /// as long as it takes.
    fn wait(&self) -> Option<Duration> {
        self.fsyncs_later().then(|| {
            self.durability
                .interval
                .saturating_sub(self.last_sync.elapsed())
        })
    }

    /// Under `"interval"`, something is written and not fsynced yet.
    fn fsyncs_later(&self) -> bool {
        self.dirty && !self.failed && self.durability.mode == DurabilityMode::Interval
    }

    /// Starts an fsync of what is written (under `"interval"`): a handle of the segment to
    /// fsync out of the lock, counted as synced from now.
    fn begin_sync(&mut self) -> Option<File> {
        if !self.fsyncs_later() {
            return None;
        }
        let Some(file) = self.file.as_ref() else {
            // Nothing open holds unsynced bytes (a rotation fsyncs its segment).
            self.dirty = false;
            return None;
        };
        match file.try_clone() {
            Ok(file) => {
                self.dirty = false;
                self.last_sync = Instant::now();
                Some(file)
            }
            Err(e) => {
                self.fail(WalError::Io(e.to_string()));
                None
            }
        }
    }

    /// The fsync started by [`Writer::begin_sync`] ended.
    fn end_sync(&mut self, synced: std::io::Result<()>) {
        match synced {
            Ok(()) => {
                self.counters.wal_fsyncs.fetch_add(1, Relaxed);
            }
            Err(e) => {
                self.fail(WalError::Io(e.to_string()));
            }
        }
    }

    /// Holds a frame for the next flush.
    fn hold(&mut self, position: Position, frame: &[u8], done: Confirm) {
        self.held.extend_from_slice(frame);
        self.held_acks.push(done);
        self.held_last = position;
    }

    /// Writes what is held (without an fsync: the thread fsyncs within the interval).
    fn write_held(&mut self) {
        if self.held_acks.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut self.held);
        let mut acks = std::mem::take(&mut self.held_acks);
        let first = self.held_last + 1 - acks.len() as u64;
        if self.file.is_none() && !self.failed {
            if let Err(e) = self.open(first) {
                self.fail(e);
            }
        }
        self.buffered = self.held_last;
        self.commit(&mut buf, &mut acks);
        // Keep the allocations for the next turn, unless a large turn made them large.
        if buf.capacity() <= HELD_KEPT {
            self.held = buf;
            self.held_acks = acks;
        }
        // A full segment is rotated by the thread at the end of its group (see `Log::flush`).
    }

    /// Runs a group in order; once told to stop, answers whom to tell it has stopped.
    fn process(&mut self, group: &mut Vec<Command>) -> Option<std::sync::mpsc::Sender<()>> {
        // What is held was appended before anything queued.
        self.write_held();
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
                    self.stopped = true;
                    return Some(done);
                }
                Command::Wake => {}
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

    /// Writes `buf` and confirms `acks` as the durability mode says (under `"interval"` the
    /// thread fsyncs later, see [`sync_outside`]).
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
    fn held_appends_wait_for_a_flush_and_keep_their_place_before_queued_ones() {
        for mode in [DurabilityMode::Interval, DurabilityMode::NoFsync] {
            let dir =
                std::env::temp_dir().join(format!("meterd-held-{}-{mode:?}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let durability = Durability {
                mode,
                interval: Duration::from_millis(5),
                ..Durability::default()
            };
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
        let dir = std::env::temp_dir().join(format!("meterd-unheld-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let durability = Durability {
            mode: DurabilityMode::Fsync,
            ..Durability::default()
        };
        let wal = start(&dir, durability, 64, Arc::new(Counters::default()));
        let (done, ticket) = ticket();
        wal.append_then(&FORGET, done);
        assert_eq!(ticket.blocking_recv().unwrap(), Ok(()), "no flush needed");
        wal.stop();
        std::fs::remove_dir_all(&dir).unwrap();
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
