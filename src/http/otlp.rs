//! `POST /v1/metrics`: OTLP/HTTP metrics from OpenTelemetry SDKs and collectors.
//!
//! The route follows the OTLP/HTTP specification rather than meterd's JSON error body: a
//! success answers `ExportMetricsServiceResponse` (with `partialSuccess` when points were
//! rejected) and an error answers a `google.rpc.Status`, both in the request's encoding
//! (`application/x-protobuf` or `application/json`). Only a `Content-Type` that is neither
//! (415) gets meterd's JSON error body, there being no encoding to answer in. Bodies may be
//! gzip or deflate encoded, as on every ingest route.

use super::ingest::ingest_body;
use super::{ApiError, AppState};
use crate::ingest::otlp::{self, wire, Encoding, Mapped, OtlpError};
use crate::ingest::IngestError;
use crate::telemetry::Outcome;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// Routes of the OTLP/HTTP receiver.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/metrics", web::post().to(post_metrics));
}

async fn post_metrics(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "OTLP/HTTP takes application/x-protobuf or application/json, not {content_type:?}"
            ),
        ));
    };
    let mut outcome = Mapped::default();
    // `read_body` (under `ingest_body`) inflates gzip and deflate bodies under the body limit.
    let accepted = ingest_body(&req, payload, &state, |body, ctx| {
        let request = wire::decode(body, encoding).map_err(ingest_error)?;
        outcome = otlp::map_request(request, ctx, &mut state.otlp.lock());
        Ok(std::mem::take(&mut outcome.events))
    })
    .await;
    if let Err(e) = accepted {
        if !outcome.undo.is_empty() {
            state.otlp.lock().undo(std::mem::take(&mut outcome.undo));
        }
        return Ok(status_answer(e.status, &e.message, encoding));
    }
    // Rejected points are counted like events refused one by one.
    state
        .counters
        .record(Outcome::EventsRefused(outcome.rejected as usize));
    let body = wire::response(outcome.rejected, &outcome.message(), encoding);
    Ok(HttpResponse::Ok()
        .content_type(encoding.content_type())
        .body(body))
}

fn ingest_error(e: OtlpError) -> IngestError {
    match e {
        OtlpError::Malformed(m) => IngestError::Malformed(m),
    }
}

/// An OTLP error answer: `google.rpc.Status` in the request's encoding, `Retry-After` on 503
/// (OTLP clients retry 429, 502, 503 and 504).
fn status_answer(status: StatusCode, message: &str, encoding: Encoding) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        resp.insert_header((header::RETRY_AFTER, "1"));
    }
    resp.content_type(encoding.content_type())
        .body(wire::status(status.as_u16(), message, encoding))
}
