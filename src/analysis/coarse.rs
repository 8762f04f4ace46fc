//! Coarse-graining of per-particle fields (Xbar_i = sum_j X_j e^{-r_ij/xi} / sum_j e^{-r_ij/xi} over r_ij < cut-off,
//! i included, minimum image) through a cell list, and min-max normalisation to [0, 1].

/// Coarse-graining settings (SPEC §7 defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoarseGrain {
    /// Length xi of the exponential weight.
    pub xi: f64,
    /// Cut-off in units of xi.
    pub cutoff_factor: f64,
}

impl Default for CoarseGrain {
    fn default() -> Self {
        CoarseGrain {
            xi: 3.0,
            cutoff_factor: 3.0,
        }
    }
}

/// Coarse-grains several fields of one configuration at once (the weights are computed once per pair and
/// shared). `positions` is [x0, y0, ...] in the box; `fields[f]` has one value per particle. Each pair is visited
/// once (half stencil), so the cost is one exp and one sqrt per pair within the cut-off. A cut-off above half the
/// box is cut to the minimum-image cell of each particle (only the nearest image of j counts).
pub fn coarse_grain(positions: &[f64], box_l: [f64; 2], cg: CoarseGrain, fields: &[&[f64]]) -> Vec<Vec<f64>> {
    let n = positions.len() / 2;
    let nf = fields.len();
    let rc = cg.xi * cg.cutoff_factor;
    let inv_xi = 1.0 / cg.xi;
    // Accumulators per particle: nf numerators then the denominator; the self term has weight 1.
    let stride = nf + 1;
    let mut acc = vec![0.0; n * stride];
    for i in 0..n {
        for f in 0..nf {
            acc[i * stride + f] = fields[f][i];
        }
        acc[i * stride + nf] = 1.0;
    }
    let [lx, ly] = box_l;
    let rc2 = rc * rc;
    let pair = |acc: &mut [f64], i: usize, j: usize, dx: f64, dy: f64| {
        let dx = dx - lx * (dx / lx).round();
        let dy = dy - ly * (dy / ly).round();
        let r2 = dx * dx + dy * dy;
        if r2 < rc2 {
            let w = (-r2.sqrt() * inv_xi).exp();
            for f in 0..nf {
                acc[i * stride + f] += w * fields[f][j];
                acc[j * stride + f] += w * fields[f][i];
            }
            acc[i * stride + nf] += w;
            acc[j * stride + nf] += w;
        }
    };
    // Cells at least rc/2 wide, 5x5 stencil; with fewer than 5 cells along an axis the stencil would wrap
    // onto itself, so small boxes take all pairs.
    let ncx = (lx / (0.5 * rc)).floor() as usize;
    let ncy = (ly / (0.5 * rc)).floor() as usize;
    if ncx < 5 || ncy < 5 {
        for i in 0..n {
            for j in i + 1..n {
                let dx = positions[2 * j] - positions[2 * i];
                let dy = positions[2 * j + 1] - positions[2 * i + 1];
                pair(&mut acc, i, j, dx, dy);
            }
        }
    } else {
        let cell_of = |i: usize| {
            let x = positions[2 * i].rem_euclid(lx);
            let y = positions[2 * i + 1].rem_euclid(ly);
            let cx = ((x / lx * ncx as f64) as usize).min(ncx - 1);
            let cy = ((y / ly * ncy as f64) as usize).min(ncy - 1);
            cy * ncx + cx
        };
        // Counting sort of particles by cell.
        let nc = ncx * ncy;
        let mut start = vec![0usize; nc + 1];
        let cells: Vec<usize> = (0..n).map(cell_of).collect();
        for &c in &cells {
            start[c + 1] += 1;
        }
        for c in 0..nc {
            start[c + 1] += start[c];
        }
        let mut fill = start.clone();
        let mut order = vec![0usize; n];
        for (i, &c) in cells.iter().enumerate() {
            order[fill[c]] = i;
            fill[c] += 1;
        }
        // Half stencil: each unordered pair of cells once.
        const HALF: [(i64, i64); 12] = [
            (1, 0),
            (2, 0),
            (-2, 1),
            (-1, 1),
            (0, 1),
            (1, 1),
            (2, 1),
            (-2, 2),
            (-1, 2),
            (0, 2),
            (1, 2),
            (2, 2),
        ];
        for cy in 0..ncy {
            for cx in 0..ncx {
                let c = cy * ncx + cx;
                let own = &order[start[c]..start[c + 1]];
                for (a, &i) in own.iter().enumerate() {
                    for &j in &own[a + 1..] {
                        let dx = positions[2 * j] - positions[2 * i];
                        let dy = positions[2 * j + 1] - positions[2 * i + 1];
                        pair(&mut acc, i, j, dx, dy);
                    }
                }
                for (ox, oy) in HALF {
                    let nx = (cx as i64 + ox).rem_euclid(ncx as i64) as usize;
                    let ny = (cy as i64 + oy).rem_euclid(ncy as i64) as usize;
                    let d = ny * ncx + nx;
                    for &i in own {
                        for &j in &order[start[d]..start[d + 1]] {
                            let dx = positions[2 * j] - positions[2 * i];
                            let dy = positions[2 * j + 1] - positions[2 * i + 1];
                            pair(&mut acc, i, j, dx, dy);
                        }
                    }
                }
            }
        }
    }
    (0..nf)
        .map(|f| (0..n).map(|i| acc[i * stride + f] / acc[i * stride + nf]).collect())
        .collect()
}

/// Min-max normalisation to [0, 1]: the minimum maps to exactly 0 and the maximum to exactly 1.
/// A constant field (max == min) has no scale; it maps to all zeros.
pub fn normalise(x: &[f64]) -> Vec<f64> {
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    if !(span > 0.0) {
        return vec![0.0; x.len()];
    }
    x.iter().map(|&v| (v - lo) / span).collect()
}
