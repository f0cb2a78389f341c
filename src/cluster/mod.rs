//! meterd past one machine (issue 13): a cluster on NATS JetStream. See DESIGN.md "Past one
//! machine" and the README's "Cluster" section.

pub mod node;
pub mod owned;
pub mod partition;
pub mod read;
pub mod wire;

pub use node::Node;
pub use read::Merged;
