//! Bar chart of our UAR (mean ± std over seeds) beside the paper's, per cell: `table1.png` and `table1.svg`.
//!
//! plotters renders text through `ab_glyph`, which needs a font registered at run time; we embed a
//! 10 KB ASCII subset of DejaVu Sans (`fixtures/fonts/`, made by `make_subset.sh` there).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{ExperimentError, Result};
use crate::features::write_atomic;
use crate::report::CellReport;

static FONT: &[u8] = include_bytes!("../../../fixtures/fonts/DejaVuSans-subset.ttf");
static REGISTER: Once = Once::new();
const FAMILY: &str = "sans-serif";
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

const OURS: RGBColor = RGBColor(31, 119, 180);
const PAPER: RGBColor = RGBColor(255, 127, 14);

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is known to parse (a unit test draws with it); nothing to recover if not.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Draws the chart for `cells` as `<stem>.png` and `<stem>.svg` under `out` (each written to a
/// temporary file `.<name>.tmp-…` and renamed); returns the paths.
pub fn plot_table1(
    cells: &[CellReport],
    out: &Path,
    stem: &str,
    title: &str,
) -> Result<Vec<PathBuf>> {
    register_font();
    let width = (140 + 95 * cells.len() as u32).max(640);
    let height = 560;
    let png = out.join(format!("{stem}.png"));
    let svg = out.join(format!("{stem}.svg"));
    let plot_err = |path: &Path, e: String| ExperimentError::Plot {
        path: path.to_path_buf(),
        reason: e,
    };
    // Both files are drawn beside their final name and renamed onto it, so a killed run never leaves
    // a half-written plot under `table1.png` / `table1.svg`.
    std::fs::create_dir_all(out).map_err(|e| ExperimentError::io("creating folder", out, e))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    // The `.png` suffix tells plotters' encoder the format.
    let png_temp = out.join(format!(".{stem}.png.tmp-{}-{n}.png", std::process::id()));
    let drawn = (|| {
        let root = BitMapBackend::new(&png_temp, (width, height)).into_drawing_area();
        draw(&root, cells, title).map_err(|e| plot_err(&png, e.to_string()))?;
        root.present().map_err(|e| plot_err(&png, e.to_string()))
    })()
    .and_then(|()| {
        std::fs::rename(&png_temp, &png).map_err(|e| ExperimentError::io("renaming onto", &png, e))
    });
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&png_temp);
        return Err(e);
    }
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, (width, height)).into_drawing_area();
        draw(&root, cells, title).map_err(|e| plot_err(&svg, e.to_string()))?;
        root.present().map_err(|e| plot_err(&svg, e.to_string()))?;
    }
    write_atomic(&svg, svg_text.as_bytes())?;
    Ok(vec![png, svg])
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    cells: &[CellReport],
    title: &str,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = cells.len().max(1);
    let top = cells
        .iter()
        .flat_map(|c| [c.uar_pct_mean + c.uar_pct_std, c.paper_uar_pct])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let y_max = ((top * 1.3) / 5.0).ceil().max(1.0) * 5.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("UAR % (pooled out-of-fold)")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()?;
    let half = 0.18;
    chart
        .draw_series(
            cells
                .iter()
                .enumerate()
                .filter(|(_, c)| c.uar_pct_mean.is_finite())
                .map(|(i, c)| {
                    let x = i as f64;
                    Rectangle::new([(x - 2.0 * half, 0.0), (x, c.uar_pct_mean)], OURS.filled())
                }),
        )?
        .label("ours (mean ± std over seeds)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], OURS.filled()));
    chart.draw_series(
        cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.uar_pct_mean.is_finite() && c.uar_pct_std > 0.0)
            .map(|(i, c)| {
                ErrorBar::new_vertical(
                    i as f64 - half,
                    c.uar_pct_mean - c.uar_pct_std,
                    c.uar_pct_mean,
                    c.uar_pct_mean + c.uar_pct_std,
                    BLACK.stroke_width(1),
                    8,
                )
            }),
    )?;
    chart
        .draw_series(
            cells
                .iter()
                .enumerate()
                .filter(|(_, c)| c.paper_uar_pct.is_finite())
                .map(|(i, c)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x, 0.0), (x + 2.0 * half, c.paper_uar_pct)],
                        PAPER.filled(),
                    )
                }),
        )?
        .label("paper (Krasnoproshin & Vashkevich, Table 1)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], PAPER.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .draw()?;
    // Values above the bars and cell names under the axis, placed in pixels.
    let value_style =
        TextStyle::from((FAMILY, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let name_style =
        TextStyle::from((FAMILY, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let (_, axis_y) = chart.backend_coord(&(0.0, 0.0));
    for (i, c) in cells.iter().enumerate() {
        let x = i as f64;
        for (value, centre) in [(c.uar_pct_mean, x - half), (c.paper_uar_pct, x + half)] {
            if value.is_finite() {
                let (px, py) = chart.backend_coord(&(centre, value));
                root.draw(&Text::new(
                    format!("{value:.1}"),
                    (px, py - 2),
                    value_style.clone(),
                ))?;
            }
        }
        let (px, _) = chart.backend_coord(&(x, 0.0));
        let name = c.cell.to_string();
        let (line1, line2) = match name.split_once('-') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (name, String::new()),
        };
        root.draw(&Text::new(line1, (px, axis_y + 6), name_style.clone()))?;
        if !line2.is_empty() {
            root.draw(&Text::new(line2, (px, axis_y + 23), name_style.clone()))?;
        }
    }
    Ok(())
}
