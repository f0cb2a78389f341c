//! `GET /-/healthy` and `GET /-/ready` (the Prometheus convention): what a load balancer probes,
//! and the baseline for how close to the HTTP limit ingest runs.

use super::{ApiError, AppState};
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

/// Routes are only served once every actor has started, so being able to answer means ready;
/// in a cluster, once this node has joined and every partition has a caught-up owner.
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(cluster) = &state.cluster {
        let observed = cluster.status().await;
        if let Err(not) = observed.view().ready() {
            let mut e = ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("this cluster node is not ready: {not}"),
            );
            e.retry_after = Some(1);
            return Err(e);
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("meterd is Ready.\n"))
}
