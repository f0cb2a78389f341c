//! The latency distribution of a bench run: latency against percentile, the percentile axis
//! stretched toward the tail (HdrHistogram's own plots do the same) so that p99, p99.9 and
//! p99.99 get as much room as p50 to p90.

use super::label::format_exact;
use super::{append_layer, color, draw_mesh, escape, ChartError, FONT};
use plotters::prelude::*;
use serde::Serialize;
use std::fmt::Write;

/// One point of the distribution: `quantile` (0 ≤ q < 1) of requests took at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyPoint {
    /// The quantile, below 1.
    pub quantile: f64,
    /// The latency at it, in milliseconds.
    pub ms: f64,
}

/// The x position of a quantile: 1 / (1 − q), so p90 is 10, p99 100, p99.9 1000.
fn stretch(q: f64) -> f64 {
    1.0 / (1.0 - q.clamp(0.0, 0.999_999))
}

/// `p90`, `p99.9`, ... for a stretched x position.
fn percentile_label(x: &f64) -> String {
    let q = 1.0 - 1.0 / x;
    format!("p{}", format_exact((q * 100.0 * 1e4).round() / 1e4))
}

/// Draws the distribution into `out` as an SVG document of `size` pixels.
pub fn latency_chart(
    out: &mut String,
    title: &str,
    points: &[LatencyPoint],
    size: (u32, u32),
) -> Result<(), ChartError> {
    let tail = points
        .iter()
        .map(|p| stretch(p.quantile))
        .fold(10.0, f64::max);
    // The axis ends at the next power of ten past the last point.
    let x_max = 10f64.powf(tail.log10().ceil().max(1.0));
    let y_max = points.iter().map(|p| p.ms).fold(0.0, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.05 } else { 1.0 };
    let mut hover = String::new();
    {
        let root = SVGBackend::with_string(out, size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut ctx = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(40)
            .caption(title, (FONT, 20))
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..y_max)?;
        draw_mesh(
            ctx.configure_mesh()
                .x_labels(8)
                .x_label_formatter(&percentile_label)
                .x_desc("percentile")
                .y_desc("latency (ms)"),
        )?;
        let line = points.iter().map(|p| (stretch(p.quantile), p.ms));
        ctx.draw_series(LineSeries::new(line, color(0).stroke_width(2)))?;
        for p in points {
            let (x, y) = ctx.backend_coord(&(stretch(p.quantile), p.ms));
            let _ = write!(
                hover,
                "<circle class=\"mdp\" cx=\"{x}\" cy=\"{y}\" r=\"4\"><title>{}: {} ms</title></circle>",
                escape(&percentile_label(&stretch(p.quantile))),
                format_exact(p.ms)
            );
        }
        root.present()?;
    }
    append_layer(
        out,
        &format!(
            "<g class=\"md-hover\" fill=\"#1f6fb4\"><style>.mdp{{fill-opacity:0}}.mdp:hover{{fill-opacity:1}}</style>\n{hover}</g>\n"
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_spread_toward_the_tail() {
        assert_eq!(stretch(0.0), 1.0);
        assert!((stretch(0.99) - 100.0).abs() < 1e-6);
        assert_eq!(percentile_label(&10.0), "p90");
        assert_eq!(percentile_label(&1000.0), "p99.9");
        assert_eq!(percentile_label(&1.0), "p0");
    }

    #[test]
    fn one_line_through_every_point() {
        let points: Vec<LatencyPoint> = [(0.0, 0.5), (0.5, 1.0), (0.9, 2.0), (0.99, 8.0)]
            .iter()
            .map(|&(quantile, ms)| LatencyPoint { quantile, ms })
            .collect();
        let mut svg = String::new();
        latency_chart(&mut svg, "events", &points, (800, 400)).unwrap();
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
        assert_eq!(svg.matches("class=\"mdp\"").count(), 4);
        assert!(svg.contains("p99: 8 ms"));
    }
}
