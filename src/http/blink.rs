//! Blink `GetInstanceMetric` (seed 000): `POST /api/v2/projects/{projectName}/jobs/{jobName}/metric`.
//! Every answer, errors included, carries a `requestId`; errors add Alibaba's `code` and
//! `message` next to meterd's usual `error` object. `Accept: application/xml` (preferred over
//! JSON) gets the seed's XML form of a successful answer; errors are always JSON.

use super::body::read_query_body;
use super::history::run_query;
use super::negotiate::prefers_xml;
use super::{ApiError, AppState};
use crate::query::blink::{check_instance, check_running, finish, parse, Line};
use crate::render::blink::{blink_json, write_blink_xml};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Routes of the Blink API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v2/projects/{projectName}/jobs/{jobName}/metric",
        web::post().to(instance_metric),
    );
}

/// `?instanceId=`: `-1` (or absent) is the running instance.
#[derive(Deserialize)]
struct Params {
    #[serde(rename = "instanceId")]
    instance_id: Option<String>,
}

/// An error answered with its request id and Alibaba's code.
fn blink_error(request_id: &str, e: ApiError) -> HttpResponse {
    let code = match e.status {
        StatusCode::NOT_FOUND => "InstanceNotRunning",
        s if s.is_client_error() => "InvalidParameter",
        _ => "ServiceUnavailable",
    };
    let code = if e.code == "instance_not_running" {
        "InstanceNotRunning"
    } else {
        code
    };
    HttpResponse::build(e.status).json(json!({
        "requestId": request_id,
        "code": code,
        "message": e.message,
        "error": {"code": code, "message": e.message},
    }))
}

async fn instance_metric(
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<(String, String)>,
    params: web::Query<Params>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let (project, job) = path.into_inner();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let xml = prefers_xml(accept);
    match answer(&req, payload, &project, &job, params.into_inner(), &state).await {
        Ok(lines) if xml => {
            let mut body = String::with_capacity(256 * (lines.len() + 1));
            write_blink_xml(&mut body, &request_id, &lines);
            HttpResponse::Ok()
                .content_type("application/xml; charset=utf-8")
                .body(body)
        }
        Ok(lines) => HttpResponse::Ok().json(blink_json(&request_id, &lines)),
        Err(e) => blink_error(&request_id, e),
    }
}

async fn answer(
    req: &HttpRequest,
    payload: web::Payload,
    project: &str,
    job: &str,
    params: Params,
    state: &AppState,
) -> Result<Vec<Line>, ApiError> {
    check_instance(params.instance_id.as_deref())?;
    let body = read_query_body(req, payload, state).await?;
    let now = state.clock.epoch_millis();
    let query = parse(&body, project, job, now)?;
    let latest = state.shards.last_sample(&query.prefix).await?;
    check_running(latest, now, project, job)?;
    let results = run_query(state, query.query).await?;
    Ok(finish(results, query.limit))
}
