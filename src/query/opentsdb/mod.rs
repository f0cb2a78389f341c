//! OpenTSDB's query semantics, pure: request parsing (`m=` strings and JSON bodies), dates,
//! downsampling, fill policies, aggregators, tag filters and group-by, rates, tier choice and
//! the evaluation over buckets read from history.

mod aggregator;
mod downsample;
mod engine;
mod filter;
mod plan;
pub mod request;
pub mod time;

pub use aggregator::{Aggregator, NAMES as AGGREGATORS};
pub use downsample::{Downsample, FillPolicy, Interval};
pub use engine::{asked_interval, choose_tier, evaluate, point_bound, ResultSeries};
pub use filter::{Matcher, TagFilter};
pub use plan::{Plan, READ_FACTOR};
pub use request::{from_json, from_params, parse_m, RateOptions, SubQuery, TsQuery};

use thiserror::Error;

/// Why a query cannot be answered.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The request is malformed or asks for something unsupported: fix what the message says.
    #[error("{0}")]
    BadRequest(String),
    /// The answer would be too large: narrow the range, downsample more coarsely or filter
    /// more series (the limit is the pipeline's `max_query_points`).
    #[error(
        "the query could return {points} data points, more than the {limit} allowed \
         (limits.max_query_points): narrow the time range, downsample more coarsely or select \
         fewer series"
    )]
    TooManyPoints {
        /// Groups × intervals in range.
        points: u64,
        /// The limit.
        limit: u64,
    },
    /// The query would read too much history (many series, a long range, a coarse
    /// downsample): narrow the range or select fewer series. The limit is ten buckets per
    /// point allowed by `max_query_points`.
    #[error(
        "the query would read {buckets} buckets of history, more than the {limit} allowed \
         (10 × limits.max_query_points): narrow the time range or select fewer series"
    )]
    TooManyBuckets {
        /// Series × buckets in range.
        buckets: u64,
        /// The limit.
        limit: u64,
    },
    /// No series of this metric exists: check the name (as pushed, dots kept).
    #[error("no such metric: {0:?}")]
    UnknownMetric(String),
    /// A Blink job has no sample in the last 5 minutes: push its metrics, or check the
    /// project and job names.
    #[error("job {job:?} of project {project:?} is not running: no sample in the last 5 minutes")]
    NotRunning {
        /// The project.
        project: String,
        /// The job.
        job: String,
    },
}

impl QueryError {
    /// A [`QueryError::BadRequest`].
    pub fn bad(message: impl Into<String>) -> Self {
        QueryError::BadRequest(message.into())
    }

    /// The same error, its message prefixed with where it happened.
    pub fn context(self, at: &str) -> Self {
        match self {
            QueryError::BadRequest(m) => QueryError::BadRequest(format!("{at}: {m}")),
            other => other,
        }
    }
}
