//! The MicroProfile Metrics API (seed 001): `GET` and `OPTIONS` on `/metrics[/{scope}[/{name}]]`.

use super::negotiate::{accepts_json, negotiate, Format};
use super::{ApiError, AppState};
use crate::model::Selector;
use crate::model::{Scope, Scrape};
use crate::render;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

/// Routes of the MicroProfile API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for path in ["/metrics", "/metrics/{scope}", "/metrics/{scope}/{name}"] {
        cfg.route(path, web::get().to(metrics))
            .route(path, web::head().to(metrics))
            .route(path, web::method(Method::OPTIONS).to(metrics))
            .route(path, web::route().to(not_allowed));
    }
}

/// 405 with `Allow` for any other method on a `/metrics` path (registered last).
async fn not_allowed(req: HttpRequest) -> HttpResponse {
    let mut resp = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed here: use GET, HEAD or OPTIONS",
            req.method()
        ),
    )
    .error_response_json();
    resp.headers_mut().insert(
        header::ALLOW,
        header::HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    resp
}

/// What a `/metrics` path selects.
fn selector(req: &HttpRequest) -> Result<Selector, ApiError> {
    let scope = match req.match_info().get("scope") {
        None => None,
        Some(s) => Some(s.parse::<Scope>().map_err(ApiError::not_found)?),
    };
    let name = req.match_info().get("name").map(str::to_owned);
    Ok(Selector {
        scope,
        name,
        // A token bound to a service reads that service only.
        service: super::bound_service(req),
    })
}

async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let sel = selector(&req)?;
    let options = req.method() == Method::OPTIONS;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = if options {
        if !accepts_json(accept) {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                "OPTIONS /metrics answers metadata in application/json only",
            ));
        }
        Format::Json
    } else {
        negotiate(accept).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                "/metrics answers text/plain (Prometheus 0.0.4), application/openmetrics-text or application/json",
            )
        })?
    };
    let scrape = state.scrape(sel.clone()).await?;
    if scrape.families.is_empty() {
        return match (&sel.name, sel.scope) {
            (Some(name), Some(scope)) => Err(ApiError::not_found(format!(
                "no metric {name:?} in scope {scope}"
            ))),
            _ => Ok(HttpResponse::NoContent().finish()),
        };
    }
    let body = if options {
        options_body(&sel, &scrape)
    } else {
        render_body(format, &sel, &scrape)
    };
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(body))
}

fn options_body(sel: &Selector, scrape: &Scrape) -> String {
    let value = match sel.scope {
        None => render::options_tree(scrape),
        Some(_) => render::options_scope(&scrape.families),
    };
    value.to_string()
}

fn render_body(format: Format, sel: &Selector, scrape: &Scrape) -> String {
    let mut out = String::with_capacity(4096);
    match format {
        Format::Prometheus => render::prometheus(scrape, &mut out),
        Format::OpenMetrics => render::openmetrics(scrape, &mut out),
        Format::Json => {
            let value = match sel.scope {
                None => render::json_tree(scrape),
                Some(_) => render::json_scope(&scrape.families),
            };
            out = value.to_string();
        }
    }
    out
}
