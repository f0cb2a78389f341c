//! Pure renderers: one file per output format, from one immutable [`Scrape`] (or a slice of
//! its families) to text in a caller's `&mut String`, or to a `serde_json::Value` for JSON.
//! No actix and no I/O here; the HTTP layer picks a renderer by `Accept` and sets the
//! content type.
//!
//! | format | function | used by |
//! |---|---|---|
//! | Prometheus text 0.0.4, MicroProfile 1.x names | [`prometheus`] | `GET /metrics…` with `text/plain` |
//! | OpenMetrics 1.0 | [`openmetrics`] | `GET /metrics…` with `application/openmetrics-text` |
//! | MicroProfile JSON | [`json_tree`], [`json_scope`] | `GET /metrics…` with `application/json` |
//! | MicroProfile metadata | [`options_tree`], [`options_scope`] | `OPTIONS /metrics…` |
//! | FIWARE Orion service tree | [`orion_tree`] | `GET /admin/metrics` |
//! | ODSL entities and calendar series | [`odsl::entity`], [`odsl::series`] | `GET /api/metric/v1…` |
//! | OpenTSDB query answer | [`opentsdb::query_answer`] | `/api/query` |
//! | Blink metric lines, JSON and XML | [`blink::blink_json`], [`blink::write_blink_xml`] | `POST /api/v2/projects/…/metric` |
//! | SVG charts (plotters) | [`chart::time_chart`], [`chart::latency_chart`] | `/ui/chart.svg`, `meterd bench --plot` |
//!
//! Output order is the scrape's order (families by scope then name, series by service,
//! service path and tags), so the output is deterministic. [`names`] holds the Prometheus
//! naming and unit rules, [`number`] the number spelling shared by all formats.
//!
//! [`Scrape`]: crate::model::Scrape

pub mod blink;
pub mod chart;
mod exposition;
#[doc(hidden)]
pub mod fixture;
mod mp_json;
pub mod names;
pub mod number;
pub mod odsl;
mod openmetrics;
pub mod opentsdb;
mod options;
mod orion;
mod prometheus;
pub mod xml;

pub use mp_json::{json_scope, json_tree, quantile_key, series_key, series_value};
pub use openmetrics::{openmetrics, openmetrics_families, OPENMETRICS_CONTENT_TYPE};
pub use options::{family_metadata, options_scope, options_tree};
pub use orion::orion_tree;
pub use prometheus::{prometheus, prometheus_families, PROMETHEUS_CONTENT_TYPE};
