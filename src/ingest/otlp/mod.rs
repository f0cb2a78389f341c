//! OTLP/HTTP metrics (`POST /v1/metrics`) → events: the body's encoding ([`wire`]),
//! the OpenTelemetry project's generated request types, and the mapping of sums, gauges,
//! histograms and summaries into meterd's kinds ([`map_request`]), with cumulative points
//! made into increments by a [`CumulativeBook`].

mod book;
mod buckets;
mod labels;
mod map;
pub mod wire;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use book::{Advance, CumulativeBook, Undo};
pub use map::{map_request, Mapped};
pub use wire::Encoding;

use thiserror::Error;

/// Why an OTLP request was refused as a whole.
#[derive(Debug, Error)]
pub enum OtlpError {
    /// The body is not an OTLP metrics request in its declared encoding: fix the exporter's
    /// encoding.
    #[error("{0}")]
    Malformed(String),
}
