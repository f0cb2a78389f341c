//! Ingest: bytes → events. Each dialect decodes and validates a whole batch into
//! [`Event`](crate::model::Event)s; nothing here does I/O or talks to actors.

pub mod statsd;
