//! Content negotiation: the one reader of `Accept` headers ([`ranges`]), and what each route
//! makes of it — which of the three `/metrics` formats, whether `OPTIONS` metadata (JSON
//! only) is acceptable, whether a Blink answer should be XML.

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

/// The media ranges of an `Accept` header in order, each lower-cased with its weight: its
/// `q` parameter, 1 when it has none, 0 when it cannot be read.
pub fn ranges(accept: &str) -> impl Iterator<Item = (String, f32)> + '_ {
    accept.split(',').map(|item| {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q="))
            .map_or(1.0, |v| v.parse::<f32>().unwrap_or(0.0));
        (media, q)
    })
}

/// The highest weight the header gives to any of `media` (0 when it names none).
fn weight(accept: &str, media: &[&str]) -> f32 {
    ranges(accept)
        .filter(|(m, _)| media.contains(&m.as_str()))
        .fold(0.0, |best, (_, q)| best.max(q))
}

/// What takes JSON: the type itself and the wildcards that cover it.
const JSON: [&str; 3] = ["application/json", "application/*", "*/*"];

/// Picks the acceptable format with the highest `q` (ties: the first listed); `None` when the
/// header names only types meterd cannot serve. No header means Prometheus text.
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Prometheus);
    };
    let mut best: Option<(f32, Format)> = None;
    for (media, q) in ranges(accept) {
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
    weight(accept, &JSON) > 0.0
}

/// Whether `Accept` ranks `application/xml` (or `text/xml`) above JSON (`application/json`,
/// `application/*`, `*/*`); no header means JSON.
pub fn prefers_xml(accept: Option<&str>) -> bool {
    let accept = accept.unwrap_or("");
    let xml = weight(accept, &["application/xml", "text/xml"]);
    xml > 0.0 && xml > weight(accept, &JSON)
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

    #[test]
    fn xml_only_when_preferred() {
        assert!(prefers_xml(Some("application/xml")));
        assert!(prefers_xml(Some("text/xml, application/json;q=0.5")));
        assert!(!prefers_xml(None));
        assert!(!prefers_xml(Some("application/json, application/xml")));
        assert!(!prefers_xml(Some("*/*")));
        assert!(!prefers_xml(Some("application/xml;q=0")));
    }

    #[test]
    fn ranges_read_media_and_weights() {
        let r: Vec<_> =
            ranges("Text/Plain;version=0.0.4;q=0.5, */*;q=x, application/json").collect();
        assert_eq!(
            r,
            [
                ("text/plain".to_owned(), 0.5),
                ("*/*".to_owned(), 0.0),
                ("application/json".to_owned(), 1.0)
            ]
        );
    }
}
