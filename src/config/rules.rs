//! `[[rules]]`: settings for metrics whose name matches a glob; the first matching rule wins.

use crate::model::{Kind, Metadata};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::time::Duration;

/// One `[[rules]]` entry: what meterd assumes about metrics whose name matches `pattern`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `match = "http.*"`: a glob over metric names (`*` any run of characters, `?` one,
    /// `[abc]` a class, `{a,b}` alternatives). Rules are tried in file order; the first that
    /// matches applies and the others are ignored.
    pub pattern: String,
    /// `type = "timer"`: the type of events that carry none (StatsD and OpenTSDB puts, JSON
    /// events without `type`). An event that names another type is refused (409).
    pub kind: Option<Kind>,
    /// `unit = "milliseconds"`: unit of matching metrics unless their first event set one;
    /// letters, digits and `_` (it becomes a Prometheus name suffix).
    pub unit: Option<String>,
    /// `description = "..."`: description (`# HELP`) unless the first event set one.
    pub description: Option<String>,
    /// `display_name = "..."`: display name unless the first event set one.
    pub display_name: Option<String>,
    /// `series_ttl = "1h"`: forget a matching series after this long without events; overrides
    /// `[limits] series_ttl`.
    pub series_ttl: Option<Duration>,
    /// `entities = true`: keep matching events as ODSL entities (meterd's own request
    /// entities, `ReadRequests` and the like, follow the rules too).
    pub entities: bool,
    /// `tier = "1m"`: the finest tier, by its resolution, that matching series are
    /// downsampled into (finer tiers are skipped for them); the index into the tiers here.
    pub tier: Option<usize>,
}

impl Rule {
    /// A rule matching `pattern` that sets nothing else.
    pub fn matching(pattern: &str) -> Self {
        Rule {
            pattern: pattern.to_owned(),
            kind: None,
            unit: None,
            description: None,
            display_name: None,
            series_ttl: None,
            entities: true,
            tier: None,
        }
    }

    /// The metadata this rule gives matching metrics.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            unit: self.unit.clone(),
            description: self.description.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

/// The rules of a pipeline with their globs compiled once into one [`GlobSet`].
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    globs: GlobSet,
}

impl Rules {
    /// Compiles the rules' globs; fails on the first invalid one.
    pub fn new(rules: Vec<Rule>) -> Result<Self, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for rule in &rules {
            builder.add(compile(&rule.pattern)?);
        }
        Ok(Rules {
            rules,
            globs: builder.build()?,
        })
    }

    /// The first rule whose glob matches `name`. Costs one pass of the compiled set over the
    /// name; callers look a series' rule up once, when the series is created.
    pub fn first_match(&self, name: &str) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        // Indices come back in ascending order, so the first is the earliest rule.
        let first = *self.globs.matches(name).first()?;
        self.rules.get(first)
    }

    /// The rules in file order.
    pub fn as_slice(&self) -> &[Rule] {
        &self.rules
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            rules: Vec::new(),
            globs: GlobSet::empty(),
        }
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Self) -> bool {
        // The set is compiled from the rules, so the rules decide.
        self.rules == other.rules
    }
}

/// Compiles one metric-name glob.
pub(super) fn compile(pattern: &str) -> Result<Glob, globset::Error> {
    Glob::new(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let mut timers = Rule::matching("http.*");
        timers.kind = Some(Kind::Timer);
        let rules = Rules::new(vec![
            Rule::matching("http.server.*"),
            timers,
            Rule::matching("*"),
        ])
        .unwrap();
        assert_eq!(
            rules.first_match("http.server.requests").unwrap().pattern,
            "http.server.*"
        );
        assert_eq!(
            rules.first_match("http.client").unwrap().kind,
            Some(Kind::Timer)
        );
        assert_eq!(rules.first_match("jvm.memory").unwrap().pattern, "*");
        assert!(Rules::default().first_match("anything").is_none());
    }

    #[test]
    fn globs_support_classes_and_alternatives() {
        let rules = Rules::new(vec![Rule::matching("{db,cache}.query_[0-9]")]).unwrap();
        assert!(rules.first_match("cache.query_7").is_some());
        assert!(rules.first_match("db.query_x").is_none());
        assert!(Rules::new(vec![Rule::matching("a[")]).is_err());
    }
}
