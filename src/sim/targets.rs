//! GlassBench's targets from batched isoconfigurational ensembles: every run of every configuration is one replica
//! of one batched simulation (`propensity::run_batched`); at each time of a log-spaced grid, the displacement
//! propensity, the bond-breaking propensity (and optionally the cage-relative one) and their noise ceilings
//! (docs/methods.md, "Targets"), written as a data set with targets.

use std::path::Path;

use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::analysis::dynamics::{bond_fraction, bonds, noise_ceiling, Bonds};
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::{Dataset, Manifest};
use crate::io::outdir::{self, OutDir};
use crate::io::targets::{
    definition, write_targets, Program, Source, TargetsMeta, BOND_BREAKING, PROPENSITY,
    PROPENSITY_CAGE,
};
use crate::sim::propensity::{
    crsd, md_setup_of, run_batched, start_positions, start_replicas, unwrapped_displacement,
    voronoi_cages,
};

/// What to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetsConfig {
    /// Temperature of the runs.
    pub temperature: f64,
    /// Runs per configuration (at least 2: the noise ceiling splits them in halves).
    pub runs: usize,
    /// Steps per run.
    pub steps: u64,
    /// Time points, MD time units, ascending; none: `samples` log-spaced steps up to `steps`.
    pub times: Option<Vec<f64>>,
    pub samples: usize,
    pub seed: u64,
    /// Also the cage-relative propensity.
    pub cage: bool,
}

impl TargetsConfig {
    /// The sample steps of the time grid at time step `dt`; refuses a grid beyond the run, a run of one, and
    /// counts out of range, each naming the option.
    pub fn sample_steps(&self, dt: f64) -> Result<Vec<u64>> {
        let bad = |m: String| Err(Error::Input(format!("targets: {m}")));
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!(
                "`temperature` {}: give the positive temperature of the runs",
                self.temperature
            ));
        }
        if self.runs < 2 {
            return bad(format!(
                "`runs` {}: an ensemble of one run has no noise ceiling (it splits the runs in halves); give 2 \
                 or more runs per configuration (GlassBench uses 20)",
                self.runs
            ));
        }
        if self.steps == 0 || self.steps > crate::sim::protocol::schedule::MAX_STEPS {
            return bad(format!(
                "`steps` {}: give 1 or more steps per run",
                self.steps
            ));
        }
        let run_time = self.steps as f64 * dt;
        match &self.times {
            None => {
                if self.samples == 0 || self.samples > crate::sim::propensity::MAX_SAMPLES {
                    return bad(format!(
                        "`samples` {}: give 1 to 1000 time points",
                        self.samples
                    ));
                }
                Ok(crate::sim::propensity::sample_steps(
                    self.steps,
                    self.samples,
                ))
            }
            Some(times) => {
                if times.is_empty() {
                    return bad("`times` is empty; give at least one time".into());
                }
                let mut out: Vec<u64> = Vec::with_capacity(times.len());
                for &t in times {
                    if !(t > 0.0 && t.is_finite()) {
                        return bad(format!("time {t} in `times`: give times > 0"));
                    }
                    // a time is sampled at its nearest step: one within half a step of the end is the last step
                    if ((t / dt).round() as u64) > self.steps {
                        return bad(format!(
                            "time {t} in `times` is beyond the run ({} steps x dt {dt} = {run_time}); give more \
                             `steps` or drop the time",
                            self.steps
                        ));
                    }
                    let step = ((t / dt).round() as u64).max(1);
                    if out.last().is_some_and(|&p| step <= p) {
                        return bad(format!(
                            "time {t} in `times` is not after the one before it at time step {dt}; give strictly \
                             ascending times at least dt apart"
                        ));
                    }
                    out.push(step);
                }
                Ok(out)
            }
        }
    }
}

/// The targets of a set of configurations.
pub struct TargetsRun {
    pub meta: TargetsMeta,
    /// [S, T, N] per target, in `meta.targets` order.
    pub arrays: Vec<(String, Vec<f32>)>,
    /// Per target, per number of runs m (2, 4, ..., all), the noise ceiling [T] from the first m runs.
    pub ceiling_vs_runs: Vec<(String, CeilingRows)>,
    pub failed_runs: Vec<(usize, usize)>,
    pub md_seconds: f64,
    pub particle_steps: f64,
}

/// (number of runs m, the noise ceiling [T] from the first m runs), m = 2, 4, ..., all.
pub type CeilingRows = Vec<(usize, Vec<Option<f64>>)>;

/// Per configuration and target: [T][runs][N] values of every run.
type PerRun = Vec<Vec<Vec<Vec<f32>>>>;

/// The isoconfigurational ensembles of snapshots `snapshots` of `ds` at `cfg.temperature`, all runs of all
/// configurations in one batch.
pub fn ensemble_targets(
    ds: &Dataset,
    snapshots: &[usize],
    cfg: &TargetsConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<TargetsRun> {
    let pos0 = start_positions(ds, snapshots, "targets")?;
    let sys = &ds.manifest.system;
    let setup = md_setup_of(ds);
    let samples = cfg.sample_steps(setup.dt)?;
    let (n, runs, l) = (setup.n, cfg.runs, ds.box_l());
    let ns = sys.n_species();
    let sigma: Vec<f64> = (0..ns * ns)
        .map(|ab| sys.pair(ab / ns, ab % ns).0)
        .collect();
    let bnd: Vec<Bonds> = pos0
        .iter()
        .map(|p| bonds(p, &ds.species, &sigma, ns, l))
        .collect();
    let cages = if cfg.cage {
        voronoi_cages(&pos0, l)?
    } else {
        Vec::new()
    };
    // replica r = configuration * runs + run
    let starts: Vec<(&[[f64; 2]], f64)> = pos0
        .iter()
        .flat_map(|p| std::iter::repeat_n((p.as_slice(), cfg.temperature), runs))
        .collect();
    let reps = start_replicas(&setup, &starts, cfg.seed);
    let total = reps.count();
    ctx.note(&format!(
        "targets: {} configurations x {runs} runs = {total} replicas in one batch at T = {}, {} steps, {} time points",
        snapshots.len(),
        cfg.temperature,
        samples.last().copied().unwrap_or(0),
        samples.len()
    ));
    let n_targets = if cfg.cage { 3 } else { 2 };
    let nt = samples.len();
    let mut per_run: Vec<PerRun> =
        vec![vec![vec![vec![Vec::new(); runs]; nt]; snapshots.len()]; n_targets];
    let batch = run_batched(&setup, &reps, &samples, &[compute], ctx, |si, lo, md| {
        let state = md.download()?;
        for k in 0..state.count() {
            let (c, s) = ((lo + k) / runs, (lo + k) % runs);
            let (pos, img) = (
                &state.pos[k * n..(k + 1) * n],
                &state.img[k * n..(k + 1) * n],
            );
            let d = unwrapped_displacement(&pos0[c], pos, img, l);
            per_run[0][c][si][s] = d.iter().map(|v| v[0].hypot(v[1]) as f32).collect();
            per_run[1][c][si][s] = bond_fraction(&bnd[c], pos, &ds.species, &sigma, ns, l)
                .into_iter()
                .map(|x| x as f32)
                .collect();
            if cfg.cage {
                per_run[2][c][si][s] = crsd(&d, &cages[c])
                    .into_iter()
                    .map(|x| x.sqrt() as f32)
                    .collect();
            }
        }
        Ok(())
    })?;
    let mut failed = Vec::new();
    for (r, &st) in batch.status.iter().enumerate() {
        if st != 0 {
            failed.push((r / runs, r % runs));
        }
    }
    let ok = |c: usize, s: usize| !failed.contains(&(c, s));
    for (c, snap) in snapshots.iter().enumerate() {
        let k = (0..runs).filter(|&s| ok(c, s)).count();
        if k < 2 {
            return Err(Error::Input(format!(
                "targets: {} of {runs} runs of snapshot {} blew up, fewer than the 2 a noise ceiling needs; the \
                 time step (dt {}) may be too large for T = {}, or the configuration is not of this system",
                runs - k,
                snap,
                setup.dt,
                cfg.temperature
            )));
        }
    }
    if !failed.is_empty() {
        ctx.warn(&format!(
            "targets: {} of {total} runs blew up; they are left out of the means and ceilings",
            failed.len()
        ));
    }
    let names: Vec<&str> = [PROPENSITY, BOND_BREAKING, PROPENSITY_CAGE][..n_targets].to_vec();
    let mask: Vec<bool> = ds.species.iter().map(|&s| s == 0).collect();
    let mut arrays = Vec::new();
    let mut ceilings = std::collections::BTreeMap::new();
    let mut ceiling_vs_runs = Vec::new();
    for (t, name) in names.iter().enumerate() {
        let mut flat = Vec::with_capacity(snapshots.len() * nt * n);
        for (c, per_c) in per_run[t].iter().enumerate() {
            for per_t in per_c {
                let good: Vec<&Vec<f32>> =
                    (0..runs).filter(|&s| ok(c, s)).map(|s| &per_t[s]).collect();
                flat.extend(
                    (0..n).map(|i| good.iter().map(|v| v[i]).sum::<f32>() / good.len() as f32),
                );
            }
        }
        arrays.push((name.to_string(), flat));
        // the ceiling from the first m good runs, m = 2, 4, 8, ..., all
        let mut ms: Vec<usize> = std::iter::successors(Some(2usize), |m| Some(m * 2))
            .take_while(|&m| m < runs)
            .collect();
        ms.push(runs);
        let mut rows = Vec::new();
        for &m in &ms {
            let row: Vec<Option<f64>> = (0..nt)
                .map(|si| {
                    let per_config: Option<Vec<f64>> = (0..snapshots.len())
                        .map(|c| {
                            let good: Vec<Vec<f64>> = (0..runs)
                                .filter(|&s| ok(c, s))
                                .take(m)
                                .map(|s| {
                                    per_run[t][c][si][s].iter().map(|&x| f64::from(x)).collect()
                                })
                                .collect();
                            let sl: Vec<&[f64]> = good.iter().map(Vec::as_slice).collect();
                            noise_ceiling(&sl, &mask)
                        })
                        .collect();
                    per_config.map(|v| v.iter().sum::<f64>() / v.len() as f64)
                })
                .collect();
            rows.push((m, row));
        }
        ceilings.insert(
            name.to_string(),
            rows.last().map(|r| r.1.clone()).unwrap_or_default(),
        );
        ceiling_vs_runs.push((name.to_string(), rows));
    }
    let times: Vec<f64> = samples.iter().map(|&s| s as f64 * setup.dt).collect();
    let meta = TargetsMeta {
        format_version: crate::io::targets::FORMAT_VERSION,
        data_fingerprint: String::new(),
        temperature: cfg.temperature,
        times,
        tau_alpha: None,
        tau_alpha_spread: None,
        n_runs: runs,
        targets: names
            .iter()
            .map(|k| (k.to_string(), definition(k).unwrap_or_default().to_string()))
            .collect(),
        noise_ceiling: ceilings,
        subset: None,
        source: Source {
            program: Program::Glasscam,
            settings: serde_json::json!({
                "data": ds.dir.display().to_string(),
                "data_fingerprint": ds.fingerprint,
                "snapshots": snapshots,
                "config": cfg,
                "dt": setup.dt,
                "backend": compute.identity(),
                "failed_runs": failed,
                "ceiling_vs_runs": ceiling_vs_runs,
            }),
        },
    };
    Ok(TargetsRun {
        meta,
        arrays,
        ceiling_vs_runs,
        failed_runs: failed,
        md_seconds: batch.md_seconds,
        particle_steps: (total * n) as f64 * samples.last().copied().unwrap_or(0) as f64,
    })
}

/// Writes the configurations `snapshots` of `ds` as a data set at `out` (one snapshot per configuration) and the
/// targets beside it; `force` replaces a data set there.
pub fn write_ensemble_targets(
    out: &Path,
    ds: &Dataset,
    snapshots: &[usize],
    run: &mut TargetsRun,
    force: bool,
) -> Result<Dataset> {
    let dir = OutDir::lock(out)?;
    outdir::no_overwrite(&out.join(crate::io::dataset::MANIFEST), force, "a data set")?;
    let mut snaps = Vec::with_capacity(snapshots.len());
    let mut positions = Vec::with_capacity(snapshots.len() * 2 * ds.n_particles());
    for (k, &s) in snapshots.iter().enumerate() {
        let mut m = ds.manifest.snapshots[s].clone();
        m.index = k;
        snaps.push(m);
        positions.extend_from_slice(ds.snapshot(s));
    }
    let manifest = Manifest {
        snapshots: snaps,
        ..ds.manifest.clone()
    };
    Dataset::write(out, &manifest, &positions, &ds.species)?;
    let data = Dataset::load(out)?;
    run.meta.data_fingerprint = data.fingerprint.clone();
    let arrays: Vec<(&str, &[f32])> = run
        .arrays
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    write_targets(&dir, &data, &run.meta, &arrays, true)?;
    Ok(data)
}
