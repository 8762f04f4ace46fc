//! Dynamic propensity (SPEC §9): isoconfigurational ensembles of one configuration (runs x temperatures as
//! replicas of one batched simulation), unwrapped displacements, cage-relative squared displacements with cages
//! from the t = 0 Voronoi neighbours, the propensity Delta_i(t) and delta(t).

use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment, Thermo};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::init::{maxwell_boltzmann, replica_rng};

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

/// Cage-relative squared displacement |d_i - mean_{j in {i} + cage_i} d_j|^2 for every particle.
/// `cages[i]` lists i's t = 0 Voronoi neighbours (without i; i itself is always included in the mean).
pub fn crsd(d: &[[f64; 2]], cages: &[Vec<u32>]) -> Vec<f64> {
    d.iter()
        .enumerate()
        .map(|(i, di)| {
            let mut m = *di;
            for &j in &cages[i] {
                m[0] += d[j as usize][0];
                m[1] += d[j as usize][1];
            }
            let k = (cages[i].len() + 1) as f64;
            let (dx, dy) = (di[0] - m[0] / k, di[1] - m[1] / k);
            dx * dx + dy * dy
        })
        .collect()
}

/// delta = (1/N) sum_i sqrt(Delta_i).
pub fn delta(propensity: &[f64]) -> f64 {
    propensity.iter().map(|x| x.sqrt()).sum::<f64>() / propensity.len().max(1) as f64
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
    progress: bool,
) -> Result<EnsembleResult> {
    let n = setup.n;
    if pos0.len() != n || cages.len() != n {
        return Err(Error::Input(format!(
            "propensity: {} positions and {} cages for a system of {n} particles",
            pos0.len(),
            cages.len()
        )));
    }
    if cfg.temps.is_empty() || cfg.runs == 0 || cfg.steps == 0 {
        return Err(Error::Input(
            "propensity: give at least one temperature, one run and one step".into(),
        ));
    }
    if let Some(t) = cfg.temps.iter().find(|t| !(**t > 0.0 && t.is_finite())) {
        return Err(Error::Input(format!(
            "propensity: temperature {t} must be > 0"
        )));
    }
    let total = cfg.temps.len() * cfg.runs;
    // replica r = temp_index * runs + run
    let mut reps = Replicas {
        n,
        ..Default::default()
    };
    for (ti, &t) in cfg.temps.iter().enumerate() {
        for s in 0..cfg.runs {
            let mut rng = replica_rng(cfg.seed, (ti * cfg.runs + s) as u64);
            reps.pos.extend_from_slice(pos0);
            reps.vel.extend(maxwell_boltzmann(setup, t, &mut rng));
            reps.img.extend(std::iter::repeat_n([0, 0], n));
            reps.thermo.push(Thermo {
                t_scale: t,
                ..Default::default()
            });
        }
    }
    let chunk = crate::protocol::default_chunk(compute, setup, total);
    let samples = sample_steps(cfg.steps, cfg.samples);
    let mut sum = vec![vec![vec![0.0; n]; samples.len()]; cfg.temps.len()];
    let mut ok_runs = vec![0usize; cfg.temps.len()];
    let mut failed = Vec::new();
    let seg = Segment {
        t_from: 1.0,
        t_to: 1.0,
        len: cfg.steps,
    };
    let mut bar =
        progress.then(|| crate::progress::Progress::new(cfg.steps * total as u64, "replica-steps"));
    let mut md_seconds = 0.0;
    for lo in (0..total).step_by(chunk) {
        let hi = (lo + chunk).min(total);
        let part = crate::bench::slice_replicas(&reps, lo..hi);
        let mut md: Box<dyn MdBackend> = match compute {
            Compute::Cpu => Box::new(CpuMd::new(setup.clone())?),
            Compute::Gpu(ctx) => Box::new(GpuMd::new(ctx.clone(), setup.clone())?),
        };
        md.upload(&part)?;
        let mut per_sample: Vec<Replicas> = Vec::with_capacity(samples.len());
        let mut done = 0u64;
        for &target in &samples {
            let t0 = std::time::Instant::now();
            md.advance(&Advance {
                segment: seg,
                seg_done: done,
                step0: done,
                steps: target - done,
            })?;
            let state = md.download()?;
            md_seconds += t0.elapsed().as_secs_f64();
            if let Some(b) = bar.as_mut() {
                b.inc((target - done) * (hi - lo) as u64);
            }
            done = target;
            per_sample.push(state);
            if crate::protocol::interrupted() {
                return Err(Error::Interrupted);
            }
        }
        let last = per_sample.last().expect("at least one sample");
        for k in 0..hi - lo {
            let r = lo + k;
            let (ti, s) = (r / cfg.runs, r % cfg.runs);
            if last.thermo[k].status != 0 {
                failed.push((ti, s));
                continue;
            }
            ok_runs[ti] += 1;
            for (si, state) in per_sample.iter().enumerate() {
                let d = unwrapped_displacement(
                    pos0,
                    &state.pos[k * n..(k + 1) * n],
                    &state.img[k * n..(k + 1) * n],
                    setup.box_l,
                );
                for (acc, x) in sum[ti][si].iter_mut().zip(crsd(&d, cages)) {
                    *acc += x;
                }
            }
        }
    }
    if let Some(b) = bar {
        b.finish();
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
