//! The OpenTSDB HTTP API: `/api/query` (GET and POST), `/api/aggregators`, `/api/suggest` and
//! `/api/put`.

use super::body::read_query_body;
use super::history::run_query;
use super::ingest::ingest_body;
use super::{ApiError, AppState};
use crate::ingest::opentsdb_put::decode_put;
use crate::query::opentsdb::{from_json, from_params, AGGREGATORS};
use crate::render::opentsdb::query_answer;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;

/// Routes of the OpenTSDB API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/query", web::get().to(query_get))
        .route("/api/query", web::post().to(query_post))
        .route("/api/aggregators", web::get().to(aggregators))
        .route("/api/aggregators", web::post().to(aggregators))
        .route("/api/suggest", web::get().to(suggest_get))
        .route("/api/suggest", web::post().to(suggest_post))
        .route("/api/put", web::post().to(put));
}

fn json_body(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

async fn query_get(
    params: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = from_params(&params, state.clock.epoch_millis())?;
    let results = run_query(&state, query).await?;
    let mut out = String::new();
    query_answer(&mut out, &results);
    Ok(json_body(out))
}

async fn query_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_query_body(&req, payload, &state).await?;
    let query = from_json(&body, state.clock.epoch_millis())?;
    let results = run_query(&state, query).await?;
    let mut out = String::new();
    query_answer(&mut out, &results);
    Ok(json_body(out))
}

async fn aggregators() -> HttpResponse {
    HttpResponse::Ok().json(AGGREGATORS)
}

/// `type`, `q` and `max` of a suggest request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Suggest {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    q: String,
    max: Option<usize>,
}

async fn suggest_get(
    params: web::Query<Suggest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    suggest(params.into_inner(), &state).await
}

async fn suggest_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_query_body(&req, payload, &state).await?;
    let s: Suggest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("bad_query", format!("suggest body: {e}")))?;
    suggest(s, &state).await
}

/// Sorted names of the asked kind that start with `q`, at most `max` (default 25).
async fn suggest(s: Suggest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let keys = state.shards.series_keys().await?;
    let mut names = BTreeSet::new();
    match s.kind.as_str() {
        "metrics" => names.extend(keys.into_iter().map(|k| k.name)),
        "tagk" => names.extend(keys.into_iter().flat_map(|k| k.tags).map(|(k, _)| k)),
        "tagv" => names.extend(keys.into_iter().flat_map(|k| k.tags).map(|(_, v)| v)),
        other => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("suggest type {other:?}: use metrics, tagk or tagv"),
            ))
        }
    }
    let found: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(&s.q))
        .take(s.max.unwrap_or(25))
        .map(String::from)
        .collect();
    Ok(HttpResponse::Ok().json(found))
}

/// `?summary` and `?details` of a put.
#[derive(Deserialize)]
struct PutParams {
    summary: Option<String>,
    details: Option<String>,
}

async fn put(
    req: HttpRequest,
    payload: web::Payload,
    params: web::Query<PutParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let n = ingest_body(&req, payload, &state, decode_put).await?;
    Ok(if params.details.is_some() {
        HttpResponse::Ok().json(json!({"success": n, "failed": 0, "errors": []}))
    } else if params.summary.is_some() {
        HttpResponse::Ok().json(json!({"success": n, "failed": 0}))
    } else {
        HttpResponse::NoContent().finish()
    })
}
