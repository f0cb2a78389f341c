//! Two summaries the page needs and no other API gives in one answer:
//! `GET /ui/api/catalog` (every metric with its kind, unit and series: scope, service,
//! service path, tags) and `GET /ui/api/health` (meterd's own queues, refusals, durability,
//! last snapshot and series counts).

use crate::http::{bound_service, ApiError, AppState};
use crate::model::Selector;
use crate::render::names::effective_unit;
use crate::render::series_value;
use crate::telemetry::Reason;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

/// `{"families": [{"scope", "name", "kind", "unit", "description"?, "displayName"?, "own",
/// "series": [{"service", "servicePath", "tags": {..}, "value"}]}]}`, sorted by scope and
/// name; `own` marks meterd's own metrics. A service-bound token sees its service only.
pub async fn catalog(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let selector = Selector {
        service: bound_service(&req),
        ..Selector::default()
    };
    let scrape = state.scrape(selector).await?;
    let families: Vec<Value> = scrape
        .families
        .iter()
        .map(|f| {
            let series: Vec<Value> = f
                .series
                .iter()
                .map(|s| {
                    let tags: Map<String, Value> = s
                        .tags
                        .iter()
                        .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
                        .collect();
                    json!({
                        "service": s.service,
                        "servicePath": s.service_path,
                        "tags": tags,
                        "value": series_value(&s.value),
                    })
                })
                .collect();
            let mut family = json!({
                "scope": f.scope.as_str(),
                "name": f.name,
                "kind": f.kind.as_str(),
                "unit": effective_unit(f.kind, &f.meta),
                "own": f.service.is_none(),
                "series": series,
            });
            if let Some(d) = &f.meta.description {
                family["description"] = d.as_str().into();
            }
            if let Some(d) = &f.meta.display_name {
                family["displayName"] = d.as_str().into();
            }
            family
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "families": families })))
}

/// meterd's own state: what an operator looks at first. It reads every series key from the
/// shards to count series per service (as `/api/suggest` does), so the page asks every 5 s.
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.shards.series_keys().await?;
    let mut by_service: BTreeMap<String, u64> = BTreeMap::new();
    for key in &keys {
        *by_service.entry(key.service.to_string()).or_default() += 1;
    }
    let c = &state.counters;
    let p = &state.pipeline;
    let vendor: Map<String, Value> = c
        .readings()
        .into_iter()
        .map(|(name, _, value, _)| (name.to_owned(), json!(value)))
        .collect();
    let mode = match p.durability.mode {
        crate::config::DurabilityMode::Fsync => "fsync",
        crate::config::DurabilityMode::Interval => "interval",
        crate::config::DurabilityMode::NoFsync => "none",
    };
    let last_snapshot = c.last_snapshot_ms.load(Relaxed);
    let body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "now": state.clock.epoch_millis(),
        "uptimeSeconds": state.started.elapsed().as_secs(),
        "durability": {
            "mode": mode,
            "fsyncIntervalMs": p.durability.interval.as_millis() as u64,
            "snapshotIntervalMs": p.durability.snapshot_interval.as_millis() as u64,
            "walBytes": c.wal_bytes.load(Relaxed),
            "walFsyncs": c.wal_fsyncs.load(Relaxed),
            "walReplayed": c.wal_replayed.load(Relaxed),
        },
        "snapshots": {
            "stored": c.snapshots.load(Relaxed),
            "failed": c.snapshot_failures.load(Relaxed),
            "last": (last_snapshot > 0).then_some(last_snapshot),
        },
        "queues": {
            "shardDepth": c.shard_queue_depth.load(Relaxed).max(0),
            "shardCapacity": p.queues.shard * state.shards.len(),
            "collectorCapacity": p.queues.collector,
            "walCapacity": p.queues.wal,
            "udpCapacity": p.queues.udp,
            "udpLinesPending": c.udp.lines_pending.load(Relaxed).max(0),
            "streamSubscribers": c.stream_subscribers.load(Relaxed),
            "maxSubscribers": p.streams.max_subscribers,
        },
        "refused": {
            "invalid": c.refused.get(Reason::Invalid),
            "conflict": c.refused.get(Reason::Conflict),
            "busy": c.refused.get(Reason::Busy),
            "seriesLimit": c.refused.get(Reason::SeriesLimit),
            "bodySize": c.refused.get(Reason::BodySize),
            "bodyUnreadable": c.refused.get(Reason::BodyUnreadable),
            "auth": c.refused.get(Reason::Auth),
            "eventsRejected": c.events_rejected.load(Relaxed),
            "batchesRejected": c.batches_rejected.load(Relaxed),
            "streamRefused": c.stream_refused.load(Relaxed),
            "streamMessagesDropped": c.stream_messages_dropped.load(Relaxed),
        },
        "series": {
            "live": keys.len(),
            "limit": p.limits.max_series,
            "perServiceLimit": p.limits.max_series_per_service,
            "byService": by_service,
            "expired": c.series_expired.load(Relaxed),
            "removed": c.series_removed.load(Relaxed),
        },
        "vendor": vendor,
    });
    Ok(HttpResponse::Ok().json(body))
}
