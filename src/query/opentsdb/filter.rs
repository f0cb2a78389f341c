//! Tag filters (OpenTSDB 2.2): `literal_or`, `iliteral_or`, `not_literal_or`,
//! `not_iliteral_or`, `wildcard`, `iwildcard` and `regexp`, each on one tag key and either
//! grouping by it or not. A series without the tag key never passes a filter on it.

use super::QueryError;
use crate::model::KeyString;
use regex::{Regex, RegexBuilder};

/// How a filter matches tag values.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// One of these values (lowercased when case-insensitive).
    LiteralOr {
        /// The values.
        values: Vec<String>,
        /// True for `iliteral_or`.
        ignore_case: bool,
        /// True for the `not_` variants.
        negate: bool,
    },
    /// A pattern where `*` matches any run of characters.
    Wildcard {
        /// The pieces between the stars.
        pattern: String,
        /// True for `iwildcard`.
        ignore_case: bool,
    },
    /// A regular expression (matching anywhere in the value; anchor it with `^...$`).
    Regexp(Regex),
}

/// One filter of a query.
#[derive(Debug, Clone)]
pub struct TagFilter {
    /// The tag key.
    pub tagk: String,
    /// How values match.
    pub matcher: Matcher,
    /// True when results are grouped by this tag's values.
    pub group_by: bool,
}

impl TagFilter {
    /// A filter of `kind` (OpenTSDB's `type`) with its expression.
    pub fn new(kind: &str, tagk: &str, expr: &str, group_by: bool) -> Result<Self, QueryError> {
        if tagk.is_empty() {
            return Err(QueryError::bad("a filter needs a tag key (tagk)"));
        }
        let literal = |ignore_case, negate| Matcher::LiteralOr {
            values: expr
                .split('|')
                .map(|v| {
                    if ignore_case {
                        v.to_lowercase()
                    } else {
                        v.to_owned()
                    }
                })
                .collect(),
            ignore_case,
            negate,
        };
        let matcher = match kind {
            "literal_or" => literal(false, false),
            "iliteral_or" => literal(true, false),
            "not_literal_or" => literal(false, true),
            "not_iliteral_or" => literal(true, true),
            "wildcard" | "iwildcard" => {
                let ignore_case = kind == "iwildcard";
                Matcher::Wildcard {
                    pattern: if ignore_case {
                        expr.to_lowercase()
                    } else {
                        expr.to_owned()
                    },
                    ignore_case,
                }
            }
            "regexp" => Matcher::Regexp(
                RegexBuilder::new(expr)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| QueryError::bad(format!("regexp {expr:?}: {e}")))?,
            ),
            other => {
                return Err(QueryError::bad(format!(
                    "unknown filter type {other:?}: use literal_or, iliteral_or, \
                     not_literal_or, not_iliteral_or, wildcard, iwildcard or regexp"
                )))
            }
        };
        Ok(TagFilter {
            tagk: tagk.to_owned(),
            matcher,
            group_by,
        })
    }

    /// A filter written the short way, as in `tags` and `m=`: `*`, `a|b`, `web01`, or
    /// `type(expression)`.
    pub fn shorthand(tagk: &str, value: &str, group_by: bool) -> Result<Self, QueryError> {
        if let Some(open) = value.find('(') {
            if let Some(expr) = value[open + 1..].strip_suffix(')') {
                return TagFilter::new(&value[..open], tagk, expr, group_by);
            }
        }
        if value.contains('*') {
            return TagFilter::new("wildcard", tagk, value, group_by);
        }
        TagFilter::new("literal_or", tagk, value, group_by)
    }

    /// True when tag value `v` passes.
    pub fn matches(&self, v: &str) -> bool {
        match &self.matcher {
            Matcher::LiteralOr {
                values,
                ignore_case,
                negate,
            } => {
                let hit = if *ignore_case {
                    let lower = v.to_lowercase();
                    values.contains(&lower)
                } else {
                    values.iter().any(|x| x == v)
                };
                hit != *negate
            }
            Matcher::Wildcard {
                pattern,
                ignore_case,
            } => {
                if *ignore_case {
                    wildcard(pattern, &v.to_lowercase())
                } else {
                    wildcard(pattern, v)
                }
            }
            Matcher::Regexp(re) => re.is_match(v),
        }
    }

    /// True when a series with `tags` passes (it must have the key).
    pub fn passes(&self, tags: &[(KeyString, KeyString)]) -> bool {
        tags.iter()
            .find(|(k, _)| *k == self.tagk)
            .is_some_and(|(_, v)| self.matches(v))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(pattern: &str, value: &str) -> bool {
    let mut pieces = pattern.split('*');
    let Some(head) = pieces.next() else {
        return true;
    };
    let Some(mut rest) = value.strip_prefix(head) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((tail, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= tail.len() && rest.ends_with(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &str, expr: &str) -> TagFilter {
        TagFilter::new(kind, "host", expr, false).unwrap()
    }

    #[test]
    fn filter_kinds() {
        assert!(f("literal_or", "a|b").matches("b"));
        assert!(!f("literal_or", "a|b").matches("B"));
        assert!(f("iliteral_or", "a|b").matches("B"));
        assert!(f("not_literal_or", "a|b").matches("c"));
        assert!(!f("not_literal_or", "a|b").matches("a"));
        assert!(!f("not_iliteral_or", "a|b").matches("A"));
        assert!(f("wildcard", "web*").matches("web01"));
        assert!(f("wildcard", "*01").matches("web01"));
        assert!(f("wildcard", "w*b*1").matches("web01"));
        assert!(!f("wildcard", "w*x*1").matches("web01"));
        assert!(f("wildcard", "*").matches(""));
        assert!(!f("wildcard", "web").matches("web01"));
        assert!(!f("wildcard", "ab*ba").matches("aba"));
        assert!(f("iwildcard", "WEB*").matches("web01"));
        assert!(f("regexp", "^web[0-9]+$").matches("web01"));
        assert!(!f("regexp", "^web[0-9]+$").matches("web"));
        assert!(TagFilter::new("regexp", "h", "(", false).is_err());
        assert!(TagFilter::new("fuzzy", "h", "x", false).is_err());
        assert!(TagFilter::new("literal_or", "", "x", false).is_err());
    }

    #[test]
    fn shorthand_and_missing_keys() {
        let star = TagFilter::shorthand("host", "*", true).unwrap();
        assert!(matches!(star.matcher, Matcher::Wildcard { .. }) && star.group_by);
        let func = TagFilter::shorthand("host", "regexp(a{1,2})", false).unwrap();
        assert!(func.matches("aa"));
        let either = TagFilter::shorthand("host", "a|b", true).unwrap();
        assert!(either.passes(&[("host".into(), "a".into())]));
        assert!(!either.passes(&[("dc".into(), "a".into())]));
        let not = TagFilter::shorthand("host", "not_literal_or(a)", false).unwrap();
        assert!(!not.passes(&[]), "a series without the key never passes");
    }
}
