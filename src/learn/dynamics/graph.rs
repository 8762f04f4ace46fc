//! Graphs of the propensity network: every particle a node, an edge each way between particles closer than the
//! cutoff under the periodic minimum image (a cell list; `gnn::bapst::cutoff_graph` is the brute-force
//! reference), carrying the relative vector; the inherent structure's inputs beside them (`inherent = true`); and
//! the rotations and reflections of those vectors (augmentation and symmetrized predictions).

use glasscam_kernels::gnn::bapst::{graph_from_lists, min_image, GnGraph};
use glasscam_kernels::md::reference;
use glasscam_kernels::rng::mix;
use rayon::prelude::*;

use crate::analysis::descriptors::{descriptors, particle_energies, Descriptors};
use crate::error::{Error, Result};
use crate::io::dataset::Dataset;
use crate::learn::gnn::graph::Cells;
use crate::sim::minimize::{setup_of, InherentSet};

/// Node inputs with the inherent structure: the displacement (x, y) from the configuration to the inherent
/// structure, its length, and the particle's standardized energy there.
pub const INHERENT_NODE_IN: usize = 4;
/// Edge inputs with the inherent structure: the relative vector over the cutoff in the configuration, then in the
/// inherent structure.
pub const INHERENT_EDGE_IN: usize = 4;

/// The inherent structures of a data set's configurations as the network's inputs, with the mean and standard
/// deviation of the particles' energies there over the training configurations.
pub struct InherentInputs<'a> {
    pub set: &'a InherentSet,
    pub energy: [f64; 2],
}

/// A descriptor column among the node inputs: its name (`glasscam baselines`' column names) and the mean and
/// standard deviation over the training configurations' particles that standardize it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ColumnScale {
    pub name: String,
    pub mean: f64,
    pub std: f64,
}

/// The baselines' descriptors as node inputs: raw (0) and coarse-grained at `lengths`, standardized by `columns`.
pub struct DescriptorInputs {
    pub lengths: Vec<f64>,
    pub columns: Vec<ColumnScale>,
}

/// The descriptors of snapshot `k` of `data` at `lengths`: of its inherent structure in `set` when given (with the
/// distance to it), else of the configuration itself.
pub fn described(
    data: &Dataset,
    set: Option<&InherentSet>,
    k: usize,
    lengths: &[f64],
) -> Result<Descriptors> {
    let setup = setup_of(data);
    let diameters = data.manifest.system.diameters();
    let pos = data.snapshot(k);
    match set {
        Some(set) => {
            let min = set.data.snapshot(set.row_of(data, k)?);
            descriptors(&setup, &diameters, min, Some(pos), lengths)
        }
        None => descriptors(&setup, &diameters, pos, None, lengths),
    }
}

/// The descriptor columns at `lengths` of snapshots `idx` (of their inherent structures in `set` when given),
/// each with its mean and standard deviation over every particle (1 for a constant column).
pub fn descriptor_scale(
    data: &Dataset,
    set: Option<&InherentSet>,
    idx: &[usize],
    lengths: &[f64],
) -> Result<Vec<ColumnScale>> {
    let per: Vec<Descriptors> = idx
        .par_iter()
        .map(|&k| described(data, set, k, lengths))
        .collect::<Result<_>>()?;
    let Some(first) = per.first() else {
        return Ok(Vec::new());
    };
    Ok((0..first.n_features())
        .map(|f| {
            let all: Vec<f64> = per.iter().flat_map(|d| d.column(f)).collect();
            let m = all.len().max(1) as f64;
            let mean = all.iter().sum::<f64>() / m;
            let std = (all.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / m).sqrt();
            ColumnScale {
                name: first.names[f].clone(),
                mean,
                std: if std > 0.0 { std } else { 1.0 },
            }
        })
        .collect())
}

/// `g` with the standardized descriptor columns `d` appended to every node's inputs.
pub fn with_descriptors(g: &mut GnGraph, d: &Descriptors, columns: &[ColumnScale]) {
    let n = g.graph.n_nodes();
    let w = g.node.len() / n.max(1);
    let f = d.n_features();
    g.node = (0..n)
        .flat_map(|i| {
            let own = g.node[i * w..(i + 1) * w].iter().copied();
            let desc = d.values[i * f..(i + 1) * f]
                .iter()
                .zip(columns)
                .map(|(x, c)| (x - c.mean) / c.std);
            own.chain(desc).collect::<Vec<_>>()
        })
        .collect();
}

/// A warning when some of the minima in `set` did not converge (FIRE stopped at `max_iter` or failed): the
/// network then reads positions that are not minima.
pub fn unconverged_warning(set: &InherentSet) -> Option<String> {
    let bad = &set.info.not_converged;
    (!bad.is_empty()).then(|| {
        format!(
            "{} of the {} minima in {} did not converge (rows {:?}), so the network reads positions that are not \
             minima there; their outcome is in inherent.json: for those stopped at the cap run `glasscam minimize` \
             again with a larger `--max-iter`; a failed one starts from a configuration with overlapping particles",
            bad.len(),
            set.info.snapshots.len(),
            set.data.dir.display(),
            &bad[..bad.len().min(10)]
        )
    })
}

/// The mean and standard deviation of every particle's energy in the inherent structures of snapshots `idx`.
pub fn energy_scale(data: &Dataset, set: &InherentSet, idx: &[usize]) -> Result<[f64; 2]> {
    let setup = setup_of(data);
    let per: Vec<Vec<f64>> = idx
        .par_iter()
        .map(|&k| particle_energies(&setup, set.data.snapshot(set.row_of(data, k)?)))
        .collect::<Result<_>>()?;
    let all: Vec<f64> = per.into_iter().flatten().collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let var = all.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / all.len().max(1) as f64;
    Ok([mean, var.sqrt().max(f64::MIN_POSITIVE)])
}

/// `g`, the graph of configuration `pos`, with the inputs of its inherent structure `min`: the edges'
/// relative vectors there after the configuration's, and per node the displacement, its length and the energy
/// (`energies`, standardized by `scale`).
pub fn with_inherent(
    g: &mut GnGraph,
    (pos, min): (&[f64], &[f64]),
    energies: &[f64],
    scale: [f64; 2],
    box_l: f64,
    cutoff: f64,
) {
    let b = &g.graph;
    g.vec = (0..b.n_edges())
        .flat_map(|e| {
            let [dx, dy] = min_image(min, b.dst[e] as usize, b.src[e] as usize, box_l);
            [g.vec[2 * e], g.vec[2 * e + 1], dx / cutoff, dy / cutoff]
        })
        .collect();
    g.node = energies
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            let d = |a: usize| min[2 * i + a] - pos[2 * i + a];
            let [ux, uy] = reference::min_image([d(0), d(1)], box_l);
            [ux, uy, ux.hypot(uy), (e - scale[0]) / scale[1]]
        })
        .collect();
}

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

/// The graphs of snapshots `idx` of `data`, in parallel, with the inputs of their inherent structures and their
/// descriptors (after the inherent structure's) when given.
pub fn graphs(
    data: &Dataset,
    cutoff: f64,
    idx: &[usize],
    inherent: Option<&InherentInputs>,
    desc: Option<&DescriptorInputs>,
) -> Result<Vec<GnGraph>> {
    let setup = inherent.map(|_| setup_of(data));
    idx.par_iter()
        .map(|&k| {
            let pos = data.snapshot(k);
            let mut g =
                build(pos, &data.species, data.box_l(), cutoff).map_err(|m| Error::Dataset {
                    path: data.dir.clone(),
                    message: format!("snapshot {k}: {m}"),
                })?;
            if let (Some(inh), Some(setup)) = (inherent, &setup) {
                let min = inh.set.data.snapshot(inh.set.row_of(data, k)?);
                let e = particle_energies(setup, min)?;
                with_inherent(&mut g, (pos, min), &e, inh.energy, data.box_l(), cutoff);
            }
            if let Some(di) = desc {
                // the column count matches: `load` refuses a model whose `descriptors` do not fit its settings
                let d = described(data, inherent.map(|i| i.set), k, &di.lengths)?;
                with_descriptors(&mut g, &d, &di.columns);
            }
            Ok(g)
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

/// `g` with its edge vectors mapped by `o`: every pair of edge inputs, and the first `vectors` pairs of each
/// node's inputs (the displacement to the inherent structure; the rest are lengths, energies and descriptors).
pub fn transformed(g: &GnGraph, o: Orthogonal, vectors: usize) -> GnGraph {
    let nv = g.graph.n_nodes().max(1);
    let node = match g.node.len() / nv {
        0 => Vec::new(),
        w => g
            .node
            .chunks_exact(w)
            .flat_map(|row| {
                let mut r = row.to_vec();
                r[..2 * vectors].copy_from_slice(&o.apply(&row[..2 * vectors]));
                r
            })
            .collect(),
    };
    GnGraph {
        graph: g.graph.clone(),
        vec: o.apply(&g.vec),
        node,
    }
}
