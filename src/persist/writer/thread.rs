//! The writer thread and the state it shares with the handles under one lock: the open
//! segment, what is held for the next flush, and the fsync bookkeeping.

use super::{Command, Confirm, OnFailure, WalError};
use crate::config::{Durability, DurabilityMode};
use crate::persist::record::Position;
use crate::persist::wal::{create_segment, SEGMENT_BYTES};
use crate::telemetry::Counters;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Commands taken from the queue at once, at most, into one group.
const MAX_GROUP: usize = 4096;

/// The largest buffer of held frames kept for the next turn, in bytes.
const HELD_KEPT: usize = 256 << 10;

pub(super) struct Writer {
    pub(super) dir: PathBuf,
    /// The segment being written, created by its first record.
    pub(super) file: Option<File>,
    pub(super) written: u64,
    pub(super) durability: Durability,
    /// Written since the last fsync.
    pub(super) dirty: bool,
    /// A write or fsync failed: every later append is refused.
    pub(super) failed: bool,
    pub(super) last_sync: Instant,
    pub(super) counters: Arc<Counters>,
    pub(super) on_failure: OnFailure,
    /// The last position in the buffer being committed.
    pub(super) buffered: Position,
    /// The last position written (shared with the handles).
    pub(super) written_position: Arc<AtomicU64>,
    /// Frames held for the next flush (see [`Log::flush`]), their confirmations and the
    /// last position among them.
    pub(super) held: Vec<u8>,
    pub(super) held_acks: Vec<Confirm>,
    pub(super) held_last: Position,
    /// The thread has stopped: nothing may be held any more.
    pub(super) stopped: bool,
}

/// The writer thread: takes commands in groups and runs each group under the writer's lock,
/// after what is held; between groups, fsyncs within the interval.
pub(super) fn run(shared: &Mutex<Writer>, queued: &AtomicUsize, rx: Receiver<Command>) {
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
    pub(super) fn wait(&self) -> Option<Duration> {
        self.fsyncs_later().then(|| {
            self.durability
                .interval
                .saturating_sub(self.last_sync.elapsed())
        })
    }

    /// Under `"interval"`, something is written and not fsynced yet.
    pub(super) fn fsyncs_later(&self) -> bool {
        self.dirty && !self.failed && self.durability.mode == DurabilityMode::Interval
    }

    /// Starts an fsync of what is written (under `"interval"`): a handle of the segment to
    /// fsync out of the lock, counted as synced from now.
    pub(super) fn begin_sync(&mut self) -> Option<File> {
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
    pub(super) fn end_sync(&mut self, synced: std::io::Result<()>) {
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
    pub(super) fn hold(&mut self, position: Position, frame: &[u8], done: Confirm) {
        self.held.extend_from_slice(frame);
        self.held_acks.push(done);
        self.held_last = position;
    }

    /// Writes what is held (without an fsync: the thread fsyncs within the interval).
    pub(super) fn write_held(&mut self) {
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
    pub(super) fn process(
        &mut self,
        group: &mut Vec<Command>,
    ) -> Option<std::sync::mpsc::Sender<()>> {
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
    pub(super) fn open(&mut self, position: Position) -> Result<(), WalError> {
        let file = create_segment(&self.dir, position).map_err(|e| WalError::Io(e.to_string()))?;
        self.file = Some(file);
        self.written = crate::persist::wal::SEGMENT_MAGIC.len() as u64;
        Ok(())
    }

    /// Writes `buf` and confirms `acks` as the durability mode says (under `"interval"` the
    /// thread fsyncs later, see [`sync_outside`]).
    pub(super) fn commit(&mut self, buf: &mut Vec<u8>, acks: &mut Vec<Confirm>) {
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
    pub(super) fn fail(&mut self, e: WalError) -> WalError {
        if !self.failed {
            self.failed = true;
            self.counters.wal_failures.fetch_add(1, Relaxed);
            (self.on_failure)(&e);
        }
        e
    }

    pub(super) fn write(&mut self, buf: &[u8]) -> Result<(), WalError> {
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

    pub(super) fn sync(&mut self) -> Result<(), WalError> {
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
    pub(super) fn rotate(&mut self) -> Result<(), WalError> {
        self.sync()?;
        if self.failed {
            return Err(WalError::Io("an earlier write failed".into()));
        }
        self.file = None;
        self.written = 0;
        Ok(())
    }
}
