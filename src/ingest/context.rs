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
