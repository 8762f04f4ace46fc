//! GlassBench's descriptor baselines (docs/methods.md, "Descriptor baselines"): every structural descriptor alone
//! and a ridge regression on all of them, scored like the networks by the Pearson correlation with a target per
//! time point on the test configurations (per configuration, then averaged), for A particles and for all species.

pub mod ridge;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::ridge::{Ridge, Rows};
use super::descriptors::{check_lengths, column_name, descriptors, Descriptors};
use super::stats::pearson;
use crate::error::{Error, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::Dataset;
use crate::io::json::{finite, write_json_atomic};
use crate::io::outdir::{no_overwrite, OutDir};
use crate::io::targets::{Subset, Targets, PROPENSITY};
use crate::learn::split::{target_sets, Split};
use crate::sim::minimize::{setup_of, InherentSet};

/// `BaselineReport::format_version` this glasscam writes.
pub const FORMAT_VERSION: u32 = 1;
pub const BASELINES_JSON: &str = "baselines.json";
/// The name of the ridge row.
pub const RIDGE: &str = "ridge";

/// What `baselines` computes, with defaults for GlassBench's 2D system.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineSettings {
    /// The target scored (a name in the data set's targets.json).
    pub target: String,
    /// Coarse-graining lengths xi of every descriptor; 0 is the raw descriptor.
    pub lengths: Vec<f64>,
    /// Ridge penalties tried; the one with the smallest validation error is kept per time point and species.
    pub lambdas: Vec<f64>,
    /// Training, validation and test fractions of the replicas, and the seed of their shuffle: the propensity
    /// network's split (`train --arch gn`, its model file's `split` and `seed`), so that both are scored on the
    /// same test configurations.
    pub split: [f64; 3],
    pub seed: u64,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        let net = crate::learn::dynamics::GnConfig::default();
        BaselineSettings {
            target: PROPENSITY.into(),
            lengths: vec![0.0, 1.0, 2.0, 4.0],
            lambdas: (-4..=3).map(|k| 10f64.powi(k)).collect(),
            split: net.split,
            seed: net.seed,
        }
    }
}

impl BaselineSettings {
    /// Refuses settings that cannot be computed; the message names the setting.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Input(m));
        if self.lengths.is_empty() {
            return bad(
                "`lengths` is empty; give coarse-graining lengths such as 0,1,2,4 (0: raw)".into(),
            );
        }
        if let Err(m) = check_lengths("lengths", &self.lengths) {
            return bad(m);
        }
        if self.lambdas.is_empty() || self.lambdas.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return bad(format!(
                "`lambdas` {:?}: give one or more finite penalties > 0, e.g. 1e-4,1e-3,...,1e3",
                self.lambdas
            ));
        }
        crate::learn::split::check_fractions(self.split).map_err(Error::Input)
    }
}

/// Configurations per part and what each holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sizes {
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    /// Particles per configuration, and of them of species A (species 0).
    pub particles: usize,
    pub particles_a: usize,
    /// Isoconfigurational runs per configuration behind the targets.
    pub runs: usize,
}

/// Whether a row is one descriptor or the ridge regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    Descriptor,
    Ridge,
}

/// One baseline's scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineRow {
    /// The descriptor's column name (`epot_is_cg2`: the inherent-structure energy coarse-grained at xi = 2), or
    /// `ridge`.
    pub name: String,
    pub kind: RowKind,
    /// Coarse-graining length (0: raw); absent for ridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xi: Option<f64>,
    /// [T] signed Pearson correlation with the target over the A particles of each test configuration, averaged
    /// over the configurations; null where undefined (a constant field).
    pub pearson_a: Vec<Option<f64>>,
    /// [T] the same over all particles.
    pub pearson_all: Vec<Option<f64>>,
}

/// What `baselines.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineReport {
    pub format_version: u32,
    /// The data set with targets and its fingerprint.
    pub data: String,
    pub data_fingerprint: String,
    /// The inherent structures the descriptors were computed on and their data set's fingerprint; absent: on the
    /// configurations themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherent_fingerprint: Option<String>,
    pub target: String,
    /// [T] time points (MD time units).
    pub times: Vec<f64>,
    pub tau_alpha: Option<f64>,
    /// [T] the target's noise ceiling from targets.json (A particles, per configuration, averaged).
    pub noise_ceiling: Vec<Option<f64>>,
    /// Coarse-graining lengths; ridge penalties tried.
    pub lengths: Vec<f64>,
    pub lambdas: Vec<f64>,
    /// Replicas per part and the seed that drew them.
    pub split: Split,
    pub seed: u64,
    pub sizes: Sizes,
    /// Species names, in the order of `ridge_lambda`.
    pub species: Vec<String>,
    /// [species][T] ridge's penalty chosen on the validation configurations (one model per species).
    pub ridge_lambda: Vec<Vec<f64>>,
    /// One row per descriptor (kind-major, then length), then ridge.
    pub rows: Vec<BaselineRow>,
}

/// Per time point, the mean over configurations of the Pearson correlation between `pred` and `truth` over the
/// particles that `keep` selects; `pred` and `truth` are [C][N, T] node-major. NaN correlations are left out. The
/// one definition of GlassBench's score: the pipeline scores the propensity network with it too.
pub fn scores(
    pred: &[Vec<f64>],
    truth: &[Vec<f64>],
    n: usize,
    t: usize,
    keep: &dyn Fn(usize) -> bool,
) -> Vec<Option<f64>> {
    (0..t)
        .map(|j| {
            let per: Vec<f64> = pred
                .iter()
                .zip(truth)
                .map(|(p, y)| {
                    let (a, b): (Vec<f64>, Vec<f64>) = (0..n)
                        .filter(|&i| keep(i))
                        .map(|i| (p[i * t + j], y[i * t + j]))
                        .unzip();
                    pearson(&a, &b)
                })
                .filter(|r| r.is_finite())
                .collect();
            finite(per.iter().sum::<f64>() / per.len() as f64)
        })
        .collect()
}

/// The descriptor baselines of a data set with targets: descriptors of every configuration (of its inherent
/// structure, when `inherent` is given), each scored alone, and a ridge regression per species fitted on the
/// training configurations, its penalty chosen on the validation ones, scored on the test ones.
pub fn baselines(
    data: &Dataset,
    targets: &Targets,
    inherent: Option<&InherentSet>,
    settings: &BaselineSettings,
    ctx: &Ctx,
) -> Result<BaselineReport> {
    settings.check()?;
    if targets.meta.data_fingerprint != data.fingerprint {
        return Err(Error::Input(format!(
            "the targets were computed on another data set than {}; load them with `Targets::load` from it",
            data.dir.display()
        )));
    }
    let values = targets.values(&settings.target)?;
    let test: Option<Vec<bool>> = targets
        .meta
        .subset
        .as_ref()
        .map(|s| s.iter().map(|&x| x == Subset::Test).collect());
    let sets = target_sets(data, test.as_deref(), settings.split, settings.seed)?;
    let [_, t, n] = targets.shape();
    let setup = setup_of(data);
    let system = &data.manifest.system;
    let diameters = system.diameters();
    // the positions described and, for an inherent structure, the configuration it was minimised from
    let rows_of = |k: usize| -> Result<(Vec<f64>, Option<&[f64]>)> {
        match inherent {
            Some(inh) => {
                let row = inh.row_of(data, k)?;
                Ok((inh.data.snapshot(row).to_vec(), Some(data.snapshot(k))))
            }
            None => Ok((data.snapshot(k).to_vec(), None)),
        }
    };
    let parts = [&sets.train, &sets.validation, &sets.test];
    let wanted: Vec<usize> = parts
        .iter()
        .flat_map(|p| p.snapshots.iter().copied())
        .collect();
    // positions first, so that a mismatched inherent set is refused before any work
    let configs: Vec<(Vec<f64>, Option<&[f64]>)> =
        wanted.iter().map(|&k| rows_of(k)).collect::<Result<_>>()?;
    ctx.observer.event(Event::Begin {
        what: "configurations described",
        total: wanted.len() as u64,
    });
    let desc: Vec<Descriptors> = configs
        .par_iter()
        .map(|(pos, is)| {
            ctx.cancel.check()?;
            let d = descriptors(&setup, &diameters, pos, *is, &settings.lengths);
            ctx.observer.event(Event::Advance(1));
            d
        })
        .collect::<Result<_>>()?;
    ctx.observer.event(Event::End);
    let by_snapshot = |k: usize| {
        let at = wanted.iter().position(|&w| w == k).unwrap_or(0);
        &desc[at]
    };
    // node-major [N, T] targets of a snapshot
    let truth = |k: usize| -> Vec<f64> {
        let block = &values[k * t * n..(k + 1) * t * n];
        (0..n)
            .flat_map(|i| (0..t).map(move |j| block[j * n + i] as f64))
            .collect()
    };
    let f = desc.first().map_or(0, Descriptors::n_features);
    let test_truth: Vec<Vec<f64>> = sets.test.snapshots.iter().map(|&k| truth(k)).collect();
    let species = &data.species;
    let is_a = |i: usize| species[i] == 0;
    let all = |_: usize| true;
    let mut rows = Vec::with_capacity(f + 1);
    for c in 0..f {
        let pred: Vec<Vec<f64>> = sets
            .test
            .snapshots
            .iter()
            .map(|&k| {
                let col = by_snapshot(k).column(c);
                col.iter()
                    .flat_map(|&v| std::iter::repeat_n(v, t))
                    .collect()
            })
            .collect();
        let (kind, xi) = desc[0].columns[c];
        rows.push(BaselineRow {
            name: column_name(kind, inherent.is_some(), xi),
            kind: RowKind::Descriptor,
            xi: Some(xi),
            pearson_a: scores(&pred, &test_truth, n, t, &is_a),
            pearson_all: scores(&pred, &test_truth, n, t, &all),
        });
    }
    // ridge: one model per species, on that species' particles
    let ns = system.n_species();
    let gather = |snaps: &[usize], s: u32| -> Rows {
        let mut r = Rows::default();
        for &k in snaps {
            let d = by_snapshot(k);
            let y = truth(k);
            for i in (0..n).filter(|&i| species[i] == s) {
                r.x.extend_from_slice(&d.values[i * f..(i + 1) * f]);
                r.y.extend_from_slice(&y[i * t..(i + 1) * t]);
            }
        }
        r
    };
    let mut pred: Vec<Vec<f64>> = vec![vec![0.0; n * t]; sets.test.len()];
    let mut ridge_lambda = Vec::with_capacity(ns);
    for s in 0..ns as u32 {
        if !species.contains(&s) {
            ridge_lambda.push(vec![]);
            continue;
        }
        let model = Ridge::fit(
            &gather(&sets.train.snapshots, s),
            &gather(&sets.validation.snapshots, s),
            f,
            t,
            &settings.lambdas,
        )?;
        for (p, &k) in pred.iter_mut().zip(&sets.test.snapshots) {
            let d = by_snapshot(k);
            let idx: Vec<usize> = (0..n).filter(|&i| species[i] == s).collect();
            let x: Vec<f64> = idx
                .iter()
                .flat_map(|&i| d.values[i * f..(i + 1) * f].to_vec())
                .collect();
            let y = model.predict(&x);
            for (r, &i) in idx.iter().enumerate() {
                p[i * t..(i + 1) * t].copy_from_slice(&y[r * t..(r + 1) * t]);
            }
        }
        ridge_lambda.push(model.lambda);
    }
    rows.push(BaselineRow {
        name: RIDGE.into(),
        kind: RowKind::Ridge,
        xi: None,
        pearson_a: scores(&pred, &test_truth, n, t, &is_a),
        pearson_all: scores(&pred, &test_truth, n, t, &all),
    });
    let meta = &targets.meta;
    Ok(BaselineReport {
        format_version: FORMAT_VERSION,
        data: data.dir.display().to_string(),
        data_fingerprint: data.fingerprint.clone(),
        inherent: inherent.map(|i| i.data.dir.display().to_string()),
        inherent_fingerprint: inherent.map(|i| i.data.fingerprint.clone()),
        target: settings.target.clone(),
        times: meta.times.clone(),
        tau_alpha: meta.tau_alpha,
        noise_ceiling: meta
            .noise_ceiling
            .get(&settings.target)
            .cloned()
            .unwrap_or_else(|| vec![None; t]),
        lengths: settings.lengths.clone(),
        lambdas: settings.lambdas.clone(),
        sizes: Sizes {
            train: sets.train.len(),
            validation: sets.validation.len(),
            test: sets.test.len(),
            particles: n,
            particles_a: species.iter().filter(|&&s| s == 0).count(),
            runs: meta.n_runs,
        },
        split: sets.split,
        seed: settings.seed,
        species: system.species.iter().map(|s| s.name.clone()).collect(),
        ridge_lambda,
        rows,
    })
}

/// Writes `baselines.json` into the output directory `out` (`outdir::claim`); an existing one is replaced only
/// with `force`.
pub fn write_baselines(out: &OutDir, report: &BaselineReport, force: bool) -> Result<()> {
    let file = out.root().join(BASELINES_JSON);
    no_overwrite(&file, force, "baselines")?;
    write_json_atomic(&file, report)
}
