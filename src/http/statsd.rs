//! `POST /api/v1/statsd`: StatsD lines over HTTP, all or nothing.

use super::body::{read_body, tenancy};
use super::ingest::{count_refusal, submit};
use super::{ApiError, AppState};
use crate::ingest::statsd::{parse_batch, StatsdContext};
use crate::ingest::{IngestError, ItemError};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

/// Routes of the StatsD-over-HTTP API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/statsd", web::post().to(post_statsd));
}

/// Parses the whole body; every bad line is answered in `details` as
/// `{"index": <1-based line>, "message": "line N: why"}` and nothing is applied.
async fn post_statsd(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.pipeline.limits.max_body_bytes).await?;
    let (service, service_path) = tenancy(&req)?;
    let parsed = decode(&body).and_then(|text| {
        let ctx = StatsdContext {
            service: &service,
            service_path: &service_path,
            now_ms: state.clock.epoch_millis(),
            max_name_bytes: state.pipeline.limits.max_name_bytes,
            max_tags: state.pipeline.limits.max_tags,
            longest_retention_ms: state.pipeline.longest_retention_ms(),
        };
        parse_batch(text, &ctx).map_err(|errors| {
            IngestError::Invalid(
                errors
                    .into_iter()
                    .map(|e| ItemError {
                        index: e.line,
                        message: e.to_string(),
                    })
                    .collect(),
            )
        })
    });
    let events = parsed.map_err(|e| {
        count_refusal(&state, &e);
        match e {
            IngestError::Invalid(details) => ApiError::bad_request(
                "invalid_batch",
                format!(
                    "{} invalid line(s) in the body; nothing was applied",
                    details.len()
                ),
            )
            .with_details(details),
            other => other.into(),
        }
    })?;
    let n = submit(&state, events).await?;
    Ok(HttpResponse::Ok().json(json!({ "accepted": n })))
}

/// The body as text (StatsD lines are UTF-8); a body with no lines is accepted as zero events,
/// like an empty JSON array.
fn decode(body: &[u8]) -> Result<&str, IngestError> {
    std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        IngestError::Invalid(vec![ItemError {
            index: line,
            message: format!("line {line}: not UTF-8 text"),
        }])
    })
}
