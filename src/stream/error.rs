//! Why a subscription request was refused (status 400 in a WebSocket response, a 400 JSON
//! error body for Server-Sent Events).

use thiserror::Error;

/// A refused subscription request; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamError {
    /// The message is not a JSON object: send the request message of the Kanto metrics API.
    #[error("the request is not a JSON object: {0}")]
    Malformed(String),
    /// A field of the message has the wrong type or value.
    #[error("{0}")]
    BadField(String),
    /// The message's `path` is not the metrics request path.
    #[error("unknown path {0:?}; send requests to /features/Metrics/inbox/messages/request")]
    BadPath(String),
    /// No `frequency`: give one, e.g. `"2s"` (0 stops the reports).
    #[error("frequency is required: a duration such as \"2s\" or a number of seconds (0 stops)")]
    MissingFrequency,
    /// The `frequency` is neither a duration string nor a number of seconds.
    #[error("frequency {input:?}: {reason}")]
    BadFrequency {
        /// What was given.
        input: String,
        /// Why it is not a duration.
        reason: String,
    },
    /// The `frequency` is shorter than 100 ms or longer than a day.
    #[error("frequency {0:?} is out of range: use 100ms to 24h, or 0 to stop")]
    FrequencyOutOfRange(String),
    /// A stream (SSE) must send something: give a frequency of at least 100 ms.
    #[error("frequency {0:?} would stop the stream: use 100ms to 24h")]
    StreamStopped(String),
    /// A `filter` entry is malformed.
    #[error("filter: {0}")]
    BadFilter(String),
    /// A query parameter meterd does not know.
    #[error("unknown parameter {0:?}; use frequency, id and originator")]
    UnknownParameter(String),
}

impl StreamError {
    /// The stable machine-readable code of DESIGN.md's error body.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::Malformed(_) => "malformed_request",
            StreamError::BadField(_) | StreamError::BadPath(_) => "bad_request",
            StreamError::UnknownParameter(_) => "unknown_parameter",
            StreamError::MissingFrequency
            | StreamError::BadFrequency { .. }
            | StreamError::FrequencyOutOfRange(_)
            | StreamError::StreamStopped(_) => "bad_frequency",
            StreamError::BadFilter(_) => "bad_filter",
        }
    }

    /// DESIGN.md's error body: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}})
    }
}
