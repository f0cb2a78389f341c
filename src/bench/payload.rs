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

/// `count` StatsD datagrams of `batch` lines each.
pub fn statsd_datagrams(count: usize, batch: usize, series: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|d| {
            let mut text = String::with_capacity(batch * 24);
            for i in 0..batch {
                let s = (d * batch + i) % series;
                if i > 0 {
                    text.push('\n');
                }
                text.push_str(&format!("bench.m{}.h{}:1|c", s / 10, s % 10));
            }
            text.into_bytes()
        })
        .collect()
}
