//! The registry: metric metadata and types per (scope, name), the scope tree, and the assembly
//! of shard views into one sorted [`Snapshot`](crate::model::Snapshot).

mod families;
mod snapshot;

pub use families::{FamilyInfo, Registry};
pub use snapshot::{assemble, Selector};
