//! Contour lines of a field sampled on a grid, by marching squares: each cell whose corners lie
//! on both sides of the level contributes a segment between linearly interpolated edge
//! crossings (saddles resolved by the cell-centre average), and segments sharing an edge are
//! joined into polylines. Cells with a NaN corner (masked) are skipped: contours stop at masks
//! rather than being interpolated across them.

use std::collections::HashMap;

use super::axes::CurveStyle;

/// A polyline in plot coordinates.
pub(crate) type Polyline = Vec<(f64, f64)>;

/// Contour lines with the style and legend label they are drawn with.
pub(crate) struct LabelledContour {
    pub label: String,
    pub lines: Vec<Polyline>,
    pub style: CurveStyle,
}

/// A field on a grid: `values[iy·nx + ix]` at (xs[ix], ys[iy]).
pub(crate) struct GridField<'a> {
    pub xs: &'a [f64],
    pub ys: &'a [f64],
    pub values: &'a [f64],
}

/// Edges of a cell: 0 bottom, 1 right, 2 top, 3 left.
const SEGMENTS: [&[(u8, u8)]; 16] = [
    &[],
    &[(3, 0)],
    &[(0, 1)],
    &[(3, 1)],
    &[(1, 2)],
    &[], // saddle
    &[(0, 2)],
    &[(3, 2)],
    &[(3, 2)],
    &[(0, 2)],
    &[], // saddle
    &[(1, 2)],
    &[(3, 1)],
    &[(0, 1)],
    &[(3, 0)],
    &[],
];

/// A grid edge: horizontal edges are (ix, iy)–(ix+1, iy), vertical ones (ix, iy)–(ix, iy+1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Edge {
    horizontal: bool,
    ix: usize,
    iy: usize,
}

impl GridField<'_> {
    fn at(&self, ix: usize, iy: usize) -> f64 {
        self.values[iy * self.xs.len() + ix]
    }

    fn edge(ix: usize, iy: usize, side: u8) -> Edge {
        match side {
            0 => Edge {
                horizontal: true,
                ix,
                iy,
            },
            1 => Edge {
                horizontal: false,
                ix: ix + 1,
                iy,
            },
            2 => Edge {
                horizontal: true,
                ix,
                iy: iy + 1,
            },
            _ => Edge {
                horizontal: false,
                ix,
                iy,
            },
        }
    }

    fn crossing(&self, e: Edge, level: f64) -> (f64, f64) {
        let (ix2, iy2) = if e.horizontal {
            (e.ix + 1, e.iy)
        } else {
            (e.ix, e.iy + 1)
        };
        let (v1, v2) = (self.at(e.ix, e.iy), self.at(ix2, iy2));
        let t = ((level - v1) / (v2 - v1)).clamp(0.0, 1.0);
        let (x1, y1) = (self.xs[e.ix], self.ys[e.iy]);
        let (x2, y2) = (self.xs[ix2], self.ys[iy2]);
        (x1 + t * (x2 - x1), y1 + t * (y2 - y1))
    }

    /// The contour polylines at `level`, in the grid's coordinates.
    pub(crate) fn contour(&self, level: f64) -> Vec<Polyline> {
        let (nx, ny) = (self.xs.len(), self.ys.len());
        let mut segments: Vec<(Edge, Edge)> = Vec::new();
        for iy in 0..ny.saturating_sub(1) {
            for ix in 0..nx.saturating_sub(1) {
                let corners = [
                    self.at(ix, iy),
                    self.at(ix + 1, iy),
                    self.at(ix + 1, iy + 1),
                    self.at(ix, iy + 1),
                ];
                if corners.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let case = corners
                    .iter()
                    .enumerate()
                    .fold(0usize, |acc, (k, &v)| acc | (usize::from(v >= level) << k));
                let centre_high = corners.iter().sum::<f64>() / 4.0 >= level;
                let pairs: &[(u8, u8)] = match (case, centre_high) {
                    (5, true) | (10, false) => &[(0, 1), (2, 3)],
                    (5, false) | (10, true) => &[(3, 0), (1, 2)],
                    _ => SEGMENTS[case],
                };
                for &(a, b) in pairs {
                    segments.push((Self::edge(ix, iy, a), Self::edge(ix, iy, b)));
                }
            }
        }
        self.join(&segments, level)
    }

    /// Join segments that share an edge into polylines.
    fn join(&self, segments: &[(Edge, Edge)], level: f64) -> Vec<Polyline> {
        let mut by_edge: HashMap<Edge, Vec<usize>> = HashMap::new();
        for (k, &(a, b)) in segments.iter().enumerate() {
            by_edge.entry(a).or_default().push(k);
            by_edge.entry(b).or_default().push(k);
        }
        let mut used = vec![false; segments.len()];
        let mut lines = Vec::new();
        // Open chains first (start at an edge with one segment), then closed loops.
        let mut starts: Vec<(Edge, usize)> = Vec::new();
        for (k, &(a, b)) in segments.iter().enumerate() {
            for e in [a, b] {
                if by_edge[&e].len() == 1 {
                    starts.push((e, k));
                }
            }
        }
        let closed_starts = (0..segments.len()).map(|k| (segments[k].0, k));
        for (start_edge, first) in starts.into_iter().chain(closed_starts) {
            if used[first] {
                continue;
            }
            let mut line = vec![self.crossing(start_edge, level)];
            let (mut edge, mut seg) = (start_edge, first);
            loop {
                used[seg] = true;
                let (a, b) = segments[seg];
                let next_edge = if a == edge { b } else { a };
                line.push(self.crossing(next_edge, level));
                edge = next_edge;
                match by_edge[&edge].iter().find(|&&s| !used[s]) {
                    Some(&s) => seg = s,
                    None => break,
                }
            }
            lines.push(line);
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_contour_is_one_closed_line_at_the_right_radius() {
        let n = 41;
        let xs: Vec<f64> = (0..n)
            .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
            .collect();
        let values: Vec<f64> = (0..n * n)
            .map(|k| {
                let (x, y) = (xs[k % n], xs[k / n]);
                x * x + y * y
            })
            .collect();
        let field = GridField {
            xs: &xs,
            ys: &xs,
            values: &values,
        };
        let lines = field.contour(0.25);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line.first(), line.last());
        for &(x, y) in line {
            assert!(((x * x + y * y).sqrt() - 0.5).abs() < 0.01);
        }
    }

    #[test]
    fn masked_cells_break_the_line() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys = [0.0, 1.0];
        // f = x − 1.5 with the middle column masked.
        let values = [-1.5, f64::NAN, 0.5, 1.5, -1.5, f64::NAN, 0.5, 1.5];
        let field = GridField {
            xs: &xs,
            ys: &ys,
            values: &values,
        };
        assert!(field.contour(0.0).is_empty());
    }
}
