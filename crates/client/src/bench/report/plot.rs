//! The report as a picture: one SVG with two charts, drawn with `plotters`
//! (its SVG backend only; text is written as `<text>`, so no font files
//! are read).
//!
//! - Latency by percentile, as HdrHistogram plots it: x is 1/(1-p) on a
//!   log scale, labelled as percentiles (0%, 90%, 99%, 99.9%…), so each
//!   "nine" of the tail gets as much room as the body; y is the latency in
//!   the unit that suits the largest value. The points are the `.hgrm`
//!   rows, with the maximum at the right end.
//! - Throughput over time: verified responses per second in each interval
//!   of the measured period, as a step line.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::hgrm::spectrum;
use super::units::{duration, TimeUnit};
use super::{PlotError, Report};

/// Pixels.
const WIDTH: u32 = 1000;
/// Pixels: the title and two charts.
const HEIGHT: u32 = 900;
const FONT: &str = "sans-serif";

/// Draws `report` as an SVG document.
pub(super) fn render(report: &Report) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let title = format!(
            "sockmux bench: {} ({}) against {}",
            report.target, report.request, report.addr
        );
        let body = root.titled(&title, (FONT, 24)).map_err(failed)?;
        let (upper, lower) = body.split_vertically((HEIGHT - 40) / 2);
        latency(report, &upper)?;
        throughput(report, &lower)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn failed(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// The percentile spectrum.
fn latency<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let l = &report.latency_us;
    let caption = if report.histogram.is_empty() {
        "Latency by percentile: no response was verified".to_owned()
    } else {
        format!(
            "Latency by percentile: p50 {}, p99 {}, p99.9 {}, max {} ({} responses)",
            duration(l.p50),
            duration(l.p99),
            duration(l.p999),
            duration(l.max),
            report.counts.requests
        )
    };
    let unit = TimeUnit::for_micros(l.max);
    let count = report.histogram.len() as f64;
    // 1/(1-p) for each tick; the maximum (p = 1) goes where one response
    // in all of them would be, or just right of the last tick.
    let mut points: Vec<(f64, f64)> = Vec::new();
    for tick in spectrum(&report.histogram) {
        let last_x = points.last().map_or(1.0, |&(x, _)| x);
        let x = if tick.quantile < 1.0 {
            1.0 / (1.0 - tick.quantile)
        } else {
            count.max(last_x * 1.5)
        };
        points.push((x, tick.value as f64 / 1000.0 / unit.micros));
    }
    let x_end = points.last().map_or(10.0, |&(x, _)| x);
    let decades = x_end.log10().ceil().max(1.0) as i32;
    let top = points.iter().fold(0.0f64, |m, &(_, y)| m.max(y));
    let x_range = (1.0..10f64.powi(decades))
        .log_scale()
        .with_key_points((0..=decades).map(|d| 10f64.powi(d)).collect());
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(80)
        // Nothing to show: an axis of whole units rather than of zeros.
        .build_cartesian_2d(x_range, 0.0..if top > 0.0 { top * 1.1 } else { 1.0 })
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc(format!("latency ({})", unit.name))
        .x_label_formatter(&|x| percentile_label(*x))
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
        .map_err(failed)?;
    Ok(())
}

/// `0%`, `90%`, `99%`, `99.9%`… for x = 1/(1-p).
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    let decimals = (x.log10().round() as usize).saturating_sub(2);
    format!("{p:.decimals$}%")
}

/// Requests per second over the measured period.
fn throughput<DB: DrawingBackend>(
    report: &Report,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let t = &report.throughput;
    let mut points = Vec::with_capacity(2 * t.requests.len());
    let mut start = 0.0;
    for (&n, span) in t.requests.iter().zip(t.spans(report.elapsed_secs)) {
        let rate = if span > 0.0 { n as f64 / span } else { 0.0 };
        points.push((start, rate));
        points.push((start + span, rate));
        start += span;
    }
    let top = points.iter().fold(0.0f64, |m, &(_, y)| m.max(y));
    let caption = format!(
        "Throughput: {:.0} requests/s on average, per {} s",
        report.requests_per_sec, t.interval_secs
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(15)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            0.0..report.elapsed_secs.max(1e-3),
            0.0..(top * 1.1).max(10.0),
        )
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("requests/s")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(LineSeries::new(points, RED.stroke_width(2)))
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_count_the_nines() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
    }
}
