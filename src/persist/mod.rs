//! Durability: the write-ahead log, snapshots in the embedded store, and what recovery reads.
//!
//! # Accepted means durable
//!
//! The collector is the one sequencing point: it hands every step it takes — an admitted
//! batch, a reset, a removal, an expiry — to the [`Log`] as a [`Record`], in that order, and
//! gets its [`Position`] back. The write-ahead log ([`Wal`]) is one such log: its writer
//! thread appends records in groups to segments under `data_dir/wal/`, named by the position
//! of their first record (one write, and under `durability.mode = "fsync"` one fsync, per
//! group) and confirms each append; HTTP ingest answers only after the confirmation
//! ([`Ticket`]). Under `"interval"` the fsync follows within `durability.interval`; under
//! `"none"` it is left to the operating system. A failed write stops meterd (see `writer`).
//!
//! # Snapshots
//!
//! Every `durability.snapshot_interval` and at shutdown the collector takes a checkpoint at
//! the position of the last record logged: it [cuts](Log::cut) the log there and, in the same
//! step, asks every part of the state to save itself. Everything logged up to the position is
//! in the snapshot and nothing after it. The [`Image`] is stored in `data_dir/state.redb`
//! ([`Store`]); then the shards' closed buckets go to the history store (which records the
//! position it covers in the same transaction), and the log every part covers is released.
//!
//! Sections of a snapshot, each owned and encoded by its component:
//!
//! | section | owner | what |
//! |---|---|---|
//! | `registry` | collector | pushed families: type and metadata |
//! | `book` | collector | last event time of every pushed series (idle expiry) |
//! | `series.N` | shard N | every series' aggregate (monotonic readings as of the cut), history id, open buckets and last sample time; the history flushes not confirmed yet |
//!
//! **Adding state**: keep it in a store of its own with the position it covers (as the ODSL
//! entities do), implement `collector::Replay` for it, so that the records after that position
//! reach it on recovery, and register the position with `Snapshots::with_covered`, so that the
//! log is kept for it; or, for state the collector or a shard holds, add a section to the
//! checkpoint (see `collector::checkpoint`) and read it back from the [`Image`] at start (see
//! `collector::recover`).
//!
//! # Recovery
//!
//! At start: load the last snapshot, then re-apply the log's records after its position, in
//! order, each part from its own position. A torn tail of a segment (a write cut by a crash)
//! is cut off and reported; a damaged record in the middle is skipped and reported with what
//! it cost; neither is fatal. Monotonic readings are moved with [`Cut::shift`]: ages are kept and
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
pub use writer::{confirmed, ticket, Confirm, OnFailure, Ticket, Wal, WalError};

/// The snapshot store's file under the data directory.
pub fn store_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("state.redb")
}
