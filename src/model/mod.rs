//! The vocabulary: events, kinds, scopes, services, series keys and the read-only views that
//! renderers consume. No actix, no I/O.

mod distribution;
mod event;
mod item_error;
mod kind;
mod packed_key;
mod scope;
mod selector;
mod series;
mod service;
mod view;

pub use distribution::Distribution;
pub use event::{
    check_tag, check_value, valid_name, valid_tag_key, Event, KeyString, Metadata, Op, Tags,
    MAX_MAGNITUDE, RESERVED_TAG_KEYS,
};
pub use item_error::ItemError;
pub use kind::Kind;
pub use packed_key::PackedKey;
pub use scope::Scope;
pub use selector::Selector;
pub use series::SeriesKey;
pub use service::{
    parse_service, parse_service_header, ServicePath, DEFAULT_SERVICE, ROOT_SUBSERV,
};
pub use view::{Family, HistogramView, MeterView, Scrape, SeriesView, ValueView};
