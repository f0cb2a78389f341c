//! meterd's own request metrics as ODSL entities of provider `meterd`, named as the seed's
//! `ODSLRequest` provider: every request adds `ReadRequests` (1), `ReadRequestDuration`
//! (milliseconds) and `ReadRequestResponseSize` (bytes) for reads, `WriteRequests` (1) for
//! `POST`/`PUT`/`PATCH`, `DeleteRequests` (1) for `DELETE`; each tagged `application` (the
//! first path segment: `api`, `metrics`, `admin`), `service` (the REST service: the next
//! segment of the matched route that is neither a version nor a parameter, e.g. `metric`,
//! `events`), `method` (lower case; `other` for any method outside the nine of HTTP, so that
//! clients cannot create a series per made-up method) and `httpstatus`.
//!
//! Pipeline rules apply to these names as to pushed ones: a rule with `entities = false`
//! matching `ReadRequests` turns those entities off.
//!
//! Each HTTP worker buffers its requests and hands them to the entity keeper as one batch
//! every 100 ms or 256 requests, never one message per request. These entities bypass the
//! registry and never count toward limits.

use crate::config::Rules;
use crate::model::{KeyString, Kind, Scope, SeriesKey, ServicePath};
use crate::registry::entities::{EntitySink, Pending};
use actix_web::http::Method;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// The provider of meterd's own request entities.
pub const PROVIDER: &str = "meterd";
/// Longest time a request waits in a worker's buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Requests buffered at most before a flush.
const FLUSH_AT: usize = 256;

/// The metrics recorded, in the order of [`Inner::wanted`].
const METRICS: [&str; 5] = [
    "ReadRequests",
    "ReadRequestDuration",
    "ReadRequestResponseSize",
    "WriteRequests",
    "DeleteRequests",
];

/// One finished request.
struct Sample {
    method: Method,
    status: u16,
    application: String,
    service: String,
    duration_ms: f64,
    size: u64,
    timestamp_ms: i64,
}

struct Inner {
    sink: EntitySink,
    /// Per entry of [`METRICS`]: captured (no rule turns it off).
    wanted: [bool; 5],
    buffer: RefCell<Vec<Sample>>,
    last_flush: Cell<Instant>,
    timer: Cell<bool>,
}

/// A worker's buffer of request entities (app data of each worker's `App`).
#[derive(Clone)]
pub struct RequestRecorder(Rc<Inner>);

impl RequestRecorder {
    /// A recorder feeding `sink`, following `rules` (requests are timed and stamped by
    /// [`super::observe_request`] on the injected clock).
    pub fn new(sink: EntitySink, rules: &Rules) -> Self {
        let wanted = METRICS.map(|name| rules.first_match(name).is_none_or(|r| r.entities));
        RequestRecorder(Rc::new(Inner {
            sink,
            wanted,
            buffer: RefCell::new(Vec::new()),
            last_flush: Cell::new(Instant::now()),
            timer: Cell::new(false),
        }))
    }

    fn record(&self, sample: Sample) {
        if !self.0.wanted.contains(&true) {
            return;
        }
        let full = {
            let mut buffer = self.0.buffer.borrow_mut();
            buffer.push(sample);
            buffer.len() >= FLUSH_AT
        };
        if full || self.0.last_flush.get().elapsed() >= FLUSH_EVERY {
            self.flush();
        }
        if !self.0.timer.replace(true) {
            // Flush what a quiet worker holds; stops when the worker's App is dropped.
            let weak: Weak<Inner> = Rc::downgrade(&self.0);
            actix_rt::spawn(async move {
                let mut tick = actix_rt::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(inner) => RequestRecorder(inner).flush(),
                        None => break,
                    }
                }
            });
        }
    }

    fn flush(&self) {
        self.0.last_flush.set(Instant::now());
        let samples = std::mem::take(&mut *self.0.buffer.borrow_mut());
        if samples.is_empty() {
            return;
        }
        let wanted = self.0.wanted;
        self.0.sink.send_with(|interner| {
            let mut out = Vec::with_capacity(samples.len() * 3);
            for s in samples {
                let tags = vec![
                    ("application".into(), s.application.into()),
                    ("httpstatus".into(), s.status.to_string().into()),
                    ("method".into(), method_tag(&s.method).into()),
                    ("service".into(), s.service.into()),
                ];
                let mut key = SeriesKey {
                    service: PROVIDER.into(),
                    service_path: ServicePath::root(),
                    scope: Scope::Vendor,
                    name: KeyString::default(),
                    tags,
                };
                let mut add =
                    |metric: usize, kind: Kind, unit: Option<&'static str>, value: f64| {
                        if !wanted[metric] {
                            return;
                        }
                        key.name = METRICS[metric].into();
                        out.push(Pending {
                            entry: interner.intern_with_unit(&key, kind, unit),
                            value,
                            timestamp_ms: s.timestamp_ms,
                        });
                    };
                match s.method {
                    Method::DELETE => add(4, Kind::Counter, None, 1.0),
                    Method::POST | Method::PUT | Method::PATCH => add(3, Kind::Counter, None, 1.0),
                    _ => {
                        add(0, Kind::Counter, None, 1.0);
                        add(1, Kind::Timer, Some("milliseconds"), s.duration_ms);
                        add(2, Kind::Histogram, Some("bytes"), s.size as f64);
                    }
                }
            }
            out
        });
    }
}

/// The `method` tag: the lower-case name of a standard HTTP method, `other` for any other
/// (a client chooses the method's text, so each distinct one must not become its own series).
fn method_tag(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::HEAD => "head",
        Method::POST => "post",
        Method::PUT => "put",
        Method::DELETE => "delete",
        Method::CONNECT => "connect",
        Method::OPTIONS => "options",
        Method::TRACE => "trace",
        Method::PATCH => "patch",
        _ => "other",
    }
}

/// `application` and `service` of a matched route pattern.
fn names(pattern: Option<&str>) -> (String, String) {
    let Some(pattern) = pattern else {
        return ("unmatched".to_owned(), "unmatched".to_owned());
    };
    let mut segments = pattern.split('/').filter(|s| !s.is_empty());
    let application = segments.next().unwrap_or("root");
    let is_version = |s: &str| {
        s.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let service = segments
        .find(|s| !is_version(s) && !s.starts_with('{'))
        .unwrap_or(application);
    (application.to_owned(), service.to_owned())
}

impl RequestRecorder {
    /// Records a request that reached the routes (the token guard let it through), as the
    /// one timing middleware ([`super::observe_request`]) saw it: begun at `timestamp_ms`,
    /// answered `status` with `size` body bytes after `nanos` of the injected clock.
    pub fn finished(
        &self,
        method: Method,
        pattern: Option<&str>,
        (status, size): (u16, u64),
        timestamp_ms: i64,
        nanos: u64,
    ) {
        let (application, service) = names(pattern);
        self.record(Sample {
            method,
            status,
            application,
            service,
            duration_ms: (nanos as f64 / 1e3).round() / 1e3,
            size,
            timestamp_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn application_and_service_from_the_route() {
        let n = |p: Option<&str>| names(p);
        let pair = |a: &str, s: &str| (a.to_owned(), s.to_owned());
        assert_eq!(n(Some("/api/metric/v1")), pair("api", "metric"));
        assert_eq!(n(Some("/api/metric/v1/{id}")), pair("api", "metric"));
        assert_eq!(n(Some("/api/v1/events")), pair("api", "events"));
        assert_eq!(
            n(Some("/metrics/{scope}/{name}")),
            pair("metrics", "metrics")
        );
        assert_eq!(n(Some("/admin/metrics")), pair("admin", "metrics"));
        assert_eq!(n(None), pair("unmatched", "unmatched"));
    }
}
