//! Polylines prepared for drawing: clipped to the plot window (plotters does not clip) and
//! thinned to a few pixels per segment.

/// Clip a polyline to [x0, x1] × [y0, y1] (Liang–Barsky per segment); returns the visible
/// pieces. Non-finite points break the line.
pub(crate) fn clip_polyline(
    points: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let (xmin, xmax, ymin, ymax) = (x0.min(x1), x0.max(x1), y0.min(y1), y0.max(y1));
    let mut pieces = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !(finite(&a) && finite(&b)) {
            flush(&mut current, &mut pieces);
            continue;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [
            (-dx, a.0 - xmin),
            (dx, xmax - a.0),
            (-dy, a.1 - ymin),
            (dy, ymax - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            flush(&mut current, &mut pieces);
            continue;
        }
        let start = (a.0 + t0 * dx, a.1 + t0 * dy);
        let end = (a.0 + t1 * dx, a.1 + t1 * dy);
        if current.is_empty() || t0 > 0.0 {
            flush(&mut current, &mut pieces);
            current.push(start);
        }
        current.push(end);
        if t1 < 1.0 {
            flush(&mut current, &mut pieces);
        }
    }
    flush(&mut current, &mut pieces);
    // A single visible point (no segments) is dropped; markers handle isolated points.
    pieces
}

/// Drop points closer than `min_px` pixels to the last one kept (the first and last points are
/// always kept): a dense run (5000 GD steps) is drawn as one clean stroke, not thousands of
/// overlapping sub-pixel segments.
pub(crate) fn decimate(
    points: &[(f64, f64)],
    (sx, sy): (f64, f64),
    min_px: f64,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (k, &p) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(&q) => {
                k + 1 == points.len() || ((p.0 - q.0) * sx).hypot((p.1 - q.1) * sy) >= min_px
            }
        };
        if keep {
            out.push(p);
        }
    }
    out
}

fn flush(current: &mut Vec<(f64, f64)>, pieces: &mut Vec<Vec<(f64, f64)>>) {
    if current.len() >= 2 {
        pieces.push(std::mem::take(current));
    } else {
        current.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_splits_and_trims() {
        let pieces = clip_polyline(
            &[(-1.0, 0.5), (0.5, 0.5), (2.0, 0.5), (0.5, 0.2)],
            (0.0, 1.0),
            (0.0, 1.0),
        );
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.0, 0.5), (0.5, 0.5), (1.0, 0.5)]);
        assert_eq!(pieces[1][1], (0.5, 0.2));
    }

    #[test]
    fn decimation_keeps_ends_and_spacing() {
        let pts: Vec<(f64, f64)> = (0..=100).map(|k| (k as f64 * 0.01, 0.0)).collect();
        let kept = decimate(&pts, (100.0, 100.0), 4.0);
        assert_eq!(kept.first(), pts.first());
        assert_eq!(kept.last(), pts.last());
        assert!(
            kept.len() > 20 && kept.len() < 30,
            "{} points kept",
            kept.len()
        );
    }
}
