//! The house style of every figure: one bundled font, sizes for a paper column and a page, the
//! Okabe–Ito palette, a diverging and a sequential colour map, line dashes, and the mask grey.
//!
//! Text is DejaVu Sans (bundled in `assets/fonts/`, licence beside it), registered once with
//! plotters' `ab_glyph` renderer, so a PNG renders the same on a machine with no fonts or
//! fontconfig; SVG text names the family "sans-serif" and is laid out with the same metrics.

use std::cell::Cell;
use std::sync::Once;

use gstarve_core::error::{Error, InputError, Result};
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

/// How large a figure is: its layout in pixels, the resolution of its PNG and its type size.
///
/// Every figure is laid out on a canvas of `width × height` layout pixels, [`LAYOUT_DPI`] to the
/// inch (the column size is 3.33 in × 2.41 in). The PNG has `dpi / LAYOUT_DPI` times as many
/// pixels along each side, the same drawing at a higher resolution (as matplotlib's `dpi`); SVG
/// and PDF are vectors of the physical size `width / LAYOUT_DPI` inches. Text is
/// `text_scale` times the house sizes of [`text`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FigureSize {
    /// Width in layout pixels.
    pub width: u32,
    /// Height in layout pixels.
    pub height: u32,
    /// Resolution of the PNG in pixels per inch ([`LAYOUT_DPI`]: one PNG pixel per layout pixel).
    pub dpi: f64,
    /// Factor on every text size (1 = the house sizes).
    pub text_scale: f64,
}

/// Layout pixels per inch: the house sizes of [`text`] are in these pixels (20 px = 5.33 pt).
pub const LAYOUT_DPI: f64 = 270.0;

/// Points per inch (PostScript and PDF points).
pub const POINTS_PER_INCH: f64 = 72.0;

impl FigureSize {
    /// One column of a two-column paper (3.33 in × 2.41 in at 270 dpi).
    pub const COLUMN: FigureSize = FigureSize::new(900, 650);
    /// A full page width, e.g. two column-sized panels side by side.
    pub const PAGE: FigureSize = FigureSize::new(1800, 760);

    /// A size in layout pixels, at [`LAYOUT_DPI`] and the house type size.
    pub const fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            dpi: LAYOUT_DPI,
            text_scale: 1.0,
        }
    }

    /// The pixel size of the PNG: the layout scaled by `dpi / LAYOUT_DPI`, rounded.
    pub fn png_pixels(&self) -> (u32, u32) {
        let f = self.dpi / LAYOUT_DPI;
        let px = |v: u32| ((v as f64 * f).round() as u32).max(1);
        (px(self.width), px(self.height))
    }

    /// A size given as a user gives it: `width × height` inches, the PNG's `dpi`, and the
    /// base type size `font_size` in points (tick labels and legends; titles and axis labels
    /// keep their proportions to it). Each is checked against the limits of [`size_limits`],
    /// and the PNG against [`size_limits::MAX_PNG_PIXELS`].
    pub fn physical(width: f64, height: f64, dpi: f64, font_size: f64) -> Result<Self> {
        use size_limits as l;
        let check = |name, value: f64, (lo, hi): (f64, f64), rule| {
            if value.is_finite() && value >= lo && value <= hi {
                Ok(())
            } else {
                Err(Error::Input(InputError::InvalidParameter {
                    name,
                    value,
                    rule,
                }))
            }
        };
        check(
            "width",
            width,
            l::WIDTH_INCHES,
            "a figure's width must be between 2.5 and 20 inches (room for the plot beside its key)",
        )?;
        check(
            "height",
            height,
            l::HEIGHT_INCHES,
            "a figure's height must be between 1.5 and 20 inches",
        )?;
        check(
            "dpi",
            dpi,
            l::DPI,
            "the resolution must be between 50 and 1200 dpi",
        )?;
        check(
            "font_size",
            font_size,
            l::FONT_POINTS,
            "the font size must be between 3 and 16 points",
        )?;
        let size = Self {
            width: (width * LAYOUT_DPI).round() as u32,
            height: (height * LAYOUT_DPI).round() as u32,
            dpi,
            text_scale: font_size / house_font_points(),
        };
        let (w, h) = size.png_pixels();
        if w as f64 * h as f64 > l::MAX_PNG_PIXELS {
            return Err(Error::Input(InputError::InvalidParameter {
                name: "dpi",
                value: dpi,
                rule: "the PNG would exceed 4·10⁷ pixels (width·dpi × height·dpi); lower the resolution or the size",
            }));
        }
        Ok(size)
    }

    /// The base type size in points (tick labels and legends).
    pub fn font_points(&self) -> f64 {
        house_font_points() * self.text_scale
    }

    /// The physical size in inches.
    pub fn inches(&self) -> (f64, f64) {
        (
            self.width as f64 / LAYOUT_DPI,
            self.height as f64 / LAYOUT_DPI,
        )
    }
}

/// The limits of [`FigureSize::physical`].
pub mod size_limits {
    /// Width in inches.
    pub const WIDTH_INCHES: (f64, f64) = (2.5, 20.0);
    /// Height in inches.
    pub const HEIGHT_INCHES: (f64, f64) = (1.5, 20.0);
    /// PNG resolution in dots per inch.
    pub const DPI: (f64, f64) = (50.0, 1200.0);
    /// Base type size in points.
    pub const FONT_POINTS: (f64, f64) = (3.0, 16.0);
    /// The most pixels a PNG may have (it is drawn at ≥ 1.5× supersampling in memory first).
    pub const MAX_PNG_PIXELS: f64 = 4e7;
}

/// The house base type size (tick labels, legends) in points: [`text::TICK`] layout pixels.
pub fn house_font_points() -> f64 {
    text::TICK / LAYOUT_DPI * POINTS_PER_INCH
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

thread_local! {
    /// The factor on text sizes of the figure being rendered on this thread.
    static TEXT_SCALE: Cell<f64> = const { Cell::new(1.0) };
}

/// Sets the text scale of figures rendered on this thread while it lives (restores the previous
/// one when dropped). Rendering is synchronous, so the scale applies to exactly one figure.
pub(crate) struct TextScaleGuard(f64);

impl TextScaleGuard {
    pub(crate) fn set(scale: f64) -> Self {
        Self(TEXT_SCALE.with(|s| s.replace(scale)))
    }
}

impl Drop for TextScaleGuard {
    fn drop(&mut self) {
        TEXT_SCALE.with(|s| s.set(self.0));
    }
}

/// A house text size (one of [`text`]) in layout pixels, scaled for the figure being rendered.
pub fn px(size: f64) -> f64 {
    size * TEXT_SCALE.with(Cell::get)
}

/// A text style in the house font, `size` one of [`text`] (scaled by [`px`]).
pub fn font(size: f64) -> TextStyle<'static> {
    register_fonts();
    TextStyle::from((FONT, px(size)))
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
    /// Yellow (too light for lines on white; not in [`super::SERIES`]).
    pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
    /// Blue.
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    /// Vermillion.
    pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    /// Reddish purple.
    pub const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
}

/// Colours from Paul Tol's qualitative schemes (muted and his 12-colour set), designed, like
/// Okabe–Ito, to stay apart under the common colour-vision deficiencies.
pub mod tol {
    use plotters::style::RGBColor;
    /// Wine.
    pub const WINE: RGBColor = RGBColor(0x88, 0x22, 0x55);
    /// Sand.
    pub const SAND: RGBColor = RGBColor(0xDD, 0xCC, 0x77);
    /// Indigo.
    pub const INDIGO: RGBColor = RGBColor(0x33, 0x22, 0x88);
    /// Green.
    pub const GREEN: RGBColor = RGBColor(0x11, 0x77, 0x33);
    /// Brown (Tol's dark red).
    pub const BROWN: RGBColor = RGBColor(0x66, 0x11, 0x00);
    /// Olive.
    pub const OLIVE: RGBColor = RGBColor(0x99, 0x99, 0x33);
}

/// The colours of up to twelve series, in order: Okabe–Ito without black (the colour of the
/// line-style keys) and yellow (too light on white), then six of Tol's. Chosen greedily for the
/// largest CIELAB distance under normal vision and simulated protanopia, deuteranopia and
/// tritanopia (Machado et al. 2009); every pair stays ≥ 20 apart in normal vision.
pub const SERIES: [RGBColor; 12] = [
    okabe_ito::BLUE,
    okabe_ito::VERMILLION,
    okabe_ito::BLUISH_GREEN,
    okabe_ito::ORANGE,
    okabe_ito::REDDISH_PURPLE,
    okabe_ito::SKY_BLUE,
    tol::WINE,
    tol::SAND,
    tol::INDIGO,
    tol::GREEN,
    tol::BROWN,
    tol::OLIVE,
];

/// The colour of series k of at most [`SERIES`]`.len()` (cycles beyond; figures with more
/// series use [`series_colours`]).
pub fn series_colour(k: usize) -> RGBColor {
    SERIES[k % SERIES.len()]
}

/// Colours for `n` series: the distinct colours of [`SERIES`] up to twelve, then evenly spaced
/// samples of [`ColourMap::Series`] (a series count beyond twelve is keyed by a colour bar).
pub fn series_colours(n: usize) -> Vec<RGBColor> {
    if n <= SERIES.len() {
        SERIES[..n].to_vec()
    } else {
        (0..n)
            .map(|k| ColourMap::Series.colour(k as f64 / (n - 1) as f64))
            .collect()
    }
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
    /// Viridis without its lightest part (t ∈ [0, 1] → viridis [0, 0.85]), for many series of
    /// lines on white.
    Series,
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
            ColourMap::Series => ColourMap::Sequential.colour(0.85 * t),
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
    use plotters::style::WHITE;

    #[test]
    fn colour_maps_hit_their_anchors() {
        assert_eq!(ColourMap::Diverging.colour(0.5), RGBColor(247, 247, 247));
        assert_eq!(ColourMap::Diverging.colour(0.0), RGBColor(5, 48, 97));
        assert_eq!(ColourMap::Sequential.colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(ColourMap::Sequential.colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(ColourMap::Sequential.colour(f64::NAN), MASK_GREY);
        assert_eq!(ColourMap::Series.colour(0.0), RGBColor(68, 1, 84));
    }

    /// CIELAB (D65) of an sRGB colour.
    fn lab(c: RGBColor) -> [f64; 3] {
        let lin = |v: u8| {
            let v = v as f64 / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let (r, g, b) = (lin(c.0), lin(c.1), lin(c.2));
        let xyz = [
            (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
            0.2126 * r + 0.7152 * g + 0.0722 * b,
            (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
        ];
        let f = xyz.map(|t| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        });
        [
            116.0 * f[1] - 16.0,
            500.0 * (f[0] - f[1]),
            200.0 * (f[1] - f[2]),
        ]
    }

    fn delta_e(a: RGBColor, b: RGBColor) -> f64 {
        let (p, q) = (lab(a), lab(b));
        ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
    }

    #[test]
    fn series_colours_do_not_repeat_up_to_twelve() {
        for n in 1..=12 {
            let colours = series_colours(n);
            assert_eq!(colours.len(), n);
            for (k, &a) in colours.iter().enumerate() {
                // Far from the white page and from the black of the line-style keys.
                assert!(delta_e(a, WHITE) > 40.0, "series {k} too light");
                assert!(delta_e(a, okabe_ito::BLACK) > 40.0, "series {k} too dark");
                for &b in &colours[k + 1..] {
                    // ΔE76 ≥ 20: clearly different colours side by side (the set's minimum is
                    // 22.05, bluish green against Tol's green).
                    assert!(delta_e(a, b) >= 20.0, "{a:?} and {b:?} too close");
                }
            }
        }
        // Beyond twelve: a colour map, every series its own colour, none of them black.
        let many = series_colours(40);
        assert_eq!(many.len(), 40);
        for w in many.windows(2) {
            assert_ne!(w[0], w[1]);
        }
        assert_eq!(many[0], ColourMap::Series.colour(0.0));
        assert!(many.iter().all(|&c| delta_e(c, okabe_ito::BLACK) > 15.0));
    }
}
