//! What the propensity network learns from: one value per particle and time point of every configuration of a
//! data set (a target of its `targets.json`), standardized per time point for training.

use crate::error::{Error, Result};
use crate::io::dataset::Dataset;
use crate::io::targets::{Subset, Targets};

/// One target of a data set with targets.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSet {
    /// Its name (`propensity`, `bond_breaking`, ...).
    pub name: String,
    /// The time points [T] (MD time units, ascending).
    pub times: Vec<f64>,
    /// [S, T, N] row-major.
    pub values: Vec<f32>,
    /// Per snapshot, whether it is a test configuration (the targets' `subset`); `None`: the replica split.
    pub test: Option<Vec<bool>>,
}

impl TargetSet {
    pub fn n_times(&self) -> usize {
        self.times.len()
    }

    /// Refuses values that do not fit `data`: [S, T, N] with S snapshots and N particles, all finite.
    pub fn check(&self, data: &Dataset) -> Result<()> {
        let (s, t, n) = (data.n_snapshots(), self.n_times(), data.n_particles());
        let bad = |message: String| Error::Dataset {
            path: data.dir.clone(),
            message,
        };
        if t == 0 || self.values.len() != s * t * n {
            return Err(bad(format!(
                "target `{}` holds {} values, expected [S, T, N] = [{s}, {t}, {n}]",
                self.name,
                self.values.len()
            )));
        }
        if let Some(i) = self.values.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "target `{}` value {i} (snapshot {}) is not finite",
                self.name,
                i / (t * n)
            )));
        }
        if self.test.as_ref().is_some_and(|x| x.len() != s) {
            return Err(bad(format!(
                "the targets' subset lists {} configurations, the data set has {s}",
                self.test.as_ref().map_or(0, |x| x.len())
            )));
        }
        Ok(())
    }

    /// The values of snapshot `k` node-major: [N, T].
    pub fn node_major(&self, k: usize, n: usize) -> Vec<f64> {
        let t = self.n_times();
        let block = &self.values[k * t * n..(k + 1) * t * n];
        (0..n)
            .flat_map(|i| (0..t).map(move |j| block[j * n + i] as f64))
            .collect()
    }
}

/// Per time point, the mean and standard deviation of the targets of `species` particles in snapshots `idx`
/// (std 1 where they do not vary).
pub fn standardization(
    targets: &TargetSet,
    data: &Dataset,
    idx: &[usize],
    species: u32,
) -> (Vec<f64>, Vec<f64>) {
    let (t, n) = (targets.n_times(), data.n_particles());
    let (mut sum, mut sq, mut count) = (vec![0.0; t], vec![0.0; t], 0usize);
    for &k in idx {
        let y = targets.node_major(k, n);
        for i in (0..n).filter(|&i| data.species[i] == species) {
            count += 1;
            for j in 0..t {
                sum[j] += y[i * t + j];
                sq[j] += y[i * t + j] * y[i * t + j];
            }
        }
    }
    let c = count.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / c).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| {
            let v = q / c - m * m;
            if v > 0.0 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (mean, std)
}

/// The target `name` of data set `data` (its `targets.json` and `<name>.npy`, checked against it).
pub fn load(data: &Dataset, name: &str) -> Result<TargetSet> {
    of(&Targets::load(&data.dir, data)?, name)
}

/// The target `name` of loaded targets.
pub fn of(t: &Targets, name: &str) -> Result<TargetSet> {
    Ok(TargetSet {
        name: name.to_string(),
        times: t.meta.times.clone(),
        values: t.values(name)?.to_vec(),
        test: t
            .meta
            .subset
            .as_ref()
            .map(|s| s.iter().map(|&x| x == Subset::Test).collect()),
    })
}
