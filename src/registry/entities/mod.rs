//! ODSL metric entities: every accepted event kept as one compact record with a time-ordered
//! id, in a ring bounded by the pipeline's `[entities]` retention and size.
//!
//! [`Encoder`] (run by the collector after admission, and by the HTTP request recorder)
//! turns a batch into pending records that share one [`SeriesEntry`] per series;
//! [`EntityKeeper`] is the actor owning the [`EntityStore`] ring; reads are closures run on
//! its thread ([`Read`]). Queries over the store live in `query::odsl`.

mod actor;
mod block;
mod capture;
mod durable;
mod id;
mod series;
mod store;

pub use actor::{Capture, Durable, EntityKeeper, Read, SaveEntities};
pub use capture::{Capturer, Encoder, EntitySink};
pub use durable::{EntityLog, EntityLogError, EntityReplay};
pub use id::EntityId;
pub use series::{Interner, SeriesEntry};
pub use store::{Entity, EntityStore, Pending, RECORD_BYTES};
