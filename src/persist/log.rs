//! The log seam: what the collector and recovery need of an ordered, durable log of records,
//! in positions rather than files. The write-ahead log ([`super::Wal`]) is one; a JetStream
//! partition (stream sequence as position) can be another without touching aggregation.

use super::record::{Position, Record, RecordRef};
use super::wal::ReplayReport;
use super::writer::{Confirm, Ticket, WalError};
use tokio::sync::oneshot;

/// An ordered log of records, each at a [`Position`] one above the last.
pub trait Log: Send + Sync {
    /// Appends `record` after every earlier append; answers its position and a ticket that
    /// resolves once it is as durable as the pipeline asks. Refused at once when the log's
    /// queue is full.
    fn append(&self, record: &RecordRef<'_>) -> Result<(Position, Ticket), WalError>;

    /// [`Log::append`], waiting for room: for the rare records that must not be refused
    /// (resets, removals, expiries).
    fn append_waiting(&self, record: &RecordRef<'_>) -> (Position, Ticket);

    /// [`Log::append_waiting`], calling `done` with the outcome instead of answering a
    /// ticket, from whichever thread writes the record: the log's own, so that whoever waits
    /// is woken by the log directly, or the appender's at its next [`Log::flush`]. The
    /// appender must call [`Log::flush`] soon after (the collector does at the end of every
    /// turn): the record may wait for it.
    fn append_then(&self, record: &RecordRef<'_>, done: Confirm) -> Position;

    /// Writes what [`Log::append_then`] held: the write-ahead log holds appends made while its
    /// thread has nothing queued (and the durability mode fsyncs later), for the appender to
    /// write them in one go on its own thread, with no hop through the log's.
    fn flush(&self) {}

    /// True when an append would be refused now for a full queue.
    fn is_full(&self) -> bool;

    /// The position of the last record appended (or found by [`Log::replay_after`]).
    fn last_position(&self) -> Position;

    /// The last position known written (a part kept outside the snapshot never claims to
    /// cover more: a record not written yet may never be, and its position be given again).
    fn written_position(&self) -> Position;

    /// Marks a checkpoint after every append so far (the write-ahead log closes its segment
    /// there, so that [`Log::release_through`] can drop whole files).
    fn cut(&self) -> oneshot::Receiver<Result<(), WalError>>;

    /// Every part of the state covers `covered`: records at or below it may go. Answers how
    /// many units (segments) were dropped.
    fn release_through(&self, covered: Position) -> std::io::Result<usize>;

    /// Hands every record after `after` to `visit`, in order (at start, before any append);
    /// later appends continue after the last position found.
    fn replay_after(
        &self,
        after: Position,
        visit: &mut dyn FnMut(Position, Record),
    ) -> std::io::Result<ReplayReport>;

    /// Makes everything appended durable and stops taking appends.
    fn close(&self);
}
