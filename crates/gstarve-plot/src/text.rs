//! The PNG canvas: plotters' bitmap backend, supersampled and with properly spaced text.
//!
//! - Supersampling: figures draw in logical pixels; this backend scales every primitive by an
//!   integer factor k ≥ [`SUPERSAMPLING`] into a larger buffer, which [`downsample`] averages
//!   back to the requested size (or [`resample`] to another resolution), so edges of lines,
//!   markers and text are anti-aliased (plotters' bitmap backend alone draws aliased
//!   staircases).
//! - Text: plotters' own `ab_glyph` path places each glyph at a truncated integer advance and
//!   drops its left side bearing, which spaces letters unevenly ("matri x"); here glyphs of the
//!   bundled DejaVu Sans are placed at subpixel positions with kerning, anchored and rotated as
//!   plotters asks. (SVG figures keep plotters' `<text>` elements.)

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use super::style::DEJAVU_SANS;

/// Physical pixels per logical pixel along each axis.
pub(crate) const SUPERSAMPLING: u32 = 3;

/// A supersampled bitmap backend with properly spaced text.
pub(crate) struct GlyphCanvas<'a> {
    inner: BitMapBackend<'a>,
    font: Option<FontRef<'static>>,
    logical: (u32, u32),
    /// Physical pixels per logical pixel along each axis.
    k: u32,
}

impl<'a> GlyphCanvas<'a> {
    /// Draw a figure of `logical` size into `buffer`, an RGB buffer of k² times as many pixels.
    pub(crate) fn with_buffer(buffer: &'a mut [u8], logical: (u32, u32), k: u32) -> Self {
        Self {
            inner: BitMapBackend::with_buffer(buffer, (logical.0 * k, logical.1 * k)),
            font: FontRef::try_from_slice(DEJAVU_SANS).ok(),
            logical,
            k,
        }
    }

    /// A logical coordinate → the physical one (the centre of its k × k block).
    fn up(&self, (x, y): BackendCoord) -> BackendCoord {
        let k = self.k as i32;
        (x * k + k / 2, y * k + k / 2)
    }
}

/// Area-average an RGB image of `from` pixels to `to` pixels (each output pixel the mean of the
/// source area it covers, fractional pixels weighted by their overlap): a box filter for any
/// downscaling ratio, separable.
pub(crate) fn resample(src: &[u8], from: (u32, u32), to: (u32, u32)) -> Vec<u8> {
    let (sw, sh) = (from.0 as usize, from.1 as usize);
    let (dw, dh) = (to.0 as usize, to.1 as usize);
    // Weights of the source pixels covered by output pixel i: [(index, weight)], summing to 1.
    let spans = |n_src: usize, n_dst: usize| -> Vec<Vec<(usize, f32)>> {
        let ratio = n_src as f64 / n_dst as f64;
        (0..n_dst)
            .map(|i| {
                let (a, b) = (i as f64 * ratio, ((i + 1) as f64 * ratio).min(n_src as f64));
                let mut w = Vec::new();
                let mut j = a.floor() as usize;
                while (j as f64) < b && j < n_src {
                    let overlap = (b.min(j as f64 + 1.0) - a.max(j as f64)) / (b - a);
                    if overlap > 0.0 {
                        w.push((j, overlap as f32));
                    }
                    j += 1;
                }
                w
            })
            .collect()
    };
    let (xs, ys) = (spans(sw, dw), spans(sh, dh));
    // Output row by output row: the covered source rows averaged into one row, then its columns,
    // so that only one source row of floats is held beside the output.
    let mut row = vec![0f32; sw * 3];
    let mut out = vec![0u8; dw * dh * 3];
    for (y, span) in ys.iter().enumerate() {
        row.fill(0.0);
        for &(j, w) in span {
            let src_row = &src[j * sw * 3..(j + 1) * sw * 3];
            for (acc, &v) in row.iter_mut().zip(src_row) {
                *acc += w * v as f32;
            }
        }
        for (x, xspan) in xs.iter().enumerate() {
            for c in 0..3 {
                let v: f32 = xspan.iter().map(|&(i, w)| w * row[i * 3 + c]).sum();
                out[(y * dw + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Average k × k blocks of a supersampled RGB buffer into the logical image.
pub(crate) fn downsample(physical: &[u8], (w, h): (u32, u32)) -> Vec<u8> {
    let k = SUPERSAMPLING as usize;
    let (w, h) = (w as usize, h as usize);
    let stride = w * k * 3;
    let mut out = vec![0u8; w * h * 3];
    // Each output row: the sums of its k × k blocks accumulated row by row of the input.
    let mut sums = vec![0u32; w * 3];
    for (y, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        sums.fill(0);
        for dy in 0..k {
            let row = &physical[(y * k + dy) * stride..][..stride];
            for (sum, block) in sums.chunks_exact_mut(3).zip(row.chunks_exact(3 * k)) {
                for pixel in block.chunks_exact(3) {
                    for c in 0..3 {
                        sum[c] += pixel[c] as u32;
                    }
                }
            }
        }
        for (o, &sum) in out_row.iter_mut().zip(&sums) {
            *o = ((sum + (k * k / 2) as u32) / (k * k) as u32) as u8;
        }
    }
    out
}

/// A style with its stroke width scaled to physical pixels.
struct Thick<'s, S: BackendStyle>(&'s S, u32);

impl<S: BackendStyle> BackendStyle for Thick<'_, S> {
    fn color(&self) -> BackendColor {
        self.0.color()
    }
    fn stroke_width(&self) -> u32 {
        self.0.stroke_width() * self.1
    }
}

type Failure<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for GlyphCanvas<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.logical
    }

    fn ensure_prepared(&mut self) -> Result<(), Failure<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Failure<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Failure<'a>> {
        let k = self.k as i32;
        for dy in 0..k {
            for dx in 0..k {
                self.inner
                    .draw_pixel((point.0 * k + dx, point.1 * k + dy), color)?;
            }
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.inner
            .draw_line(self.up(from), self.up(to), &Thick(style, self.k))
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        let k = self.k as i32;
        let (a, b) = if fill {
            (
                (upper_left.0 * k, upper_left.1 * k),
                (bottom_right.0 * k + k - 1, bottom_right.1 * k + k - 1),
            )
        } else {
            (self.up(upper_left), self.up(bottom_right))
        };
        self.inner.draw_rect(a, b, &Thick(style, self.k), fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        let k = self.k;
        let path: Vec<BackendCoord> = path.into_iter().map(|p| self.up(p)).collect();
        self.inner.draw_path(path, &Thick(style, k))
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        self.inner.draw_circle(
            self.up(center),
            radius * self.k,
            &Thick(style, self.k),
            fill,
        )
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        let k = self.k;
        let vert: Vec<BackendCoord> = vert.into_iter().map(|p| self.up(p)).collect();
        self.inner.fill_polygon(vert, &Thick(style, k))
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (w, h): (u32, u32),
        src: &[u8],
    ) -> Result<(), Failure<'a>> {
        let k = self.k as usize;
        let (pw, ph) = (w as usize * k, h as usize * k);
        let mut scaled = vec![0u8; pw * ph * 3];
        for y in 0..ph {
            for x in 0..pw {
                let from = ((y / k) * w as usize + x / k) * 3;
                let to = (y * pw + x) * 3;
                scaled[to..to + 3].copy_from_slice(&src[from..from + 3]);
            }
        }
        let k = self.k as i32;
        self.inner
            .blit_bitmap((pos.0 * k, pos.1 * k), (pw as u32, ph as u32), &scaled)
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), Failure<'a>> {
        let colour = style.color();
        let Some(font) = &self.font else {
            return self.inner.draw_text(text, style, self.up(pos));
        };
        let k = self.k as f32;
        if colour.alpha == 0.0 {
            return Ok(());
        }
        let scaled = font.as_scaled(PxScale::from(style.size() as f32 * k));
        // Advance widths with kerning, in fractional pixels.
        let mut width = 0.0f32;
        let mut previous = None;
        let mut carets = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                width += scaled.kern(p, id);
            }
            carets.push((id, width));
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        let height = scaled.ascent() - scaled.descent();
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let mut pixels = Vec::new();
        for (id, caret) in carets {
            let glyph =
                id.with_scale_and_position(scaled.scale(), point(caret + dx, scaled.ascent() + dy));
            if let Some(outline) = scaled.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|x, y, coverage| {
                    let local = (
                        bounds.min.x as i32 + x as i32,
                        bounds.min.y as i32 + y as i32,
                    );
                    pixels.push((local, coverage));
                });
            }
        }
        let origin = (pos.0 * k as i32, pos.1 * k as i32);
        for ((x, y), coverage) in pixels {
            let (tx, ty) = transform.transform(x, y);
            let alpha = colour.alpha * coverage.clamp(0.0, 1.0) as f64;
            if alpha > 0.0 {
                self.inner.draw_pixel(
                    (origin.0 + tx, origin.1 + ty),
                    BackendColor {
                        alpha,
                        rgb: colour.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_averages_areas() {
        // At the supersampling ratio it is the block average of `downsample`.
        let (w, h) = (5u32, 4u32);
        let k = SUPERSAMPLING;
        let physical: Vec<u8> = (0..(w * k * h * k * 3) as usize)
            .map(|i| ((i * 37) % 251) as u8)
            .collect();
        let a = downsample(&physical, (w, h));
        let b = resample(&physical, (w * k, h * k), (w, h));
        assert!(a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 1));
        // Columns 0/255 alternating, 3 → 2 pixels: each output pixel covers 1.5 source pixels,
        // [0, 1.5) = 0·1 + 255·0.5 → 85 and [1.5, 3) = 255·0.5 + 0·1 → 85 (for 0, 255, 0).
        let src: Vec<u8> = [0u8, 255, 0].iter().flat_map(|&v| [v, v, v]).collect();
        assert_eq!(resample(&src, (3, 1), (2, 1)), vec![85, 85, 85, 85, 85, 85]);
        // A uniform image stays uniform at any ratio.
        let grey = vec![77u8; 7 * 5 * 3];
        assert!(resample(&grey, (7, 5), (3, 2)).iter().all(|&v| v == 77));
    }
}
