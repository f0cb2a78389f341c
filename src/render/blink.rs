//! Blink `GetInstanceMetric` answers (seed 000), in its JSON and its XML form.
//!
//! Both follow the seed's example: `dps` values are strings in Java's `BigDecimal` spelling
//! ([`java_decimal`]: `"4.929E+8"`, `"494100352"`), `summary` is a number, `tags` an object.
//! The XML form is the seed's too: `<requestId>` then one `<metrics>` element per line, each
//! `dps` point an element named by its timestamp (`<1574247000>4.929E+8</1574247000>`), empty
//! elements self-closed (`<tags/>`), and no root element or declaration (the seed shows none;
//! its timestamp element names are not XML 1.0 names either, so a strict XML parser refuses
//! the seed's own example).

use super::number::{java_decimal, json_number};
use super::xml::escape;
use crate::query::blink::Line;
use crate::query::opentsdb::FillPolicy;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// A `dps` value: its Java spelling, or `null` for a gap filled under the `null` policy.
fn dp_text(v: f64, fill: FillPolicy) -> Option<String> {
    (!(v.is_nan() && fill == FillPolicy::Null)).then(|| java_decimal(v))
}

/// The JSON answer: `{"requestId", "metrics": [{"metricName", "dps", "summary", "tags"}]}`.
pub fn blink_json(request_id: &str, lines: &[Line]) -> Value {
    let metrics: Vec<Value> = lines
        .iter()
        .map(|line| {
            let dps: Map<String, Value> = line
                .series
                .dps
                .iter()
                .map(|&(t, v)| {
                    let text = dp_text(v, line.series.fill);
                    (t.to_string(), text.map_or(Value::Null, Value::String))
                })
                .collect();
            json!({
                "metricName": line.series.metric,
                "dps": dps,
                "summary": line.summary.map_or(Value::Null, json_number),
                "tags": line.series.tags,
            })
        })
        .collect();
    json!({"requestId": request_id, "metrics": metrics})
}

/// Appends the XML answer, indented by four spaces per level as the seed shows it.
pub fn write_blink_xml(out: &mut String, request_id: &str, lines: &[Line]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "<requestId>{}</requestId>", escape(request_id));
    for line in lines {
        out.push_str("<metrics>\n");
        let _ = writeln!(
            out,
            "    <metricName>{}</metricName>",
            escape(&line.series.metric)
        );
        if line.series.dps.is_empty() {
            out.push_str("    <dps/>\n");
        } else {
            out.push_str("    <dps>\n");
            for &(t, v) in &line.series.dps {
                match dp_text(v, line.series.fill) {
                    Some(text) => {
                        let _ = writeln!(out, "        <{t}>{}</{t}>", escape(&text));
                    }
                    None => {
                        let _ = writeln!(out, "        <{t}/>");
                    }
                }
            }
            out.push_str("    </dps>\n");
        }
        match line.summary.map(json_number) {
            Some(summary) => {
                let _ = writeln!(out, "    <summary>{summary}</summary>");
            }
            None => out.push_str("    <summary/>\n"),
        }
        if line.series.tags.is_empty() {
            out.push_str("    <tags/>\n");
        } else {
            out.push_str("    <tags>\n");
            for (k, v) in &line.series.tags {
                let (k, v) = (escape(k), escape(v));
                let _ = writeln!(out, "        <{k}>{v}</{k}>");
            }
            out.push_str("    </tags>\n");
        }
        out.push_str("</metrics>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::opentsdb::ResultSeries;

    /// The seed's example line.
    fn seed_line() -> Line {
        let dps = [
            (1574247000, 4.929e8),
            (1574247600, 4.9350016e8),
            (1574248200, 494100352.0),
            (1574248800, 494700544.0),
            (1574249400, 495300736.0),
            (1574250000, 495900896.0),
        ];
        Line {
            series: ResultSeries {
                metric: "blink.bayes_team.ss2.delay".into(),
                tags: Default::default(),
                aggregate_tags: vec![],
                dps: dps.to_vec(),
                fill: FillPolicy::None,
            },
            summary: Some(494400448.0),
        }
    }

    #[test]
    fn the_seed_example_in_json() {
        let v = blink_json("4D7AB7CF-4EF2-4635-9137-51803CD71DAD", &[seed_line()]);
        let seed: Value = serde_json::from_str(
            r#"{"requestId":"4D7AB7CF-4EF2-4635-9137-51803CD71DAD","metrics":[{
                "metricName":"blink.bayes_team.ss2.delay","dps":{
                "1574247000":"4.929E+8","1574247600":"4.9350016E+8","1574248200":"494100352",
                "1574248800":"494700544","1574249400":"495300736","1574250000":"495900896"},
                "summary":494400448,"tags":{}}]}"#,
        )
        .unwrap();
        assert_eq!(v, seed);
    }

    #[test]
    fn the_seed_example_in_xml() {
        let mut out = String::new();
        write_blink_xml(
            &mut out,
            "4D7AB7CF-4EF2-4635-9137-51803CD71DAD",
            &[seed_line()],
        );
        let seed = "<requestId>4D7AB7CF-4EF2-4635-9137-51803CD71DAD</requestId>
<metrics>
    <metricName>blink.bayes_team.ss2.delay</metricName>
    <dps>
        <1574247000>4.929E+8</1574247000>
        <1574247600>4.9350016E+8</1574247600>
        <1574248200>494100352</1574248200>
        <1574248800>494700544</1574248800>
        <1574249400>495300736</1574249400>
        <1574250000>495900896</1574250000>
    </dps>
    <summary>494400448</summary>
    <tags/>
</metrics>
";
        assert_eq!(out, seed);
    }
}
