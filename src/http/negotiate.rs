//! Content negotiation for `/metrics`: which of the three formats an `Accept` header wants.

/// A format `/metrics` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// MicroProfile JSON.
    Json,
}

impl Format {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Picks the acceptable format with the highest `q` (ties: the first listed); `None` when the
/// header names only types meterd cannot serve. No header means Prometheus text.
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Prometheus);
    };
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.strip_prefix("q=") {
                q = v.parse().unwrap_or(0.0);
            }
        }
        let format = match media.as_str() {
            "text/plain" | "text/*" | "*/*" => Format::Prometheus,
            "application/openmetrics-text" => Format::OpenMetrics,
            "application/json" | "application/*" => Format::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f)
}

/// Whether an `OPTIONS` request's `Accept` takes JSON, the only form of metadata
/// (MicroProfile Metrics 1.x; the TCK's `testPrometheus406ForOptions`): no header, or one that
/// names `application/json`, `application/*` or `*/*` with a `q` above 0.
pub fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q="))
            .map_or(1.0, |v| v.parse::<f32>().unwrap_or(0.0));
        q > 0.0 && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_scrape_header_prefers_openmetrics() {
        let h = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(h)), Some(Format::OpenMetrics));
        assert_eq!(negotiate(None), Some(Format::Prometheus));
        assert_eq!(negotiate(Some("application/json")), Some(Format::Json));
        assert_eq!(negotiate(Some("text/plain")), Some(Format::Prometheus));
        assert_eq!(negotiate(Some("application/xml")), None);
        assert_eq!(negotiate(Some("text/plain;q=0")), None);
    }

    #[test]
    fn metadata_is_json_only() {
        assert!(accepts_json(None));
        assert!(accepts_json(Some("application/json")));
        assert!(accepts_json(Some("text/plain, */*;q=0.1")));
        assert!(!accepts_json(Some("text/plain")));
        assert!(!accepts_json(Some("application/openmetrics-text")));
        assert!(!accepts_json(Some("application/json;q=0")));
    }
}
