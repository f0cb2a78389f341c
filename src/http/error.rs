//! The one place where errors become HTTP statuses and DESIGN.md's JSON error body.
//!
//! An answer stays small whatever the request: `details` lists at most the first 100 causes
//! and `"omitted": K` counts the rest; input quoted in a message is cut to 64 bytes + `…`.

use super::tenancy::TenancyError;
use crate::aggregate::ShardsError;
use crate::cluster::ClusterError;
use crate::collector::CollectorError;
use crate::ingest::{clip_echoes, IngestError, ItemErrors};
use crate::model::ItemError;
use crate::query::odsl::ParamError;
use crate::query::opentsdb::QueryError;
use crate::stream::StreamError;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use std::fmt;

/// An error answered as `{"error": {"code", "message", "details"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_batch`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// One entry per cause where there are several (e.g. the bad events of a batch): at most
    /// the first `MAX_DETAILS` (100).
    pub details: Vec<ItemError>,
    /// Causes beyond those listed in `details`, answered as `"omitted": K`.
    pub omitted: usize,
    /// Seconds for `Retry-After` (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            omitted: 0,
            retry_after: None,
        }
    }

    /// 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Attaches details: the first `MAX_DETAILS`, the rest counted as omitted.
    pub fn with_details(self, details: impl Into<ItemErrors>) -> Self {
        let details = details.into();
        ApiError {
            omitted: details.omitted(),
            details: details.into_listed(),
            ..self
        }
    }

    /// The JSON body. Input echoed in the message is cut short (`MAX_ECHO` bytes).
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({"code": self.code, "message": clip_echoes(&self.message)});
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        if self.omitted > 0 {
            error["omitted"] = json!(self.omitted);
        }
        json!({ "error": error })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a late body may still come: it cannot be told from a next request.
            resp.force_close();
        }
        resp.json(self.body())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let message = e.to_string();
        match e {
            IngestError::Malformed(m) => ApiError::bad_request("malformed_body", m),
            IngestError::BadRequest(m) => ApiError::bad_request("bad_request", m),
            IngestError::Invalid(details) | IngestError::InvalidLines(details) => {
                ApiError::bad_request("invalid_batch", message).with_details(details)
            }
        }
    }
}

impl From<CollectorError> for ApiError {
    fn from(e: CollectorError) -> Self {
        let message = e.to_string();
        if e.is_busy() {
            return busy(message);
        }
        match e {
            CollectorError::Conflict(details) => {
                ApiError::new(StatusCode::CONFLICT, "type_conflict", message).with_details(details)
            }
            CollectorError::Collision(details) => {
                ApiError::new(StatusCode::CONFLICT, "series_collision", message)
                    .with_details(details)
            }
            CollectorError::Limit(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "series_limit", message)
            }
            CollectorError::Busy(_) => busy(message),
            // The log failed or closed (a full queue is busy, above).
            CollectorError::Wal(_) => {
                let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "wal_failed", message);
                e.retry_after = Some(1);
                e
            }
        }
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::bad_request(e.code, e.message)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let message = e.to_string();
        match e {
            QueryError::BadRequest(_) => ApiError::bad_request("bad_query", message),
            QueryError::TooManyPoints { .. } | QueryError::TooManyBuckets { .. } => {
                ApiError::bad_request("too_many_points", message)
            }
            QueryError::UnknownMetric(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_metric", message)
            }
            QueryError::NotRunning { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "instance_not_running", message)
            }
        }
    }
}

impl From<ShardsError> for ApiError {
    /// A stopped shard or an unreadable history store: 503, so that clients retry.
    fn from(e: ShardsError) -> Self {
        unavailable(e)
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> Self {
        match e {
            TenancyError::Service(m) => ApiError::bad_request("bad_service", m),
            TenancyError::ServicePath(m) => ApiError::bad_request("bad_service_path", m),
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<ClusterError> for ApiError {
    /// What the cluster refuses is 503. Worth retrying from the client's side (with
    /// `Retry-After`): JetStream busy or out of reach, an owner not answering during a
    /// takeover. Not so an ingest whose outcome is unknown (`outcome_unknown`, no
    /// `Retry-After`): a blind retry may count it twice.
    fn from(e: ClusterError) -> Self {
        let message = e.to_string();
        let code = match e {
            ClusterError::Busy(_) => "busy",
            ClusterError::OutcomeUnknown(_) => "outcome_unknown",
            _ => "cluster_unavailable",
        };
        let retry = !matches!(e, ClusterError::OutcomeUnknown(_));
        let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        e.retry_after = retry.then_some(1);
        e
    }
}

/// 501 `not_in_cluster`: `what` needs a part of the state a cluster does not keep yet (see
/// the README's "Cluster" limits); ask a single node.
pub fn not_in_cluster(what: &str, missing: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_in_cluster",
        format!("{what} is not available in cluster mode yet: {missing}"),
    )
}

/// 503 `busy` with `Retry-After: 1`: a queue is full (back-pressure).
pub fn busy(message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message);
    e.retry_after = Some(1);
    e
}

/// 503 `too_many_subscribers` with `Retry-After: 1`: every place for a stream subscriber is
/// taken (or there are none).
pub fn too_many_subscribers(message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_subscribers",
        message,
    );
    e.retry_after = Some(1);
    e
}

/// An internal failure (a stopped actor): answered as 503 so that clients retry.
pub fn unavailable(what: impl fmt::Display) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("meterd is not ready: {what}"),
    );
    e.retry_after = Some(1);
    e
}

impl ApiError {
    /// The response for this error (used where a `ResponseError` cannot be returned).
    pub fn error_response_json(&self) -> HttpResponse {
        ResponseError::error_response(self)
    }
}

/// Middleware that turns any error answer without a JSON body (actix's own 404/405/400 for
/// bad query strings) into DESIGN.md's JSON error body.
pub fn json_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            // OTLP's errors are `google.rpc.Status` in the request's encoding (see `otlp`).
            .is_some_and(|v| {
                v.starts_with("application/json") || v.starts_with("application/x-protobuf")
            });
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "body_too_large",
            s if s >= 500 => "internal",
            _ => "bad_request",
        };
        let message = status.canonical_reason().unwrap_or("error").to_owned();
        let (req, _) = res.into_parts();
        let resp = ApiError::new(status, code, message).error_response_json();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, resp).map_into_right_body(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemError;

    #[test]
    fn colliding_keys_are_a_409_series_collision_naming_each_item() {
        let items = vec![ItemError {
            index: 3,
            message: "same stable hash".into(),
        }];
        let api = ApiError::from(CollectorError::Collision(items));
        assert_eq!(
            (api.status, api.code, api.retry_after),
            (StatusCode::CONFLICT, "series_collision", None)
        );
        assert_eq!(api.body()["error"]["details"][0]["index"], 3);
    }
}
