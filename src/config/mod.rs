//! Pipeline files (`pipelines/*.toml`), loaded in three steps: the raw file (serde, unknown
//! keys refused) → a checked [`Pipeline`] (every problem collected, each with file and line) →
//! used by `app` to start the actors.
//!
//! The documentation of each key is on the field it fills, e.g. [`Limits::max_series`];
//! `pipelines/default.toml` lists every key with its default.

mod duration;
mod error;
mod pipeline;
mod raw;
mod rules;
mod sections;
mod tokens;
mod validate;

pub use duration::{format_duration, parse_duration, DurationError};
pub use error::{ConfigError, Problem};
pub use pipeline::Pipeline;
pub use rules::{Rule, Rules};
pub use sections::{
    ClusterConfig, Durability, DurabilityMode, Entities, HistogramConfig, Limits, MeterConfig,
    Queues, Sets, Streams, Tier,
};
pub use tokens::{Role, Token, Tokens, TokensError, MAX_SECRET, MIN_SECRET};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
