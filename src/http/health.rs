//! `GET /-/healthy` and `GET /-/ready` (the Prometheus convention): what a load balancer probes,
//! and the baseline for how close to the HTTP limit ingest runs.

use actix_web::{web, HttpResponse};

/// Routes of the health probes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/-/healthy", web::get().to(healthy))
        .route("/-/ready", web::get().to(ready));
}

async fn healthy() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("meterd is Healthy.\n")
}

/// Routes are only served once every actor has started, so being able to answer means ready.
async fn ready() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("meterd is Ready.\n")
}
