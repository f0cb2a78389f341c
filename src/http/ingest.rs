//! `POST /api/v1/events`: native ingest.

use super::body::{read_body, unread_reason};
use super::error::{busy, unavailable};
use super::tenancy::service_and_path;
use super::{ApiError, AppState};
use crate::collector::Submit;
use crate::ingest::{json, IngestContext, IngestError};
use crate::model::Event;
use crate::telemetry::{Outcome, Reason};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// Routes of the native ingest API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/events", web::post().to(post_events));
}

async fn post_events(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ndjson = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_ndjson);
    let decode = if ndjson {
        json::decode_ndjson
    } else {
        json::decode_json
    };
    let n = ingest_body(&req, payload, &state, decode).await?;
    Ok(HttpResponse::Ok().json(json!({ "accepted": n })))
}

/// Whether a `Content-Type` names NDJSON: `application/x-ndjson` or `application/ndjson`,
/// in any case, with or without parameters (media types are case-insensitive, RFC 9110 8.3.1).
fn is_ndjson(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    ["application/x-ndjson", "application/ndjson"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The path every HTTP ingest route shares: read the body under `limits.max_body_bytes`, take
/// the tenancy headers, `decode` the whole body (all or nothing; a refusal is counted, a body
/// that could not be read as a batch of no events), check the events' services against the
/// token's, and submit; answers the number accepted.
pub async fn ingest_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    decode: impl FnOnce(&[u8], &IngestContext) -> Result<Vec<Event>, IngestError>,
) -> Result<usize, ApiError> {
    let body = read_body(req, payload, state.pipeline.limits.max_body_bytes)
        .await
        .inspect_err(|e| {
            let outcome = Outcome::BatchRefused(unread_reason(e), 0);
            state.counters.record(outcome);
        })?;
    let (service, service_path) = service_and_path(req)?;
    let ctx = IngestContext {
        service: &service,
        service_path: &service_path,
        now_ms: state.clock.epoch_millis(),
        pipeline: &state.pipeline,
    };
    let events = decode(&body, &ctx).inspect_err(|e| count_refusal(state, e))?;
    super::check_services(req, events.iter().map(|e| e.key.service.as_str()))?;
    submit(state, events).await
}

/// Hands a validated batch to the collector; answers how many events were accepted, once
/// they are in the write-ahead log (as durable as the pipeline asks). A full collector
/// mailbox (`queues.collector`) or log queue (`queues.wal`, mostly under `"fsync"`: otherwise
/// the collector writes its turn's records itself) answers 503 with `Retry-After`.
pub async fn submit(state: &AppState, events: Vec<Event>) -> Result<usize, ApiError> {
    if events.is_empty() {
        return Ok(0);
    }
    if let Some(cluster) = &state.cluster {
        return submit_to_cluster(state, cluster, events).await;
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    match state.collector.try_send(Submit { events, reply }) {
        Ok(()) => {}
        Err(actix::prelude::SendError::Full(refused)) => {
            let outcome = Outcome::BatchRefused(Reason::Busy, refused.events.len());
            state.counters.record(outcome);
            return Err(busy(
                "meterd is busy: the collector queue is full; retry shortly",
            ));
        }
        Err(actix::prelude::SendError::Closed(_)) => {
            return Err(unavailable("the collector has stopped"))
        }
    }
    let n = answer
        .await
        .map_err(|_| unavailable("the collector dropped the batch"))??;
    Ok(n)
}

/// A cluster's ingest: the types checked against the families this node knows (all or
/// nothing, as on a single node), then the batch published into its partitions; answered once
/// every partition's part is acknowledged.
async fn submit_to_cluster(
    state: &AppState,
    cluster: &crate::cluster::Node,
    events: Vec<Event>,
) -> Result<usize, ApiError> {
    let n = events.len();
    if let Err(conflicts) = state.registry.write().admit(&events) {
        state
            .counters
            .record(Outcome::BatchRefused(Reason::Conflict, n));
        return Err(crate::collector::CollectorError::Conflict(conflicts).into());
    }
    match cluster.publish(events).await {
        Ok(n) => {
            state.counters.record(Outcome::Accepted(n));
            Ok(n)
        }
        Err(e) => {
            // Unreachable or busy JetStream: 503 with Retry-After, as a full queue is.
            state
                .counters
                .record(Outcome::BatchRefused(Reason::Busy, n));
            Err(e.into())
        }
    }
}

/// Counts a batch refused before it reached the collector.
pub fn count_refusal(state: &AppState, e: &IngestError) {
    let n = match e {
        IngestError::Invalid(items) | IngestError::InvalidLines(items) => items.total(),
        _ => 1,
    };
    state
        .counters
        .record(Outcome::BatchRefused(Reason::Invalid, n));
}
