//! Per-particle dynamical targets of isoconfigurational runs: displacement magnitude, bond-breaking fraction
//! (neighbours within 1.4 sigma_ab at t = 0 still within 1.8 sigma_ab), and the noise ceiling of their ensemble
//! means by split halves and Spearman-Brown (docs/methods.md, "Targets").

use crate::analysis::stats::pearson;

/// GlassBench's bond radii in units of sigma_ab: a bond exists at t = 0 below `BOND_MAKE`, survives below
/// `BOND_KEEP`.
pub const BOND_MAKE: f64 = 1.4;
pub const BOND_KEEP: f64 = 1.8;

fn min_image(d: f64, l: f64) -> f64 {
    d - l * (d / l).round()
}

/// |r_i - r0_i| with the minimum image (positions wrapped or not; true displacements below L/2).
pub fn displacement(pos0: &[[f64; 2]], pos: &[[f64; 2]], box_l: f64) -> Vec<f64> {
    pos0.iter()
        .zip(pos)
        .map(|(a, b)| {
            let (dx, dy) = (min_image(b[0] - a[0], box_l), min_image(b[1] - a[1], box_l));
            (dx * dx + dy * dy).sqrt()
        })
        .collect()
}

/// The t = 0 bonds of every particle: j with |r_ij| < BOND_MAKE sigma_(s_i s_j), as `offsets`/`list` (CSR).
#[derive(Clone, Debug)]
pub struct Bonds {
    pub offsets: Vec<usize>,
    pub list: Vec<u32>,
}

/// The bonds of a configuration; `sigma[a * ns + b]` is sigma of species a and b.
pub fn bonds(pos0: &[[f64; 2]], species: &[u32], sigma: &[f64], ns: usize, box_l: f64) -> Bonds {
    let n = pos0.len();
    let mut offsets = Vec::with_capacity(n + 1);
    let mut list = Vec::new();
    offsets.push(0);
    for i in 0..n {
        for j in 0..n {
            if j == i {
                continue;
            }
            let s = sigma[species[i] as usize * ns + species[j] as usize] * BOND_MAKE;
            let dx = min_image(pos0[j][0] - pos0[i][0], box_l);
            let dy = min_image(pos0[j][1] - pos0[i][1], box_l);
            if dx * dx + dy * dy < s * s {
                list.push(j as u32);
            }
        }
        offsets.push(list.len());
    }
    Bonds { offsets, list }
}

/// Per particle, the fraction of its t = 0 bonds still within BOND_KEEP sigma_ab at `pos` (1 for a particle with
/// none: nothing to break).
pub fn bond_fraction(
    b: &Bonds,
    pos: &[[f64; 2]],
    species: &[u32],
    sigma: &[f64],
    ns: usize,
    box_l: f64,
) -> Vec<f64> {
    (0..pos.len())
        .map(|i| {
            let nb = &b.list[b.offsets[i]..b.offsets[i + 1]];
            if nb.is_empty() {
                return 1.0;
            }
            let kept = nb
                .iter()
                .filter(|&&j| {
                    let j = j as usize;
                    let s = sigma[species[i] as usize * ns + species[j] as usize] * BOND_KEEP;
                    let dx = min_image(pos[j][0] - pos[i][0], box_l);
                    let dy = min_image(pos[j][1] - pos[i][1], box_l);
                    dx * dx + dy * dy < s * s
                })
                .count();
            kept as f64 / nb.len() as f64
        })
        .collect()
}

/// The noise ceiling of an ensemble mean over `runs` (each [N]) for the particles in `mask`: the Pearson
/// correlation r between the means over the even and the odd runs, Spearman-Brown corrected to the whole ensemble,
/// 2r / (1 + r). None with fewer than 2 runs, or when a half is constant.
pub fn noise_ceiling(runs: &[&[f64]], mask: &[bool]) -> Option<f64> {
    if runs.len() < 2 {
        return None;
    }
    let half = |parity: usize| -> Vec<f64> {
        let mine: Vec<&&[f64]> = runs.iter().skip(parity).step_by(2).collect();
        (0..mask.len())
            .filter(|&i| mask[i])
            .map(|i| mine.iter().map(|r| r[i]).sum::<f64>() / mine.len() as f64)
            .collect()
    };
    let r = pearson(&half(0), &half(1));
    (r.is_finite() && r > -1.0).then(|| 2.0 * r / (1.0 + r))
}
