//! The registry: metric metadata and types per (service, scope, name), the scope tree, and the assembly
//! of shard views into one sorted [`Snapshot`](crate::model::Snapshot), and
//! the ODSL metric [`entities`].

pub mod entities;
mod families;
mod snapshot;

pub use families::{FamilyInfo, Registry, SavedFamily};
pub use snapshot::assemble;
