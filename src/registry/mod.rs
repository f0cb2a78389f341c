//! The registry: metric metadata and types per (service, scope, name), the scope tree, and the assembly
//! of shard views into one sorted [`Scrape`](crate::model::Scrape), and
//! the ODSL metric [`entities`].

mod assemble;
pub mod entities;
mod families;

pub use assemble::assemble;
pub use families::{FamilyInfo, Registry, SavedFamily};
