//! Kanto subscriptions (seed 004): `GET /api/v1/metrics/ws` speaks the Kanto metrics API's
//! messages over a WebSocket; `GET /api/v1/metrics/stream` sends the same data as Server-Sent
//! Events. The protocol lives in [`crate::stream`]; this file only moves messages.

use super::error::too_many_subscribers;
use super::{ApiError, AppState};
use crate::stream::groups::Wire;
use crate::stream::outbox::Outbox;
use crate::stream::request::parse_query;
use crate::stream::{Conversation, Streams};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::IntervalStream;
use tokio_stream::StreamExt;

/// The largest request message accepted (larger ones close the WebSocket with 1009).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// How often an idle event stream gets a comment line, so that proxies keep it open and a
/// gone client is noticed.
const SSE_HEARTBEAT: Duration = Duration::from_secs(15);

/// Routes of the Kanto subscriptions.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/metrics/ws", web::get().to(websocket))
        .route("/api/v1/metrics/stream", web::get().to(events));
}

/// 503 with `Retry-After` when `max_subscribers` are open.
fn full(streams: &Streams) -> ApiError {
    let max = streams.max_subscribers();
    let message = if max == 0 {
        "subscriptions are turned off ([streams] max_subscribers = 0)".to_owned()
    } else {
        format!("{max} subscribers are open ([streams] max_subscribers); try again later")
    };
    too_many_subscribers(message)
}

async fn websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Frames over the limit are refused as their headers arrive, before their payload.
    let mut limited = super::frame_limit::limit_frames(payload, MAX_REQUEST_BYTES);
    let payload = web::Payload::from_request(&req, &mut limited)
        .await
        .map_err(|e| ApiError::bad_request("bad_body", e.to_string()))?;
    let (response, session, incoming) = actix_ws::handle(&req, payload).map_err(|e| {
        ApiError::bad_request(
            "not_websocket",
            format!("{e}; open a WebSocket here (GET with Upgrade: websocket)"),
        )
    })?;
    let permit = state.streams.enter().ok_or_else(|| full(&state.streams))?;
    let incoming = incoming
        .max_frame_size(MAX_REQUEST_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_REQUEST_BYTES);
    let talk = Conversation::new(state.streams.clone());
    actix_web::rt::spawn(async move {
        converse(talk, session, incoming).await;
        drop(permit);
    });
    Ok(response)
}

/// Answers requests and writes data messages until the client leaves. While the client does
/// not read, this waits in `text()`; the hub meanwhile drops the oldest queued messages.
async fn converse(
    mut talk: Conversation,
    mut session: Session,
    mut incoming: AggregatedMessageStream,
) {
    loop {
        let outbox = talk.outbox();
        let reply = tokio::select! {
            biased;
            message = incoming.recv() => match message {
                Some(Ok(AggregatedMessage::Text(text))) => talk.on_request(&text),
                Some(Ok(AggregatedMessage::Binary(bytes))) => {
                    talk.on_request(&String::from_utf8_lossy(&bytes))
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                    None
                }
                Some(Ok(AggregatedMessage::Pong(_))) => None,
                Some(Ok(AggregatedMessage::Close(reason))) => {
                    let _ = session.close(reason).await;
                    return;
                }
                Some(Err(error)) => {
                    let code = close_code(&error);
                    let reason = CloseReason {
                        code,
                        description: Some(error.to_string()),
                    };
                    let _ = session.close(Some(reason)).await;
                    return;
                }
                None => return,
            },
            data = next(outbox) => Some(data),
        };
        if let Some(text) = reply {
            if session.text(text).await.is_err() {
                return;
            }
        }
    }
}

/// The close code for a broken stream: 1009 for a frame or message over the limit, 1007
/// for text that is not UTF-8, 1002 for any other protocol error.
fn close_code(error: &actix_ws::ProtocolError) -> CloseCode {
    match error {
        e if super::frame_limit::is_refusal(e) => CloseCode::Size,
        actix_ws::ProtocolError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            CloseCode::Invalid
        }
        _ => CloseCode::Protocol,
    }
}

/// The next queued message, or never when there is no subscription.
async fn next(outbox: Option<Arc<Outbox>>) -> String {
    match outbox {
        Some(outbox) => outbox.pop().await,
        None => std::future::pending().await,
    }
}

async fn events(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let params = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?
        .into_inner();
    let query = parse_query(&params)?;
    let permit = state.streams.enter().ok_or_else(|| full(&state.streams))?;
    let subscription = state
        .streams
        .subscribe(query.every, query.filters, Wire::Sse);
    // The subscription and its permit live as long as the response body.
    let data = futures_util::stream::unfold((subscription, permit), |held| async move {
        let event = held.0.outbox().pop().await;
        Some((event, held))
    });
    let start = tokio::time::Instant::now() + SSE_HEARTBEAT;
    let beats = IntervalStream::new(tokio::time::interval_at(start, SSE_HEARTBEAT))
        .map(|_| ": keep-alive\n\n".to_owned());
    let body = data
        .merge(beats)
        .map(|text| Ok::<_, Infallible>(web::Bytes::from(text)));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
