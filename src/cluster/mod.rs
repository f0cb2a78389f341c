//! Cluster mode's NATS layer: settings, the JetStream streams (event log, control, checkpoints),
//! rendezvous placement and membership. Everything that talks to NATS is here; meterd's own
//! cluster logic (ingest split, owners, merged reads) builds on it.
//!
//! Streams (all created by [`Jet::connect`] when missing):
//! - `METERD_EV`: subjects `meterd.ev.<p>`, one per partition; the event log.
//! - `METERD_CTL`: `meterd.ctl.member.<node>` (heartbeats), one message kept per subject, a
//!   dead member's expiring after 10 minutes.
//! - `METERD_PLACE`: `meterd.place.current`, the placement, changed by compare-and-set on the
//!   stream's sequence (`Nats-Expected-Last-Sequence`, see [`nats::cas`]).
//! - `METERD_CKPT`: `meterd.ckpt.<p>`, one checkpoint head per partition (epoch, position and
//!   the sequences of its data chunks; changed by compare-and-set on the stream's sequence); `METERD_CKPT_DATA`: `meterd.ckd.<p>`, the chunks.
//! - `METERD_TX`: `meterd.tx.<batch>`, the outcome of a batch over several partitions (the
//!   first message of its subject, see [`nats::decision`]).
//!
//! [`status`] renders `GET /cluster` and decides `/-/ready` from what a node knows.

pub mod error;
pub mod jet;
pub mod membership;
pub mod nats;
pub mod placement;
pub mod settings;
pub mod status;

pub use error::ClusterError;
pub use jet::{Jet, Outgoing, PartitionCheckpoint};
pub use membership::Membership;
pub use placement::{rendezvous, Placement};
pub use settings::ClusterSettings;

pub mod node;
pub mod owned;
pub mod partition;
pub mod read;
pub mod wire;

pub use node::Node;
pub use read::Merged;
