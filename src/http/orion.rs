//! FIWARE Orion's metrics API (seed 003): `GET /admin/metrics[?reset=true]` answers the
//! service tree, `DELETE /admin/metrics` resets. `?service=S` or a `Fiware-Service` header
//! limits both to one service (an extension Orion lacks).
//!
//! A get-and-reset is one cut through the pipeline: the collector queues a drain on every
//! shard in one handler, so every batch it admitted before is in the answer and every later
//! one stays live (see [`DrainAll`]). meterd's own traffic is drained next to it.

use super::tenancy::named_service;
use super::{error::unavailable, ApiError, AppState};
use crate::collector::DrainAll;
use crate::model::Selector;
use crate::model::{parse_service, SeriesKey, ValueView};
use crate::render::orion_tree;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

/// Routes of the Orion metrics API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/metrics", web::get().to(get_metrics))
        .route("/admin/metrics", web::delete().to(delete_metrics));
}

/// The query string of `/admin/metrics`; other parameters are ignored, as Orion does.
#[derive(Debug, Deserialize)]
struct OrionQuery {
    reset: Option<String>,
    service: Option<String>,
}

/// The service `?service=` or `Fiware-Service` names, if any; both must agree. A blank
/// header names none, as a blank `?service=` is refused.
fn service(req: &HttpRequest, query: &OrionQuery) -> Result<Option<String>, ApiError> {
    let bad = |m: String| ApiError::bad_request("bad_service", m);
    let header = named_service(req)?;
    let param = match query.service.as_deref() {
        None => None,
        Some(s) if s.trim().is_empty() => {
            return Err(bad("service must name a service".to_owned()))
        }
        Some(s) => Some(parse_service(s).map_err(bad)?),
    };
    // A token bound to a service sees that service only, never the whole tree.
    if let Some(bound) = super::bound_service(req) {
        return match [param, header].into_iter().flatten().find(|n| *n != bound) {
            Some(other) => Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token is bound to service {bound:?}, not {other:?}"),
            )),
            None => Ok(Some(bound)),
        };
    }
    match (param, header) {
        (Some(p), Some(h)) if p != h => Err(bad(format!(
            "?service={p} and Fiware-Service: {h} name different services"
        ))),
        (p, h) => Ok(p.or(h)),
    }
}

/// Whether `?reset=` asks for a reset.
fn wants_reset(query: &OrionQuery) -> Result<bool, ApiError> {
    match query.reset.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "bad_request",
            format!("reset must be true or false, not {other:?}"),
        )),
    }
}

/// Every selected series and the self traffic, read, or read and reset as one cut.
async fn views(
    state: &AppState,
    service: Option<String>,
    reset: bool,
) -> Result<Vec<(SeriesKey, ValueView)>, ApiError> {
    let selector = Selector {
        service: service.clone(),
        ..Selector::default()
    };
    let mut views = if let (true, Some(cluster)) = (reset, &state.cluster) {
        state.learn(cluster.reset(selector).await?)
    } else if reset {
        state
            .collector
            .send(DrainAll(selector))
            .await
            .map_err(unavailable)?
    } else {
        state.collect(selector).await?
    };
    let traffic = if reset {
        state.traffic.drain(service.as_deref())
    } else {
        state.traffic.read(service.as_deref())
    };
    views.extend(traffic);
    Ok(views)
}

async fn get_metrics(
    req: HttpRequest,
    query: web::Query<OrionQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let reset = wants_reset(&query)?;
    let service = service(&req, &query)?;
    let views = views(&state, service, reset).await?;
    Ok(HttpResponse::Ok().json(orion_tree(&views)))
}

async fn delete_metrics(
    req: HttpRequest,
    query: web::Query<OrionQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let service = service(&req, &query)?;
    views(&state, service, true).await?;
    Ok(HttpResponse::NoContent().finish())
}
