//! Charts as SVG, drawn with `plotters`: the dashboard's time-series charts ([`time_chart`],
//! `GET /ui/chart.svg`) and the latency distribution of `meterd bench --plot`
//! ([`latency_chart`]).
//!
//! No font is loaded: plotters' SVG backend writes `<text>` elements and the viewer lays them
//! out, so the output depends only on the input (golden files hold it byte for byte).
//! Data lines are the only `<polyline>`s drawn 2 pixels wide, one per line (or per gap-free
//! stretch of it); after plotters has drawn, the renderer appends a layer of invisible points
//! whose `<title>` a browser shows on hover.

mod label;
mod latency;
mod time_axis;
mod timeseries;

pub use label::{format_time, format_value};
pub use latency::{latency_chart, LatencyPoint};
pub use time_axis::TimeAxis;
pub use timeseries::{time_chart, Line, TimeChart};

use super::xml::escape;
use plotters::style::RGBColor;
use thiserror::Error;

/// Why a chart could not be drawn.
#[derive(Debug, Error)]
pub enum ChartError {
    /// The drawing library refused the chart (a size too small for its margins, say): ask
    /// for a larger `w` and `h`.
    #[error("the chart cannot be drawn: {0}")]
    Draw(String),
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>>
    for ChartError
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// Line colours, in order; the ninth line takes the first colour again.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1F, 0x6F, 0xB4),
    RGBColor(0xE0, 0x7B, 0x10),
    RGBColor(0x2E, 0x9A, 0x3C),
    RGBColor(0xC8, 0x2A, 0x2A),
    RGBColor(0x7E, 0x57, 0xB8),
    RGBColor(0x8A, 0x5A, 0x44),
    RGBColor(0xCF, 0x4F, 0xA8),
    RGBColor(0x12, 0x9A, 0xA8),
];

/// The colour of line `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#rrggbb` of a colour.
fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Draws a mesh in the look every chart shares (after the caller set its labels): value
/// labels on the y axis, the house fonts, a light grid, grey axes.
fn draw_mesh<X, XT, DB>(
    mesh: &mut plotters::chart::MeshStyle<'_, '_, X, plotters::coord::types::RangedCoordf64, DB>,
) -> Result<(), ChartError>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = XT>
        + plotters::coord::ranged1d::ValueFormatter<XT>,
    DB: plotters::backend::DrawingBackend,
    DB::ErrorType: Send + Sync,
{
    use plotters::style::TRANSPARENT;
    mesh.y_labels(6)
        .y_label_formatter(&|v| format_value(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
        .light_line_style(TRANSPARENT)
        .axis_style(RGBColor(0x88, 0x88, 0x88))
        .draw()?;
    Ok(())
}

/// Puts `layer` (SVG markup) last in the document, above what plotters drew.
fn append_layer(svg: &mut String, layer: &str) {
    match svg.rfind("</svg>") {
        Some(at) => svg.insert_str(at, layer),
        None => svg.push_str(layer),
    }
}

/// The font every label uses; the viewer picks a face.
const FONT: &str = "sans-serif";
