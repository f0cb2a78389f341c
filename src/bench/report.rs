//! The end-of-run report: throughput, errors by status and latency percentiles.

use crate::render::chart::LatencyPoint;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What a bench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The mode that ran.
    pub mode: String,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Requests (datagrams) sent.
    pub requests: u64,
    /// Events (lines, samples) carried by successful requests.
    pub events: u64,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Events per second (successful requests only).
    pub events_per_second: f64,
    /// Failed requests by HTTP status (`"transport"` for connection errors).
    pub errors: BTreeMap<String, u64>,
    /// Latency percentiles in milliseconds: p50, p90, p99, p999, max (empty for UDP).
    pub latency_ms: BTreeMap<String, f64>,
    /// The latency distribution for `--plot`: from p0 toward the tail, as far as the number
    /// of requests measures it, then the maximum.
    #[serde(skip)]
    pub distribution: Vec<LatencyPoint>,
}

/// Points of the distribution: 8 per decade of the tail (p90, p99, p99.9, ...), while there
/// are enough requests to tell the quantile from the maximum, then the maximum itself.
fn distribution(h: &Histogram<u64>) -> Vec<LatencyPoint> {
    let n = h.len() as f64;
    let ms = |v: u64| v as f64 / 1000.0;
    let mut points: Vec<LatencyPoint> = (0..)
        .map(|k| 1.0 - 10f64.powf(-f64::from(k) / 8.0))
        .take_while(|q| 1.0 / (1.0 - q) < n)
        .map(|quantile| LatencyPoint {
            quantile,
            ms: ms(h.value_at_quantile(quantile)),
        })
        .collect();
    points.push(LatencyPoint {
        quantile: 1.0 - 1.0 / n.max(2.0),
        ms: ms(h.max()),
    });
    points
}

impl Report {
    /// Builds a report from counts and the merged latency histogram (microseconds).
    pub fn new(
        mode: &str,
        elapsed: Duration,
        requests: u64,
        events: u64,
        errors: BTreeMap<String, u64>,
        latency_us: Option<&Histogram<u64>>,
    ) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let mut latency_ms = BTreeMap::new();
        let mut points = Vec::new();
        if let Some(h) = latency_us.filter(|h| !h.is_empty()) {
            points = distribution(h);
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
                latency_ms.insert(name.to_owned(), h.value_at_quantile(q) as f64 / 1000.0);
            }
            latency_ms.insert("max".to_owned(), h.max() as f64 / 1000.0);
        }
        Report {
            mode: mode.to_owned(),
            seconds,
            requests,
            events,
            requests_per_second: requests as f64 / seconds,
            events_per_second: events as f64 / seconds,
            errors,
            latency_ms,
            distribution: points,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "mode        {}", self.mode)?;
        writeln!(f, "duration    {:.2} s", self.seconds)?;
        writeln!(
            f,
            "requests    {} ({:.0}/s)",
            self.requests, self.requests_per_second
        )?;
        writeln!(
            f,
            "events      {} ({:.0}/s)",
            self.events, self.events_per_second
        )?;
        if self.errors.is_empty() {
            writeln!(f, "errors      none")?;
        } else {
            for (status, n) in &self.errors {
                writeln!(f, "errors      {n} × {status}")?;
            }
        }
        if !self.latency_ms.is_empty() {
            let l = |k: &str| self.latency_ms.get(k).copied().unwrap_or(0.0);
            writeln!(
                f,
                "latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p999 {:.3}  max {:.3}",
                l("p50"),
                l("p90"),
                l("p99"),
                l("p999"),
                l("max")
            )?;
        }
        Ok(())
    }
}
