//! Equilibration and the structural relaxation time: every start of a data set runs at T as one replica of a
//! batched simulation; the self-intermediate scattering function F_s(k, t) of the A particles at the first peak
//! of S_AA(k) gives tau_alpha (F_s = 1/e) per replica, and a check says which end states are equilibrated
//! (energy stationary, F_s decayed several times over the run); those are written as a data set.

use std::path::Path;

use glasscam_kernels::md::{Replicas, Thermo};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::{Dataset, Manifest, SnapshotMeta};
use crate::io::outdir::{self, OutDir};
use crate::sim::init::{maxwell_boltzmann, replica_rng};
use crate::sim::propensity::{run_batched, unwrapped_displacement};

pub const RELAX: &str = "relax.json";
/// `RelaxFile::format_version` this glasscam writes.
pub const FORMAT_VERSION: u32 = 1;
/// Directions k is averaged over (the 2D isotropic average of cos(k . dr), to 1e-6 for k |dr| < 8).
const DIRECTIONS: usize = 16;

/// What to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelaxConfig {
    pub temperature: f64,
    /// Steps of the run (its whole length is the equilibration).
    pub steps: u64,
    /// Log-spaced samples of F_s (a linear grid of as many is added for the energy).
    pub samples: usize,
    /// F_s must reach 1/e within 1 / `min_decays` of the run for a start to count as equilibrated.
    pub min_decays: f64,
    pub seed: u64,
}

/// What `relax.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RelaxFile {
    pub format_version: u32,
    pub data: String,
    pub data_fingerprint: String,
    pub temperature: f64,
    pub steps: u64,
    pub dt: f64,
    /// The wave number of the first peak of S_AA(k), and the S_AA(k) curve it was read from (k, S).
    pub k: f64,
    pub s_aa: Vec<(f64, f64)>,
    /// [T] sample times and [starts][T] F_s of each start's A particles.
    pub times: Vec<f64>,
    pub f_s: Vec<Vec<f64>>,
    /// Per start: tau_alpha (null when F_s never reaches 1/e), the potential energy drift between the halves of
    /// the run against its fluctuation, and whether it passed the check (with why not).
    pub starts: Vec<StartCheck>,
    /// Mean and standard deviation of tau_alpha over the starts that reach 1/e.
    pub tau_alpha: Option<f64>,
    pub tau_alpha_spread: Option<f64>,
    pub min_decays: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StartCheck {
    pub snapshot: usize,
    pub tau_alpha: Option<f64>,
    /// Mean PE per particle of the second half of the run minus the first's.
    pub pe_drift: f64,
    /// The standard deviation of PE per particle over the second half's samples.
    pub pe_fluctuation: f64,
    /// PE per particle of the end state.
    pub pe_end: f64,
    pub equilibrated: bool,
    pub reason: Option<String>,
}

/// S_AA(k) of configurations `pos` (species 0 only), binned in |k| steps of 2 pi / L up to `k_max`; returns
/// (k, S) per bin that holds wave vectors.
pub fn s_aa(pos: &[Vec<[f64; 2]>], species: &[u32], l: f64, k_max: f64) -> Vec<(f64, f64)> {
    let dk = 2.0 * std::f64::consts::PI / l;
    let m = (k_max / dk).ceil() as i64;
    let bins = (k_max / dk).ceil() as usize + 1;
    let (mut sum, mut count) = (vec![0.0; bins], vec![0usize; bins]);
    let a: Vec<usize> = (0..species.len()).filter(|&i| species[i] == 0).collect();
    for nx in 0..=m {
        for ny in -m..=m {
            if nx == 0 && ny <= 0 {
                continue;
            }
            let (kx, ky) = (nx as f64 * dk, ny as f64 * dk);
            let k = kx.hypot(ky);
            if k > k_max {
                continue;
            }
            let b = (k / dk).round() as usize;
            for p in pos {
                let (mut c, mut s) = (0.0, 0.0);
                for &i in &a {
                    let ph = kx * p[i][0] + ky * p[i][1];
                    c += ph.cos();
                    s += ph.sin();
                }
                sum[b] += (c * c + s * s) / a.len() as f64;
                count[b] += 1;
            }
        }
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (b as f64 * dk, sum[b] / count[b] as f64))
        .collect()
}

/// The first peak of S(k): the largest S at k in [2, 10] (sigma_AA units).
pub fn first_peak(s: &[(f64, f64)]) -> Option<f64> {
    s.iter()
        .filter(|(k, _)| (2.0..=10.0).contains(k))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|x| x.0)
}

/// F_s(k, t) of the particles in `mask` from displacements `d`, averaged over `DIRECTIONS` directions of k.
pub fn f_s(d: &[[f64; 2]], mask: &[bool], k: f64) -> f64 {
    let mut sum = 0.0;
    let mut count = 0usize;
    for (v, _) in d.iter().zip(mask).filter(|(_, &m)| m) {
        for j in 0..DIRECTIONS {
            let th = std::f64::consts::PI * j as f64 / DIRECTIONS as f64;
            sum += (k * (v[0] * th.cos() + v[1] * th.sin())).cos();
        }
        count += DIRECTIONS;
    }
    sum / count.max(1) as f64
}

/// The first time F_s falls to 1/e, interpolated linearly in log t between samples.
pub fn tau_at_1_over_e(times: &[f64], f: &[f64]) -> Option<f64> {
    let target = (-1.0f64).exp();
    let k = f.iter().position(|&x| x <= target)?;
    if k == 0 {
        return Some(times[0]);
    }
    let (t0, t1, f0, f1) = (times[k - 1], times[k], f[k - 1], f[k]);
    let w = (f0 - target) / (f0 - f1);
    Some((t0.ln() + w * (t1.ln() - t0.ln())).exp())
}

/// The result of a relaxation run: the record and the end state of each start.
pub struct Relaxed {
    pub file: RelaxFile,
    /// [starts * N] end positions, wrapped.
    pub end: Vec<[f64; 2]>,
}

/// Runs every snapshot of `snapshots` at `cfg.temperature` for `cfg.steps`, all at once, and checks them; a
/// temperature whose starts all fail is refused.
pub fn relax(
    ds: &Dataset,
    snapshots: &[usize],
    cfg: &RelaxConfig,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Relaxed> {
    let bad = |m: String| Err(Error::Input(format!("relax: {m}")));
    if snapshots.is_empty() {
        return bad("give at least one snapshot (`snapshots`)".into());
    }
    if let Some(&k) = snapshots.iter().find(|&&k| k >= ds.n_snapshots()) {
        return bad(format!(
            "snapshot {k}: {} has {} snapshots",
            ds.dir.display(),
            ds.n_snapshots()
        ));
    }
    if !(cfg.temperature > 0.0 && cfg.temperature.is_finite()) {
        return bad(format!(
            "`temperature` {}: give a positive temperature",
            cfg.temperature
        ));
    }
    if cfg.steps < 4 || cfg.samples < 4 || cfg.samples > crate::sim::propensity::MAX_SAMPLES / 2 {
        return bad(format!(
            "`steps` {} and `samples` {}: give at least 4 steps and 4 to 500 samples",
            cfg.steps, cfg.samples
        ));
    }
    if !(cfg.min_decays >= 1.0 && cfg.min_decays.is_finite()) {
        return bad(format!("`min_decays` {}: give 1 or more", cfg.min_decays));
    }
    let sys = &ds.manifest.system;
    let md = serde_json::from_value::<crate::sim::protocol::Protocol>(ds.manifest.protocol.clone())
        .map(|p| p.md)
        .unwrap_or_default();
    let setup = sys.md_setup(&md);
    let (n, l) = (setup.n, ds.box_l());
    let pos0: Vec<Vec<[f64; 2]>> = snapshots
        .iter()
        .map(|&k| {
            ds.snapshot(k)
                .chunks_exact(2)
                .map(|c| [c[0], c[1]])
                .collect()
        })
        .collect();
    let s_curve = s_aa(&pos0, &ds.species, l, 12.0);
    let k = first_peak(&s_curve).ok_or_else(|| {
        Error::Input("relax: S_AA(k) has no wave vector in [2, 10]; the box is too small".into())
    })?;
    // a log grid for F_s and a linear one for the energy
    let log = crate::sim::propensity::sample_steps(cfg.steps, cfg.samples);
    let lin: Vec<u64> = (1..=cfg.samples as u64)
        .map(|j| (j * cfg.steps / cfg.samples as u64).max(1))
        .collect();
    let mut samples: Vec<u64> = log.iter().chain(&lin).copied().collect();
    samples.sort_unstable();
    samples.dedup();
    let mut reps = Replicas {
        n,
        ..Default::default()
    };
    for (c, p) in pos0.iter().enumerate() {
        let mut rng = replica_rng(cfg.seed, c as u64);
        reps.pos.extend_from_slice(p);
        reps.vel
            .extend(maxwell_boltzmann(&setup, cfg.temperature, &mut rng));
        reps.img.extend(std::iter::repeat_n([0, 0], n));
        reps.thermo.push(Thermo {
            t_scale: cfg.temperature,
            ..Default::default()
        });
    }
    ctx.note(&format!(
        "relax: {} starts at T = {} for {} steps in one batch; k at the first peak of S_AA = {k:.3}",
        snapshots.len(),
        cfg.temperature,
        cfg.steps
    ));
    let mask: Vec<bool> = ds.species.iter().map(|&s| s == 0).collect();
    let starts = snapshots.len();
    let mut fs = vec![vec![0.0; samples.len()]; starts];
    let mut pe = vec![vec![0.0; samples.len()]; starts];
    let mut end = vec![[0.0; 2]; starts * n];
    let last = samples.len() - 1;
    let batch = run_batched(&setup, &reps, &samples, compute, ctx, |si, lo, md| {
        let state = md.download()?;
        for j in 0..state.count() {
            let c = lo + j;
            let (pos, img) = (
                &state.pos[j * n..(j + 1) * n],
                &state.img[j * n..(j + 1) * n],
            );
            fs[c][si] = f_s(&unwrapped_displacement(&pos0[c], pos, img, l), &mask, k);
            pe[c][si] = state.thermo[j].pe / n as f64;
            if si == last {
                end[c * n..(c + 1) * n].copy_from_slice(pos);
            }
        }
        Ok(())
    })?;
    let times: Vec<f64> = samples.iter().map(|&s| s as f64 * setup.dt).collect();
    let run_time = cfg.steps as f64 * setup.dt;
    let half = run_time / 2.0;
    let checks: Vec<StartCheck> = (0..starts)
        .map(|c| {
            let tau = tau_at_1_over_e(&times, &fs[c]);
            let lin_pe: Vec<(f64, f64)> = samples
                .iter()
                .zip(&pe[c])
                .filter(|(s, _)| lin.contains(s))
                .map(|(&s, &e)| (s as f64 * setup.dt, e))
                .collect();
            let first: Vec<f64> = lin_pe.iter().filter(|x| x.0 <= half).map(|x| x.1).collect();
            let second: Vec<f64> = lin_pe.iter().filter(|x| x.0 > half).map(|x| x.1).collect();
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let drift = mean(&second) - mean(&first);
            let m2 = mean(&second);
            let fluct = (second.iter().map(|e| (e - m2).powi(2)).sum::<f64>() / second.len().max(1) as f64).sqrt();
            let reason = if batch.status[c] != 0 {
                Some("the run blew up".to_string())
            } else if !tau.is_some_and(|t| t * cfg.min_decays <= run_time) {
                Some(format!(
                    "F_s decays to 1/e at {} of a run of {run_time}: not {} times over",
                    tau.map_or("no time".into(), |t| format!("t = {t:.3}")),
                    cfg.min_decays
                ))
            } else if drift.abs() > 2.0 * fluct + 1e-3 {
                Some(format!(
                    "the energy per particle drifts by {drift:.4} between the halves of the run (fluctuation {fluct:.4})"
                ))
            } else {
                None
            };
            StartCheck {
                snapshot: snapshots[c],
                tau_alpha: tau,
                pe_drift: drift,
                pe_fluctuation: fluct,
                pe_end: pe[c][last],
                equilibrated: reason.is_none(),
                reason,
            }
        })
        .collect();
    for c in checks.iter().filter(|c| !c.equilibrated) {
        ctx.warn(&format!(
            "relax: snapshot {} is not equilibrated at T = {}: {}; it is left out",
            c.snapshot,
            cfg.temperature,
            c.reason.as_deref().unwrap_or_default()
        ));
    }
    if checks.iter().all(|c| !c.equilibrated) {
        return bad(format!(
            "every start fails the equilibration check at T = {} ({} steps of dt {}): run longer (`steps`), at \
             least {} tau_alpha, or choose a higher temperature",
            cfg.temperature, cfg.steps, setup.dt, cfg.min_decays
        ));
    }
    let taus: Vec<f64> = checks.iter().filter_map(|c| c.tau_alpha).collect();
    let (tau, spread) = if taus.is_empty() {
        (None, None)
    } else {
        let m = taus.iter().sum::<f64>() / taus.len() as f64;
        let v = taus.iter().map(|t| (t - m).powi(2)).sum::<f64>() / taus.len() as f64;
        (Some(m), Some(v.sqrt()))
    };
    Ok(Relaxed {
        file: RelaxFile {
            format_version: FORMAT_VERSION,
            data: ds.dir.display().to_string(),
            data_fingerprint: ds.fingerprint.clone(),
            temperature: cfg.temperature,
            steps: cfg.steps,
            dt: setup.dt,
            k,
            s_aa: s_curve,
            times,
            f_s: fs,
            starts: checks,
            tau_alpha: tau,
            tau_alpha_spread: spread,
            min_decays: cfg.min_decays,
        },
        end,
    })
}

/// Writes `relax.json` and the equilibrated end states as a data set (one snapshot per start that passed) at
/// `out`; `force` replaces one there.
pub fn write_relax(out: &Path, ds: &Dataset, r: &Relaxed, force: bool) -> Result<()> {
    let _dir = OutDir::lock(out)?;
    outdir::no_overwrite(&out.join(crate::io::dataset::MANIFEST), force, "a data set")?;
    let n = ds.n_particles();
    let l = ds.box_l();
    let mut snaps = Vec::new();
    let mut positions = Vec::new();
    for (c, chk) in r
        .file
        .starts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.equilibrated)
    {
        let src = &ds.manifest.snapshots[chk.snapshot];
        snaps.push(SnapshotMeta {
            index: snaps.len(),
            step: src.step + r.file.steps,
            target_t: r.file.temperature,
            kinetic_t: r.file.temperature,
            pe_per_particle: chk.pe_end,
            ..src.clone()
        });
        positions.extend(
            r.end[c * n..(c + 1) * n]
                .iter()
                .flat_map(|p| [p[0].rem_euclid(l), p[1].rem_euclid(l)]),
        );
    }
    let manifest = Manifest {
        snapshots: snaps,
        snapshot_temps: vec![r.file.temperature],
        ..ds.manifest.clone()
    };
    Dataset::write(out, &manifest, &positions, &ds.species)?;
    crate::io::json::write_json_atomic(&out.join(RELAX), &r.file)
}
