//! The validation report's pictures, drawn with plotters into an RGB buffer and written as PNG
//! with `image`: the held-out ROC curves and the reliability diagram, one line per finding at
//! its eye level (else its first fitted level).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::fit::LevelFit;
use super::run::Validation;

/// Picture size, px.
const SIZE: (u32, u32) = (720, 560);

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed.
    #[error("drawing {what}: {message}")]
    Draw {
        /// Which picture.
        what: &'static str,
        /// plotters' message.
        message: String,
    },
    /// The PNG could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
}

/// The curves drawn: (label, fit) per finding.
fn curves(validation: &Validation) -> Vec<(String, &LevelFit)> {
    validation
        .findings
        .iter()
        .filter_map(|f| {
            let (level, fit) = f
                .levels
                .get_key_value("eye")
                .or_else(|| f.levels.iter().next())?;
            Some((format!("{} ({level})", f.name), fit))
        })
        .collect()
}

fn register() {
    // The same bytes every time; a second registration replaces the first.
    let _ = register_font(
        "sans-serif",
        FontStyle::Normal,
        epaint_default_fonts::UBUNTU_LIGHT,
    );
}

fn draw_error(what: &'static str) -> impl Fn(String) -> PlotError {
    move |message| PlotError::Draw { what, message }
}

fn save(buffer: Vec<u8>, path: &Path) -> Result<(), PlotError> {
    let image =
        image::RgbImage::from_raw(SIZE.0, SIZE.1, buffer).ok_or_else(|| PlotError::Draw {
            what: "a picture",
            message: "buffer size".to_string(),
        })?;
    image.save(path).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A line chart on the unit square with a dashed diagonal.
fn chart(
    path: &Path,
    what: &'static str,
    caption: &str,
    axes: (&str, &str),
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    register();
    let mut buffer = vec![255_u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let fail = draw_error(what);
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(0.0..1.0_f64, 0.0..1.0_f64)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(|e| fail(e.to_string()))?;
        for (i, (label, points)) in lines.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| fail(e.to_string()))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 2, colour.filled())))
                .map_err(|e| fail(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    save(buffer, path)
}

/// `roc.png`: held-out ROC curves.
pub fn roc_png(validation: &Validation, path: &Path) -> Result<(), PlotError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = curves(validation)
        .into_iter()
        .map(|(label, fit)| {
            (
                format!("{label}, AUROC {:.2}", fit.auroc.value),
                fit.roc.clone(),
            )
        })
        .collect();
    chart(
        path,
        "the ROC curve",
        "Held-out ROC",
        ("1 − specificity", "sensitivity"),
        &lines,
    )
}

/// `reliability.png`: held-out fraction positive against mean probability, per bin.
pub fn reliability_png(validation: &Validation, path: &Path) -> Result<(), PlotError> {
    let lines: Vec<(String, Vec<(f64, f64)>)> = curves(validation)
        .into_iter()
        .map(|(label, fit)| {
            (
                format!("{label}, ECE {:.3}", fit.ece.value),
                fit.reliability.iter().map(|(p, y, _)| (*p, *y)).collect(),
            )
        })
        .collect();
    chart(
        path,
        "the reliability diagram",
        "Held-out reliability (10 bins)",
        ("mean predicted probability", "fraction with the finding"),
        &lines,
    )
}
