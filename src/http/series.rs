//! `DELETE /api/v1/series?service=S&name=N` (admin): removes pushed series on purpose. The
//! removal is logged, so it holds across a crash; removed series stop counting toward the
//! series limits.

use super::error::unavailable;
use super::{ApiError, AppState};
use crate::collector::RemoveSeries;
use crate::model::Selector;
use crate::model::{parse_service, Scope};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Routes of the series API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/series", web::delete().to(delete_series));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Which {
    service: Option<String>,
    name: Option<String>,
    /// `base`, `vendor` or `application` (the default).
    scope: Option<String>,
}

async fn delete_series(
    which: web::Query<Which>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.cluster.is_some() {
        return Err(super::error::not_in_cluster(
            "DELETE /api/v1/series",
            "a removal record in every partition and the owners applying it",
        ));
    }
    let which = which.into_inner();
    if [&which.service, &which.name, &which.scope]
        .into_iter()
        .any(|v| v.as_deref().is_some_and(|v| v.trim().is_empty()))
    {
        return Err(ApiError::bad_request(
            "bad_request",
            "service=, name= and scope= need a value: an empty one selects nothing",
        ));
    }
    if which.service.is_none() && which.name.is_none() {
        return Err(ApiError::bad_request(
            "bad_request",
            "name the series to remove: service=S, name=N or both",
        ));
    }
    let service = match which.service {
        None => None,
        Some(s) => Some(parse_service(&s).map_err(|m| ApiError::bad_request("bad_service", m))?),
    };
    let scope = match which.scope.as_deref() {
        None => Scope::Application,
        Some(s) => s
            .parse::<Scope>()
            .map_err(|m| ApiError::bad_request("bad_scope", m))?,
    };
    let selector = Selector {
        scope: Some(scope),
        name: which.name,
        service,
    };
    let removed = state
        .collector
        .send(RemoveSeries(selector))
        .await
        .map_err(unavailable)??;
    Ok(HttpResponse::Ok().json(json!({ "removed": removed })))
}
