//! `GET /ui/chart.svg?<OpenTSDB query parameters>[&w=&h=]`: the answer of the same query as
//! `GET /api/query` (same engine, same limits), drawn as an SVG chart.

use crate::http::history::run_query;
use crate::http::{ApiError, AppState};
use crate::model::Scope;
use crate::query::opentsdb::from_params;
use crate::render::chart::{time_chart, Line, TimeChart};
use crate::render::names::effective_unit;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// Default and allowed sizes, px.
const DEFAULT_SIZE: (u32, u32) = (900, 420);
const WIDTHS: std::ops::RangeInclusive<u32> = 300..=4000;
const HEIGHTS: std::ops::RangeInclusive<u32> = 200..=3000;

fn size_param(
    params: &[(String, String)],
    name: &str,
    default: u32,
    allowed: std::ops::RangeInclusive<u32>,
) -> Result<u32, ApiError> {
    let Some((_, raw)) = params.iter().find(|(k, _)| k == name) else {
        return Ok(default);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|v| allowed.contains(v))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_query",
                format!(
                    "{name}={raw:?}: a size in pixels from {} to {}",
                    allowed.start(),
                    allowed.end()
                ),
            )
        })
}

/// The unit of a metric as its registry metadata says (application scope first).
fn unit_of(state: &AppState, metric: &str) -> Option<String> {
    let registry = state.registry.read();
    [Scope::Application, Scope::Vendor, Scope::Base]
        .into_iter()
        .filter_map(|scope| registry.get_any(scope, metric))
        .find_map(|info| effective_unit(info.kind, &info.meta).map(str::to_owned))
}

/// The chart.
pub async fn chart(
    params: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let width = size_param(&params, "w", DEFAULT_SIZE.0, WIDTHS)?;
    let height = size_param(&params, "h", DEFAULT_SIZE.1, HEIGHTS)?;
    let mut query = from_params(&params, state.clock.epoch_millis())?;
    query.ms_resolution = true;
    let (start, end) = (query.start, query.end);
    let mut units: Vec<String> = query
        .queries
        .iter()
        .filter_map(|q| unit_of(&state, &q.metric))
        .collect();
    units.dedup();
    let title = params
        .iter()
        .filter(|(k, _)| k == "m")
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("  ·  ");
    let results = run_query(&state, query).await?;
    let svg = web::block(move || {
        let lines = Line::from_results(&results);
        let unit = units.join(", ");
        let mut out = String::new();
        time_chart(
            &mut out,
            &TimeChart {
                title: &title,
                unit: Some(unit.as_str()).filter(|u| !u.is_empty()),
                start,
                end,
                lines: &lines,
                size: (width, height),
            },
        )
        .map(|()| out)
    })
    .await
    .map_err(super::super::error::unavailable)?
    .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(svg))
}
