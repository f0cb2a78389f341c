//! Query semantics, pure (no actix, no I/O): the OpenTSDB dialect and the Blink
//! `GetInstanceMetric` API built on it. The HTTP layer gathers the data from the shards and
//! hands it here.

pub mod blink;
pub mod opentsdb;
