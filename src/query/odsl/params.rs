//! The query parameters of `GET /api/metric/v1`, checked into one of three requests. Every
//! malformed parameter is refused with its name.

use super::{Calendar, Filter, Observed, TimeRange};
use std::collections::HashSet;
use std::fmt;

/// `_limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `_limit`.
pub const MAX_LIMIT: usize = 10_000;

/// What a `GET /api/metric/v1` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum OdslRequest {
    /// Entities, newest first.
    List(ListQuery),
    /// `_function=listMetrics`: the metric names of a provider.
    ListMetrics(MetricsQuery),
    /// `_metric=P/M&_calendar=..&_observed=..`: a calendar time series.
    Series(SeriesQuery),
}

/// Which entities: the conditions every read shares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// `_filter` and plain `field=value` parameters (`provider`, `metric`, tags, ...).
    pub filter: Filter,
    /// `_range` over entity timestamps; `None` for everything retained.
    pub range: Option<TimeRange>,
}

/// A listing of entities.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Which entities.
    pub selection: Selection,
    /// `_limit`: at most this many (default 100, at most 10 000).
    pub limit: usize,
    /// `_skip`: leave out this many newest first.
    pub skip: usize,
}

/// `listMetrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// The provider (service), required.
    pub provider: String,
    /// Further conditions (the provider is one of its terms).
    pub selection: Selection,
}

/// A calendar aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    /// Provider (service), lower-cased as Orion services are.
    pub provider: String,
    /// Metric name.
    pub metric: String,
    /// Bucket calendar.
    pub calendar: Calendar,
    /// Aggregation method.
    pub observed: Observed,
    /// Further conditions.
    pub selection: Selection,
}

/// A refused parameter: answered 400 with `code` and a message naming `param`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter at fault.
    pub param: String,
    /// `invalid_parameter`, `missing_parameter` or `unknown_parameter`.
    pub code: &'static str,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParamError {}

fn invalid(param: &str, why: impl fmt::Display) -> ParamError {
    ParamError {
        param: param.to_owned(),
        code: "invalid_parameter",
        message: format!("{param}: {why}"),
    }
}

fn missing(param: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        param: param.to_owned(),
        code: "missing_parameter",
        message: message.into(),
    }
}

fn count(param: &str, text: &str, max: usize) -> Result<usize, ParamError> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            invalid(
                param,
                format!("{text:?} is not a whole number from 0 to {max}"),
            )
        })
}

/// Checks the decoded query parameters; relative `_range` times count from `now_ms`.
pub fn parse(pairs: &[(String, String)], now_ms: i64) -> Result<OdslRequest, ParamError> {
    let mut seen = HashSet::new();
    let mut selection = Selection::default();
    let (mut function, mut metric, mut calendar, mut observed) = (None, None, None, None);
    let (mut provider, mut limit, mut skip) = (None, DEFAULT_LIMIT, 0);
    for (name, value) in pairs {
        if !seen.insert(name.as_str()) {
            return Err(invalid(name, "given more than once"));
        }
        match name.as_str() {
            "_function" => match value.as_str() {
                "listMetrics" => function = Some(()),
                other => {
                    return Err(invalid(
                        name,
                        format!("unknown function {other:?}; the metric service has listMetrics"),
                    ))
                }
            },
            "_filter" => {
                let parsed = Filter::parse_json(value).map_err(|why| invalid(name, why))?;
                selection.filter.terms.extend(parsed.terms);
            }
            "_range" => {
                let range = TimeRange::parse(value, now_ms).map_err(|why| invalid(name, why))?;
                selection.range = Some(range);
            }
            "_limit" => limit = count(name, value, MAX_LIMIT)?,
            "_skip" => skip = count(name, value, usize::MAX)?,
            "_metric" => {
                let (p, m) = value
                    .split_once('/')
                    .filter(|(p, m)| !p.is_empty() && !m.is_empty() && !m.contains('/'))
                    .ok_or_else(|| {
                        invalid(name, format!("{value:?} must be provider/metric, e.g. meterd/ReadRequests"))
                    })?;
                metric = Some((p.to_ascii_lowercase(), m.to_owned()));
            }
            "_calendar" => {
                calendar = Some(Calendar::parse(value).map_err(|why| invalid(name, why))?);
            }
            "_observed" => {
                observed = Some(Observed::parse(value).map_err(|why| invalid(name, why))?);
            }
            other if other.starts_with('_') || other.is_empty() => {
                return Err(ParamError {
                    param: other.to_owned(),
                    code: "unknown_parameter",
                    message: format!(
                        "{other:?} is not a parameter of the metric service: use _function, \
                         _filter, _range, _limit, _skip, _metric, _calendar, _observed or a field name"
                    ),
                })
            }
            field => {
                if field == "provider" {
                    provider = Some(value.to_ascii_lowercase());
                }
                selection.filter.push_str(field, value);
            }
        }
    }
    if function.is_some() {
        if metric.is_some() {
            return Err(invalid("_metric", "cannot be combined with _function"));
        }
        let provider = provider
            .filter(|p| !p.is_empty())
            .ok_or_else(|| missing("provider", "you must supply a provider query parameter"))?;
        return Ok(OdslRequest::ListMetrics(MetricsQuery {
            provider,
            selection,
        }));
    }
    let Some((provider, metric)) = metric else {
        if calendar.is_some() || observed.is_some() {
            let param = if calendar.is_some() {
                "_calendar"
            } else {
                "_observed"
            };
            return Err(missing(
                "_metric",
                format!("{param} needs _metric=provider/metric"),
            ));
        }
        return Ok(OdslRequest::List(ListQuery {
            selection,
            limit,
            skip,
        }));
    };
    let calendar = calendar.ok_or_else(|| {
        missing(
            "_calendar",
            "_calendar is required with _metric, e.g. _calendar=%23PT1H",
        )
    })?;
    let observed = observed.ok_or_else(|| {
        missing(
            "_observed",
            "_observed is required with _metric: summed, averaged, high, low, beginning or end",
        )
    })?;
    Ok(OdslRequest::Series(SeriesQuery {
        provider,
        metric,
        calendar,
        observed,
        selection,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<OdslRequest, ParamError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(&owned, 0)
    }

    #[test]
    fn three_requests() {
        assert!(matches!(
            q(&[]),
            Ok(OdslRequest::List(ListQuery {
                limit: 100,
                skip: 0,
                ..
            }))
        ));
        let Ok(OdslRequest::ListMetrics(m)) =
            q(&[("_function", "listMetrics"), ("provider", "ODSLRequest")])
        else {
            panic!()
        };
        assert_eq!(m.provider, "odslrequest");
        let Ok(OdslRequest::Series(s)) = q(&[
            ("_metric", "meterd/ReadRequests"),
            ("_calendar", "#PT1H"),
            ("_observed", "sum"),
            ("_range", "from(2024-11-20)"),
        ]) else {
            panic!()
        };
        assert_eq!(
            (s.provider.as_str(), s.metric.as_str()),
            ("meterd", "ReadRequests")
        );
        assert_eq!(s.observed, Observed::Summed);
        assert!(s.selection.range.is_some());
    }

    #[test]
    fn each_refusal_names_its_parameter() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("_function", "listMetrics")],
                "provider",
                "missing_parameter",
            ),
            (&[("_function", "nope")], "_function", "invalid_parameter"),
            (&[("_filter", "[1]")], "_filter", "invalid_parameter"),
            (&[("_range", "soon")], "_range", "invalid_parameter"),
            (&[("_limit", "10001")], "_limit", "invalid_parameter"),
            (&[("_limit", "-1")], "_limit", "invalid_parameter"),
            (&[("_skip", "x")], "_skip", "invalid_parameter"),
            (
                &[("_metric", "ReadRequests")],
                "_metric",
                "invalid_parameter",
            ),
            (
                &[("_metric", "a/b"), ("_observed", "sum")],
                "_calendar",
                "missing_parameter",
            ),
            (
                &[("_metric", "a/b"), ("_calendar", "P1D")],
                "_observed",
                "missing_parameter",
            ),
            (
                &[
                    ("_metric", "a/b"),
                    ("_calendar", "P1X"),
                    ("_observed", "sum"),
                ],
                "_calendar",
                "invalid_parameter",
            ),
            (
                &[
                    ("_metric", "a/b"),
                    ("_calendar", "P1D"),
                    ("_observed", "mean"),
                ],
                "_observed",
                "invalid_parameter",
            ),
            (&[("_calendar", "P1D")], "_metric", "missing_parameter"),
            (&[("_sort", "x")], "_sort", "unknown_parameter"),
            (
                &[("metric", "a"), ("metric", "b")],
                "metric",
                "invalid_parameter",
            ),
        ];
        for (pairs, param, code) in cases {
            let e = q(pairs).unwrap_err();
            assert_eq!(
                (e.param.as_str(), e.code),
                (*param, *code),
                "{pairs:?}: {e}"
            );
        }
        assert_eq!(
            q(&[("_function", "listMetrics")]).unwrap_err().message,
            "you must supply a provider query parameter"
        );
    }

    proptest::proptest! {
        /// No parameter list makes the parser panic; what it accepts respects the limits.
        #[test]
        fn never_panics(pairs in proptest::collection::vec(
            ("(_function|_filter|_range|_limit|_skip|_metric|_calendar|_observed|provider|metric|_x)",
             "[a-zA-Z0-9_/#(),:.{}\"\\-]{0,20}"),
            0..6,
        )) {
            if let Ok(OdslRequest::List(q)) = parse(&pairs, 1_700_000_000_000) {
                proptest::prop_assert!(q.limit <= MAX_LIMIT);
            }
        }
    }
}
