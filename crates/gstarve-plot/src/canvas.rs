//! Rendering a figure to PNG and SVG in memory, then writing the images and the figure's data
//! (CSV) atomically: a failure while drawing writes nothing, and no file is ever half-written.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::DrawError;
use super::style::{register_fonts, FigureSize};
use super::text::{downsample, GlyphCanvas, SUPERSAMPLING};
use gstarve_core::error::{Error, OutputError, Result};
use gstarve_core::output::{ensure_dir, write_files, OutputFile, Table};

/// Which image formats to write (the CSV data is always written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    /// Write `<name>.png`.
    pub png: bool,
    /// Write `<name>.svg`.
    pub svg: bool,
}

impl Formats {
    /// PNG only.
    pub const PNG: Formats = Formats {
        png: true,
        svg: false,
    };
    /// SVG only.
    pub const SVG: Formats = Formats {
        png: false,
        svg: true,
    };
    /// PNG and SVG.
    pub const BOTH: Formats = Formats {
        png: true,
        svg: true,
    };
}

impl Default for Formats {
    fn default() -> Self {
        Formats::PNG
    }
}

impl FromStr for Formats {
    type Err = String;
    /// `png`, `svg`, or a comma-separated set such as `png,svg`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut f = Formats {
            png: false,
            svg: false,
        };
        for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            match part.as_str() {
                "png" => f.png = true,
                "svg" => f.svg = true,
                other => {
                    return Err(format!(
                        "unknown format '{other}' (expected png, svg or png,svg)"
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
    /// Image files (PNG and/or SVG).
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

/// Render to an RGB PNG in memory.
pub(crate) fn render_png(figure: &impl Figure, name: &str, size: FigureSize) -> Result<Vec<u8>> {
    register_fonts();
    let (w, h) = (size.width, size.height);
    let k = SUPERSAMPLING as usize;
    let mut physical = vec![255u8; w as usize * k * h as usize * k * 3];
    {
        let root = GlyphCanvas::with_buffer(&mut physical, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| render_error(name, "png", e))?;
        figure
            .draw(&root)
            .map_err(|e| render_error(name, "png", e))?;
        root.present().map_err(|e| render_error(name, "png", e))?;
    }
    let pixels = downsample(&physical, (w, h));
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, w, h, ColorType::Rgb8)
        .map_err(|e| render_error(name, "png", e))?;
    Ok(png)
}

/// Render to an SVG document in memory.
pub(crate) fn render_svg(figure: &impl Figure, name: &str, size: FigureSize) -> Result<String> {
    register_fonts();
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
    // Name the bundled face first, so that viewers that have DejaVu Sans (most Linux systems)
    // render the SVG with the font its layout was measured with.
    Ok(svg.replace(
        "font-family=\"sans-serif\"",
        "font-family=\"DejaVu Sans, Bitstream Vera Sans, Verdana, sans-serif\"",
    ))
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
    if !formats.png && !formats.svg {
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
    if formats.svg {
        let svg = render_svg(figure, name, size)?;
        files.push(OutputFile::new(dir.join(format!("{name}.svg")), svg));
    }
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
