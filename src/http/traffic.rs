//! The middleware that counts meterd's own traffic per Orion service and subservice (seed 003's
//! `incomingTransaction*` and `serviceTime`), attributed by the request's `Fiware-Service` and
//! `Fiware-ServicePath` headers. Requests whose headers break Orion's naming rules are left
//! out, as Orion leaves them out. A request the token guard refuses (401, 403) proved no
//! right to the service it names, so it counts under `default-service` and `/` rather than
//! under that service: nobody can fill the table of (service, path) pairs, or charge a tenant
//! with traffic, without a fitting token. It records before the response leaves, so a client
//! that has its answer finds its request counted.

use super::AppState;
use crate::model::{parse_service_header, ServicePath, DEFAULT_SERVICE};
use crate::telemetry::Transaction;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use futures_util::{Stream, StreamExt};
use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

/// The request's service and subservice, or `None` when a Fiware header is invalid.
fn attribution(req: &ServiceRequest) -> Option<(String, ServicePath)> {
    let header = |name: &str| match req.headers().get(name) {
        None => Some(""),
        Some(v) => v.to_str().ok(),
    };
    let service = parse_service_header(header("fiware-service")?).ok()?;
    let path = ServicePath::parse(header("fiware-servicepath")?).ok()?;
    Some((service, path))
}

/// Counts the request in `vendor:meterd.http.requests` and, unless self metrics are off or
/// its Fiware headers are invalid, in the per-service traffic: request body bytes read,
/// response body bytes, error status (4xx/5xx) and the time to the response.
pub async fn count_traffic(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    state.counters.http_requests.fetch_add(1, Relaxed);
    let tenancy = match state.traffic.enabled() {
        true => attribution(&req),
        false => None,
    };
    let Some((service, path)) = tenancy else {
        return next.call(req).await;
    };
    let started = state.clock.monotonic_nanos();
    let read = Rc::new(Cell::new(0u64));
    let payload = req.take_payload();
    if !matches!(payload, Payload::None) {
        let counter = read.clone();
        let counted = payload.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                counter.set(counter.get() + bytes.len() as u64);
            }
        });
        let boxed: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
            Box::pin(counted);
        req.set_payload(Payload::from(boxed));
    } else {
        req.set_payload(payload);
    }
    let result = next.call(req).await;
    let (response_bytes, status) = match &result {
        Ok(res) => {
            let size = match res.response().body().size() {
                BodySize::Sized(n) => n,
                BodySize::None | BodySize::Stream => 0,
            };
            (size, res.status())
        }
        Err(e) => (0, e.as_response_error().status_code()),
    };
    let nanos = state.clock.monotonic_nanos().saturating_sub(started);
    let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    let (service, path) = match refused {
        true => (DEFAULT_SERVICE.to_owned(), ServicePath::root()),
        false => (service, path),
    };
    let kept = state.traffic.record(
        &service,
        &path,
        Transaction {
            request_bytes: read.get(),
            response_bytes,
            error: status.is_client_error() || status.is_server_error(),
            nanos,
        },
    );
    if !kept {
        state
            .counters
            .http_requests_unattributed
            .fetch_add(1, Relaxed);
    }
    result
}
