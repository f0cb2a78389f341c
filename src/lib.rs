//! meterd placeholder
#![warn(missing_docs)]
pub mod model;
pub mod render;
