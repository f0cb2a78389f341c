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
use super::wal::SEGMENT_BYTES;
use crate::config::{Durability, DurabilityMode};
use crate::telemetry::Counters;
use crossbeam_channel::{bounded, Sender, TrySendError};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Instant;
use thread::{run, Writer};
use tokio::sync::oneshot;

#[cfg(test)]
mod tests;
mod thread;

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
