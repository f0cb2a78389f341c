//! Pipeline files (`pipelines/*.toml`).

mod duration;

pub use duration::{format_duration, parse_duration, DurationError};
