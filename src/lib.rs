//! meterd placeholder
#![warn(missing_docs)]
pub mod ingest;
pub mod model;
