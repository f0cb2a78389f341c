//! The one middleware that times every request (on the injected clock) and records it: in
//! `vendor:meterd.http.requests`, as meterd's own request entities (see `request_entities`),
//! and in meterd's own traffic per Orion service and subservice (seed 003's
//! `incomingTransaction*` and `serviceTime`), attributed by the request's [`Tenancy`] (its
//! `Fiware-Service` and `Fiware-ServicePath` headers; a service-bound token's request that
//! names no service counts under the bound one). Requests whose headers break Orion's naming
//! rules are left out, as Orion leaves them out. A request the token guard refuses (401, 403)
//! proved no right to the service it names, so it counts under `default-service` and `/`
//! rather than under that service, and so does a request to an open route (health probes,
//! the dashboard's page) when tokens are on: nobody can fill the table of (service, path)
//! pairs, or charge a tenant with traffic, without a fitting token. It records before the response leaves, so a client
//! that has its answer finds its request counted.

use super::tenancy::Tenancy;
use super::{bound_service, AppState, Grant, RequestRecorder};
use crate::model::{ServicePath, DEFAULT_SERVICE};
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

/// Times the request once on the injected clock and records it: in
/// `vendor:meterd.http.requests`; as a request entity when the token guard let it through;
/// and, unless self metrics are off or its Fiware headers are invalid, in the per-service
/// traffic: request body bytes read, response body bytes, error status (4xx/5xx) and the
/// time to the response.
pub async fn observe_request(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    state.counters.http_requests.fetch_add(1, Relaxed);
    let recorder = req.app_data::<RequestRecorder>().cloned();
    let method = req.method().clone();
    let tenancy = Tenancy::of(req.request());
    let started = state.clock.monotonic_nanos();
    let started_ms = state.clock.epoch_millis();
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
    let (response_bytes, status, bound, granted) = match &result {
        Ok(res) => {
            let size = match res.response().body().size() {
                BodySize::Sized(n) => n,
                BodySize::None | BodySize::Stream => 0,
            };
            let granted = res.request().extensions().contains::<Grant>();
            (size, res.status(), bound_service(res.request()), granted)
        }
        Err(e) => (0, e.as_response_error().status_code(), None, false),
    };
    let nanos = state.clock.monotonic_nanos().saturating_sub(started);
    // A request the guard refused is an error here (no response yet); it never reached the
    // routes and is no request entity.
    if let (Some(recorder), Ok(res)) = (&recorder, &result) {
        let pattern = res.request().match_pattern();
        let answer = (status.as_u16(), response_bytes);
        recorder.finished(method, pattern.as_deref(), answer, started_ms, nanos);
    }
    if !state.traffic.enabled() {
        return result;
    }
    // With tokens on, only a request a token let through has shown a right to the service it
    // names; the open routes (health probes, the dashboard's page) need none.
    let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        || (state.tokens.is_some() && !granted);
    // Headers that break Orion's rules leave the request out, as Orion leaves it out.
    let Ok((service, path)) = tenancy.service_and_path(bound.as_deref()) else {
        return result;
    };
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
