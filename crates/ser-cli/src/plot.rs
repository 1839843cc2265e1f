//! PNG plots drawn with plotters: training curves (`ser train`) and the confusion matrix (`ser eval`).
//!
//! plotters is built with `ab_glyph` (no system font lookup), so a font is embedded in the binary
//! (DejaVu Sans, `assets/`, Bitstream Vera licence) and registered once as `sans-serif`.
//! Both plots are drawn into an RGB buffer first and written with [`crate::output::write_atomic`], so
//! a plot file is never half-written and never replaces an existing file without `--force`.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use ser_experiment::metrics::ConfusionMatrix;
use ser_experiment::train::EpochLog;

use crate::output::{create_parent, OutputPolicy};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Size of the training-curves image, pixels.
pub const CURVES_SIZE: (u32, u32) = (1200, 500);
/// Size of the confusion-matrix image, pixels.
pub const CONFUSION_SIZE: (u32, u32) = (1000, 820);

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the embedded font does not load (a build problem)"))
}

/// Draws with plotters' PNG backend into a temporary file beside `path`, then renames it onto `path`
/// (after the overwrite check). `draw` must call `present()`.
fn render_png(
    path: &Path,
    size: (u32, u32),
    policy: OutputPolicy,
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    register_font()?;
    policy.check(path)?;
    create_parent(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The `.png` suffix tells the encoder the format.
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .suffix(".png")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let root = BitMapBackend::new(temp.path(), size).into_drawing_area();
        draw(root).with_context(|| format!("cannot draw {}", path.display()))?;
    }
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename the temporary file onto {}", path.display()))?;
    crate::output::make_readable(path)
}

/// Training loss and validation UAR per epoch, side by side; the kept epoch is marked.
pub fn training_curves(
    path: &Path,
    history: &[EpochLog],
    best_epoch: usize,
    title: &str,
    policy: OutputPolicy,
) -> Result<()> {
    render_png(path, CURVES_SIZE, policy, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FAMILY, 26))?;
        let (left, right) = root.split_horizontally(CURVES_SIZE.0 / 2);
        let n = history.len().max(1) as f64;
        let x_range = 0.5..(n + 0.5);

        let loss_max = history.iter().map(|e| e.train_loss).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&left)
            .margin(20)
            .caption("training loss (cross-entropy)", (FAMILY, 20))
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range.clone(), 0.0..(loss_max * 1.1).max(1e-3))?;
        chart
            .configure_mesh()
            .x_labels(history.len().clamp(2, 12))
            .x_label_formatter(&integer_ticks)
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("epoch")
            .y_desc("loss")
            .axis_desc_style((FAMILY, 18))
            .label_style((FAMILY, 15))
            .draw()?;
        chart.draw_series(LineSeries::new(
            history.iter().map(|e| (e.epoch as f64, e.train_loss)),
            ShapeStyle::from(&BLUE).stroke_width(2),
        ))?;
        chart.draw_series(
            history
                .iter()
                .map(|e| Circle::new((e.epoch as f64, e.train_loss), 3, BLUE.filled())),
        )?;

        let uar_max = history
            .iter()
            .map(|e| e.val_uar * 100.0)
            .fold(12.5, f64::max);
        let mut chart = ChartBuilder::on(&right)
            .margin(20)
            .caption("validation UAR", (FAMILY, 20))
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, 0.0..(uar_max * 1.15).min(100.0))?;
        chart
            .configure_mesh()
            .x_labels(history.len().clamp(2, 12))
            .x_label_formatter(&integer_ticks)
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("epoch")
            .y_desc("UAR (%)")
            .axis_desc_style((FAMILY, 18))
            .label_style((FAMILY, 15))
            .draw()?;
        let red = RGBColor(200, 30, 30);
        chart
            .draw_series(LineSeries::new(
                history.iter().map(|e| (e.epoch as f64, e.val_uar * 100.0)),
                ShapeStyle::from(&red).stroke_width(2),
            ))?
            .label("validation UAR")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], red.stroke_width(2)));
        chart.draw_series(
            history
                .iter()
                .map(|e| Circle::new((e.epoch as f64, e.val_uar * 100.0), 3, red.filled())),
        )?;
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new(
                [(0.5, 12.5), (n + 0.5, 12.5)],
                ShapeStyle::from(&grey).stroke_width(1),
            ))?
            .label("chance (12.5 %)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(1)));
        if let Some(best) = history.iter().find(|e| e.epoch == best_epoch) {
            let green = RGBColor(0, 140, 60);
            chart
                .draw_series([Circle::new(
                    (best.epoch as f64, best.val_uar * 100.0),
                    8,
                    green.stroke_width(3),
                )])?
                .label(format!(
                    "kept: epoch {} ({:.1} %)",
                    best.epoch,
                    best.val_uar * 100.0
                ))
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, green.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 15))
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// Epoch axis labels: whole numbers only.
fn integer_ticks(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// White → dark blue by `t` in [0, 1].
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Confusion-matrix heatmap: rows = true class, columns = predicted class, cell colour = share of
/// the row (recall on the diagonal), cell text = count and percentage; a colour bar on the right.
pub fn confusion_heatmap(
    path: &Path,
    matrix: &ConfusionMatrix,
    class_names: &[String],
    title: &str,
    policy: OutputPolicy,
) -> Result<()> {
    let k = matrix.num_classes;
    render_png(path, CONFUSION_SIZE, policy, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FAMILY, 24))?;
        let (main, bar_area) = root.split_horizontally(CONFUSION_SIZE.0 - 130);
        let mut chart = ChartBuilder::on(&main)
            .margin(15)
            .margin_right(5)
            .x_label_area_size(80)
            .y_label_area_size(120)
            .build_cartesian_2d(
                (0..k.saturating_sub(1)).into_segmented(),
                (0..k.saturating_sub(1)).into_segmented(),
            )?;
        // Row 0 at the top: plot y = k - 1 - t.
        let name_of = |v: &SegmentValue<usize>, flip: bool| match v {
            SegmentValue::CenterOf(i) if *i < k => {
                let c = if flip { k - 1 - i } else { *i };
                class_names.get(c).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&|v| name_of(v, false))
            .y_label_formatter(&|v| name_of(v, true))
            .x_desc("predicted emotion")
            .y_desc("true emotion")
            .axis_desc_style((FAMILY, 18))
            .label_style((FAMILY, 15))
            .draw()?;
        let mut cells = Vec::with_capacity(k * k);
        for t in 0..k {
            let total = matrix.row_total(t).max(1) as f64;
            for p in 0..k {
                let share = matrix.get(t, p) as f64 / total;
                cells.push((p, k - 1 - t, matrix.get(t, p), share));
            }
        }
        chart.draw_series(cells.iter().map(|&(x, y, _, share)| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                heat(share).filled(),
            )
        }))?;
        let centred = |size: u32, colour: &'static RGBColor| {
            TextStyle::from((FAMILY, size).into_font())
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        chart.draw_series(cells.iter().map(|&(x, y, count, share)| {
            let colour: &'static RGBColor = if share > 0.5 { &WHITE } else { &BLACK };
            EmptyElement::at((SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)))
                + Text::new(count.to_string(), (0, -9), centred(17, colour))
                + Text::new(
                    format!("{:.0}%", share * 100.0),
                    (0, 11),
                    centred(13, colour),
                )
        }))?;

        let mut bar = ChartBuilder::on(&bar_area)
            .margin_top(15)
            .margin_bottom(95)
            .margin_left(10)
            .margin_right(10)
            .y_label_area_size(55)
            .caption("share of row", (FAMILY, 15))
            .build_cartesian_2d(0.0..1.0, 0.0..100.0)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .label_style((FAMILY, 14))
            .draw()?;
        bar.draw_series((0..100).map(|i| {
            let v = i as f64;
            Rectangle::new([(0.0, v), (1.0, v + 1.0)], heat(v / 100.0).filled())
        }))?;
        root.present()?;
        Ok(())
    })
}

/// Size of the attention-weights image, pixels.
pub const ATTENTION_SIZE: (u32, u32) = (1100, 460);

/// Attention weights α_t over a clip (bars, left axis) with the clip's loudness proxy, the first
/// normalised MFCC c0 (line, right axis), against time in seconds (`hop_seconds` per frame).
pub fn attention_weights(
    path: &Path,
    alpha: &[f32],
    c0: &[f32],
    hop_seconds: f64,
    title: &str,
    policy: OutputPolicy,
) -> Result<()> {
    render_png(path, ATTENTION_SIZE, policy, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FAMILY, 22))?;
        let n = alpha.len().max(1);
        let t_max = n as f64 * hop_seconds;
        let a_max = alpha.iter().copied().fold(0.0f32, f32::max).max(1e-6) as f64;
        let (c_lo, c_hi) = c0
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let (c_lo, c_hi) = if c_lo < c_hi {
            (c_lo as f64, c_hi as f64)
        } else {
            (-1.0, 1.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..a_max * 1.1)?
            .set_secondary_coord(0.0..t_max, c_lo..c_hi + 0.05 * (c_hi - c_lo));
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("time (s)")
            .y_desc("attention weight α")
            .axis_desc_style((FAMILY, 18))
            .label_style((FAMILY, 15))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("c0 (normalised loudness)")
            .axis_desc_style((FAMILY, 18))
            .label_style((FAMILY, 15))
            .draw()?;
        let blue = RGBColor(31, 119, 180);
        chart
            .draw_series(alpha.iter().enumerate().map(|(t, &a)| {
                let x0 = t as f64 * hop_seconds;
                Rectangle::new(
                    [(x0, 0.0), (x0 + hop_seconds, a as f64)],
                    blue.mix(0.7).filled(),
                )
            }))?
            .label("attention α_t")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], blue.filled()));
        let orange = RGBColor(230, 110, 20);
        chart
            .draw_secondary_series(LineSeries::new(
                c0.iter()
                    .enumerate()
                    .map(|(t, &v)| ((t as f64 + 0.5) * hop_seconds, v as f64)),
                ShapeStyle::from(&orange).stroke_width(2),
            ))?
            .label("c0")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], orange.stroke_width(2))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 15))
            .draw()?;
        root.present()?;
        Ok(())
    })
}
