//! OpenTSDB's `/api/query` answer: `[{"metric", "tags", "aggregateTags", "dps"}]`, `dps`
//! keyed by timestamp (s, or ms with `msResolution`) in ascending time order.

use super::number::json_number;
use crate::query::opentsdb::{FillPolicy, ResultSeries};
use serde_json::Value;
use std::fmt::Write;

/// A data point value: a number; a filled gap as `"NaN"` (as OpenTSDB's JSON writes NaN) or
/// `null` under the `null` fill policy.
pub fn dp_value(v: f64, fill: FillPolicy) -> Value {
    if v.is_nan() {
        match fill {
            FillPolicy::Null => Value::Null,
            _ => Value::String("NaN".into()),
        }
    } else {
        json_number(v)
    }
}

/// A `dps` object as a JSON value (its keys come out sorted as text: for timestamps of equal
/// width, that is time order).
pub fn dps_object(dps: &[(i64, f64)], fill: FillPolicy) -> Value {
    let mut map = serde_json::Map::with_capacity(dps.len());
    for (t, v) in dps {
        map.insert(t.to_string(), dp_value(*v, fill));
    }
    Value::Object(map)
}

/// Appends a `dps` object, keys in the order given (JSON maps would sort them as text).
pub fn write_dps(out: &mut String, dps: &[(i64, f64)], fill: FillPolicy) {
    out.push('{');
    for (i, (t, v)) in dps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "\"{t}\":{}", dp_value(*v, fill));
    }
    out.push('}');
}

/// Appends one result line.
pub fn write_result(out: &mut String, r: &ResultSeries) {
    out.push_str("{\"metric\":");
    out.push_str(&Value::from(r.metric.as_str()).to_string());
    out.push_str(",\"tags\":");
    out.push_str(&serde_json::to_string(&r.tags).unwrap_or_else(|_| "{}".into()));
    out.push_str(",\"aggregateTags\":");
    out.push_str(&serde_json::to_string(&r.aggregate_tags).unwrap_or_else(|_| "[]".into()));
    out.push_str(",\"dps\":");
    write_dps(out, &r.dps, r.fill);
    out.push('}');
}

/// Appends the whole answer.
pub fn query_answer(out: &mut String, results: &[ResultSeries]) {
    out.push('[');
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_result(out, r);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn answer_shape_and_order() {
        let r = ResultSeries {
            metric: "sys.cpu".into(),
            tags: BTreeMap::from([("host".to_owned(), "a\"b".to_owned())]),
            aggregate_tags: vec!["dc".into()],
            dps: vec![(999, 1.5), (1000, f64::NAN), (1001, 2.0)],
            fill: FillPolicy::Nan,
        };
        let mut out = String::new();
        query_answer(&mut out, std::slice::from_ref(&r));
        assert_eq!(
            out,
            r#"[{"metric":"sys.cpu","tags":{"host":"a\"b"},"aggregateTags":["dc"],"dps":{"999":1.5,"1000":"NaN","1001":2}}]"#
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["dps"]["1001"], 2);
        let mut nulls = String::new();
        write_dps(&mut nulls, &r.dps, FillPolicy::Null);
        assert_eq!(nulls, r#"{"999":1.5,"1000":null,"1001":2}"#);
    }
}
