//! Reading request bodies under the pipeline's size limit, and Orion tenancy headers.

use super::ApiError;
use crate::model::{parse_service_header, ServicePath};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

/// Reads the whole body, refusing with 413 as soon as it exceeds `limit` bytes.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let too_large = || {
        if let Some(state) = req.app_data::<web::Data<super::AppState>>() {
            state
                .counters
                .refused_body_size
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            state.counters.batch_rejected(0);
        }
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than the limit of {limit} bytes (limits.max_body_bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Grown as bytes arrive: a declared length alone reserves no more than 64 KiB.
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192).min(limit).min(64 << 10));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A `Fiware-Service` value by Orion's rule ([`parse_service_header`]), except the service of
/// the request's bound token: the token guard names it in this header, and the tokens file's
/// binding (`default-service` included) was validated when it was loaded.
pub fn service_header(req: &HttpRequest, raw: &str) -> Result<String, String> {
    match super::bound_service(req) {
        Some(bound) if bound == raw => Ok(bound),
        _ => parse_service_header(raw),
    }
}

/// The request's `Fiware-Service` and `Fiware-ServicePath`, validated by Orion's rules.
pub fn tenancy(req: &HttpRequest) -> Result<(String, ServicePath), ApiError> {
    let header = |name: &str| -> Result<&str, ApiError> {
        match req.headers().get(name) {
            None => Ok(""),
            Some(v) => v
                .to_str()
                .map_err(|_| ApiError::bad_request("bad_service", format!("{name} is not ASCII"))),
        }
    };
    let service = service_header(req, header("fiware-service")?)
        .map_err(|m| ApiError::bad_request("bad_service", m))?;
    let path = ServicePath::parse(header("fiware-servicepath")?)
        .map_err(|m| ApiError::bad_request("bad_service_path", m))?;
    Ok((service, path))
}
