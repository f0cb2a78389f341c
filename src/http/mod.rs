//! The HTTP edge — the only module that imports actix-web. Routes per API, extractors, and the
//! mapping of every error to a status and DESIGN.md's JSON error body.

mod auth;
#[cfg(test)]
mod auth_proptests;
mod blink;
mod body;
mod error;
mod frame_limit;
mod health;
mod history;
mod ingest;
mod kanto;
mod metrics;
mod negotiate;
mod odsl;
mod opentsdb;
mod orion;
mod request_entities;
mod series;
mod state;
mod statsd;
mod tenancy;
mod traffic;
mod ui;

pub use auth::{bound_service, check_services, classify, guard, Class, Grant, ROUTE_CLASSES};
pub use error::ApiError;
pub use negotiate::{negotiate, Format};
pub use request_entities::{record_request, RequestRecorder};
pub use state::AppState;
pub use traffic::count_traffic;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpResponse};

/// Registers every API's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    ingest::routes(cfg);
    metrics::routes(cfg);
    orion::routes(cfg);
    statsd::routes(cfg);
    kanto::routes(cfg);
    odsl::routes(cfg);
    series::routes(cfg);
    opentsdb::routes(cfg);
    blink::routes(cfg);
    ui::routes(cfg);
    cfg.default_service(web::to(not_found));
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Middleware that turns any error answer without a JSON body (actix's own 404/405/400 for
/// bad query strings) into DESIGN.md's JSON error body.
pub fn json_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
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
