//! `POST /api/v1/statsd`: StatsD lines over HTTP, all or nothing.

use super::ingest::ingest_body;
use super::{ApiError, AppState};
use crate::ingest::statsd::{parse_batch_into, StatsdContext};
use crate::ingest::{IngestError, ItemErrors};
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
    let n = ingest_body(&req, payload, &state, |body, ctx| {
        let text = decode(body)?;
        let ctx = StatsdContext {
            service: ctx.service,
            service_path: ctx.service_path,
            now_ms: ctx.now_ms,
            max_name_bytes: ctx.pipeline.limits.max_name_bytes,
            max_tags: ctx.pipeline.limits.max_tags,
            max_tag_value_bytes: ctx.pipeline.limits.max_tag_value_bytes,
            longest_retention_ms: ctx.longest_retention_ms(),
        };
        let mut errors = ItemErrors::default();
        let events = parse_batch_into(text, &ctx, &mut errors);
        match errors.is_empty() {
            true => Ok(events),
            false => Err(IngestError::InvalidLines(errors)),
        }
    })
    .await?;
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
        let mut errors = ItemErrors::default();
        errors.push(line, format!("line {line}: not UTF-8 text"));
        IngestError::InvalidLines(errors)
    })
}
