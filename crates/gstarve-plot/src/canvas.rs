//! Rendering a figure to PNG, SVG and PDF in memory, then writing the images and the figure's
//! data (CSV) atomically: a failure while drawing writes nothing, and no file is ever
//! half-written. The PDF is the SVG converted by svg2pdf (pure Rust: no system library), with
//! the bundled font embedded.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::DrawError;
use super::style::{register_fonts, FigureSize, TextScaleGuard, DEJAVU_SANS, LAYOUT_DPI};
use super::text::{downsample, resample, GlyphCanvas, SUPERSAMPLING};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{ensure_dir, write_files, OutputFile, Table};

/// Which image formats to write (the CSV data is always written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    /// Write `<name>.png`.
    pub png: bool,
    /// Write `<name>.svg`.
    pub svg: bool,
    /// Write `<name>.pdf` (vector, fonts embedded, for LaTeX).
    pub pdf: bool,
}

impl Formats {
    /// PNG only.
    pub const PNG: Formats = Formats {
        png: true,
        svg: false,
        pdf: false,
    };
    /// SVG only.
    pub const SVG: Formats = Formats {
        png: false,
        svg: true,
        pdf: false,
    };
    /// PDF only.
    pub const PDF: Formats = Formats {
        png: false,
        svg: false,
        pdf: true,
    };
    /// PNG and SVG.
    pub const BOTH: Formats = Formats {
        png: true,
        svg: true,
        pdf: false,
    };
}

impl Default for Formats {
    fn default() -> Self {
        Formats::PNG
    }
}

impl FromStr for Formats {
    type Err = String;
    /// `png`, `svg`, `pdf`, or a comma-separated set such as `png,svg,pdf`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut f = Formats {
            png: false,
            svg: false,
            pdf: false,
        };
        for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            match part.as_str() {
                "png" => f.png = true,
                "svg" => f.svg = true,
                "pdf" => f.pdf = true,
                other => {
                    return Err(format!(
                    "unknown format '{other}' (expected png, svg, pdf or a list such as png,pdf)"
                ))
                }
            }
        }
        Ok(f)
    }
}

/// The files a figure function wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Image files (PNG, SVG and/or PDF).
    pub images: Vec<PathBuf>,
    /// The CSV file with the figure's data.
    pub data: PathBuf,
}

/// A figure that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Draw on the whole canvas (already filled white).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError<DB>>;
}

fn render_error<E: std::fmt::Display>(name: &str, format: &'static str, e: E) -> Error {
    Error::Output(OutputError::Render {
        figure: name.to_string(),
        format,
        detail: e.to_string(),
    })
}

/// The supersampling factor for a PNG `f` times the layout's resolution: at least
/// [`SUPERSAMPLING`], and at least 1.5 physical pixels per output pixel.
fn supersampling(f: f64) -> u32 {
    SUPERSAMPLING.max((1.5 * f).ceil() as u32)
}

/// Render to an RGB PNG in memory, of [`FigureSize::png_pixels`] pixels.
pub(crate) fn render_png(figure: &impl Figure, name: &str, size: FigureSize) -> Result<Vec<u8>> {
    register_fonts();
    let _text = TextScaleGuard::set(size.text_scale);
    let (w, h) = (size.width, size.height);
    let out = size.png_pixels();
    let native = out == (w, h);
    let k = if native {
        SUPERSAMPLING
    } else {
        supersampling(size.dpi / LAYOUT_DPI)
    };
    let ku = k as usize;
    let mut physical = vec![255u8; w as usize * ku * h as usize * ku * 3];
    {
        let root = GlyphCanvas::with_buffer(&mut physical, (w, h), k).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| render_error(name, "png", e))?;
        figure
            .draw(&root)
            .map_err(|e| render_error(name, "png", e))?;
        root.present().map_err(|e| render_error(name, "png", e))?;
    }
    let pixels = if native {
        downsample(&physical, (w, h))
    } else {
        resample(&physical, (w * k, h * k), out)
    };
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, out.0, out.1, ColorType::Rgb8)
        .map_err(|e| render_error(name, "png", e))?;
    Ok(png)
}

/// Render to an SVG document in memory: `width × height` user units on a page of the figure's
/// physical size in inches.
pub(crate) fn render_svg(figure: &impl Figure, name: &str, size: FigureSize) -> Result<String> {
    register_fonts();
    let _text = TextScaleGuard::set(size.text_scale);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| render_error(name, "svg", e))?;
        figure
            .draw(&root)
            .map_err(|e| render_error(name, "svg", e))?;
        root.present().map_err(|e| render_error(name, "svg", e))?;
    }
    let (wi, hi) = size.inches();
    let plotters_size = format!(
        "width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\"",
        size.width, size.height, size.width, size.height
    );
    let physical = format!(
        "width=\"{wi:.4}in\" height=\"{hi:.4}in\" viewBox=\"0 0 {} {}\"",
        size.width, size.height
    );
    if !svg.contains(&plotters_size) {
        return Err(render_error(
            name,
            "svg",
            "the SVG backend wrote an unexpected root element",
        ));
    }
    // Name the bundled face first, so that viewers that have DejaVu Sans (most Linux systems)
    // render the SVG with the font its layout was measured with.
    Ok(svg.replacen(&plotters_size, &physical, 1).replace(
        "font-family=\"sans-serif\"",
        "font-family=\"DejaVu Sans, Bitstream Vera Sans, Verdana, sans-serif\"",
    ))
}

/// Convert a rendered SVG to PDF (svg2pdf): vector graphics, text as text in the bundled DejaVu
/// Sans (embedded as a subset), heatmaps as embedded images, page size the figure's.
pub(crate) fn render_pdf(svg: &str, name: &str) -> Result<Vec<u8>> {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(DEJAVU_SANS.to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    let options = usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: std::sync::Arc::new(fonts),
        ..Default::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| render_error(name, "pdf", e))?;
    // usvg resolves the SVG's inch size at 96 px per inch; the page keeps that physical size.
    let page = svg2pdf::PageOptions { dpi: 96.0 };
    svg2pdf::to_pdf(&tree, Default::default(), page).map_err(|e| render_error(name, "pdf", e))
}

/// Render `figure` in the chosen formats and write `<dir>/<name>.{png,svg,csv}` as one output
/// ([`write_files`]; with a provenance installed, each file carries it and the CSV has its
/// sidecar `<name>.csv.json`, which also holds the table's comments): nothing is written
/// unless every rendering succeeded, and no file is ever half-written.
pub(crate) fn write_figure(
    figure: &impl Figure,
    dir: &Path,
    name: &str,
    size: FigureSize,
    formats: Formats,
    data: Table,
) -> Result<Written> {
    let files = render_images(figure, dir, name, size, formats)?;
    write_with_data(files, dir, name, data)
}

/// [`write_figure`] with the data table made by `data` while the figure renders (on another
/// thread, rayon): for large tables, whose formatting takes as long as the drawing. Nothing is
/// written unless both succeed.
pub(crate) fn write_figure_with(
    figure: &(impl Figure + Sync),
    dir: &Path,
    name: &str,
    size: FigureSize,
    formats: Formats,
    data: impl FnOnce() -> Result<Table> + Send,
) -> Result<Written> {
    let (files, data) = rayon::join(|| render_images(figure, dir, name, size, formats), data);
    write_with_data(files?, dir, name, data?)
}

/// The figure's images in the chosen formats, in memory.
fn render_images(
    figure: &impl Figure,
    dir: &Path,
    name: &str,
    size: FigureSize,
    formats: Formats,
) -> Result<Vec<OutputFile>> {
    if !formats.png && !formats.svg && !formats.pdf {
        return Err(Error::Output(OutputError::NoOutputFormat {
            figure: name.to_string(),
        }));
    }
    let mut files = Vec::with_capacity(3);
    if formats.png {
        files.push(OutputFile::new(
            dir.join(format!("{name}.png")),
            render_png(figure, name, size)?,
        ));
    }
    if formats.svg || formats.pdf {
        let svg = render_svg(figure, name, size)?;
        if formats.pdf {
            files.push(OutputFile::new(
                dir.join(format!("{name}.pdf")),
                render_pdf(&svg, name)?,
            ));
        }
        if formats.svg {
            files.push(OutputFile::new(dir.join(format!("{name}.svg")), svg));
        }
    }
    Ok(files)
}

/// Write the rendered `files` and the figure's data `<dir>/<name>.csv` as one output.
fn write_with_data(
    mut files: Vec<OutputFile>,
    dir: &Path,
    name: &str,
    data: Table,
) -> Result<Written> {
    let csv = dir.join(format!("{name}.csv"));
    files.push(data.into_output(&csv)?);
    ensure_dir(dir)?;
    write_files(&files)?;
    Ok(Written {
        images: files[..files.len() - 1]
            .iter()
            .map(|f| f.path.clone())
            .collect(),
        data: csv,
    })
}
