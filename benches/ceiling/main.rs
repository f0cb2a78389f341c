//! The ceiling server of `benches/compare.sh`: the least an HTTP ingest server built like meterd
//! can do with the same request bodies. actix-web with 2 workers; serde decodes each
//! `POST /api/v1/events` body into typed events with owned strings and a tag map; one actor
//! counts them and the answer waits for it. No validation, no log, no aggregation, no
//! middleware. `GET /-/healthy` and `GET /count` answer too.
//!
//! ```text
//! cargo run --release --example ceiling -- 127.0.0.1:9465
//! meterd bench --target http://127.0.0.1:9465 --mode events --batch 100
//! ```

use actix::{Actor, Addr, Context, Handler, Message};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;
use std::collections::HashMap;

/// One event as `meterd bench` sends it, decoded into owned strings and a tag map.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // decoded to be paid for, never read
struct Event {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<f64>,
    timestamp: Option<f64>,
    #[serde(default)]
    tags: HashMap<String, String>,
}

/// Counts the events it is handed; answers the running total.
#[derive(Default)]
struct Counter {
    events: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

/// A decoded batch, handed to the counter.
struct Count(Vec<Event>);

impl Message for Count {
    type Result = u64;
}

impl Handler<Count> for Counter {
    type Result = u64;

    fn handle(&mut self, msg: Count, _: &mut Context<Self>) -> u64 {
        self.events += msg.0.len() as u64;
        self.events
    }
}

/// Asks for the running total without adding to it.
struct Total;

impl Message for Total {
    type Result = u64;
}

impl Handler<Total> for Counter {
    type Result = u64;

    fn handle(&mut self, _: Total, _: &mut Context<Self>) -> u64 {
        self.events
    }
}

async fn events(body: web::Bytes, counter: web::Data<Addr<Counter>>) -> HttpResponse {
    // An array of events, or one event object (told apart by the first byte, as meterd does).
    let decoded = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice::<Event>(&body).map(|one| vec![one]),
        _ => serde_json::from_slice::<Vec<Event>>(&body),
    };
    let events = match decoded {
        Ok(events) => events,
        Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
    };
    let n = events.len();
    match counter.send(Count(events)).await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({ "accepted": n })),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

async fn total(counter: web::Data<Addr<Counter>>) -> HttpResponse {
    match counter.send(Total).await {
        Ok(n) => HttpResponse::Ok().json(serde_json::json!({ "events": n })),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9465".to_owned());
    actix_rt::System::new().block_on(async move {
        let counter = web::Data::new(Counter::default().start());
        HttpServer::new(move || {
            App::new()
                .app_data(counter.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .route("/api/v1/events", web::post().to(events))
                .route("/-/healthy", web::get().to(HttpResponse::Ok))
                .route("/count", web::get().to(total))
        })
        .workers(2)
        .bind(listen)?
        .run()
        .await
    })
}
