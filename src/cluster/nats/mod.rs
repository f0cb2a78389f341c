//! The JetStream plumbing behind [`super::Jet`]: stream definitions, error mapping, the
//! partition reader, the checkpoint store and the control subjects (heartbeats, placement).

pub mod cas;
pub mod checkpoint;
pub mod control;
pub mod errors;
pub mod liveness;
pub mod reader;
pub mod streams;
