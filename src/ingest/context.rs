//! What a request contributes to the events it carries: tenancy, arrival time, limits, rules.

use crate::config::Pipeline;
use crate::model::ServicePath;

/// Defaults and limits that apply to every event of one ingest request.
pub struct IngestContext<'a> {
    /// Service from the `Fiware-Service` header (already validated), else `default-service`.
    pub service: &'a str,
    /// Service path from the `Fiware-ServicePath` header (already validated), else `/`.
    pub service_path: &'a ServicePath,
    /// Arrival time, epoch milliseconds: the timestamp of events that carry none.
    pub now_ms: i64,
    /// The pipeline: limits and the name-glob rules that supply types and metadata.
    pub pipeline: &'a Pipeline,
}

impl IngestContext<'_> {
    /// The longest retention of the pipeline's tiers, in ms (0 when there are none): older
    /// events are refused.
    pub fn longest_retention_ms(&self) -> i64 {
        self.pipeline.longest_retention_ms()
    }

    /// Checks an event's timestamp against the history window (see
    /// [`check_window`](super::timestamp::check_window)).
    pub fn check_timestamp(&self, timestamp_ms: i64) -> Result<(), String> {
        super::timestamp::check_window(timestamp_ms, self.now_ms, self.longest_retention_ms())
    }
}
