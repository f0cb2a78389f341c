//! Persistence.

pub mod history;
