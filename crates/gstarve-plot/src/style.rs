//! The house style of every figure: one bundled font, sizes for a paper column and a page, the
//! Okabe–Ito palette, a diverging and a sequential colour map, line dashes, and the mask grey.
//!
//! Text is DejaVu Sans (bundled in `assets/fonts/`, licence beside it), registered once with
//! plotters' `ab_glyph` renderer, so a PNG renders the same on a machine with no fonts or
//! fontconfig; SVG text names the family "sans-serif" and is laid out with the same metrics.

use std::sync::Once;

use plotters::style::{register_font, FontStyle, RGBColor, TextStyle};

/// The font family every figure uses (registered to the bundled DejaVu Sans).
pub const FONT: &str = "sans-serif";

pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Register the bundled font with plotters (idempotent, thread-safe).
pub fn register_fonts() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font shipped with the crate; a failure here would be a
        // packaging error, and drawing text would then report it as a render error.
        let _ = register_font(FONT, FontStyle::Normal, DEJAVU_SANS);
    });
}

/// A figure size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FigureSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl FigureSize {
    /// One column of a two-column paper (about 3.3 in at 270 dpi).
    pub const COLUMN: FigureSize = FigureSize {
        width: 900,
        height: 650,
    };
    /// A full page width, e.g. two column-sized panels side by side.
    pub const PAGE: FigureSize = FigureSize {
        width: 1800,
        height: 760,
    };
}

/// Pixel sizes of text (the same at every figure size, so that a column figure and a page
/// figure printed at the same dpi have the same type size).
pub mod text {
    /// Figure and panel titles.
    pub const TITLE: f64 = 26.0;
    /// Axis labels.
    pub const LABEL: f64 = 24.0;
    /// Tick labels.
    pub const TICK: f64 = 20.0;
    /// Legend entries.
    pub const LEGEND: f64 = 20.0;
    /// Numbers inside heatmap cells.
    pub const CELL: f64 = 19.0;
}

/// A text style in the house font.
pub fn font(size: f64) -> TextStyle<'static> {
    register_fonts();
    TextStyle::from((FONT, size))
}

/// Line widths in pixels.
pub mod width {
    /// Data curves.
    pub const CURVE: u32 = 3;
    /// Reference and guide lines (nullclines, contours of secondary interest).
    pub const GUIDE: u32 = 2;
}

/// Okabe & Ito (2008), a palette distinguishable under the common colour-vision deficiencies.
pub mod okabe_ito {
    use plotters::style::RGBColor;
    /// Black.
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    /// Orange.
    pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
    /// Sky blue.
    pub const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
    /// Bluish green.
    pub const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
    /// Yellow (too light for lines on white; not in [`SERIES`]).
    pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
    /// Blue.
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    /// Vermillion.
    pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    /// Reddish purple.
    pub const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
    /// The order in which series take colours (strong contrast on white first).
    pub const SERIES: [RGBColor; 7] = [
        BLUE,
        VERMILLION,
        BLUISH_GREEN,
        ORANGE,
        REDDISH_PURPLE,
        SKY_BLUE,
        BLACK,
    ];
}

/// The colour of series k (cycling through [`okabe_ito::SERIES`]).
pub fn series_colour(k: usize) -> RGBColor {
    okabe_ito::SERIES[k % okabe_ito::SERIES.len()]
}

/// Cells without a value (masked) are drawn in this neutral grey, which neither colour map uses.
pub const MASK_GREY: RGBColor = RGBColor(158, 158, 158);
/// Light grey for grid lines and direction-field arrows.
pub const GRID_GREY: RGBColor = RGBColor(225, 225, 225);
/// Mid grey for secondary marks.
pub const GUIDE_GREY: RGBColor = RGBColor(120, 120, 120);

/// How a line is stroked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    /// Continuous.
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dashes, almost dots.
    Dotted,
    /// Short dashes with long gaps, for a third style next to dashed and dotted.
    Sparse,
}

impl Dash {
    /// (dash, gap) lengths in pixels, None for a solid line.
    pub fn pattern(self) -> Option<(f64, f64)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((14.0, 8.0)),
            Dash::Dotted => Some((3.0, 5.0)),
            Dash::Sparse => Some((8.0, 12.0)),
        }
    }
}

/// A colour map from [0, 1] to colours, piecewise linear between anchors (in sRGB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColourMap {
    /// Blue–white–red for signed quantities (ColorBrewer RdBu, reversed): 0.5 is near-white.
    Diverging,
    /// Viridis (perceptually uniform, colour-blind safe) for magnitudes.
    Sequential,
}

/// ColorBrewer RdBu (11 classes), blue (low) to red (high), centre #f7f7f7.
const RD_BU: [(u8, u8, u8); 11] = [
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
];

/// Viridis (matplotlib, CC0) sampled at entries 0, 16, …, 240, 255 of its 256: (entry, r, g, b).
const VIRIDIS: [(f64, f64, f64, f64); 17] = [
    (0.0, 0.267004, 0.004874, 0.329415),
    (16.0, 0.282327, 0.094955, 0.417331),
    (32.0, 0.278826, 0.175490, 0.483397),
    (48.0, 0.258965, 0.251537, 0.524736),
    (64.0, 0.229739, 0.322361, 0.545706),
    (80.0, 0.199430, 0.387607, 0.554642),
    (96.0, 0.172719, 0.448791, 0.557885),
    (112.0, 0.149039, 0.508051, 0.557250),
    (128.0, 0.127568, 0.566949, 0.550556),
    (144.0, 0.120638, 0.625828, 0.533488),
    (160.0, 0.157851, 0.683765, 0.501686),
    (176.0, 0.246070, 0.738910, 0.452024),
    (192.0, 0.369214, 0.788888, 0.382914),
    (208.0, 0.515992, 0.831158, 0.294279),
    (224.0, 0.678489, 0.863742, 0.189503),
    (240.0, 0.845561, 0.887322, 0.099702),
    (255.0, 0.993248, 0.906157, 0.143936),
];

impl ColourMap {
    /// The colour at t ∈ [0, 1] (clamped; NaN gives [`MASK_GREY`]).
    pub fn colour(self, t: f64) -> RGBColor {
        if t.is_nan() {
            return MASK_GREY;
        }
        let t = t.clamp(0.0, 1.0);
        match self {
            ColourMap::Diverging => {
                let x = t * (RD_BU.len() - 1) as f64;
                let k = (x.floor() as usize).min(RD_BU.len() - 2);
                let f = x - k as f64;
                let (a, b) = (RD_BU[k], RD_BU[k + 1]);
                let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
                RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
            }
            ColourMap::Sequential => {
                let x = t * 255.0;
                let k = VIRIDIS
                    .iter()
                    .rposition(|a| a.0 <= x)
                    .unwrap_or(0)
                    .min(VIRIDIS.len() - 2);
                let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
                let f = (x - a.0) / (b.0 - a.0);
                let mix = |p: f64, q: f64| ((p + f * (q - p)) * 255.0).round() as u8;
                RGBColor(mix(a.1, b.1), mix(a.2, b.2), mix(a.3, b.3))
            }
        }
    }
}

/// Relative luminance (sRGB, 0–1), to choose black or white text on a coloured cell.
pub fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_hit_their_anchors() {
        assert_eq!(ColourMap::Diverging.colour(0.5), RGBColor(247, 247, 247));
        assert_eq!(ColourMap::Diverging.colour(0.0), RGBColor(5, 48, 97));
        assert_eq!(ColourMap::Sequential.colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(ColourMap::Sequential.colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(ColourMap::Sequential.colour(f64::NAN), MASK_GREY);
    }
}
