//! The HTTP edge — the only module that imports actix-web. Routes per API, extractors, and (in
//! `error.rs`) the mapping of every error to a status and DESIGN.md's JSON error body.

mod auth;
#[cfg(test)]
mod auth_proptests;
mod blink;
mod body;
mod cluster;
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
mod otlp;
mod request_entities;
mod series;
mod state;
mod statsd;
mod tenancy;
mod traffic;
mod ui;

pub use auth::{bound_service, check_services, classify, guard, Class, Grant, ROUTE_CLASSES};
pub use cluster::cluster_gaps;
pub use error::{json_errors, ApiError};
#[doc(hidden)]
pub use frame_limit::client_frame_header;
pub use negotiate::{negotiate, Format};
pub use request_entities::RequestRecorder;
pub use state::AppState;
pub use traffic::observe_request;

use actix_web::{web, HttpResponse};

/// Registers every API's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::routes(cfg);
    cluster::routes(cfg);
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
    otlp::routes(cfg);
    cfg.default_service(web::to(not_found));
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
