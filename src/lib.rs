//! meterd placeholder
#![warn(missing_docs)]
pub mod model;
