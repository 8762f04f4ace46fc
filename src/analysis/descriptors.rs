//! Per-particle structural descriptors of one configuration, each raw and coarse-grained at several lengths: the
//! potential energy (of the inherent structure when given), local density, Voronoi cell area and perimeter,
//! Tong-Tanaka's Theta and, of an inherent structure, each particle's distance from its place in the configuration
//! (docs/methods.md, "Descriptor baselines").

use glasscam_kernels::md::reference::{compute_forces, min_image, rebuild, RefReplica};
use glasscam_kernels::md::{Failure, MdSetup};

use super::coarse::{coarse_grain_with_weights, CoarseGrain};
use super::tong_tanaka::tong_tanaka;
use super::voronoi::voronoi;
use crate::error::{Error, Result};

/// The descriptors, in the order of every `Descriptors` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Potential energy of the particle: half of each of its pairs' energies.
    Energy,
    /// Local number density: 1 / Voronoi area raw; sum_{j != i} e^{-r_ij/xi} / (2 pi xi^2) at length xi.
    Density,
    VoronoiArea,
    VoronoiPerimeter,
    /// Tong-Tanaka's Theta with the system's diameters.
    TongTanaka,
    /// Distance between a particle in the configuration and in its inherent structure (minimum image); only with an
    /// inherent structure.
    IsDistance,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Energy,
        Kind::Density,
        Kind::VoronoiArea,
        Kind::VoronoiPerimeter,
        Kind::TongTanaka,
        Kind::IsDistance,
    ];

    /// The name in files and tables; the energy of an inherent structure is `epot_is`, of the configuration itself
    /// `epot`.
    pub fn name(self, inherent: bool) -> &'static str {
        match self {
            Kind::Energy if inherent => "epot_is",
            Kind::Energy => "epot",
            Kind::Density => "density",
            Kind::VoronoiArea => "voronoi_area",
            Kind::VoronoiPerimeter => "voronoi_perimeter",
            Kind::TongTanaka => "tong_tanaka",
            Kind::IsDistance => "is_distance",
        }
    }
}

/// The descriptor columns of `descriptors` at `lengths` lengths, with or without an inherent structure.
pub fn n_columns(inherent: bool, lengths: usize) -> usize {
    let kinds = Kind::ALL.len() - usize::from(!inherent);
    kinds * lengths
}

/// Refuses coarse-graining lengths (setting `what`) that are not finite and >= 0, or that repeat.
pub fn check_lengths(what: &str, lengths: &[f64]) -> std::result::Result<(), String> {
    if let Some(x) = lengths.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(format!(
            "`{what}` holds {x}; give lengths >= 0 in particle diameters (0: the raw descriptor)"
        ));
    }
    let mut sorted = lengths.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!(
            "`{what}` {lengths:?} lists a length twice; give each once"
        ));
    }
    Ok(())
}

/// A descriptor's column name: the kind's name raw (xi = 0), `<name>_cg<xi>` coarse-grained at xi.
pub fn column_name(kind: Kind, inherent: bool, xi: f64) -> String {
    if xi == 0.0 {
        kind.name(inherent).to_string()
    } else {
        format!("{}_cg{xi}", kind.name(inherent))
    }
}

/// The descriptors of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptors {
    /// [F] column names, kind-major then length (`column_name`).
    pub names: Vec<String>,
    /// [F] each column's kind and length (0: raw).
    pub columns: Vec<(Kind, f64)>,
    /// [N, F] row-major.
    pub values: Vec<f64>,
}

impl Descriptors {
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// Column `f` over the particles.
    pub fn column(&self, f: usize) -> Vec<f64> {
        let nf = self.n_features();
        self.values.iter().skip(f).step_by(nf).copied().collect()
    }
}

/// Per-particle potential energies of a configuration [x0, y0, x1, ...] under `setup`'s pair potential (either
/// pair form): the kernels' f64 reference lists and pair evaluation, half of each pair to each particle, so they
/// sum to the total the MD reports.
pub fn particle_energies(setup: &MdSetup, positions: &[f64]) -> Result<Vec<f64>> {
    let n = setup.n;
    if positions.len() != 2 * n {
        return Err(Error::Input(format!(
            "per-particle energies: {} coordinates for a system of {n} particles (2 per particle)",
            positions.len()
        )));
    }
    let l = setup.box_l;
    let mut rep = RefReplica {
        pos: positions
            .chunks_exact(2)
            .map(|p| [p[0].rem_euclid(l) % l, p[1].rem_euclid(l) % l])
            .collect(),
        force: vec![[0.0; 2]; n],
        pe: vec![0.0; n],
        ..Default::default()
    };
    rebuild(setup, &mut rep);
    // a large force is no error here (any configuration has energies); a non-finite one is
    let (_, failure) = compute_forces(setup, &mut rep);
    if failure == Some(Failure::NonFinite) {
        return Err(Error::Input(format!(
            "per-particle energies: {} (particles on top of each other?); give an equilibrated or minimised \
             configuration",
            Failure::NonFinite.describe()
        )));
    }
    Ok(rep.pe)
}

/// The descriptors of one configuration [x0, y0, ...] of `setup`'s system, raw (a length of 0) and coarse-grained
/// with e^{-r/xi} at each other length of `lengths` (cut-off 3 xi). `diameters` (per species) enter Tong-Tanaka.
/// With `start`, `positions` are the inherent structure of configuration `start`: the energy is named `epot_is` and
/// each particle's distance between the two is a sixth descriptor.
pub fn descriptors(
    setup: &MdSetup,
    diameters: &[f64],
    positions: &[f64],
    start: Option<&[f64]>,
    lengths: &[f64],
) -> Result<Descriptors> {
    let n = setup.n;
    let l = setup.box_l;
    let inherent = start.is_some();
    let distance: Vec<f64> = match start {
        Some(p0) => (0..n)
            .map(|i| {
                let d = |a: usize| positions[2 * i + a] - p0[2 * i + a];
                let [dx, dy] = min_image([d(0), d(1)], l);
                dx.hypot(dy)
            })
            .collect(),
        None => Vec::new(),
    };
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|&k| inherent || k != Kind::IsDistance)
        .collect();
    let energy = particle_energies(setup, positions)?;
    let v = voronoi(positions, [l, l])?;
    let perimeter: Vec<f64> = (0..n)
        .map(|i| v.edge_lengths[v.offsets[i]..v.offsets[i + 1]].iter().sum())
        .collect();
    let theta = tong_tanaka(&v, &setup.species, diameters);
    let density: Vec<f64> = v.areas.iter().map(|a| 1.0 / a).collect();
    let raw: Vec<&[f64]> = [&energy, &density, &v.areas, &perimeter, &theta, &distance]
        .into_iter()
        .take(kinds.len())
        .map(Vec::as_slice)
        .collect();
    // [kind][length] columns
    let mut cols: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(lengths.len()); kinds.len()];
    for &xi in lengths {
        if xi == 0.0 {
            for (c, r) in cols.iter_mut().zip(&raw) {
                c.push(r.to_vec());
            }
            continue;
        }
        let cg = CoarseGrain {
            xi,
            ..CoarseGrain::default()
        };
        cg.validate()?;
        // density is the weight sum less i's own weight, per unit area of the weight (2 pi xi^2 in 2D)
        let fields: Vec<&[f64]> = (0..raw.len()).filter(|&k| k != 1).map(|k| raw[k]).collect();
        let (smooth, weights) = coarse_grain_with_weights(positions, [l, l], cg, &fields);
        let area = std::f64::consts::TAU * xi * xi;
        let dens: Vec<f64> = weights.iter().map(|w| (w - 1.0) / area).collect();
        let mut smooth = smooth.into_iter();
        for (k, c) in cols.iter_mut().enumerate() {
            if kinds[k] == Kind::Density {
                c.push(dens.clone());
            } else if let Some(s) = smooth.next() {
                c.push(s);
            }
        }
    }
    let columns: Vec<(Kind, f64)> = kinds
        .iter()
        .flat_map(|&k| lengths.iter().map(move |&xi| (k, xi)))
        .collect();
    let names = columns
        .iter()
        .map(|&(k, xi)| column_name(k, inherent, xi))
        .collect();
    let flat: Vec<&Vec<f64>> = cols.iter().flatten().collect();
    let values = (0..n)
        .flat_map(|i| flat.iter().map(move |c| c[i]))
        .collect();
    Ok(Descriptors {
        names,
        columns,
        values,
    })
}
