//! The OpenDataDSL metric service (seed 002) as pure query code: the `_calendar`,
//! `_observed`, `_range` and `_filter` grammars, the checked parameters of
//! `GET /api/metric/v1`, and the answers computed from the entity store. No actix here.

mod answer;
mod calendar;
pub mod civil;
mod filter;
mod observed;
mod params;
mod range;

pub use answer::{aggregate, answer, entity_by_id, list, list_metrics, series, Units};
pub use calendar::{Calendar, Unit};
pub use civil::format_iso;
pub use filter::{Expected, Field, Filter};
pub use observed::{Accumulator, Observed};
pub use params::{
    parse, ListQuery, MetricsQuery, OdslRequest, ParamError, Selection, SeriesQuery, DEFAULT_LIMIT,
    MAX_LIMIT,
};
pub use range::{Point, TimeRange};
