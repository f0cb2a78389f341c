//! The dashboard (`/ui/`): one page built into the binary — a metric browser, charts of any
//! OpenTSDB query, live values over the SSE stream, the Orion tree and meterd's own health.
//!
//! The page, its script and its stylesheet are the files under `assets/`, compiled in with
//! `include_str!`; they hold no data and are served to anyone, so that a browser can load the
//! page and ask for a read token (see `auth`). Everything the page shows comes from routes
//! that need one: the existing JSON APIs, [`chart`]'s SVG charts and [`api`]'s two summaries.

mod api;
mod chart;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The page.
const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its script (plain JavaScript, no libraries).
const APP_JS: &str = include_str!("assets/app.js");
/// Its stylesheet.
const STYLE_CSS: &str = include_str!("assets/style.css");

/// What the page may load: only this server (charts are SVG it inserts; `<style>` inside them
/// is inline).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// Routes of the dashboard.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_ui))
        .route("/ui", web::get().to(to_ui))
        .route("/ui/", web::get().to(index))
        .route("/ui/app.js", web::get().to(app_js))
        .route("/ui/style.css", web::get().to(style_css))
        .route("/ui/chart.svg", web::get().to(chart::chart))
        .route("/ui/api/catalog", web::get().to(api::catalog))
        .route("/ui/api/health", web::get().to(api::health));
}

/// `GET /` and `GET /ui`: to the page (a browser follows; a script sees the 303).
async fn to_ui(req: HttpRequest) -> HttpResponse {
    let query = req.query_string();
    let location = if query.is_empty() {
        "/ui/".to_owned()
    } else {
        format!("/ui/?{query}")
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}
