//! Structural indicators (Voronoi volume Upsilon, Tong-Tanaka Theta), coarse-graining, normalisation and their
//! per-configuration correlations with the Grad-CAM score Gamma (docs/methods.md, "Order parameters" and "Coarse-graining"; Oyama et al. 2022, Fig. 3): the engine of `glasscam analyze`;
//! and the per-particle descriptors and their baselines against dynamical targets (`glasscam baselines`).

pub mod analyze;
pub mod baselines;
pub mod bench;
pub mod coarse;
pub mod descriptors;
pub mod dynamics;
pub mod gamma;
pub mod paper;
pub mod plots;
pub mod stats;
pub mod tong_tanaka;
pub mod voronoi;

pub use analyze::{
    analyze, dataset_configs, imported_configs, write_analysis, Analysis, AnalyzeInput,
    CorrelationRow, SummaryRow,
};
pub use baselines::{baselines, write_baselines, BaselineReport, BaselineSettings};
pub use bench::bench_analysis;
pub use coarse::{coarse_grain, coarse_grain_with_weights, normalise, CoarseGrain};
pub use descriptors::{descriptors, particle_energies, Descriptors};
pub use gamma::{GammaSet, GradcamIndex};
pub use stats::{pearson, spearman};
pub use tong_tanaka::tong_tanaka;
pub use voronoi::{voronoi, Voronoi};

use crate::error::Result;

/// The three correlated pairs, in the order of every `[f64; 3]` here (Oyama et al. 2022, Fig. 3; Theta enters as 1 - Theta).
pub const PAIRS: [&str; 3] = ["gamma_upsilon", "gamma_1mtheta", "1mtheta_upsilon"];
/// The same pairs as the paper writes them.
pub const PAIR_LABELS: [&str; 3] = ["C(Γ,Υ)", "C(Γ,1-Θ)", "C(1-Θ,Υ)"];

/// Per-particle indicators of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Indicators {
    /// Voronoi cell area.
    pub upsilon: Vec<f64>,
    /// Tong-Tanaka order parameter.
    pub theta: Vec<f64>,
    /// Number of Voronoi neighbours.
    pub n_neighbours: Vec<u32>,
    /// Upsilon coarse-grained and normalised to [0, 1].
    pub upsilon_cg: Vec<f64>,
    /// Theta coarse-grained and normalised to [0, 1] (the paper's field is 1 - this).
    pub theta_cg: Vec<f64>,
    /// Gamma coarse-grained and normalised, when a Grad-CAM score was given.
    pub gamma_cg: Option<Vec<f64>>,
}

/// Correlation coefficients of one configuration, pairs in `PAIRS` order; NaN where Gamma is absent or a field
/// is constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Correlations {
    pub pearson: [f64; 3],
    pub spearman: [f64; 3],
}

/// Everything one configuration needs.
#[derive(Clone, Copy, Debug)]
pub struct ConfigInput<'a> {
    /// [x0, y0, x1, y1, ...]
    pub positions: &'a [f64],
    pub box_l: [f64; 2],
    pub species: &'a [u32],
    /// Tong-Tanaka diameter per species.
    pub diameters: &'a [f64],
    /// Gamma per particle, if any.
    pub gamma: Option<&'a [f64]>,
}

/// Voronoi, Tong-Tanaka, coarse-graining, normalisation and correlations of one configuration.
pub fn analyse_config(input: &ConfigInput, cg: CoarseGrain) -> Result<(Indicators, Correlations)> {
    let v = voronoi(input.positions, input.box_l)?;
    let theta = tong_tanaka(&v, input.species, input.diameters);
    let mut fields: Vec<&[f64]> = vec![&v.areas, &theta];
    if let Some(g) = input.gamma {
        fields.push(g);
    }
    let smooth = coarse_grain(input.positions, input.box_l, cg, &fields);
    let upsilon_cg = normalise(&smooth[0]);
    let theta_cg = normalise(&smooth[1]);
    let gamma_cg = input.gamma.map(|_| normalise(&smooth[2]));
    let one_minus_theta: Vec<f64> = theta_cg.iter().map(|t| 1.0 - t).collect();
    let nan = f64::NAN;
    let mut pear = [nan; 3];
    let mut spear = [nan; 3];
    pear[2] = pearson(&one_minus_theta, &upsilon_cg);
    spear[2] = spearman(&one_minus_theta, &upsilon_cg);
    if let Some(g) = &gamma_cg {
        pear[0] = pearson(g, &upsilon_cg);
        pear[1] = pearson(g, &one_minus_theta);
        spear[0] = spearman(g, &upsilon_cg);
        spear[1] = spearman(g, &one_minus_theta);
    }
    let n_neighbours = v.counts();
    Ok((
        Indicators {
            upsilon: v.areas,
            theta,
            n_neighbours,
            upsilon_cg,
            theta_cg,
            gamma_cg,
        },
        Correlations {
            pearson: pear,
            spearman: spear,
        },
    ))
}
