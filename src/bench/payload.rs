//! Request bodies for the load: pre-built once, cycled through, so that the generator measures the
//! server rather than itself.

use crate::model::Kind;

/// `count` JSON batches of `batch` events over `series` series, all of `kind` or, without one,
/// counters and gauges by turns of ten series.
pub fn event_bodies(count: usize, batch: usize, series: usize, kind: Option<Kind>) -> Vec<String> {
    (0..count)
        .map(|b| {
            let mut body = String::with_capacity(batch * 64 + 2);
            body.push('[');
            for i in 0..batch {
                let s = (b * batch + i) % series;
                if i > 0 {
                    body.push(',');
                }
                let kind = match kind {
                    Some(kind) => kind.as_str(),
                    None if (s / 10) % 2 == 0 => "counter",
                    None => "gauge",
                };
                body.push_str(&format!(
                    r#"{{"name":"bench.m{}","type":"{kind}","value":{},"tags":{{"host":"h{}"}}}}"#,
                    s / 10,
                    i % 7 + 1,
                    s % 10
                ));
            }
            body.push(']');
            body
        })
        .collect()
}

/// `count` Prometheus text bodies of `batch` gauge samples (for a Pushgateway).
pub fn pushgateway_bodies(count: usize, batch: usize, series: usize) -> Vec<String> {
    (0..count)
        .map(|b| {
            let mut body = String::with_capacity(batch * 40);
            for i in 0..batch {
                let s = (b * batch + i) % series;
                body.push_str(&format!(
                    "bench_m{}{{host=\"h{}\"}} {}\n",
                    s / 10,
                    s % 10,
                    i % 7 + 1
                ));
            }
            body
        })
        .collect()
}

/// One Prometheus text body of one gauge family, `bench_m` with its `# TYPE` line, of `batch`
/// samples told apart by their `host` label: what a Pushgateway takes at the least cost.
pub fn pushgateway_family_body(batch: usize) -> String {
    let mut body = String::with_capacity(batch * 24 + 24);
    body.push_str("# TYPE bench_m gauge\n");
    for i in 0..batch {
        body.push_str(&format!("bench_m{{host=\"h{i}\"}} {}\n", i % 7 + 1));
    }
    body
}

/// StatsD datagrams of `batch` lines each over `series` counters: 64 datagrams of lines that
/// repeat (folding's best case), or, `distinct`, two passes over every series with values 1
/// then 2, so that sent in a loop no line repeats the last line of its series.
pub fn statsd_datagrams(batch: usize, series: usize, distinct: bool) -> Vec<Vec<u8>> {
    let count = if distinct {
        (2 * series).div_ceil(batch)
    } else {
        64
    };
    (0..count)
        .map(|d| {
            let mut text = String::with_capacity(batch * 24);
            for i in 0..batch {
                let line = d * batch + i;
                let s = line % series;
                let value = if distinct { 1 + line / series % 2 } else { 1 };
                if i > 0 {
                    text.push('\n');
                }
                text.push_str(&format!("bench.m{}.h{}:{value}|c", s / 10, s % 10));
            }
            text.into_bytes()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_statsd_lines_never_repeat_their_series_last_line() {
        let datagrams = statsd_datagrams(10, 35, true);
        let lines: Vec<String> = datagrams
            .iter()
            .flat_map(|d| {
                String::from_utf8(d.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lines.len(), 70);
        // Sent in a loop, twice over: each series' next line differs from its last.
        let mut last = std::collections::HashMap::new();
        for line in lines.iter().chain(lines.iter()) {
            let (series, value) = line.split_once(':').unwrap();
            if let Some(before) = last.insert(series.to_owned(), value.to_owned()) {
                assert_ne!(before, value, "{line} repeats");
            }
        }
        assert!(statsd_datagrams(10, 35, false)
            .iter()
            .all(|d| !d.is_empty()));
    }
}
