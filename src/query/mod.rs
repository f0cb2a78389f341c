//! Pure query code: parameters in, answers out (no actix, no I/O): the OpenTSDB dialect, the
//! Blink `GetInstanceMetric` API built on it, and the OpenDataDSL metric service's calendar
//! aggregation, ranges and filters. The HTTP layer gathers the data and hands it here.

pub mod blink;
pub mod odsl;
pub mod opentsdb;
