//! A time-series chart: one line per group of an OpenTSDB answer, a time axis in UTC, a value
//! axis in the metric's unit, a legend under the plot and hover titles on the points.

use super::label::{format_exact, format_instant};
use super::{append_layer, color, draw_mesh, escape, hex, ChartError, TimeAxis, FONT};
use crate::query::opentsdb::ResultSeries;
use plotters::prelude::*;
use std::fmt::Write;

/// One line: its legend label and its points (epoch ms, value; NaN is a gap).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The legend label (`host=web01`, or the metric name).
    pub label: String,
    /// Points in time order.
    pub points: Vec<(i64, f64)>,
}

impl Line {
    /// The lines of an OpenTSDB answer whose timestamps are in ms (`msResolution`): one per
    /// group, labelled by its tags, and by its metric too when the answer has several.
    pub fn from_results(results: &[ResultSeries]) -> Vec<Line> {
        let several = results.iter().any(|r| r.metric != results[0].metric);
        results
            .iter()
            .map(|r| {
                let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let label = match (tags.is_empty(), several) {
                    (true, _) => r.metric.clone(),
                    (false, false) => tags.join(","),
                    (false, true) => format!("{}{{{}}}", r.metric, tags.join(",")),
                };
                Line {
                    label,
                    points: r.dps.clone(),
                }
            })
            .collect()
    }
}

/// What a time-series chart shows.
#[derive(Debug, Clone)]
pub struct TimeChart<'a> {
    /// The caption (the query).
    pub title: &'a str,
    /// The unit of the values, written on the value axis.
    pub unit: Option<&'a str>,
    /// First instant of the time axis, epoch ms.
    pub start: i64,
    /// Last instant of the time axis, epoch ms.
    pub end: i64,
    /// The lines, drawn in order.
    pub lines: &'a [Line],
    /// Width and height in pixels.
    pub size: (u32, u32),
}

/// Legend entries shown at most; the rest are counted in a last entry.
const MAX_LEGEND: usize = 24;
/// Height of one legend row, px.
const LEGEND_ROW: u32 = 18;
/// Width of one legend column, px.
const LEGEND_COLUMN: u32 = 300;
/// Points given a hover title at most (over all lines); beyond, every n-th point.
const MAX_HOVER: usize = 2000;

/// How the legend is laid out: columns, rows, entries shown.
fn legend_layout(lines: usize, (width, height): (u32, u32)) -> (usize, usize, usize) {
    if lines == 0 {
        return (1, 0, 0);
    }
    let columns = (width / LEGEND_COLUMN).max(1) as usize;
    // The legend takes at most 40% of the height.
    let max_rows = ((height * 2 / 5) / LEGEND_ROW).max(1) as usize;
    let fits = (max_rows * columns).min(MAX_LEGEND);
    let shown = if lines <= fits {
        lines
    } else {
        fits.saturating_sub(1)
    };
    let entries = shown + usize::from(shown < lines);
    (columns, entries.div_ceil(columns), shown)
}

/// The y range: the values' span with 5% room, from 0 when the values are all positive and
/// close enough to it.
fn value_range(lines: &[Line]) -> (f64, f64) {
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = (lo.abs() * 0.1).max(1.0);
        return (if lo >= 0.0 { 0.0 } else { lo - pad }, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    let lo = if lo >= 0.0 && lo <= (hi - lo) {
        0.0
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

/// The stretches of a line between gaps (NaN or infinite values).
fn stretches(points: &[(i64, f64)]) -> impl Iterator<Item = &[(i64, f64)]> {
    points.split(|p| !p.1.is_finite()).filter(|s| !s.is_empty())
}

/// Draws `chart` into `out` as an SVG document.
pub fn time_chart(out: &mut String, chart: &TimeChart) -> Result<(), ChartError> {
    let (width, height) = chart.size;
    let (columns, rows, shown) = legend_layout(chart.lines.len(), chart.size);
    let legend_height = if rows == 0 {
        0
    } else {
        rows as u32 * LEGEND_ROW + 10
    };
    let axis = TimeAxis::new(chart.start, chart.end, (width as usize / 110).clamp(2, 10));
    let (lo, hi) = value_range(chart.lines);
    let mut hover = String::new();
    {
        let root = SVGBackend::with_string(out, chart.size).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_vertically(height - legend_height);
        let title_chars = (width as usize / 8).max(8);
        let mut ctx = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(40)
            .caption(shorten(chart.title, title_chars), (FONT, 20))
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(axis, lo..hi)?;
        let unit = chart.unit.filter(|u| !u.is_empty() && *u != "none");
        draw_mesh(
            ctx.configure_mesh()
                .x_labels(axis.max_ticks)
                .x_desc("time (UTC)")
                .y_desc(unit.unwrap_or("value")),
        )?;
        let points: usize = chart.lines.iter().map(|l| l.points.len()).sum();
        let every = points.div_ceil(MAX_HOVER).max(1);
        for (i, line) in chart.lines.iter().enumerate() {
            let style = color(i).stroke_width(2);
            for stretch in stretches(&line.points) {
                if let [only] = stretch {
                    ctx.draw_series(std::iter::once(Circle::new(*only, 2, color(i).filled())))?;
                } else {
                    ctx.draw_series(LineSeries::new(stretch.iter().copied(), style))?;
                }
            }
            let _ = write!(
                hover,
                "<g class=\"mdl\" data-line=\"{i}\" fill=\"{}\">",
                hex(color(i))
            );
            for p in line
                .points
                .iter()
                .step_by(every)
                .filter(|p| p.1.is_finite())
            {
                let (x, y) = ctx.backend_coord(p);
                let value = match unit {
                    Some(u) => format!("{} {u}", format_exact(p.1)),
                    None => format_exact(p.1),
                };
                let _ = write!(
                    hover,
                    "<circle class=\"mdp\" cx=\"{x}\" cy=\"{y}\" r=\"4\"><title>{}\n{}: {}</title></circle>",
                    escape(&line.label),
                    format_instant(p.0),
                    escape(&value)
                );
            }
            hover.push_str("</g>\n");
        }
        if points == 0 {
            let (x, y) = ctx.backend_coord(&(axis.start + (axis.end - axis.start) / 2, lo));
            plot.draw(&Text::new(
                "no data points in this range",
                (x - 90, y - 40),
                (FONT, 17).into_font().color(&RGBColor(0x66, 0x66, 0x66)),
            ))?;
        }
        draw_legend(&legend, chart.lines, columns, shown)?;
        root.present()?;
    }
    let layer = format!(
        "<g class=\"md-hover\"><style>.mdp{{fill-opacity:0}}.mdp:hover{{fill-opacity:1}}</style>\n{hover}</g>\n"
    );
    append_layer(out, &layer);
    Ok(())
}

/// The legend: a colour swatch and the label per line, in columns; a last entry counts the
/// lines not shown.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[Line],
    columns: usize,
    shown: usize,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let column_width = (area.dim_in_pixel().0 as usize / columns).max(60) as i32;
    let chars = (column_width as usize).saturating_sub(34) / 7;
    let at = |n: usize| {
        let (row, column) = (n / columns, n % columns);
        (
            16 + column as i32 * column_width,
            4 + row as i32 * LEGEND_ROW as i32,
        )
    };
    let font = (FONT, 15).into_font().color(&RGBColor(0x22, 0x22, 0x22));
    for (i, line) in lines.iter().take(shown).enumerate() {
        let (x, y) = at(i);
        area.draw(&Rectangle::new(
            [(x, y + 3), (x + 16, y + 7)],
            color(i).filled(),
        ))?;
        area.draw(&Text::new(
            shorten(&line.label, chars),
            (x + 22, y),
            font.clone(),
        ))?;
    }
    if shown < lines.len() {
        let (x, y) = at(shown);
        let more = format!("… and {} more", lines.len() - shown);
        area.draw(&Text::new(more, (x + 22, y), font))?;
    }
    Ok(())
}

/// `text` cut to `chars` characters with an ellipsis.
fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(chars.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(label: &str, points: &[(i64, f64)]) -> Line {
        Line {
            label: label.to_owned(),
            points: points.to_vec(),
        }
    }

    fn draw(lines: &[Line]) -> String {
        let mut out = String::new();
        time_chart(
            &mut out,
            &TimeChart {
                title: "sum:cpu{host=*}",
                unit: Some("percent"),
                start: 0,
                end: 60_000,
                lines,
                size: (800, 400),
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn one_polyline_per_line_and_a_legend_entry_each() {
        let lines = [
            line("host=a", &[(0, 1.0), (30_000, 2.0), (60_000, 3.0)]),
            line("host=b", &[(0, 5.0), (30_000, 4.0), (60_000, 6.0)]),
        ];
        let svg = draw(&lines);
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2, "{svg}");
        assert!(svg.contains(">\nhost=a\n") || svg.contains("host=a"));
        assert_eq!(svg.matches("class=\"mdp\"").count(), 6);
        assert!(svg.contains("1970-01-01 00:00:30Z: 4 percent"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg, draw(&lines), "deterministic");
    }

    #[test]
    fn gaps_split_a_line_and_labels_are_escaped() {
        let lines = [line(
            "tag=<b>&",
            &[
                (0, 1.0),
                (10_000, 2.0),
                (20_000, f64::NAN),
                (30_000, 3.0),
                (40_000, 4.0),
            ],
        )];
        let svg = draw(&lines);
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("tag=&lt;b&gt;&amp;"));
    }

    #[test]
    fn an_empty_answer_says_so() {
        let svg = draw(&[]);
        assert!(svg.contains("no data points in this range"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 0);
    }

    #[test]
    fn a_long_legend_counts_the_rest() {
        let lines: Vec<Line> = (0..100)
            .map(|i| line(&format!("host=h{i}"), &[(0, i as f64), (60_000, 1.0)]))
            .collect();
        let svg = draw(&lines);
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 100);
        assert!(svg.contains("… and "), "{svg}");
    }

    #[test]
    fn value_ranges() {
        assert_eq!(value_range(&[]), (0.0, 1.0));
        assert_eq!(value_range(&[line("x", &[(0, 5.0)])]), (0.0, 6.0));
        let (lo, hi) = value_range(&[line("x", &[(0, 100.0), (1, 110.0)])]);
        assert!((lo - 99.5).abs() < 1e-9 && (hi - 110.5).abs() < 1e-9);
    }
}
