//! Reading request bodies under the pipeline's size limit.

use super::{ApiError, AppState};
use crate::config::Limits;
use crate::telemetry::{Outcome, Reason};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use std::io::Write;

/// Why a body that could not be read was refused: its size (413), or anything else.
pub fn unread_reason(e: &ApiError) -> Reason {
    if e.status == StatusCode::PAYLOAD_TOO_LARGE {
        Reason::BodySize
    } else {
        Reason::BodyUnreadable
    }
}

/// Reads the body of a request that is no batch (a query) as [`read_body`] does; a refusal
/// is recorded as a refused request (`meterd.refused.body_size`, ...), never as a batch.
pub async fn read_query_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<web::BytesMut, ApiError> {
    read_body(req, payload, state.pipeline.limits.max_body_bytes)
        .await
        .inspect_err(|e| {
            let outcome = Outcome::RequestRefused(unread_reason(e));
            state.counters.record(outcome);
        })
}

/// Reads the whole body, refusing with 413 as soon as it exceeds `limit` bytes
/// (`limits.max_body_bytes`), and with 408 (closing the connection) when it has not all
/// arrived within `limits.body_timeout` of the handler starting to read it. Counts nothing:
/// the ingest path records a refused batch ([`super::ingest::ingest_body`]), the query routes
/// a refused request ([`read_query_body`]).
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let state = req.app_data::<web::Data<super::AppState>>();
    let timeout = state.map_or(Limits::default().body_timeout, |s| {
        s.pipeline.limits.body_timeout
    });
    let encoding = Encoding::of(req)?;
    match tokio::time::timeout(timeout, read_within(req, payload, limit)).await {
        Ok(read) => encoding.decode(read?, limit),
        Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} ms (limits.body_timeout); send it whole and promptly",
                    timeout.as_millis()
                ),
        )),
    }
}

async fn read_within(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let too_large = || {
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

/// A body's `Content-Encoding`: meterd decodes gzip and deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

impl Encoding {
    /// The request's encoding; 415 naming any other.
    fn of(req: &HttpRequest) -> Result<Encoding, ApiError> {
        let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let name = value.to_str().unwrap_or("?").trim();
        match name.to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            _ => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                format!(
                    "Content-Encoding {name:?} is not supported: send the body as is, gzip or deflate"
                ),
            )),
        }
    }

    /// The decoded body; 413 as soon as it grows beyond `limit` bytes, 400 when it does not
    /// decode.
    fn decode(self, body: web::BytesMut, limit: usize) -> Result<web::BytesMut, ApiError> {
        let out = Capped {
            buf: Vec::new(),
            limit,
        };
        let decoded = match self {
            Encoding::Identity => return Ok(body),
            Encoding::Gzip => write_all(flate2::write::GzDecoder::new(out), &body, |d| d.finish()),
            Encoding::Deflate => {
                write_all(flate2::write::ZlibDecoder::new(out), &body, |d| d.finish())
            }
        };
        match decoded {
            Ok(out) => Ok(web::BytesMut::from(&out.buf[..])),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the decoded body is larger than the limit of {limit} bytes (limits.max_body_bytes)"
                ),
            )),
            Err(e) => Err(ApiError::bad_request(
                "bad_encoding",
                format!("the body does not decode as its Content-Encoding says: {e}"),
            )),
        }
    }
}

fn write_all<W: Write>(
    mut decoder: W,
    body: &[u8],
    finish: impl FnOnce(W) -> std::io::Result<Capped>,
) -> std::io::Result<Capped> {
    decoder.write_all(body)?;
    finish(decoder)
}

/// A buffer that refuses to grow beyond its limit (`FileTooLarge`).
struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
