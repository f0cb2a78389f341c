//! The JetStream plumbing behind [`super::Jet`]: stream definitions, error mapping, the
//! partition reader, the checkpoint store, the control subjects (heartbeats, placement) and the outcomes of
//! batches over several partitions.

pub mod cas;
pub mod checkpoint;
pub mod control;
pub mod decision;
pub mod errors;
pub mod liveness;
pub mod reader;
pub mod streams;
