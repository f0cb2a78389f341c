//! `_filter` (and plain `field=value` query parameters): equalities over entity fields.
//!
//! `_filter` is a JSON object, e.g. `{"application":"api","httpstatus":200}`; an entity
//! matches when every named field equals the given value. Strings compare exactly (providers
//! ignore case, as Orion services are lower-cased); a number equals a field holding the same
//! number, also one written as a string (tags are strings: `200` matches `"200"`); `true` and
//! `false` match the strings `"true"` and `"false"`; `null` matches an entity without the field.

use super::civil::format_iso;
use serde_json::Value;

/// The value a filter asks a field to have.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A string.
    Str(String),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// The field must be absent.
    Null,
}

/// What an entity holds in a field, as a filter sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// A string compared exactly.
    Str(&'a str),
    /// A string compared ignoring ASCII case.
    NoCase(&'a str),
    /// A number.
    Num(f64),
    /// An instant in epoch milliseconds: equal to its ISO-8601 spelling or to the number.
    Time(i64),
    /// The entity has no such field.
    Absent,
}

impl Expected {
    /// True when `field` holds this value.
    pub fn matches(&self, field: Field) -> bool {
        let as_num = |s: &str| s.trim().parse::<f64>().ok();
        match (self, field) {
            (Expected::Null, Field::Absent) => true,
            (Expected::Null, _) | (_, Field::Absent) => false,
            (Expected::Str(s), Field::Str(f)) => s == f,
            (Expected::Str(s), Field::NoCase(f)) => s.eq_ignore_ascii_case(f),
            (Expected::Str(s), Field::Num(n)) => as_num(s) == Some(n),
            (Expected::Str(s), Field::Time(t)) => {
                *s == format_iso(t) || as_num(s) == Some(t as f64)
            }
            (Expected::Num(x), Field::Str(f) | Field::NoCase(f)) => as_num(f) == Some(*x),
            (Expected::Num(x), Field::Num(n)) => *x == n,
            (Expected::Num(x), Field::Time(t)) => *x == t as f64,
            (Expected::Bool(b), Field::Str(f) | Field::NoCase(f)) => {
                f == if *b { "true" } else { "false" }
            }
            (Expected::Bool(_), Field::Num(_) | Field::Time(_)) => false,
        }
    }
}

/// A conjunction of field equalities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// `(field, expected value)` pairs, all of which must hold.
    pub terms: Vec<(String, Expected)>,
}

impl Filter {
    /// Parses a `_filter` JSON object.
    pub fn parse_json(text: &str) -> Result<Filter, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("{text:?} is not JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err(format!(
                "{text:?} must be a JSON object of field equalities, e.g. {{\"application\":\"api\"}}"
            ));
        };
        let mut terms = Vec::with_capacity(map.len());
        for (field, v) in map {
            let expected = match v {
                Value::String(s) => Expected::Str(s),
                Value::Number(n) => Expected::Num(n.as_f64().unwrap_or(f64::NAN)),
                Value::Bool(b) => Expected::Bool(b),
                Value::Null => Expected::Null,
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!(
                        "field {field:?}: only strings, numbers, booleans and null can be compared"
                    ))
                }
            };
            terms.push((field, expected));
        }
        Ok(Filter { terms })
    }

    /// Adds `field = value` (a plain query parameter).
    pub fn push_str(&mut self, field: &str, value: &str) {
        self.terms
            .push((field.to_owned(), Expected::Str(value.to_owned())));
    }

    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Splits the terms by `per_record(field)`: (terms on other fields, terms on those fields).
    pub fn split(&self, per_record: impl Fn(&str) -> bool) -> (Filter, Filter) {
        let (a, b) = self
            .terms
            .iter()
            .cloned()
            .partition(|(f, _)| !per_record(f));
        (Filter { terms: a }, Filter { terms: b })
    }

    /// True when every term holds for the fields `lookup` gives.
    pub fn matches<'a>(&self, lookup: impl Fn(&str) -> Field<'a>) -> bool {
        self.terms.iter().all(|(f, e)| e.matches(lookup(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_only() {
        let f =
            Filter::parse_json(r#"{"application":"api","httpstatus":200,"ok":true,"unit":null}"#)
                .unwrap();
        assert_eq!(f.terms.len(), 4);
        for bad in [
            "",
            "[1]",
            "\"api\"",
            "{",
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
        ] {
            assert!(Filter::parse_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comparisons() {
        let s = |v: &str| Expected::Str(v.to_owned());
        assert!(s("api").matches(Field::Str("api")));
        assert!(!s("API").matches(Field::Str("api")));
        assert!(s("MeterD").matches(Field::NoCase("meterd")));
        assert!(Expected::Num(200.0).matches(Field::Str("200")));
        assert!(s("3").matches(Field::Num(3.0)));
        assert!(Expected::Bool(true).matches(Field::Str("true")));
        assert!(Expected::Null.matches(Field::Absent));
        assert!(!s("x").matches(Field::Absent));
        assert!(s("1970-01-01T00:00:01.000Z").matches(Field::Time(1000)));
        assert!(Expected::Num(1000.0).matches(Field::Time(1000)));
    }
}
