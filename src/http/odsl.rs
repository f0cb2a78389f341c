//! The OpenDataDSL metric service (seed 002): `GET /api/metric` (build information),
//! `GET /api/metric/v1` (entities, `listMetrics`, calendar series) and
//! `GET /api/metric/v1/{id}`. Parameters are checked by `query::odsl`; the answer is computed
//! on the entity keeper's thread.

use super::error::unavailable;
use super::{ApiError, AppState};
use crate::query::odsl::{self, format_iso, OdslRequest};
use crate::registry::entities::{EntityStore, Read, SeriesEntry};
use crate::registry::Registry;
use actix_web::{web, HttpRequest, HttpResponse};
use parking_lot::RwLock;
use serde_json::{json, Value};
use std::sync::Arc;

/// Routes of the metric service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/metric", web::get().to(build_info))
        .route("/api/metric/v1", web::get().to(metric_query))
        .route("/api/metric/v1/{id}", web::get().to(metric_by_id));
}

/// The service's build information.
fn build() -> Value {
    let built = env!("METERD_BUILD_EPOCH")
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .map_or_else(|| "unknown".to_owned(), |s| format_iso(s * 1000));
    json!({
        "name": env!("CARGO_PKG_NAME"),
        "service": "metric",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("METERD_GIT_COMMIT"),
        "buildTime": built,
    })
}

async fn build_info() -> HttpResponse {
    HttpResponse::Ok().json(build())
}

/// The unit of a series: fixed for meterd's own, else the registry's metadata.
fn units(registry: Arc<RwLock<Registry>>) -> impl Fn(&SeriesEntry) -> Option<String> {
    move |s: &SeriesEntry| {
        s.unit.map(str::to_owned).or_else(|| {
            registry
                .read()
                .get(s.service(), s.scope(), s.name())
                .and_then(|f| f.meta.unit.clone())
        })
    }
}

/// Runs `read` against the entity store on the keeper's thread.
async fn read<R: Send + 'static>(
    state: &AppState,
    read: impl FnOnce(&EntityStore) -> R + Send + 'static,
) -> Result<R, ApiError> {
    state
        .entities
        .keeper()
        .send(Read(read))
        .await
        .map_err(unavailable)
}

async fn metric_query(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("invalid_query", format!("query string: {e}")))?
        .into_inner();
    let request: OdslRequest = odsl::parse(&pairs, state.clock.epoch_millis())?;
    let units = units(state.registry.clone());
    let answer = read(&state, move |store| odsl::answer(store, &request, &units)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn metric_by_id(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let units = units(state.registry.clone());
    let wanted = id.clone();
    let found = read(&state, move |store| {
        odsl::entity_by_id(store, &wanted, &units)
    })
    .await?;
    found
        .map(|entity| HttpResponse::Ok().json(entity))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no metric entity {id:?}: ids are 24 hexadecimal characters, and entities are \
                 kept for the pipeline's [entities] retention"
            ))
        })
}
