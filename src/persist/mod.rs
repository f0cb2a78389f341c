//! Durability: the write-ahead log, snapshots in the embedded store, and what recovery reads.
//!
//! # Accepted means durable
//!
//! The collector is the one sequencing point: it frames every step it takes — an admitted
//! batch, a reset, a removal, an expiry — as a [`Record`] and hands it to the log [`Wal`]
//! writer in that order. The writer thread appends records in groups to numbered segments
//! under `data_dir/wal/` (one write, and under `durability.mode = "fsync"` one fsync, per
//! group) and confirms each append; HTTP ingest answers only after the confirmation
//! ([`Ticket`]). Under `"interval"` the fsync follows within `durability.interval`; under
//! `"none"` it is left to the operating system.
//!
//! # Snapshots
//!
//! Every `durability.snapshot_interval` and at shutdown the collector takes a checkpoint: it
//! asks the writer to [rotate](Wal::rotate) (the new segment's id is the cut) and, in the same
//! step, asks every part of the state to save itself. Everything logged before the cut is in
//! the snapshot and nothing after it. The [`Image`] is stored in `data_dir/state.redb`
//! ([`Store`]) and segments before the cut are deleted.
//!
//! Sections of a snapshot, each owned and encoded by its component:
//!
//! | section | owner | what |
//! |---|---|---|
//! | `registry` | collector | pushed families: type and metadata |
//! | `book` | collector | last event time of every pushed series (idle expiry) |
//! | `series.N` | shard N | every series' aggregate (monotonic readings as of the cut) |
//!
//! **Adding state** (downsampler open buckets, ODSL entities, ...): give the component a
//! section name, have its actor answer the collector's `SaveSection` message with its
//! [`Section`]s (see `collector::checkpoint`), register it with the collector, and read its
//! section back from the [`Image`] at start (see `collector::recover`). If it is fed from the
//! collector's admissions, implement `collector::Replay` for it too, so that records logged
//! after the snapshot reach it on recovery.
//!
//! # Recovery
//!
//! At start: load the last snapshot, then re-apply the log's records after its cut, in
//! order. A torn or corrupt tail of a segment (a write cut by a crash) is cut off and
//! reported, never fatal. Monotonic readings are moved with [`Cut::shift`]: ages are kept and
//! time spent stopped counts as idle time.

pub mod history;
mod log;
mod record;
mod store;
mod wal;
mod writer;

#[cfg(test)]
mod proptests;

pub use log::Log;
pub use record::{
    frame, read_frames, Frames, Position, Record, RecordRef, Skipped, Tail, FRAME_HEADER,
};
pub use store::{Cut, Image, Section, Store, StoreError, FORMAT};
pub use wal::{
    create_segment, delete_through, list_segments, read_segment, replay_after, segment_path,
    wal_dir, ReplayReport, SegmentRead, SEGMENT_BYTES, SEGMENT_MAGIC,
};
pub use writer::{confirmed, OnFailure, Ticket, Wal, WalError};

/// The snapshot store's file under the data directory.
pub fn store_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("state.redb")
}
