//! # meterd
//!
//! A metrics stream processor and server. Applications push metric events (native JSON,
//! StatsD, OpenTSDB put); meterd aggregates them in actix actor pipelines and answers queries
//! in the dialects existing tools speak.
//!
//! # Data flow
//!
//! ```text
//!  HTTP ingest (JSON / NDJSON, StatsD text, OpenTSDB put)    UDP StatsD
//!             │  decode + validate a whole batch  (ingest)     │
//!             ▼                                                ▼
//!  collector ── write-ahead log (ack after it)  (persist) ── route each series by key hash  (collector)
//!             │  messages carry batches, never one event each
//!             ▼
//!  aggregation shards, one per core, each owning its series  (aggregate)
//!    counter, gauge, EWMA meter (1/5/15-minute rates), HdrHistogram (histogram, timer)
//!    windowed downsampler (tiers of buckets) ── closed buckets ──▶ history writer ──▶ redb  (persist)
//!             │
//!             ▼
//!  registry: metadata, types, scope tree  (registry)
//!             ▲
//!  endpoints (http) ask the registry and shards and render  (render):
//!    Prometheus 0.0.4 text · OpenMetrics 1.0 · MicroProfile JSON and OPTIONS · Orion tree
//!    OpenTSDB /api/query and Blink metric lines  (query) · ODSL entities and calendar series
//!    Kanto snapshots over WebSocket and SSE  (stream: a hub reads shards and host per tick)
//! ```
//!
//! Where things are: [`model`] is the vocabulary; [`config`] the pipeline file; [`ingest`]
//! turns bytes into events; [`collector`] admits and routes; [`aggregate`] holds the series;
//! [`registry`] the metadata; [`query`] the OpenTSDB, Blink and ODSL semantics; [`render`]
//! the output formats; [`stream`] the Kanto subscriptions; [`http`] the actix-web edge;
//! [`persist`] the write-ahead log, snapshots, the history store and what recovery reads;
//! [`telemetry`] meterd's own metrics; [`cluster`] cluster mode's NATS JetStream layer (event
//! log, placement, membership, checkpoints); [`app`] wires it all.
#![warn(missing_docs)]

pub mod aggregate;
pub mod app;
pub mod bench;
pub mod clock;
pub mod cluster;
pub mod collector;
pub mod config;
pub mod http;
pub mod ingest;
pub mod model;
pub mod persist;
pub mod query;
pub mod registry;
pub mod render;
pub mod stream;
pub mod telemetry;
