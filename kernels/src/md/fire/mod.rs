//! Kernel `md_fire`: batched FIRE 2.0 energy minimisation (Bitzek et al. 2006; Guénolé et al. 2020) of many
//! replicas at once on the MD engine's force path and neighbour lists; settings, per-replica state, results.

pub mod cpu;
pub mod gpu;

use bytemuck::{Pod, Zeroable};

use super::{Failure, Replicas};
use crate::error::{KernelError, Result};

/// FIRE settings (docs/methods.md, "Inherent structures"), in MD time units. Defaults are the usual ones, scaled to an MD time step of 0.005.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FireConfig {
    /// A replica has converged when every particle's |F| is below this.
    pub ftol: f64,
    /// Starting time step.
    pub dt_start: f64,
    pub dt_max: f64,
    pub dt_min: f64,
    pub alpha0: f64,
    pub f_inc: f64,
    pub f_dec: f64,
    pub f_alpha: f64,
    /// Uphill-free iterations before dt may grow (and, FIRE 2.0, iterations before dt may first shrink).
    pub n_delay: u32,
    /// Iteration cap per replica; a replica still above ftol then is reported as not converged.
    pub max_iter: u32,
}

impl FireConfig {
    /// The defaults for an MD time step `dt_md`: dt_max 10 dt_md, dt_min 0.02 dt_md, ftol 1e-8 (the f64 twin).
    pub fn for_md_dt(dt_md: f64) -> FireConfig {
        FireConfig {
            ftol: 1e-8,
            dt_start: dt_md,
            dt_max: 10.0 * dt_md,
            dt_min: 0.02 * dt_md,
            alpha0: 0.1,
            f_inc: 1.1,
            f_dec: 0.5,
            f_alpha: 0.99,
            n_delay: 5,
            max_iter: 100_000,
        }
    }

    /// Refuses settings FIRE cannot run with; the message names the setting and what to use.
    pub fn check(&self) -> Result<()> {
        let bad = |message: String| {
            Err(KernelError::Input {
                kernel: "md_fire".into(),
                message,
            })
        };
        if !(self.ftol > 0.0 && self.ftol.is_finite()) {
            return bad(format!(
                "force tolerance ftol = {} must be a positive number (e.g. 1e-8 on the CPU twin, 1e-4 on the GPU)",
                self.ftol
            ));
        }
        if !(self.dt_min > 0.0 && self.dt_min <= self.dt_start && self.dt_start <= self.dt_max) {
            return bad(format!(
                "time steps must satisfy 0 < dt_min <= dt_start <= dt_max (got {}, {}, {})",
                self.dt_min, self.dt_start, self.dt_max
            ));
        }
        if !(self.alpha0 > 0.0 && self.alpha0 < 1.0 && self.f_alpha > 0.0 && self.f_alpha <= 1.0) {
            return bad(format!(
                "mixing must satisfy 0 < alpha0 < 1 and 0 < f_alpha <= 1 (got {}, {})",
                self.alpha0, self.f_alpha
            ));
        }
        if !(self.f_inc >= 1.0 && self.f_dec > 0.0 && self.f_dec < 1.0) {
            return bad(format!(
                "step factors must satisfy f_inc >= 1 and 0 < f_dec < 1 (got {}, {})",
                self.f_inc, self.f_dec
            ));
        }
        if self.max_iter == 0 {
            return bad("max_iter is 0: allow at least one iteration".into());
        }
        Ok(())
    }

    pub fn params(&self) -> FireParams {
        FireParams {
            dt_start: self.dt_start as f32,
            dt_max: self.dt_max as f32,
            dt_min: self.dt_min as f32,
            alpha0: self.alpha0 as f32,
            f_inc: self.f_inc as f32,
            f_dec: self.f_dec as f32,
            f_alpha: self.f_alpha as f32,
            ftol2: (self.ftol * self.ftol) as f32,
            n_delay: self.n_delay,
            max_iter: self.max_iter,
            _pad0: 0,
            _pad1: 0,
        }
    }
}

// mirrors md/shaders/md_fire.wgsl `FireParams` (checked member by member against naga: kernels/tests/kernels/shaders.rs)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FireParams {
    pub dt_start: f32,
    pub dt_max: f32,
    pub dt_min: f32,
    pub alpha0: f32,
    pub f_inc: f32,
    pub f_dec: f32,
    pub f_alpha: f32,
    pub ftol2: f32,
    pub n_delay: u32,
    pub max_iter: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}
}

/// Where a replica's minimisation stands (the `status` word of `FireVars`).
pub const RUNNING: u32 = 0;
pub const CONVERGED: u32 = 1;
pub const FAILED: u32 = 2;

// mirrors md/shaders/md_fire.wgsl `FireState` (checked member by member against naga: kernels/tests/kernels/shaders.rs)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FireState {
    pub dt: f32,
    pub alpha: f32,
    pub n_pos: u32,
    pub iters: u32,
    pub status: u32,
    /// Total potential energy.
    pub pe: f32,
    /// sum F.F, the power F.v and max_i |F_i|^2 at the current positions.
    pub f2: f32,
    pub power: f32,
    pub fmax2: f32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}
}

/// One replica's FIRE state in f64 (the CPU twin's, and the host's view of the GPU's `FireState`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FireVars {
    pub dt: f64,
    pub alpha: f64,
    /// Iterations since the power F.v was last <= 0.
    pub n_pos: u32,
    pub iters: u32,
    pub status: u32,
    pub pe: f64,
    pub f2: f64,
    pub power: f64,
    pub fmax2: f64,
}

impl FireVars {
    pub fn start(cfg: &FireConfig) -> FireVars {
        FireVars {
            dt: cfg.dt_start,
            alpha: cfg.alpha0,
            n_pos: 0,
            iters: 0,
            status: RUNNING,
            pe: 0.0,
            f2: 0.0,
            power: 0.0,
            fmax2: 0.0,
        }
    }
    pub fn to_gpu(&self) -> FireState {
        FireState {
            dt: self.dt as f32,
            alpha: self.alpha as f32,
            n_pos: self.n_pos,
            iters: self.iters,
            status: self.status,
            pe: self.pe as f32,
            f2: self.f2 as f32,
            power: self.power as f32,
            fmax2: self.fmax2 as f32,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        }
    }
    pub fn from_gpu(s: &FireState) -> FireVars {
        FireVars {
            dt: s.dt as f64,
            alpha: s.alpha as f64,
            n_pos: s.n_pos,
            iters: s.iters,
            status: s.status,
            pe: s.pe as f64,
            f2: s.f2 as f64,
            power: s.power as f64,
            fmax2: s.fmax2 as f64,
        }
    }
    /// Still iterating: neither converged nor failed, and under the cap.
    pub fn active(&self, cfg: &FireConfig) -> bool {
        self.status == RUNNING && self.iters < cfg.max_iter
    }
}

/// How one replica's minimisation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Converged,
    /// Hit the iteration cap with max |F| still at or above ftol.
    NotConverged,
    Failed(Failure),
}

/// One replica's minimum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Minimum {
    /// Potential energy per particle at the minimum (E_IS when converged).
    pub e_per_particle: f64,
    /// Largest |F_i| at the end.
    pub fmax: f64,
    pub iterations: u32,
    pub outcome: Outcome,
}

/// The result of minimising a batch: positions at the minima (velocities zero) and one `Minimum` per replica.
#[derive(Clone, Debug, PartialEq)]
pub struct Minima {
    pub replicas: Replicas,
    /// Per-particle potential energy at the minima (replica-major).
    pub pe: Vec<f64>,
    pub minima: Vec<Minimum>,
}

impl Minima {
    /// Indices of the replicas that did not converge, with why.
    pub fn unconverged(&self) -> Vec<(usize, Outcome)> {
        self.minima
            .iter()
            .enumerate()
            .filter(|(_, m)| m.outcome != Outcome::Converged)
            .map(|(k, m)| (k, m.outcome))
            .collect()
    }
}

/// Outcome of a replica from its FIRE state and its MD failure word.
pub fn outcome(st: &FireVars, md_status: u32) -> Outcome {
    match (st.status, Failure::from_status(md_status)) {
        (_, Some(f)) => Outcome::Failed(f),
        (CONVERGED, None) => Outcome::Converged,
        _ => Outcome::NotConverged,
    }
}

/// Refuses replicas whose size does not match the setup's `n` particles.
pub fn check_replicas(n: usize, r: &Replicas) -> Result<()> {
    if r.n != n || r.pos.len() != n * r.count() || r.img.len() != r.pos.len() {
        return Err(KernelError::Input {
            kernel: "md_fire".into(),
            message: format!(
                "replicas of {} particles ({} positions for {} replicas) but the setup has {n}",
                r.n,
                r.pos.len(),
                r.count()
            ),
        });
    }
    Ok(())
}

/// What both FIRE backends do: take replicas, iterate, hand back the minima.
pub trait FireBackend {
    /// Loads the replicas (velocities are ignored: FIRE starts at rest) and evaluates forces.
    fn upload(&mut self, replicas: &Replicas) -> Result<()>;
    /// Runs up to `iters` FIRE iterations on every replica still active; returns how many replicas are active.
    fn iterate(&mut self, iters: u32) -> Result<usize>;
    /// Positions, per-particle energies and outcomes now.
    fn download(&mut self) -> Result<Minima>;
}

/// Runs a backend to the end (every replica converged, failed or capped), `chunk` iterations between calls of
/// `between` (progress and cancellation: return an error to stop).
pub fn run_to_end<E: From<KernelError>>(
    backend: &mut dyn FireBackend,
    replicas: &Replicas,
    chunk: u32,
    mut between: impl FnMut(usize) -> std::result::Result<(), E>,
) -> std::result::Result<Minima, E> {
    backend.upload(replicas)?;
    loop {
        let active = backend.iterate(chunk.max(1))?;
        between(active)?;
        if active == 0 {
            return Ok(backend.download()?);
        }
    }
}
