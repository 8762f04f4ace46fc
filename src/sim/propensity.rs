//! Dynamic propensity (Oyama et al. 2022, Fig. 4; docs/methods.md, "Propensity"): isoconfigurational ensembles of one configuration (runs x temperatures as
//! replicas of one batched simulation), unwrapped displacements, cage-relative squared displacements with cages
//! from the t = 0 Voronoi neighbours, the propensity Delta_i(t) and delta(t).

use glasscam_kernels::md::{
    Advance, Cages, Failure, MdBackend, MdSetup, Replicas, Segment, Thermo,
};
use std::path::Path;

use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::analysis::coarse::{coarse_grain, normalise, CoarseGrain};
use crate::analysis::plots::{field_map, line_plot, FieldMap, LinePlot};
use crate::analysis::stats::pearson;
use crate::analysis::GammaSet;
use crate::domain::{Class, Preset};
use crate::error::{Error, IoContext, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::Dataset;
use crate::sim::init::{maxwell_boltzmann, replica_rng};

/// What to run: temperatures, runs per temperature, length, sampling, seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleConfig {
    pub temps: Vec<f64>,
    /// Runs (velocity draws) per temperature, N_s.
    pub runs: usize,
    /// Steps per run.
    pub steps: u64,
    /// Number of log-spaced sample times.
    pub samples: usize,
    pub seed: u64,
}

impl EnsembleConfig {
    /// A short ensemble that runs in minutes on a CPU: 30 runs at T*, 1.25 T*, 1.5 T*, 1e4 steps.
    pub fn short(t_star: f64) -> EnsembleConfig {
        EnsembleConfig {
            temps: vec![t_star, 1.25 * t_star, 1.5 * t_star],
            runs: 30,
            steps: 10_000,
            samples: 24,
            seed: 1,
        }
    }

    /// The paper's lengths (up to 3e8 steps): for a GPU.
    pub fn paper(t_star: f64) -> EnsembleConfig {
        EnsembleConfig {
            steps: 300_000_000,
            samples: 40,
            ..Self::short(t_star)
        }
    }

    /// The preset's ensemble for a system with `t_star` (`quick` is `short`); without a `t_star` the
    /// temperatures are left empty for the caller to give.
    pub fn preset(preset: Preset, t_star: Option<f64>) -> EnsembleConfig {
        let t = t_star.unwrap_or(1.0);
        let mut c = match preset {
            Preset::Quick => EnsembleConfig::short(t),
            Preset::Paper => EnsembleConfig::paper(t),
        };
        if t_star.is_none() {
            c.temps.clear();
        }
        c
    }
}

/// Most sample times per run: each is a state of every replica kept in memory until the chunk ends.
pub const MAX_SAMPLES: usize = 1000;

impl EnsembleConfig {
    /// Temperatures finite, > 0 and distinct, at least one run, step and sample, and the replica count, steps
    /// and samples within their stated limits; each message names the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Input(format!("propensity: {m}")));
        if self.temps.is_empty() {
            return bad("give at least one temperature (`temps`)".into());
        }
        for (k, &t) in self.temps.iter().enumerate() {
            if !(t > 0.0 && t.is_finite()) {
                return bad(format!(
                    "temperature {t} (`temps`): give a finite temperature > 0"
                ));
            }
            if self.temps[..k].contains(&t) {
                return bad(format!(
                    "temperature {t} is given twice (`temps`); list each temperature once"
                ));
            }
        }
        let max_runs = crate::sim::protocol::schedule::MAX_REPLICAS / self.temps.len();
        if self.runs == 0 || self.runs > max_runs {
            return bad(format!(
                "`runs` {}: give 1 to {max_runs} runs per temperature ({} temperatures, at most {} replicas)",
                self.runs,
                self.temps.len(),
                crate::sim::protocol::schedule::MAX_REPLICAS
            ));
        }
        if self.steps == 0 || self.steps > crate::sim::protocol::schedule::MAX_STEPS {
            return bad(format!(
                "`steps` {}: give 1 to {:.0e} steps per run",
                self.steps,
                crate::sim::protocol::schedule::MAX_STEPS as f64
            ));
        }
        if self.samples == 0 || self.samples > MAX_SAMPLES {
            return bad(format!(
                "{} sample times: give 1 to {MAX_SAMPLES}",
                self.samples
            ));
        }
        Ok(())
    }
}

/// Log-spaced sample steps in [1, steps], distinct and increasing.
pub fn sample_steps(steps: u64, samples: usize) -> Vec<u64> {
    let mut out: Vec<u64> = (0..samples.max(1))
        .map(|k| {
            let a = if samples <= 1 {
                1.0
            } else {
                k as f64 / (samples - 1) as f64
            };
            (steps as f64).powf(a).round().max(1.0) as u64
        })
        .collect();
    out.dedup();
    out
}

/// Unwrapped displacements since t = 0: (x + img L) - x0, for wrapped x0 (the images count crossings since 0).
pub fn unwrapped_displacement(
    pos0: &[[f64; 2]],
    pos: &[[f64; 2]],
    img: &[[i32; 2]],
    box_l: f64,
) -> Vec<[f64; 2]> {
    pos0.iter()
        .zip(pos)
        .zip(img)
        .map(|((x0, x), w)| {
            [
                x[0] + w[0] as f64 * box_l - x0[0],
                x[1] + w[1] as f64 * box_l - x0[1],
            ]
        })
        .collect()
}

/// Cage-relative displacement d_i - mean_{j in {i} + cage_i} d_j of every particle. `cages[i]` lists i's t = 0
/// Voronoi neighbours (without i; i itself is always included in the mean).
pub fn cage_relative(d: &[[f64; 2]], cages: &[Vec<u32>]) -> Vec<[f64; 2]> {
    d.iter()
        .enumerate()
        .map(|(i, di)| {
            let mut m = *di;
            for &j in &cages[i] {
                m[0] += d[j as usize][0];
                m[1] += d[j as usize][1];
            }
            let k = (cages[i].len() + 1) as f64;
            [di[0] - m[0] / k, di[1] - m[1] / k]
        })
        .collect()
}

/// Cage-relative squared displacement |d_i - mean_{j in {i} + cage_i} d_j|^2 for every particle.
pub fn crsd(d: &[[f64; 2]], cages: &[Vec<u32>]) -> Vec<f64> {
    cage_relative(d, cages)
        .iter()
        .map(|v| v[0] * v[0] + v[1] * v[1])
        .collect()
}

/// delta = (1/N) sum_i sqrt(Delta_i).
pub fn delta(propensity: &[f64]) -> f64 {
    propensity.iter().map(|x| x.sqrt()).sum::<f64>() / propensity.len().max(1) as f64
}

/// The MD setup a data set's snapshots run with: its system, and its protocol's integrator settings (the
/// defaults when the protocol has none, e.g. an import).
pub fn md_setup_of(ds: &Dataset) -> MdSetup {
    let md = serde_json::from_value::<crate::sim::protocol::Protocol>(ds.manifest.protocol.clone())
        .map(|p| p.md)
        .unwrap_or_default();
    ds.manifest.system.md_setup(&md)
}

/// The positions of `snapshots` of `ds`, refusing an empty list or an index out of range (`what` names the
/// command in messages).
pub fn start_positions(
    ds: &Dataset,
    snapshots: &[usize],
    what: &str,
) -> Result<Vec<Vec<[f64; 2]>>> {
    if snapshots.is_empty() {
        return Err(Error::Input(format!(
            "{what}: give at least one snapshot (`snapshots`)"
        )));
    }
    if let Some(&k) = snapshots.iter().find(|&&k| k >= ds.n_snapshots()) {
        return Err(Error::Input(format!(
            "{what}: snapshot {k}: {} has {} snapshots",
            ds.dir.display(),
            ds.n_snapshots()
        )));
    }
    Ok(snapshots
        .iter()
        .map(|&k| {
            ds.snapshot(k)
                .chunks_exact(2)
                .map(|c| [c[0], c[1]])
                .collect()
        })
        .collect())
}

/// The t = 0 Voronoi neighbours of every particle of each configuration (the cages of cage-relative
/// displacements).
pub fn voronoi_cages(pos0: &[Vec<[f64; 2]>], l: f64) -> Result<Vec<Vec<Vec<u32>>>> {
    pos0.iter()
        .map(|p| {
            let flat: Vec<f64> = p.iter().flatten().copied().collect();
            let v = crate::analysis::voronoi::voronoi(&flat, [l, l])?;
            Ok((0..v.n()).map(|i| v.neighbours_of(i).to_vec()).collect())
        })
        .collect()
}

/// One replica per (positions, temperature) of `starts`, at rest in the image counts, with Maxwell-Boltzmann
/// velocities drawn from stream r of `seed` for replica r.
pub fn start_replicas(setup: &MdSetup, starts: &[(&[[f64; 2]], f64)], seed: u64) -> Replicas {
    let mut reps = Replicas {
        n: setup.n,
        ..Default::default()
    };
    for (r, (pos0, t)) in starts.iter().enumerate() {
        let mut rng = replica_rng(seed, r as u64);
        reps.pos.extend_from_slice(pos0);
        reps.vel.extend(maxwell_boltzmann(setup, *t, &mut rng));
        reps.img.extend(std::iter::repeat_n([0, 0], setup.n));
        reps.thermo.push(Thermo {
            t_scale: *t,
            ..Default::default()
        });
    }
    reps
}

/// What a batched run returns: each replica's final status (0: ran through) and the seconds of MD.
pub struct Batch {
    pub status: Vec<u32>,
    pub md_seconds: f64,
}

/// The loop of every isoconfigurational ensemble: `reps` (all the runs, as replicas of one batched simulation,
/// chunked only when they do not fit the device) advanced at the thermostat's own temperatures from step 0 to each
/// of `samples` in turn; at each, `observe(sample index, first replica of the chunk, backend)` measures what it
/// needs where the state is. With several `devices` the chunks run on all of them at once, with the bytes of one.
pub fn run_batched(
    setup: &MdSetup,
    reps: &Replicas,
    samples: &[u64],
    devices: &[&Compute],
    ctx: Ctx,
    observe: impl FnMut(usize, usize, &mut dyn MdBackend) -> Result<()> + Send,
) -> Result<Batch> {
    let Some(&compute) = devices.first() else {
        return Err(Error::Input("no device to run on".into()));
    };
    let total = reps.count();
    let steps = samples.last().copied().unwrap_or(0);
    // with several devices, at least one chunk per device
    let chunk = crate::sim::protocol::default_chunk(compute, setup, total)
        .min(total.div_ceil(devices.len()))
        .max(1);
    let seg = Segment {
        t_from: 1.0,
        t_to: 1.0,
        len: steps,
    };
    ctx.observer.event(Event::Begin {
        what: "replica-steps",
        total: steps * total as u64,
    });
    // the chunks observe disjoint replicas; one at a time, so the observer needs no locking of its own
    let observe = std::sync::Mutex::new(observe);
    let run_chunk = |lo: usize, compute: &Compute| -> Result<(Vec<u32>, f64)> {
        let hi = (lo + chunk).min(total);
        let part = reps.slice(lo..hi);
        let mut md: Box<dyn MdBackend> = crate::sim::protocol::md_backend(compute, setup)?;
        md.upload(&part)?;
        let mut done = 0u64;
        let mut seconds = 0.0;
        for (si, &target) in samples.iter().enumerate() {
            let t0 = std::time::Instant::now();
            md.advance(&Advance {
                segment: seg,
                seg_done: done,
                step0: done,
                steps: target - done,
            })?;
            seconds += t0.elapsed().as_secs_f64();
            {
                let mut f = observe.lock().unwrap_or_else(|e| e.into_inner());
                (*f)(si, lo, md.as_mut())?;
            }
            ctx.observer
                .event(Event::Advance((target - done) * (hi - lo) as u64));
            done = target;
            ctx.cancel.check()?;
        }
        Ok((md.thermo()?.iter().map(|t| t.status).collect(), seconds))
    };
    let wall = std::time::Instant::now();
    let starts: Vec<usize> = (0..total).step_by(chunk).collect();
    let results = crate::sim::protocol::runner::on_devices(&starts, devices, &run_chunk)?;
    let mut md_seconds = 0.0;
    let mut status = Vec::with_capacity(total);
    for (st, seconds) in results {
        status.extend(st);
        md_seconds += seconds;
    }
    if devices.len() > 1 {
        // the devices ran at once: their MD time is the wall time
        md_seconds = wall.elapsed().as_secs_f64();
    }
    ctx.observer.event(Event::End);
    Ok(Batch { status, md_seconds })
}

/// The ensemble's result: per temperature and sample time, the propensity of every particle.
#[derive(Clone, Debug)]
pub struct EnsembleResult {
    /// Sample steps (time = step * dt).
    pub steps: Vec<u64>,
    /// [temps][samples][N] propensity Delta_i(t).
    pub propensity: Vec<Vec<Vec<f64>>>,
    /// [temps][samples] delta(t).
    pub delta: Vec<Vec<f64>>,
    /// Replicas that blew up: (temperature index, run).
    pub failed: Vec<(usize, usize)>,
    /// Seconds spent in the batched MD.
    pub md_seconds: f64,
}

/// Runs every (temperature, run) pair as one replica of a batched simulation from `pos0` and measures
/// propensities with cages `cages`. Replicas are chunked only when they do not fit the device.
pub fn run_ensemble(
    setup: &MdSetup,
    pos0: &[[f64; 2]],
    cages: &[Vec<u32>],
    cfg: &EnsembleConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<EnsembleResult> {
    run_ensemble_on(setup, pos0, cages, cfg, std::slice::from_ref(compute), ctx)
}

/// `run_ensemble` with the replicas' chunks shared among `devices`, one host thread each (`--adapters`); the
/// sums run in replica order, so the result is byte-identical to one device's.
pub fn run_ensemble_on(
    setup: &MdSetup,
    pos0: &[[f64; 2]],
    cages: &[Vec<u32>],
    cfg: &EnsembleConfig,
    devices: &[Compute],
    ctx: Ctx,
) -> Result<EnsembleResult> {
    if devices.is_empty() {
        return Err(Error::Input("propensity: no device to run on".into()));
    }
    let n = setup.n;
    if pos0.len() != n || cages.len() != n {
        return Err(Error::Input(format!(
            "propensity: {} positions and {} cages for a system of {n} particles",
            pos0.len(),
            cages.len()
        )));
    }
    cfg.validate()?;
    let total = cfg.temps.len() * cfg.runs;
    // replica r = temp_index * runs + run
    let starts: Vec<(&[[f64; 2]], f64)> = cfg
        .temps
        .iter()
        .flat_map(|&t| std::iter::repeat_n((pos0, t), cfg.runs))
        .collect();
    let reps = start_replicas(setup, &starts, cfg.seed);
    let cage_set = Cages::new(pos0, cages)?;
    let samples = sample_steps(cfg.steps, cfg.samples);
    // per sample only each replica's cage-relative squared displacements [replicas, n], computed where the
    // state is (kernel md_crsd); the state itself is read once, at the end, for the replicas' status
    let mut per_sample: Vec<Vec<f64>> = vec![vec![0.0; total * n]; samples.len()];
    let devs: Vec<&Compute> = devices.iter().collect();
    let batch = run_batched(setup, &reps, &samples, &devs, ctx, |si, lo, md| {
        let c = md.crsd(&cage_set)?;
        per_sample[si][lo * n..lo * n + c.len()].copy_from_slice(&c);
        Ok(())
    })?;
    let md_seconds = batch.md_seconds;
    let mut sum = vec![vec![vec![0.0; n]; samples.len()]; cfg.temps.len()];
    let mut ok_runs = vec![0usize; cfg.temps.len()];
    let mut failed = Vec::new();
    let mut causes: Vec<&str> = Vec::new();
    for (r, &status) in batch.status.iter().enumerate() {
        let (ti, s) = (r / cfg.runs, r % cfg.runs);
        if status != 0 {
            failed.push((ti, s));
            causes.push(Failure::from_status(status).map_or("unknown", |f| f.describe()));
            continue;
        }
        ok_runs[ti] += 1;
        for (si, c) in per_sample.iter().enumerate() {
            for (acc, x) in sum[ti][si].iter_mut().zip(&c[r * n..(r + 1) * n]) {
                *acc += x;
            }
        }
    }
    if !failed.is_empty() {
        let what = format!(
            "{} of {total} runs blew up ({})",
            failed.len(),
            crate::sim::protocol::runner::tally(causes.iter().copied())
        );
        // a temperature without a surviving run has no propensity: its curve would read as zeros
        let empty: Vec<String> = cfg
            .temps
            .iter()
            .zip(&ok_runs)
            .filter(|(_, &k)| k == 0)
            .map(|(t, _)| t.to_string())
            .collect();
        if !empty.is_empty() {
            return Err(Error::Input(format!(
                "propensity: {what}; every run at T = {} failed, so there is no propensity there. Usually the \
                 time step is too large for the temperature (dt {}, try half), the temperature is far above the \
                 system's (`temps`), or the configuration is not one of this system (density, units)",
                empty.join(", "),
                setup.dt
            )));
        }
        ctx.warn(&format!(
            "propensity: {what}; they are left out of the averages (curves.json lists them as failed_runs)"
        ));
    }
    let propensity: Vec<Vec<Vec<f64>>> = sum
        .into_iter()
        .zip(&ok_runs)
        .map(|(per_t, &runs)| {
            per_t
                .into_iter()
                .map(|v| v.into_iter().map(|x| x / runs.max(1) as f64).collect())
                .collect()
        })
        .collect();
    let delta = propensity
        .iter()
        .map(|per_t| per_t.iter().map(|p| delta(p)).collect())
        .collect();
    Ok(EnsembleResult {
        steps: samples,
        propensity,
        delta,
        failed,
        md_seconds,
    })
}

/// The curves of `curves.json`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Curves {
    pub data: String,
    /// `Dataset::fingerprint` of `data`.
    #[serde(default)]
    pub data_fingerprint: String,
    pub snapshot: usize,
    pub class: Class,
    pub temps: Vec<f64>,
    pub runs: usize,
    pub steps: Vec<u64>,
    pub times: Vec<f64>,
    /// [temps][times]
    pub delta: Vec<Vec<f64>>,
    /// [temps][times] Pearson C(Gamma, 1 - Delta), coarse-grained and normalised; absent without Grad-CAM.
    pub correlation: Option<Vec<Vec<f64>>>,
    /// Per temperature: the largest correlation and where it is reached.
    pub peaks: Vec<Peak>,
    pub failed_runs: Vec<(usize, usize)>,
    pub backend: String,
    /// Batched MD: replicas, particle-steps and their rate.
    pub replicas: usize,
    pub particle_steps: f64,
    pub md_seconds: f64,
    pub particle_steps_per_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Peak {
    pub temp: f64,
    pub c_max: f64,
    pub delta_at_max: f64,
    pub time_at_max: f64,
}

/// A propensity measurement of one configuration: the curves and the per-particle fields behind them.
#[derive(Clone, Debug)]
pub struct Propensity {
    pub curves: Curves,
    /// [temps][samples][N] propensity Delta_i(t).
    pub propensity: Vec<Vec<Vec<f64>>>,
    /// [temps][samples][N] 1 - Delta, coarse-grained and normalised.
    pub one_minus_delta_cg: Vec<Vec<Vec<f64>>>,
    /// Gamma of the configuration, coarse-grained and normalised, when a Grad-CAM set was given.
    pub gamma_cg: Option<Vec<f64>>,
}

/// Gamma of snapshot `snapshot` from a Grad-CAM set of `ds` (refused for another data set, another particle
/// count or a misclassified snapshot), coarse-grained with `cg` and normalised.
fn snapshot_gamma(
    g: &GammaSet,
    ds: &Dataset,
    snapshot: usize,
    n: usize,
    cg: CoarseGrain,
) -> Result<Vec<f64>> {
    g.check_data(&ds.dir.display().to_string(), &ds.fingerprint)?;
    if g.n_particles != n {
        return Err(Error::Input(format!(
            "the Grad-CAM set has {} particles per row, the data set {n}",
            g.n_particles
        )));
    }
    if g.is_misclassified(snapshot) {
        return Err(Error::Input(format!(
            "snapshot {snapshot} is misclassified by the network: its Gamma is left out; choose another"
        )));
    }
    let row = g.row(snapshot).ok_or_else(|| {
        Error::Input(format!(
            "the Grad-CAM set has no Gamma for snapshot {snapshot}: run gradcam over it (e.g. --split all)"
        ))
    })?;
    let l = ds.box_l();
    Ok(normalise(
        &coarse_grain(ds.snapshot(snapshot), [l, l], cg, &[row])[0],
    ))
}

/// 1 - Delta, coarse-grained (at the configuration's positions `flat`) and normalised, per temperature and sample
/// time, from the propensity [temperature][sample][particle].
fn one_minus_delta(
    flat: &[f64],
    box_l: [f64; 2],
    cg: CoarseGrain,
    propensity: &[Vec<Vec<f64>>],
    samples: usize,
) -> Vec<Vec<Vec<f64>>> {
    let mut one_minus = vec![vec![Vec::new(); samples]; propensity.len()];
    for (per_t, props) in one_minus.iter_mut().zip(propensity) {
        let fields: Vec<&[f64]> = props.iter().map(|v| v.as_slice()).collect();
        for (slot, f) in per_t.iter_mut().zip(coarse_grain(flat, box_l, cg, &fields)) {
            *slot = normalise(&f).into_iter().map(|x| 1.0 - x).collect();
        }
    }
    one_minus
}

/// Per temperature, the largest finite C(Gamma, 1 - Delta) over the sample times, and delta and the time there.
fn peaks(correlation: &[Vec<f64>], temps: &[f64], delta: &[Vec<f64>], times: &[f64]) -> Vec<Peak> {
    correlation
        .iter()
        .enumerate()
        .map(|(ti, row)| {
            let (si, &cmax) = row
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .max_by(|x, y| x.1.total_cmp(y.1))
                .unwrap_or((0, &f64::NAN));
            Peak {
                temp: temps[ti],
                c_max: cmax,
                delta_at_max: delta[ti][si],
                time_at_max: times[si],
            }
        })
        .collect()
}

/// The isoconfigurational ensemble of snapshot `snapshot` of `ds` and, with a Grad-CAM set, C(Gamma, 1 - Delta)
/// over time (fields coarse-grained with length `xi`).
pub fn propensity(
    ds: &Dataset,
    snapshot: usize,
    cfg: &EnsembleConfig,
    gamma: Option<&GammaSet>,
    xi: f64,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Propensity> {
    propensity_on(
        ds,
        snapshot,
        cfg,
        gamma,
        xi,
        std::slice::from_ref(compute),
        ctx,
    )
}

/// `propensity` with the ensemble's chunks shared among `devices` (`--adapters`), byte-identical to one device's.
pub fn propensity_on(
    ds: &Dataset,
    snapshot: usize,
    cfg: &EnsembleConfig,
    gamma: Option<&GammaSet>,
    xi: f64,
    devices: &[Compute],
    ctx: Ctx,
) -> Result<Propensity> {
    let Some(compute) = devices.first() else {
        return Err(Error::Input("propensity: no device to run on".into()));
    };
    if snapshot >= ds.n_snapshots() {
        return Err(Error::Input(format!(
            "snapshot {snapshot}: {} has {} snapshots",
            ds.dir.display(),
            ds.n_snapshots()
        )));
    }
    let cg = CoarseGrain {
        xi,
        ..Default::default()
    };
    cg.validate()?;
    let sys = &ds.manifest.system;
    if cfg.temps.is_empty() {
        return Err(Error::Input(format!(
            "system `{}` has no t_star: give the temperatures (between T* and 1.5 T*)",
            sys.name
        )));
    }
    cfg.validate()?;
    let setup = md_setup_of(ds);
    let l = ds.box_l();
    let flat = ds.snapshot(snapshot).to_vec();
    let pos0: Vec<[f64; 2]> = flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    let vor = crate::analysis::voronoi::voronoi(&flat, [l, l])?;
    let cages: Vec<Vec<u32>> = (0..vor.n())
        .map(|i| vor.neighbours_of(i).to_vec())
        .collect();

    // Gamma of this snapshot, coarse-grained and normalised like the other indicators.
    let gamma_cg = gamma
        .map(|g| snapshot_gamma(g, ds, snapshot, setup.n, cg))
        .transpose()?;

    let total = cfg.temps.len() * cfg.runs;
    ctx.note(&format!(
        "propensity: snapshot {snapshot} of {} ({}), {} temperatures x {} runs = {total} replicas in one batch, {} \
         steps",
        ds.dir.display(),
        Class::from_label(ds.manifest.snapshots[snapshot].label),
        cfg.temps.len(),
        cfg.runs,
        cfg.steps
    ));
    let res = run_ensemble_on(&setup, &pos0, &cages, cfg, devices, ctx)?;
    let (ns, n) = (res.steps.len(), setup.n);
    let times: Vec<f64> = res.steps.iter().map(|&s| s as f64 * setup.dt).collect();
    let one_minus = one_minus_delta(&flat, [l, l], cg, &res.propensity, ns);
    let correlation: Option<Vec<Vec<f64>>> = gamma_cg.as_ref().map(|g| {
        one_minus
            .iter()
            .map(|per_t| per_t.iter().map(|om| pearson(g, om)).collect())
            .collect()
    });
    let peaks = correlation
        .as_ref()
        .map(|c| peaks(c, &cfg.temps, &res.delta, &times))
        .unwrap_or_default();
    let particle_steps = (total * n) as f64 * cfg.steps as f64;
    let curves = Curves {
        data: ds.dir.display().to_string(),
        data_fingerprint: ds.fingerprint.clone(),
        snapshot,
        class: Class::from_label(ds.manifest.snapshots[snapshot].label),
        temps: cfg.temps.clone(),
        runs: cfg.runs,
        steps: res.steps.clone(),
        times,
        delta: res.delta.clone(),
        correlation,
        peaks,
        failed_runs: res.failed.clone(),
        backend: compute.identity(),
        replicas: total,
        particle_steps,
        md_seconds: res.md_seconds,
        particle_steps_per_s: particle_steps / res.md_seconds.max(1e-9),
    };
    ctx.note(&format!(
        "propensity: {total} replicas x {} steps in {:.1} s of batched MD ({:.3e} particle-steps/s)",
        cfg.steps, res.md_seconds, curves.particle_steps_per_s
    ));
    for p in &curves.peaks {
        ctx.note(&format!(
            "  T = {:.3}: max C(Gamma, 1 - Delta) = {:.3} at delta = {:.3} (t = {:.1})",
            p.temp, p.c_max, p.delta_at_max, p.time_at_max
        ));
    }
    Ok(Propensity {
        curves,
        propensity: res.propensity,
        one_minus_delta_cg: one_minus,
        gamma_cg,
    })
}

/// Writes `times.npy`, `delta.npy`, `propensity.npy`, `one_minus_delta_cg.npy`, `curves.json` (last) and, with
/// `plots`, delta(t), C(Gamma, 1 - Delta) against delta and field maps.
pub fn write_propensity(out: &Path, ds: &Dataset, p: &Propensity, plots: bool) -> Result<()> {
    let c = &p.curves;
    std::fs::create_dir_all(out).at(out)?;
    let (nt, ns, n) = (c.temps.len(), c.times.len(), ds.n_particles());
    crate::io::npy::write(&out.join("times.npy"), &[ns as u64], &c.times)?;
    let delta_flat: Vec<f64> = c.delta.iter().flatten().copied().collect();
    crate::io::npy::write(&out.join("delta.npy"), &[nt as u64, ns as u64], &delta_flat)?;
    let prop_flat: Vec<f64> = p.propensity.iter().flatten().flatten().copied().collect();
    crate::io::npy::write(
        &out.join("propensity.npy"),
        &[nt as u64, ns as u64, n as u64],
        &prop_flat,
    )?;
    let om_flat: Vec<f64> = p
        .one_minus_delta_cg
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    crate::io::npy::write(
        &out.join("one_minus_delta_cg.npy"),
        &[nt as u64, ns as u64, n as u64],
        &om_flat,
    )?;
    if plots {
        plot_propensity(out, ds, p)?;
    }
    crate::io::json::write_json_atomic(&out.join("curves.json"), c)
}

fn plot_propensity(out: &Path, ds: &Dataset, p: &Propensity) -> Result<()> {
    let c = &p.curves;
    let (nt, ns) = (c.temps.len(), c.times.len());
    let l = ds.box_l();
    let flat = ds.snapshot(c.snapshot);
    let label = |t: f64| format!("T = {t:.3}");
    let series: Vec<(String, Vec<(f64, f64)>)> = (0..nt)
        .map(|ti| {
            (
                label(c.temps[ti]),
                c.times
                    .iter()
                    .copied()
                    .zip(c.delta[ti].iter().copied())
                    .collect(),
            )
        })
        .collect();
    line_plot(
        &out.join("delta_vs_time"),
        &LinePlot {
            title: "delta(t) from the glass",
            x_label: "time",
            y_label: "delta",
            series: &series,
            log_x: true,
            dashed: &[],
        },
    )?;
    if let Some(corr) = &c.correlation {
        let series: Vec<(String, Vec<(f64, f64)>)> = (0..nt)
            .map(|ti| {
                (
                    label(c.temps[ti]),
                    c.delta[ti]
                        .iter()
                        .copied()
                        .zip(corr[ti].iter().copied())
                        .collect(),
                )
            })
            .collect();
        line_plot(
            &out.join("correlation_vs_delta"),
            &LinePlot {
                title: "C(Gamma, 1 - Delta) against delta (paper Fig. 4)",
                x_label: "delta",
                y_label: "C(Gamma, 1 - Delta)",
                series: &series,
                log_x: true,
                dashed: &[],
            },
        )?;
    }
    // Field maps at the sample where delta is closest to 1 (the paper's peak), lowest temperature.
    let si = (0..ns)
        .min_by(|&x, &y| {
            (c.delta[0][x] - 1.0)
                .abs()
                .total_cmp(&(c.delta[0][y] - 1.0).abs())
        })
        .unwrap_or(0);
    let diam: Vec<f64> = {
        let d = ds.manifest.system.diameters();
        ds.species.iter().map(|&s| d[s as usize]).collect()
    };
    let title = format!(
        "1 - Delta (coarse-grained), T = {:.3}, delta = {:.2}",
        c.temps[0], c.delta[0][si]
    );
    field_map(
        &out.join("field_one_minus_delta"),
        &FieldMap {
            title: &title,
            box_l: [l, l],
            positions: flat,
            diameters: &diam,
            colour: &p.one_minus_delta_cg[0][si],
            alpha: None,
        },
    )?;
    if let Some(g) = &p.gamma_cg {
        field_map(
            &out.join("field_gamma"),
            &FieldMap {
                title: "Gamma (coarse-grained)",
                box_l: [l, l],
                positions: flat,
                diameters: &diam,
                colour: g,
                alpha: None,
            },
        )?;
    }
    Ok(())
}
