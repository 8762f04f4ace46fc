//! Graphs from configurations: symmetrised k-nearest-neighbour graphs, under the periodic minimum image (the
//! default) or in a square window without periodic images (Swanson's variant), as `GraphBatch` CSR.

use glasscam_kernels::gnn::GraphBatch;
use glasscam_kernels::rng::mix;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Which particles and distances make a graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Region {
    /// Every particle, minimum-image distances in the periodic box.
    Periodic,
    /// The particles in a square window of side `side` (length units) whose lower corner is (lo, lo), with
    /// lo ~ U(0, L - side) drawn from `seed` (Swanson's windows lie on the box diagonal); plain distances.
    Window { side: f64, seed: u64 },
}

#[inline]
fn min_image(d: f64, l: f64) -> f64 {
    d - l * (d / l).round()
}

fn dist2(pos: &[f64], i: usize, j: usize, box_l: Option<f64>) -> f64 {
    let (mut dx, mut dy) = (pos[2 * j] - pos[2 * i], pos[2 * j + 1] - pos[2 * i + 1]);
    if let Some(l) = box_l {
        dx = min_image(dx, l);
        dy = min_image(dy, l);
    }
    dx * dx + dy * dy
}

/// The k nearest other particles of every particle by brute force, ties broken by index: the reference.
pub fn knn_brute(pos: &[f64], k: usize, box_l: Option<f64>) -> Vec<Vec<u32>> {
    let n = pos.len() / 2;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut c: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (dist2(pos, i, j, box_l), j as u32))
                .collect();
            c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            c.truncate(k);
            c.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

/// Particles binned into nc x nc square cells of a periodic box.
pub struct Cells {
    nc: usize,
    box_l: f64,
    heads: Vec<Vec<u32>>,
}

impl Cells {
    /// The particles of `pos` ([x0, y0, x1, ...]) binned into nc x nc cells of a box of side `box_l`.
    pub fn new(pos: &[f64], box_l: f64, nc: usize) -> Cells {
        let mut cells = Cells {
            nc,
            box_l,
            heads: vec![Vec::new(); nc * nc],
        };
        for i in 0..pos.len() / 2 {
            let (cx, cy) = cells.of(pos, i);
            cells.heads[cy as usize * nc + cx as usize].push(i as u32);
        }
        cells
    }

    /// The side of a cell.
    pub fn side(&self) -> f64 {
        self.box_l / self.nc as f64
    }

    /// The cell (column, row) of particle `i`.
    pub fn of(&self, pos: &[f64], i: usize) -> (i64, i64) {
        let c = |x: f64| {
            ((x.rem_euclid(self.box_l) / self.side()).floor() as usize).min(self.nc - 1) as i64
        };
        (c(pos[2 * i]), c(pos[2 * i + 1]))
    }

    /// The particles in the cell at (cx, cy), wrapped into the box.
    pub fn at(&self, cx: i64, cy: i64) -> &[u32] {
        let nc = self.nc as i64;
        &self.heads[(cy.rem_euclid(nc) * nc + cx.rem_euclid(nc)) as usize]
    }
}

/// The k nearest other particles under the periodic minimum image, with a cell list: rings of cells around a
/// particle are searched until k candidates are closer than the searched radius. Same result as `knn_brute`.
pub fn knn_periodic(pos: &[f64], k: usize, box_l: f64) -> Vec<Vec<u32>> {
    let n = pos.len() / 2;
    // about two particles per cell
    let nc = ((n as f64 / 2.0).sqrt().floor() as usize).max(1);
    if nc < 5 {
        return knn_brute(pos, k, Some(box_l));
    }
    let cells = Cells::new(pos, box_l, nc);
    let cell = cells.side();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (cx, cy) = cells.of(pos, i);
            let mut cand: Vec<(f64, u32)> = Vec::new();
            let mut ring = 0i64;
            loop {
                // cells at Chebyshev distance `ring` from (cx, cy)
                for dy in -ring..=ring {
                    for dx in -ring..=ring {
                        if dx.abs().max(dy.abs()) != ring {
                            continue;
                        }
                        for &j in cells.at(cx + dx, cy + dy) {
                            if j as usize != i {
                                cand.push((dist2(pos, i, j as usize, Some(box_l)), j));
                            }
                        }
                    }
                }
                // every particle within ring * cell of i has been seen
                let covered = ring as f64 * cell;
                if cand.len() >= k {
                    cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    if cand[k - 1].0.sqrt() <= covered {
                        break;
                    }
                }
                ring += 1;
                if 2 * ring + 1 > nc as i64 {
                    return knn_brute_one(pos, i, k, box_l);
                }
            }
            cand.truncate(k);
            cand.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

fn knn_brute_one(pos: &[f64], i: usize, k: usize, box_l: f64) -> Vec<u32> {
    let n = pos.len() / 2;
    let mut c: Vec<(f64, u32)> = (0..n)
        .filter(|&j| j != i)
        .map(|j| (dist2(pos, i, j, Some(box_l)), j as u32))
        .collect();
    c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    c.truncate(k);
    c.into_iter().map(|x| x.1).collect()
}

/// One graph from neighbour lists: the union of i -> j and j -> i, edges grouped by target and ordered by source.
pub fn from_neighbours(
    pos: &[f64],
    species: &[u32],
    nbrs: &[Vec<u32>],
    box_l: Option<f64>,
) -> GraphBatch {
    let n = species.len();
    let mut pairs: Vec<(u32, u32)> =
        Vec::with_capacity(2 * n * nbrs.first().map_or(0, |x| x.len()));
    for (i, list) in nbrs.iter().enumerate() {
        for &j in list {
            pairs.push((j, i as u32));
            pairs.push((i as u32, j));
        }
    }
    // (dst, src)
    pairs.sort_unstable();
    pairs.dedup();
    let mut in_ptr = vec![0u32; n + 1];
    for &(d, _) in &pairs {
        in_ptr[d as usize + 1] += 1;
    }
    for v in 0..n {
        in_ptr[v + 1] += in_ptr[v];
    }
    let dst: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let src: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    let rev: Vec<u32> = pairs
        .iter()
        .map(|&(d, s)| {
            // the edge d -> s sits among the edges into s, ordered by source
            let seg = &src[in_ptr[s as usize] as usize..in_ptr[s as usize + 1] as usize];
            in_ptr[s as usize] + seg.binary_search(&d).unwrap_or(0) as u32
        })
        .collect();
    let dist = pairs
        .iter()
        .map(|&(d, s)| dist2(pos, s as usize, d as usize, box_l).sqrt())
        .collect();
    GraphBatch {
        node_ptr: vec![0, n as u32],
        edge_ptr: vec![0, pairs.len() as u32],
        in_ptr,
        src,
        dst,
        rev,
        species: species.to_vec(),
        dist,
    }
}

/// The graph of one configuration, and the particle index of each node (all particles for `Periodic`).
pub fn build(
    pos: &[f64],
    species: &[u32],
    box_l: f64,
    k: usize,
    region: Region,
) -> Result<(GraphBatch, Vec<u32>)> {
    let (p, s, idx, periodic) = match region {
        Region::Periodic => (
            pos.to_vec(),
            species.to_vec(),
            (0..species.len() as u32).collect(),
            true,
        ),
        Region::Window { side, seed } => {
            if !(side > 0.0 && side <= box_l) {
                return Err(Error::Input(format!(
                    "window side {side} must be in (0, box side {box_l}]"
                )));
            }
            let lo = (mix(seed) >> 11) as f64 / (1u64 << 53) as f64 * (box_l - side);
            let idx: Vec<u32> = (0..species.len())
                .filter(|&i| {
                    let (x, y) = (pos[2 * i], pos[2 * i + 1]);
                    x >= lo && x <= lo + side && y >= lo && y <= lo + side
                })
                .map(|i| i as u32)
                .collect();
            let p = idx
                .iter()
                .flat_map(|&i| [pos[2 * i as usize], pos[2 * i as usize + 1]])
                .collect();
            let s = idx.iter().map(|&i| species[i as usize]).collect();
            (p, s, idx, false)
        }
    };
    let n = s.len();
    if k == 0 {
        return Err(Error::Input(
            "k = 0 leaves every node isolated (no edges carry messages); use k >= 1".into(),
        ));
    }
    if k >= n {
        return Err(Error::Input(format!(
            "k = {k} nearest neighbours needs more than {k} particles but the graph has {n}{}; use a smaller k",
            if periodic { "" } else { " in its window (use a larger window)" }
        )));
    }
    let nbrs = if periodic {
        knn_periodic(&p, k, box_l)
    } else {
        knn_brute(&p, k, None)
    };
    Ok((
        from_neighbours(&p, &s, &nbrs, periodic.then_some(box_l)),
        idx,
    ))
}

/// Graphs of many configurations (rayon over configurations), in order.
pub fn build_many(
    configs: &[&[f64]],
    species: &[u32],
    box_l: f64,
    k: usize,
    region: impl Fn(usize) -> Region + Sync,
) -> Result<Vec<(GraphBatch, Vec<u32>)>> {
    configs
        .par_iter()
        .enumerate()
        .map(|(c, pos)| build(pos, species, box_l, k, region(c)))
        .collect()
}
