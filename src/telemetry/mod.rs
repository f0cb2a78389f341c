//! meterd's own readings, as plain structs with no actix: the process readings for the
//! MicroProfile `base` scope ([`read_process`], [`base_gauges`]), read from Linux `/proc`.
//! Where `/proc` cannot be read (non-Linux hosts) the readings are zeros, never an error.
//! Actors elsewhere sample them on a timer.

mod process;
mod procfs;

pub use process::{base_gauges, read_process, ProcessReadings};
