//! A request's tenancy: its `Fiware-Service` and `Fiware-ServicePath` headers, parsed once per
//! request by Orion's rules and kept in the request's extensions, for every part of the HTTP
//! edge that needs them (the token guard, the traffic counter, the ingest and Orion handlers).
//!
//! The one rule, Orion's ([`parse_service_header`], [`ServicePath::parse`]): a value that is
//! not ASCII is invalid; a blank `Fiware-Service` is the same as none (no service named, which
//! ingest takes as `default-service`); a named service is lower-cased, at most 50 characters,
//! each alphanumeric or `_`. One exception, applied where the service is read: the service a
//! request's token is bound to is accepted as written (the tokens file may bind
//! `default-service`, which Orion's rule refuses), and a bound token's request that names no
//! service names the bound one.

use super::{bound_service, ApiError};
use crate::model::{parse_service_header, ServicePath, DEFAULT_SERVICE};
use actix_web::http::header::HeaderMap;
use actix_web::{HttpMessage, HttpRequest};
use std::rc::Rc;

/// Why a tenancy header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenancyError {
    /// `Fiware-Service` breaks Orion's rule.
    #[error("{0}")]
    Service(String),
    /// `Fiware-ServicePath` breaks Orion's rule.
    #[error("{0}")]
    ServicePath(String),
}

/// The request's service and service path, each parsed or refused on its own (a route that
/// reads only the service is not refused for a bad path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenancy {
    /// `Fiware-Service` as sent, when it is ASCII and not blank.
    raw: Option<String>,
    /// The service named (`None`: the header is absent or blank).
    service: Result<Option<String>, TenancyError>,
    /// The service path (`/` when the header is absent or blank).
    path: Result<ServicePath, TenancyError>,
}

impl Tenancy {
    /// Parses `headers` by Orion's rules.
    pub fn parse(headers: &HeaderMap) -> Tenancy {
        let text = |name: &str, refuse: fn(String) -> TenancyError| match headers.get(name) {
            None => Ok(""),
            Some(v) => v
                .to_str()
                .map_err(|_| refuse(format!("{name} is not ASCII"))),
        };
        let raw = text("Fiware-Service", TenancyError::Service);
        let service = raw.clone().and_then(|raw| match raw.trim().is_empty() {
            true => Ok(None),
            false => parse_service_header(raw)
                .map(Some)
                .map_err(TenancyError::Service),
        });
        let path = text("Fiware-ServicePath", TenancyError::ServicePath)
            .and_then(|raw| ServicePath::parse(raw).map_err(TenancyError::ServicePath));
        Tenancy {
            raw: raw.ok().filter(|r| !r.trim().is_empty()).map(str::to_owned),
            service,
            path,
        }
    }

    /// The tenancy of `req`: parsed on first use (the outermost middleware) and kept in its
    /// extensions.
    pub fn of(req: &HttpRequest) -> Rc<Tenancy> {
        if let Some(known) = req.extensions().get::<Rc<Tenancy>>() {
            return known.clone();
        }
        let tenancy = Rc::new(Tenancy::parse(req.headers()));
        req.extensions_mut().insert(tenancy.clone());
        tenancy
    }

    /// The service named, if any, for a token bound to `bound` (if any): 400 `bad_service`
    /// when the header is invalid.
    pub fn named_service(&self, bound: Option<&str>) -> Result<Option<String>, ApiError> {
        if let Some(bound) = bound {
            if self.raw.as_deref() == Some(bound) {
                return Ok(Some(bound.to_owned()));
            }
        }
        match &self.service {
            Ok(None) => Ok(bound.map(str::to_owned)),
            Ok(Some(service)) => Ok(Some(service.clone())),
            Err(e) => Err(e.clone().into()),
        }
    }

    /// The service (`default-service` when none is named) and the service path, for a token
    /// bound to `bound` (if any): 400 (`bad_service`, then `bad_service_path`) when a header is
    /// invalid.
    pub fn service_and_path(&self, bound: Option<&str>) -> Result<(String, ServicePath), ApiError> {
        let service = self
            .named_service(bound)?
            .unwrap_or_else(|| DEFAULT_SERVICE.to_owned());
        match &self.path {
            Ok(path) => Ok((service, path.clone())),
            Err(e) => Err(e.clone().into()),
        }
    }
}

/// The service `req` names, if any (its token's binding applied).
pub fn named_service(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    Tenancy::of(req).named_service(bound_service(req).as_deref())
}

/// The service and service path of `req` (its token's binding applied).
pub fn service_and_path(req: &HttpRequest) -> Result<(String, ServicePath), ApiError> {
    Tenancy::of(req).service_and_path(bound_service(req).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn parse(service: Option<&[u8]>, path: Option<&str>) -> Tenancy {
        let mut headers = HeaderMap::new();
        if let Some(s) = service {
            headers.insert(
                HeaderName::from_static("fiware-service"),
                HeaderValue::from_bytes(s).unwrap(),
            );
        }
        if let Some(p) = path {
            headers.insert(
                HeaderName::from_static("fiware-servicepath"),
                HeaderValue::from_str(p).unwrap(),
            );
        }
        Tenancy::parse(&headers)
    }

    fn service(service: Option<&[u8]>, bound: Option<&str>) -> Result<Option<String>, String> {
        parse(service, None)
            .named_service(bound)
            .map_err(|e| e.message)
    }

    #[test]
    fn orions_rule_for_the_service() {
        assert_eq!(service(None, None), Ok(None));
        assert_eq!(service(Some(b"  "), None), Ok(None), "blank is none");
        assert_eq!(
            service(Some(b" Smart_City "), None),
            Ok(Some("smart_city".to_owned()))
        );
        assert!(service(Some(b"default-service"), None).is_err());
        assert!(service(Some(b"caf\xc3\xa9"), None)
            .unwrap_err()
            .contains("not ASCII"));
    }

    #[test]
    fn a_bound_token_names_its_service() {
        let bound = Some("default-service");
        let named = |s: &str| Ok(Some(s.to_owned()));
        assert_eq!(
            service(Some(b"default-service"), bound),
            named("default-service")
        );
        assert_eq!(service(None, bound), named("default-service"));
        assert_eq!(service(Some(b" "), Some("city")), named("city"));
        assert_eq!(service(Some(b"Farm"), Some("city")), named("farm"));
    }

    #[test]
    fn service_and_path_are_refused_apart() {
        let t = parse(Some(b"city"), Some("/a#"));
        assert_eq!(t.named_service(None).unwrap().as_deref(), Some("city"));
        assert_eq!(
            t.service_and_path(None).unwrap_err().code,
            "bad_service_path"
        );
        let t = parse(None, Some("/a/b/"));
        let (service, path) = t.service_and_path(None).unwrap();
        assert_eq!((service.as_str(), path.as_str()), (DEFAULT_SERVICE, "/a/b"));
    }
}
