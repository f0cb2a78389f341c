//! meterd placeholder
#![warn(missing_docs)]
pub mod clock;
pub mod model;
