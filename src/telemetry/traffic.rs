//! meterd's own HTTP traffic per Orion service and subservice, under the names of seed 003
//! (`incomingTransactions`, `incomingTransactionRequestSize`, `incomingTransactionResponseSize`,
//! `incomingTransactionErrors`, `serviceTime`). A plain map behind one mutex: a request costs
//! one lock and a few additions; `/admin/metrics` reads and drains it.

use crate::model::{HistogramView, Kind, Metadata, Scope, SeriesKey, ServicePath, ValueView};
use crate::registry::Registry;
use parking_lot::Mutex;
use std::collections::HashMap;

/// Requests served, errors or not.
pub const INCOMING_TRANSACTIONS: &str = "incomingTransactions";
/// Bytes of request bodies read.
pub const INCOMING_REQUEST_SIZE: &str = "incomingTransactionRequestSize";
/// Bytes of response bodies sent.
pub const INCOMING_RESPONSE_SIZE: &str = "incomingTransactionResponseSize";
/// Requests answered with a 4xx or 5xx status.
pub const INCOMING_ERRORS: &str = "incomingTransactionErrors";
/// Time to serve a request, in seconds (a mean: total time / requests at every level).
pub const SERVICE_TIME: &str = "serviceTime";

/// The self-traffic families: name, kind, unit and description (for the registry and OPTIONS).
pub const TRAFFIC_FAMILIES: [(&str, Kind, &str, &str); 5] = [
    (
        INCOMING_TRANSACTIONS,
        Kind::Counter,
        "",
        "HTTP requests meterd served, errors included",
    ),
    (
        INCOMING_REQUEST_SIZE,
        Kind::Counter,
        "bytes",
        "Bytes of request bodies meterd read",
    ),
    (
        INCOMING_RESPONSE_SIZE,
        Kind::Counter,
        "bytes",
        "Bytes of response bodies meterd sent",
    ),
    (
        INCOMING_ERRORS,
        Kind::Counter,
        "",
        "HTTP requests answered with an error status",
    ),
    (
        SERVICE_TIME,
        Kind::Histogram,
        "seconds",
        "Time meterd took to serve a request",
    ),
];

/// The metadata of a self-traffic family.
fn traffic_meta(unit: &str, description: &str) -> Metadata {
    Metadata {
        unit: (!unit.is_empty()).then(|| unit.to_owned()),
        description: Some(description.to_owned()),
        display_name: None,
    }
}

/// Reserves the self-traffic names in the vendor scope, with their types and metadata.
pub fn register_traffic(registry: &mut Registry) {
    for (name, kind, unit, description) in TRAFFIC_FAMILIES {
        registry.register_own(Scope::Vendor, name, kind, traffic_meta(unit, description));
    }
}

/// One served request, as the HTTP middleware measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transaction {
    /// Bytes of the request body meterd read.
    pub request_bytes: u64,
    /// Bytes of the response body.
    pub response_bytes: u64,
    /// True for a 4xx or 5xx answer.
    pub error: bool,
    /// Time from receiving the request to having its response, in nanoseconds.
    pub nanos: u64,
}

/// Totals of one (service, subservice) since start or the last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrafficTotals {
    /// Requests served.
    pub transactions: u64,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// Error answers.
    pub errors: u64,
    /// Total service time, nanoseconds.
    pub nanos: u64,
    /// Shortest service time, nanoseconds.
    pub min_nanos: u64,
    /// Longest service time, nanoseconds.
    pub max_nanos: u64,
    /// Sum of squared service times in seconds² (for the standard deviation).
    pub sum_sq_seconds: f64,
}

impl TrafficTotals {
    /// Adds one request.
    pub fn add(&mut self, t: Transaction) {
        if self.transactions == 0 || t.nanos < self.min_nanos {
            self.min_nanos = t.nanos;
        }
        self.max_nanos = self.max_nanos.max(t.nanos);
        self.transactions += 1;
        self.request_bytes += t.request_bytes;
        self.response_bytes += t.response_bytes;
        self.errors += u64::from(t.error);
        self.nanos += t.nanos;
        let secs = t.nanos as f64 / 1e9;
        self.sum_sq_seconds += secs * secs;
    }

    /// The service times as a histogram view in seconds, exact but for quantiles (none kept).
    pub fn service_time(&self) -> HistogramView {
        let n = self.transactions;
        if n == 0 {
            return HistogramView::default();
        }
        let sum = self.nanos as f64 / 1e9;
        let mean = sum / n as f64;
        let variance = (self.sum_sq_seconds / n as f64 - mean * mean).max(0.0);
        HistogramView {
            count: n,
            sum,
            min: self.min_nanos as f64 / 1e9,
            max: self.max_nanos as f64 / 1e9,
            mean,
            stddev: variance.sqrt(),
            quantiles: Vec::new(),
        }
    }
}

/// Per-service, per-subservice totals of meterd's own traffic.
#[derive(Debug)]
pub struct IncomingTraffic {
    enabled: bool,
    services: Mutex<HashMap<String, HashMap<ServicePath, TrafficTotals>>>,
}

/// The most (service, service path) pairs whose traffic is counted between resets.
pub const MAX_SUBSERVICES: usize = 10_000;

impl IncomingTraffic {
    /// A recorder; when `enabled` is false (`--disable-self-metrics`) it records nothing.
    pub fn new(enabled: bool) -> Self {
        IncomingTraffic {
            enabled,
            services: Mutex::new(HashMap::new()),
        }
    }

    /// True unless self metrics were turned off.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one request of `service` / `path`; answers false when it was left out. Header
    /// values are the caller's to choose, so at most `MAX_SUBSERVICES` (service, path) pairs
    /// are kept: pairs already kept are always counted, requests of further pairs are left out
    /// (until a reset makes room; the caller counts them), so memory stays bounded.
    pub fn record(&self, service: &str, path: &ServicePath, t: Transaction) -> bool {
        if !self.enabled {
            return true;
        }
        let mut services = self.services.lock();
        let known = services.get(service).is_some_and(|p| p.contains_key(path));
        if !known && services.values().map(HashMap::len).sum::<usize>() >= MAX_SUBSERVICES {
            return false;
        }
        let paths = match services.get_mut(service) {
            Some(paths) => paths,
            None => services.entry(service.to_owned()).or_default(),
        };
        match paths.get_mut(path) {
            Some(totals) => totals.add(t),
            None => paths.entry(path.clone()).or_default().add(t),
        }
        true
    }

    /// The totals of one service, or of all, as series views.
    pub fn read(&self, service: Option<&str>) -> Vec<(SeriesKey, ValueView)> {
        let services = self.services.lock();
        let mut out = Vec::new();
        for (name, paths) in services.iter() {
            if service.is_none_or(|s| s == name) {
                for (path, totals) in paths {
                    push_views(&mut out, name, path, totals);
                }
            }
        }
        out
    }

    /// The totals of one service, or of all, as series views; then forgets them, so that
    /// counting starts again as if meterd had just started.
    pub fn drain(&self, service: Option<&str>) -> Vec<(SeriesKey, ValueView)> {
        let drained: Vec<(String, HashMap<ServicePath, TrafficTotals>)> = {
            let mut services = self.services.lock();
            match service {
                None => services.drain().collect(),
                Some(s) => services.remove_entry(s).into_iter().collect(),
            }
        };
        let mut out = Vec::new();
        for (name, paths) in &drained {
            for (path, totals) in paths {
                push_views(&mut out, name, path, totals);
            }
        }
        out
    }
}

/// The five series of one (service, subservice), in the vendor scope.
fn push_views(
    out: &mut Vec<(SeriesKey, ValueView)>,
    service: &str,
    path: &ServicePath,
    t: &TrafficTotals,
) {
    let key = |name: &str| SeriesKey {
        service: service.into(),
        service_path: path.clone(),
        scope: Scope::Vendor,
        name: name.into(),
        tags: Vec::new(),
    };
    let counter = |v: u64| ValueView::Counter(v as f64);
    out.push((key(INCOMING_TRANSACTIONS), counter(t.transactions)));
    out.push((key(INCOMING_REQUEST_SIZE), counter(t.request_bytes)));
    out.push((key(INCOMING_RESPONSE_SIZE), counter(t.response_bytes)));
    out.push((key(INCOMING_ERRORS), counter(t.errors)));
    out.push((key(SERVICE_TIME), ValueView::Histogram(t.service_time())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(req: u64, resp: u64, error: bool, ms: u64) -> Transaction {
        Transaction {
            request_bytes: req,
            response_bytes: resp,
            error,
            nanos: ms * 1_000_000,
        }
    }

    fn value(views: &[(SeriesKey, ValueView)], service: &str, name: &str) -> ValueView {
        views
            .iter()
            .find(|(k, _)| k.service == service && k.name == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    #[test]
    fn totals_add_up_per_service_and_path() {
        let t = IncomingTraffic::new(true);
        let gardens = ServicePath::parse("/gardens").unwrap();
        t.record("city", &gardens, tx(10, 100, false, 2));
        t.record("city", &gardens, tx(5, 50, true, 4));
        t.record("farm", &ServicePath::root(), tx(1, 1, false, 1));
        let views = t.read(Some("city"));
        assert_eq!(views.len(), 5);
        assert!(views.iter().all(|(k, _)| k.service_path == gardens));
        assert_eq!(
            value(&views, "city", INCOMING_TRANSACTIONS),
            ValueView::Counter(2.0)
        );
        assert_eq!(
            value(&views, "city", INCOMING_REQUEST_SIZE),
            ValueView::Counter(15.0)
        );
        assert_eq!(
            value(&views, "city", INCOMING_RESPONSE_SIZE),
            ValueView::Counter(150.0)
        );
        assert_eq!(
            value(&views, "city", INCOMING_ERRORS),
            ValueView::Counter(1.0)
        );
        let ValueView::Histogram(h) = value(&views, "city", SERVICE_TIME) else {
            panic!("serviceTime is a histogram");
        };
        assert_eq!((h.count, h.min, h.max), (2, 0.002, 0.004));
        assert!((h.mean - 0.003).abs() < 1e-12 && (h.stddev - 0.001).abs() < 1e-12);
        assert_eq!(t.read(None).len(), 10);
    }

    #[test]
    fn drain_answers_then_forgets() {
        let t = IncomingTraffic::new(true);
        t.record("city", &ServicePath::root(), tx(1, 2, false, 1));
        t.record("farm", &ServicePath::root(), tx(1, 2, false, 1));
        assert_eq!(t.drain(Some("city")).len(), 5);
        assert!(t.read(Some("city")).is_empty());
        assert_eq!(t.read(None).len(), 5, "farm is untouched");
        assert_eq!(t.drain(None).len(), 5);
        assert!(t.read(None).is_empty());
    }

    #[test]
    fn disabled_records_nothing() {
        let t = IncomingTraffic::new(false);
        t.record("city", &ServicePath::root(), tx(1, 2, false, 1));
        assert!(t.read(None).is_empty());
    }

    #[test]
    fn the_number_of_attributed_subservices_is_bounded() {
        let traffic = IncomingTraffic::new(true);
        for i in 0..MAX_SUBSERVICES + 50 {
            let path = ServicePath::parse(&format!("/p{i}")).unwrap();
            let kept = traffic.record("svc", &path, tx(1, 1, false, 1));
            assert_eq!(kept, i < MAX_SUBSERVICES);
        }
        let known = ServicePath::parse("/p0").unwrap();
        assert!(traffic.record("svc", &known, tx(1, 1, false, 1)));
        let held: usize = traffic.services.lock().values().map(HashMap::len).sum();
        assert_eq!(held, MAX_SUBSERVICES);
        assert_eq!(traffic.services.lock()["svc"][&known].transactions, 2);
    }
}
