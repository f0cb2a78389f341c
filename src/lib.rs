//! meterd placeholder
#![warn(missing_docs)]
pub mod aggregate;
pub mod clock;
pub mod config;
pub mod model;
