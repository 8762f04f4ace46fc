//! Graphs of the propensity network: every particle a node, an edge each way between particles closer than the
//! cutoff under the periodic minimum image (a cell list; `gnn::bapst::cutoff_graph` is the brute-force
//! reference), carrying the relative vector; and the rotations and reflections of those vectors (augmentation and
//! symmetrized predictions).

use glasscam_kernels::gnn::bapst::{graph_from_lists, min_image, GnGraph};
use glasscam_kernels::rng::mix;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::io::dataset::Dataset;
use crate::learn::gnn::graph::Cells;

/// The graph of one configuration; refuses a cutoff of half the box or more (a pair would have two images
/// within it) and a cutoff that leaves a particle without neighbours (no message could reach it).
pub fn build(
    pos: &[f64],
    species: &[u32],
    box_l: f64,
    cutoff: f64,
) -> std::result::Result<GnGraph, String> {
    let n = species.len();
    if cutoff >= box_l / 2.0 {
        return Err(format!(
            "`cutoff` = {cutoff} must be below half the box side ({}); use a smaller cutoff or a larger system",
            box_l / 2.0
        ));
    }
    let d2 = |t: usize, s: usize| {
        let [dx, dy] = min_image(pos, t, s, box_l);
        dx * dx + dy * dy
    };
    // cells at least `cutoff` wide: every neighbour lies in the 3 x 3 cells around a particle's
    let nc = ((box_l / cutoff).floor() as usize).max(1);
    let lists: Vec<Vec<u32>> =
        if nc < 3 {
            (0..n)
                .into_par_iter()
                .map(|t| {
                    (0..n)
                        .filter(|&s| s != t && d2(t, s) < cutoff * cutoff)
                        .map(|s| s as u32)
                        .collect()
                })
                .collect()
        } else {
            let cells = Cells::new(pos, box_l, nc);
            (0..n)
                .into_par_iter()
                .map(|t| {
                    let (cx, cy) = cells.of(pos, t);
                    let mut list = Vec::new();
                    for dy in -1..=1 {
                        for dx in -1..=1 {
                            let near = cells.at(cx + dx, cy + dy).iter().copied();
                            list.extend(near.filter(|&s| {
                                s as usize != t && d2(t, s as usize) < cutoff * cutoff
                            }));
                        }
                    }
                    list.sort_unstable();
                    list
                })
                .collect()
        };
    if let Some(t) = lists.iter().position(|l| l.is_empty()) {
        let nearest = (0..n)
            .filter(|&s| s != t)
            .map(|s| d2(t, s).sqrt())
            .fold(f64::INFINITY, f64::min);
        return Err(format!(
            "particle {t} has no neighbour within the cutoff {cutoff} (its nearest is at {nearest:.4}), so no \
             message can reach it; raise `cutoff` in the model file above {nearest:.4}"
        ));
    }
    Ok(graph_from_lists(pos, species, box_l, cutoff, &lists))
}

/// The graphs of snapshots `idx` of `data`, in parallel.
pub fn graphs(data: &Dataset, cutoff: f64, idx: &[usize]) -> Result<Vec<GnGraph>> {
    idx.par_iter()
        .map(|&k| {
            build(data.snapshot(k), &data.species, data.box_l(), cutoff).map_err(|m| {
                Error::Dataset {
                    path: data.dir.clone(),
                    message: format!("snapshot {k}: {m}"),
                }
            })
        })
        .collect()
}

/// An orthogonal map of the plane: rotation by `angle`, after a mirror in the x axis when `reflect`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orthogonal {
    pub angle: f64,
    pub reflect: bool,
}

impl Orthogonal {
    /// The square's 8 symmetries: the rotations by multiples of 90 degrees, with and without the mirror.
    pub fn square() -> [Orthogonal; 8] {
        std::array::from_fn(|i| Orthogonal {
            angle: (i % 4) as f64 * std::f64::consts::FRAC_PI_2,
            reflect: i >= 4,
        })
    }

    /// A random one, uniform in angle and even in reflection, drawn from `seed`.
    pub fn random(seed: u64) -> Orthogonal {
        let h = mix(seed ^ 0x0A06_0000_0000_0001);
        Orthogonal {
            angle: (h >> 11) as f64 / (1u64 << 53) as f64 * std::f64::consts::TAU,
            reflect: mix(h) & 1 == 1,
        }
    }

    /// The map applied to [x0, y0, x1, y1, ...]. The square's symmetries use exact cosines and sines (0, +-1),
    /// so that a rotated configuration's edge vectors are bit for bit the rotated vectors.
    pub fn apply(&self, v: &[f64]) -> Vec<f64> {
        let q = self.angle / std::f64::consts::FRAC_PI_2;
        let (c, s) = if q == q.round() {
            [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
                [(q.round() as i64).rem_euclid(4) as usize]
        } else {
            (self.angle.cos(), self.angle.sin())
        };
        v.chunks_exact(2)
            .flat_map(|p| {
                let (x, y) = (p[0], if self.reflect { -p[1] } else { p[1] });
                [c * x - s * y, s * x + c * y]
            })
            .collect()
    }
}

/// `g` with its edge vectors mapped by `o`.
pub fn transformed(g: &GnGraph, o: Orthogonal) -> GnGraph {
    GnGraph {
        graph: g.graph.clone(),
        vec: o.apply(&g.vec),
    }
}
