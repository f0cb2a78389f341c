//! Which measurements a subscriber wants: Kanto's `filter` list of `{id, originator}`.
//!
//! No filter at all, a `null` or empty `id` list, or an empty `originator` mean everything. An
//! id or originator matches exactly, or by prefix when it ends in `*` (`cpu.*`, `Service:*`).
//! A measurement is sent when any one filter matches both its originator and its id.

use super::StreamError;

/// One id or originator to match: exact, or a prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Matches this text only.
    Exact(String),
    /// Matches any text that starts with this (`*` alone matches everything).
    Prefix(String),
}

impl Pattern {
    /// Parses `text`; a `*` may only be the last character, and `text` may not be empty.
    pub fn parse(text: &str) -> Result<Pattern, StreamError> {
        if text.is_empty() {
            return Err(StreamError::BadFilter("an empty id matches nothing".into()));
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(StreamError::BadFilter(format!(
                "{text:?}: '*' may only end a pattern (e.g. \"cpu.*\")"
            )));
        }
        Ok(if prefix {
            Pattern::Prefix(body.to_owned())
        } else {
            Pattern::Exact(body.to_owned())
        })
    }

    /// True when `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(e) => e == text,
            Pattern::Prefix(p) => text.starts_with(p.as_str()),
        }
    }

    /// True when some text starting with `prefix` could match.
    fn may_match_prefix(&self, prefix: &str) -> bool {
        match self {
            Pattern::Exact(e) => e.starts_with(prefix),
            Pattern::Prefix(p) => p.starts_with(prefix) || prefix.starts_with(p.as_str()),
        }
    }
}

/// One `filter` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Ids to send; empty means every id.
    pub ids: Vec<Pattern>,
    /// The originator to send; `None` means every originator.
    pub originator: Option<Pattern>,
}

impl Filter {
    fn takes_originator(&self, originator: &str) -> bool {
        self.originator
            .as_ref()
            .is_none_or(|p| p.matches(originator))
    }

    fn takes_id(&self, id: &str) -> bool {
        self.ids.is_empty() || self.ids.iter().any(|p| p.matches(id))
    }
}

/// A subscriber's whole `filter` list; empty means everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters(pub Vec<Filter>);

impl Filters {
    /// The filters that apply to `originator`, or `None` when none does (and the originator
    /// is not sent at all).
    pub fn for_originator(&self, originator: &str) -> Option<OriginatorFilter<'_>> {
        if self.0.is_empty() {
            return Some(OriginatorFilter { filters: vec![] });
        }
        let filters: Vec<&Filter> = self
            .0
            .iter()
            .filter(|f| f.takes_originator(originator))
            .collect();
        if filters.is_empty() {
            return None;
        }
        if filters.iter().any(|f| f.ids.is_empty()) {
            return Some(OriginatorFilter { filters: vec![] });
        }
        Some(OriginatorFilter { filters })
    }

    /// True when the measurement is wanted.
    pub fn matches(&self, originator: &str, id: &str) -> bool {
        self.for_originator(originator)
            .is_some_and(|f| f.matches(id))
    }

    /// True when some originator starting with `prefix` could be wanted (e.g. `Service:`,
    /// to skip reading the shards for subscribers who only want `SYSTEM`).
    pub fn may_want_originators(&self, prefix: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|f| {
                f.originator
                    .as_ref()
                    .is_none_or(|p| p.may_match_prefix(prefix))
            })
    }
}

/// The filters that apply to one originator.
#[derive(Debug)]
pub struct OriginatorFilter<'a> {
    /// Empty means every id.
    filters: Vec<&'a Filter>,
}

impl OriginatorFilter<'_> {
    /// True when measurement `id` of this originator is wanted.
    pub fn matches(&self, id: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f.takes_id(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(ids: &[&str], originator: Option<&str>) -> Filter {
        Filter {
            ids: ids.iter().map(|i| Pattern::parse(i).unwrap()).collect(),
            originator: originator.map(|o| Pattern::parse(o).unwrap()),
        }
    }

    #[test]
    fn patterns() {
        let cpu = Pattern::parse("cpu.*").unwrap();
        assert!(cpu.matches("cpu.utilization"));
        assert!(cpu.matches("cpu."));
        assert!(!cpu.matches("cpu"));
        assert!(!cpu.matches("memory.used"));
        let all = Pattern::parse("*").unwrap();
        assert!(all.matches("") && all.matches("pids"));
        let exact = Pattern::parse("pids").unwrap();
        assert!(exact.matches("pids") && !exact.matches("pids2"));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("c*u").is_err());
        assert!(Pattern::parse("**").is_err());
    }

    #[test]
    fn nothing_means_everything() {
        let none = Filters::default();
        assert!(none.matches("SYSTEM", "pids"));
        assert!(none.matches("Service:a", "x"));
        let open = Filters(vec![Filter::default()]);
        assert!(open.matches("SYSTEM", "pids"));
        assert!(open.matches("Service:a", "x"));
    }

    #[test]
    fn originator_and_ids_together() {
        let f = Filters(vec![filter(&["memory.*", "pids"], Some("SYSTEM"))]);
        assert!(f.matches("SYSTEM", "memory.used"));
        assert!(f.matches("SYSTEM", "pids"));
        assert!(!f.matches("SYSTEM", "cpu.utilization"));
        assert!(!f.matches("Service:a", "pids"));
        assert!(f.for_originator("Service:a").is_none());
    }

    #[test]
    fn filters_add_up() {
        let f = Filters(vec![
            filter(&["cpu.*"], Some("SYSTEM")),
            filter(&[], Some("Service:shop")),
            filter(&["requests"], None),
        ]);
        assert!(f.matches("SYSTEM", "cpu.utilization"));
        assert!(!f.matches("SYSTEM", "pids"));
        assert!(f.matches("SYSTEM", "requests"));
        assert!(f.matches("Service:shop", "anything"));
        assert!(f.matches("Service:other", "requests"));
        assert!(!f.matches("Service:other", "latency"));
    }

    #[test]
    fn originator_prefixes() {
        let f = Filters(vec![filter(&[], Some("Service:*"))]);
        assert!(f.matches("Service:a", "x"));
        assert!(!f.matches("SYSTEM", "pids"));
        assert!(f.may_want_originators("Service:"));
        let system = Filters(vec![filter(&[], Some("SYSTEM"))]);
        assert!(!system.may_want_originators("Service:"));
        let exact = Filters(vec![filter(&[], Some("Service:a"))]);
        assert!(exact.may_want_originators("Service:"));
        let star = Filters(vec![filter(&["pids"], Some("S*"))]);
        assert!(star.may_want_originators("Service:"));
        let open = Filters(vec![filter(&["pids"], None)]);
        assert!(open.may_want_originators("Service:"));
    }
}
