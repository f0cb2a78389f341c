//! Start-up, step three: open the edges over the running core — the StatsD UDP reader and
//! the HTTP server with its middlewares — and hand back what was started.

use super::core::Core;
use super::{Options, Started};
use crate::http::{cluster_gaps, configure, guard, json_errors, observe_request};
use crate::http::{AppState, RequestRecorder};
use crate::ingest::otlp::CumulativeBook;
use crate::ingest::udp::StatsdUdp;
use crate::telemetry::IncomingTraffic;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::io;
use std::sync::Arc;
use std::time::Instant;

/// Starts the UDP reader (already bound) and binds the HTTP server.
pub(super) fn serve(
    opts: Options,
    core: Core,
    statsd_udp: Option<StatsdUdp>,
) -> io::Result<Started> {
    let udp_addr = match statsd_udp {
        Some(udp) => {
            let addr = udp.local_addr;
            udp.start(
                core.collector.clone(),
                core.cluster.clone(),
                core.counters.clone(),
                opts.clock.clone(),
                &core.pipeline,
            )?;
            Some(addr)
        }
        None => None,
    };
    let otlp = Arc::new(parking_lot::Mutex::new(CumulativeBook::new(
        opts.clock.epoch_millis(),
        core.pipeline.limits.max_series,
    )));
    let state = AppState {
        collector: core.collector,
        shards: core.shards,
        registry: core.registry,
        pipeline: core.pipeline,
        clock: opts.clock,
        counters: core.counters,
        started: Instant::now(),
        traffic: Arc::new(IncomingTraffic::new(opts.self_metrics)),
        streams: core.streams,
        entities: core.entities,
        tokens: opts.tokens.map(Arc::new),
        otlp,
        cluster: core.cluster,
    };
    let (history, durable) = (core.history, core.durable);
    let workers = if opts.workers == 0 {
        cores()
    } else {
        opts.workers
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(RequestRecorder::new(
                state.entities.clone(),
                &state.pipeline.rules,
            ))
            .wrap(json_errors())
            .wrap(from_fn(cluster_gaps))
            .wrap(from_fn(guard))
            // Outermost, so that requests the token guard refuses are counted too.
            .wrap(from_fn(observe_request))
            .configure(configure)
    })
    .workers(workers)
    .shutdown_timeout(5)
    // Signals are handled by `run`, so that they stop the server, never the actors.
    .disable_signals();
    let server = server.bind(&opts.listen)?;
    let addr = server.addrs()[0];
    Ok(Started {
        server: server.run(),
        addr,
        udp_addr,
        history,
        durable,
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
