//! Bearer tokens: a middleware in front of every route. Without a tokens file meterd is open
//! (keep it on loopback then). With one, every route but the health probes needs
//! `Authorization: Bearer <secret>`: none or an unknown one → 401; a role or service that
//! does not fit → 403.
//!
//! What a request needs is decided by [`classify`] from its method, path and query — one
//! table for every API, so that a route added later is guarded by the defaults (reads need
//! `read`, writes `ingest`, deletes and resets `admin`) until it is listed otherwise.

use super::tenancy::Tenancy;
use super::{ApiError, AppState};
use crate::config::{Role, Token};
use crate::telemetry::{Outcome, Reason};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Nothing: health probes.
    Open,
    /// A `read` token (or admin).
    Read,
    /// An `ingest` token (or admin).
    Ingest,
    /// An `admin` token: resets, removals.
    Admin,
}

/// Routes whose class differs from the defaults: `(method, path pattern, class)`; `*` in a
/// pattern matches one path segment. Query APIs that take their question in a POST body are
/// reads; every API adds its exceptions here.
pub const ROUTE_CLASSES: &[(&str, &str, Class)] = &[
    ("GET", "/-/healthy", Class::Open),
    ("GET", "/-/ready", Class::Open),
    // OpenTSDB and Blink queries are POSTed.
    ("POST", "/api/query", Class::Read),
    ("POST", "/api/suggest", Class::Read),
    ("POST", "/api/aggregators", Class::Read),
    ("POST", "/api/v2/projects/*/jobs/*/metric", Class::Read),
    // The dashboard: the page and its files hold no data (a browser loads them to ask for a
    // token); `""` is the root `/`, whose trailing slash the matcher trims.
    ("GET", "", Class::Open),
    ("GET", "/ui", Class::Open),
    ("GET", "/ui/app.js", Class::Open),
    ("GET", "/ui/style.css", Class::Open),
    ("GET", "/ui/chart.svg", Class::Read),
    ("GET", "/ui/api/catalog", Class::Read),
    ("GET", "/ui/api/health", Class::Read),
    // OTLP/HTTP metrics are pushed.
    ("POST", "/v1/metrics", Class::Ingest),
];

/// Routes that honour a token's service binding (they select by the token's service or take
/// it as the request's `Fiware-Service`). A service-bound token is refused elsewhere, rather
/// than shown every service.
const SERVICE_SCOPED: &[&str] = &[
    "/api/v1/events",
    "/api/v1/statsd",
    "/api/put",
    "/v1/metrics",
    "/metrics",
    "/metrics/*",
    "/metrics/*/*",
    "/admin/metrics",
];

fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.trim_end_matches('/').split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The class of a request: the table first, then a reset anywhere (`reset=true`) is admin,
/// then by method — `DELETE` admin, `GET`/`HEAD`/`OPTIONS` read, anything else ingest.
pub fn classify(method: &Method, path: &str, query: &str) -> Class {
    if let Some((_, _, class)) = ROUTE_CLASSES
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && matches(p, path))
    {
        return *class;
    }
    // Decoded as the handlers decode it (`?%72eset=%74rue` is a reset too); any `reset` that
    // is not plainly `false` needs admin (the handlers refuse values other than true/false).
    let reset = form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k.eq_ignore_ascii_case("reset") && v != "false");
    if reset {
        return Class::Admin;
    }
    match *method {
        Method::DELETE => Class::Admin,
        Method::GET | Method::HEAD | Method::OPTIONS => Class::Read,
        _ => Class::Ingest,
    }
}

/// What the token of a request was granted; in the request's extensions.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Its role.
    pub role: Role,
    /// The service it is bound to.
    pub service: Option<String>,
}

/// The service the request's token is bound to, if any: reads show only that service, and
/// ingest may only push to it. Handlers that select series apply it.
pub fn bound_service(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<Grant>()
        .and_then(|g| g.service.clone())
}

/// Refuses (403) events of a service other than the token's (events may name their own).
pub fn check_services<'a>(
    req: &HttpRequest,
    services: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    let Some(bound) = bound_service(req) else {
        return Ok(());
    };
    match services.into_iter().find(|s| *s != bound) {
        None => Ok(()),
        Some(other) => Err(forbidden(format!(
            "this token may push only to service {bound:?}, not {other:?}"
        ))),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// Decides a request: the token it presents against what its class needs.
fn authorize(
    token: Option<&Token>,
    presented: bool,
    class: Class,
    path: &str,
) -> Result<Grant, ApiError> {
    let Some(token) = token else {
        return Err(unauthorized(if presented {
            "unknown bearer token"
        } else {
            "this route needs an Authorization: Bearer <token> header"
        }));
    };
    let fits = matches!(
        (token.role, class),
        (_, Class::Open)
            | (Role::Admin, _)
            | (Role::Read, Class::Read)
            | (Role::Ingest, Class::Ingest)
    );
    if !fits {
        let needs = match class {
            Class::Read => "role \"read\" or \"admin\"",
            Class::Ingest => "role \"ingest\" or \"admin\"",
            Class::Admin | Class::Open => "role \"admin\"",
        };
        return Err(forbidden(format!("this route needs a token with {needs}")));
    }
    if token.service.is_some() && !SERVICE_SCOPED.iter().any(|p| matches(p, path)) {
        return Err(forbidden(
            "a service-bound token may only use the ingest APIs, /metrics and /admin/metrics"
                .to_owned(),
        ));
    }
    Ok(Grant {
        role: token.role,
        service: token.service.clone(),
    })
}

/// Refuses a service-bound token's request whose `Fiware-Service` names another service (400
/// when it breaks Orion's rule). One that names none works on the bound service
/// ([`Tenancy`]).
fn check_bound_service(grant: &Grant, tenancy: &Tenancy) -> Result<(), ApiError> {
    let Some(bound) = &grant.service else {
        return Ok(());
    };
    match tenancy.named_service(Some(bound))? {
        Some(asked) if &asked != bound => Err(forbidden(format!(
            "this token is bound to service {bound:?}, not {asked:?}"
        ))),
        _ => Ok(()),
    }
}

/// The path the router will match: percent-decoded by actix's own rules (everything but
/// `%2F`, `%25` and `%2B`), so that `/api/%71uery` is classed as `/api/query`, the route it
/// reaches. The guard runs before routing, where this is the whole path.
pub fn route_path(req: &ServiceRequest) -> &str {
    req.match_info().as_str()
}

/// The secret of an `Authorization: Bearer <secret>` header; the scheme is case-insensitive
/// (RFC 9110, section 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, secret) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(secret.trim())
}

/// The middleware (`actix_web::middleware::from_fn(guard)`).
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tokens = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.tokens.clone().map(|t| (t, s.counters.clone())));
    let Some((tokens, counters)) = tokens else {
        return next.call(req).await;
    };
    let path = route_path(&req).to_owned();
    let class = classify(req.method(), &path, req.query_string());
    if class == Class::Open {
        return next.call(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let decided = authorize(
        presented.and_then(|p| tokens.find(p)),
        presented.is_some(),
        class,
        &path,
    )
    .and_then(|grant| {
        let checked = check_bound_service(&grant, &Tenancy::of(req.request()));
        req.extensions_mut().insert(grant);
        checked
    });
    match decided {
        Ok(()) => next.call(req).await,
        Err(e) => {
            counters.record(Outcome::RequestRefused(Reason::Auth));
            let mut err = e;
            if err.status == StatusCode::UNAUTHORIZED {
                err.message.push_str(" (see the tokens file)");
            }
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_table_then_reset_then_method() {
        let c = |m: Method, p: &str, q: &str| classify(&m, p, q);
        assert_eq!(c(Method::GET, "/-/healthy", ""), Class::Open);
        assert_eq!(c(Method::GET, "/metrics/application", ""), Class::Read);
        assert_eq!(c(Method::OPTIONS, "/metrics", ""), Class::Read);
        assert_eq!(c(Method::POST, "/api/v1/events", ""), Class::Ingest);
        assert_eq!(c(Method::POST, "/api/put", ""), Class::Ingest);
        assert_eq!(c(Method::POST, "/v1/metrics", ""), Class::Ingest);
        assert_eq!(c(Method::POST, "/api/query", ""), Class::Read);
        assert_eq!(
            c(Method::POST, "/api/v2/projects/p/jobs/j/metric", ""),
            Class::Read
        );
        assert_eq!(
            c(Method::POST, "/api/v2/projects/p/jobs/metric", ""),
            Class::Ingest
        );
        assert_eq!(c(Method::DELETE, "/admin/metrics", ""), Class::Admin);
        assert_eq!(c(Method::GET, "/admin/metrics", "reset=true"), Class::Admin);
        assert_eq!(
            c(Method::GET, "/admin/metrics", "x=1&RESET=TRUE"),
            Class::Admin
        );
        assert_eq!(c(Method::GET, "/admin/metrics", "reset=false"), Class::Read);
        assert_eq!(c(Method::DELETE, "/api/v1/series", "name=x"), Class::Admin);
    }
}
