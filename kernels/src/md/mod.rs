//! MD kernels `md_forces`, `md_step` and `md_crsd` (and FIRE, `fire`): Lennard-Jones pair potentials (two smoothed
//! forms, `PairForm`) with cell-built neighbour lists and velocity Verlet with a Nose-Hoover chain, for many
//! replicas at once; host mirrors of the WGSL structs, the setup, and the backends: the GPU (`gpu`), the plain
//! f64 reference the kernels are tested against (`reference`), and the fast CPU engine of production runs
//! (`cpu`).

pub mod cpu;
pub mod fire;
pub mod gpu;
pub mod kernels;
pub mod reference;
pub mod replica;

use bytemuck::{Pod, Zeroable};

pub const MAX_CHAIN: usize = 8;
/// Workgroup size of the MD kernels (one workgroup per replica).
pub const WG: u32 = 256;
/// Cell counts live in workgroup memory: at most this many cells per replica.
pub const MAX_CELLS: u32 = 1024;

// mirrors md/shaders/md_common.wgsl `MdParams` (checked member by member against naga)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MdParams {
    pub n: u32,
    pub n_replicas: u32,
    pub n_species: u32,
    pub nc: u32,
    pub box_l: f32,
    pub cell_size: f32,
    pub skin: f32,
    pub dt: f32,
    pub cell_cap: u32,
    pub nbr_cap: u32,
    pub n_chain: u32,
    pub steps: u32,
    pub n_dof: f32,
    pub tau_t: f32,
    pub t_from: f32,
    pub t_to: f32,
    pub seg_step0: u32,
    pub seg_len: u32,
    pub step0: u32,
    pub max_force: f32,
}
}

crate::wgsl_struct! {
/// md_crsd's parameters (mirrors `CrsdParams` in md/shaders/md_crsd.wgsl, checked member by member against naga).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct CrsdParams {
    pub n: u32,
    pub n_replicas: u32,
    pub box_l: f32,
    pub pad: u32,
}
}

// mirrors md/shaders/md_common.wgsl `PairParams` (checked member by member against naga)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PairParams {
    pub sigma2: f32,
    pub eps: f32,
    pub rc2: f32,
    pub rl2: f32,
    pub fc: f32,
    pub ec: f32,
    pub rc: f32,
    /// `PairForm::code`
    pub form: u32,
    /// `Pair::poly`
    pub k0: f32,
    pub k2: f32,
    pub k4: f32,
    pub _pad: f32,
}
}

// mirrors md/shaders/md_common.wgsl `SpeciesParams` (checked member by member against naga)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SpeciesParams {
    pub mass: f32,
    pub inv_mass: f32,
    pub _pad0: f32,
    pub _pad1: f32,
}
}

// mirrors md/shaders/md_common.wgsl `ReplicaState` (checked member by member against naga)
crate::wgsl_struct! {
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ReplicaState {
    pub eta: [f32; MAX_CHAIN],
    pub veta: [f32; MAX_CHAIN],
    pub ke: f32,
    pub pe: f32,
    pub status: u32,
    pub fail_step: u32,
    pub rebuilds: u32,
    pub t_scale: f32,
    pub _pad1: u32,
    pub _pad2: u32,
}
}

/// Why a replica stopped (the `status` word of `ReplicaState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    NonFinite,
    AbsurdForce,
}

impl Failure {
    pub fn from_status(status: u32) -> Option<Failure> {
        match status {
            0 => None,
            1 => Some(Failure::NonFinite),
            _ => Some(Failure::AbsurdForce),
        }
    }
    pub const fn status(self) -> u32 {
        match self {
            Failure::NonFinite => 1,
            Failure::AbsurdForce => 2,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Failure::NonFinite => "a position, force or energy became NaN or infinite",
            Failure::AbsurdForce => "a force exceeded the blow-up limit (max_force)",
        }
    }
}

/// The form of a pair potential inside its cutoff rc (zero beyond), with phi*(r) = 4 eps [(s/r)^12 - (s/r)^6].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PairForm {
    /// Lennard-Jones with linear smoothing (LAMMPS `lj/smooth/linear`): phi(r) = phi*(r) - phi*(rc) - (r - rc)
    /// phi*'(rc), so that phi and the force vanish at rc.
    LjSmoothLinear,
    /// Lennard-Jones plus an even polynomial: phi(r) = phi*(r) + 4 eps [c0 + c2 (r/s)^2 + c4 (r/s)^4]. With
    /// `PairForm::KA2D`'s coefficients and rc = 2.5 s, phi, phi' and phi'' vanish at rc (to within 1e-9 in units
    /// of 4 eps and s).
    LjPoly { c0: f64, c2: f64, c4: f64 },
}

impl PairForm {
    /// GlassBench's 2D ternary Kob-Andersen mixture (Jung, Biroli & Berthier, PRL 130, 238202 (2023)), for a
    /// cutoff of `KA2D_CUTOFF` sigma.
    pub const KA2D: PairForm = PairForm::LjPoly {
        c0: 0.04049023795,
        c2: -0.00970155098,
        c4: 0.00062012616,
    };
    /// The cutoff, in units of each pair's sigma, at which `KA2D`'s polynomial smooths the potential to zero.
    pub const KA2D_CUTOFF: f64 = 2.5;

    /// The form words of `PairParams` (the WGSL constants `PAIR_LJ_SMOOTH_LINEAR` and `PAIR_LJ_POLY`).
    pub const CODE_LJ_SMOOTH_LINEAR: u32 = 0;
    pub const CODE_LJ_POLY: u32 = 1;

    /// The form word of `PairParams`.
    pub const fn code(&self) -> u32 {
        match self {
            PairForm::LjSmoothLinear => PairForm::CODE_LJ_SMOOTH_LINEAR,
            PairForm::LjPoly { .. } => PairForm::CODE_LJ_POLY,
        }
    }

    /// The form's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            PairForm::LjSmoothLinear => "lj/smooth/linear",
            PairForm::LjPoly { .. } => "lj + c0 + c2 (r/s)^2 + c4 (r/s)^4",
        }
    }
}

/// One species pair of the potential, in f64 (the CPU engines' and the source of `PairParams`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    pub sigma: f64,
    pub eps: f64,
    pub rc: f64,
    pub rc2: f64,
    pub form: PairForm,
    /// phi*(rc) (`LjSmoothLinear`; 0 for the other form)
    pub ec: f64,
    /// phi*'(rc) (`LjSmoothLinear`; 0 for the other form)
    pub fc: f64,
    /// The polynomial of `LjPoly` in r: 4 eps (c0 + c2 (r/s)^2 + c4 (r/s)^4) = poly[0] + poly[1] r^2 + poly[2] r^4
    /// (zero for the other form).
    pub poly: [f64; 3],
    /// neighbour-list radius rc + skin
    pub rl: f64,
}

impl Pair {
    /// A pair of today's form, Lennard-Jones with linear smoothing (`PairForm::LjSmoothLinear`).
    pub fn new(sigma: f64, eps: f64, rc: f64, skin: f64) -> Pair {
        Pair::with_form(sigma, eps, rc, skin, PairForm::LjSmoothLinear)
    }

    /// A pair of any form: cutoff `rc`, neighbour-list radius rc + `skin`. GlassBench's KA2D pair of (sigma, eps)
    /// is `Pair::with_form(sigma, eps, PairForm::KA2D_CUTOFF * sigma, skin, PairForm::KA2D)`.
    pub fn with_form(sigma: f64, eps: f64, rc: f64, skin: f64, form: PairForm) -> Pair {
        let (mut ec, mut fc, mut poly) = (0.0, 0.0, [0.0; 3]);
        match form {
            PairForm::LjSmoothLinear => {
                let sr6 = (sigma / rc).powi(6);
                ec = 4.0 * eps * (sr6 * sr6 - sr6);
                fc = -24.0 * eps / rc * (2.0 * sr6 * sr6 - sr6);
            }
            PairForm::LjPoly { c0, c2, c4 } => {
                let s2 = sigma * sigma;
                poly = [
                    4.0 * eps * c0,
                    4.0 * eps * c2 / s2,
                    4.0 * eps * c4 / (s2 * s2),
                ];
            }
        }
        Pair {
            sigma,
            eps,
            rc,
            rc2: rc * rc,
            form,
            ec,
            fc,
            poly,
            rl: rc + skin,
        }
    }

    /// (F/r, phi) at squared distance r2, zero beyond rc. F/r times the separation vector gives the force on i.
    #[inline]
    pub fn eval(&self, r2: f64) -> (f64, f64) {
        if r2 >= self.rc2 {
            return (0.0, 0.0);
        }
        match self.form {
            PairForm::LjSmoothLinear => {
                // one square root and one division per pair
                let rinv = 1.0 / r2.sqrt();
                let inv2 = rinv * rinv;
                let sr2 = self.sigma * self.sigma * inv2;
                let sr6 = sr2 * sr2 * sr2;
                let sr12 = sr6 * sr6;
                let rr = r2 * rinv;
                let fr = 24.0 * self.eps * inv2 * (2.0 * sr12 - sr6) + self.fc * rinv;
                let e = 4.0 * self.eps * (sr12 - sr6) - self.ec - (rr - self.rc) * self.fc;
                (fr, e)
            }
            PairForm::LjPoly { .. } => {
                // even in r: one division, no square root
                let inv2 = 1.0 / r2;
                let sr2 = self.sigma * self.sigma * inv2;
                let sr6 = sr2 * sr2 * sr2;
                let sr12 = sr6 * sr6;
                let [k0, k2, k4] = self.poly;
                let fr = 24.0 * self.eps * inv2 * (2.0 * sr12 - sr6) - (2.0 * k2 + 4.0 * k4 * r2);
                let e = 4.0 * self.eps * (sr12 - sr6) + (k0 + r2 * (k2 + k4 * r2));
                (fr, e)
            }
        }
    }

    pub fn params(&self) -> PairParams {
        PairParams {
            sigma2: (self.sigma * self.sigma) as f32,
            eps: self.eps as f32,
            rc2: (self.rc * self.rc) as f32,
            rl2: (self.rl * self.rl) as f32,
            fc: self.fc as f32,
            ec: self.ec as f32,
            rc: self.rc as f32,
            form: self.form.code(),
            k0: self.poly[0] as f32,
            k2: self.poly[1] as f32,
            k4: self.poly[2] as f32,
            _pad: 0.0,
        }
    }
}

/// Everything a batch of replicas shares: the force field, the box, the integrator settings.
#[derive(Clone, Debug)]
pub struct MdSetup {
    /// Particles per replica.
    pub n: usize,
    pub box_l: f64,
    /// Species index of each particle (the same for every replica).
    pub species: Vec<u32>,
    /// Mass per species.
    pub mass: Vec<f64>,
    /// Row-major n_species x n_species pair table.
    pub pairs: Vec<Pair>,
    pub dt: f64,
    pub skin: f64,
    pub tau_t: f64,
    pub n_chain: usize,
    /// A force above this marks the replica as blown up.
    pub max_force: f64,
}

impl MdSetup {
    pub fn n_species(&self) -> usize {
        self.mass.len()
    }

    pub fn pair(&self, si: u32, sj: u32) -> &Pair {
        &self.pairs[si as usize * self.n_species() + sj as usize]
    }

    /// The one capacity model for the cell and neighbour lists: expected occupancies with room for
    /// fluctuations. The GPU backend starts from these (and grows them on overflow); the runner sizes chunks
    /// by them.
    pub fn list_capacities(&self) -> (u32, u32) {
        let nc = self.cells_per_side();
        let density = self.n as f64 / (self.box_l * self.box_l);
        let rl = self.pairs.iter().map(|p| p.rl).fold(0.0, f64::max);
        let per_cell = self.n as f64 / (nc * nc) as f64;
        let cell_cap = ((per_cell * 1.6).ceil() as u32 + 8).min(self.n as u32);
        let nbr_cap =
            ((std::f64::consts::PI * rl * rl * density * 1.3).ceil() as u32 + 8).min(self.n as u32);
        (cell_cap, nbr_cap)
    }

    /// Degrees of freedom for the thermostat: 2D, total momentum fixed at zero.
    pub fn n_dof(&self) -> f64 {
        (2 * self.n).saturating_sub(2).max(1) as f64
    }

    /// Cells per side: as many as fit the largest list radius, one cell when fewer than three fit.
    pub fn cells_per_side(&self) -> u32 {
        let rl = self.pairs.iter().map(|p| p.rl).fold(0.0, f64::max);
        let nc = ((self.box_l / rl).floor() as u32).min(32);
        if nc < 3 {
            1
        } else {
            nc
        }
    }

    /// Checks what the kernels assume; the message says what to change.
    pub fn check(&self) -> crate::error::Result<()> {
        let bad = |message: String| {
            Err(crate::error::KernelError::Input {
                kernel: "md".into(),
                message,
            })
        };
        let ns = self.n_species();
        if self.n == 0 || self.species.len() != self.n {
            return bad(format!(
                "{} species entries for {} particles",
                self.species.len(),
                self.n
            ));
        }
        if self.pairs.len() != ns * ns {
            return bad(format!(
                "pair table has {} entries, expected {}",
                self.pairs.len(),
                ns * ns
            ));
        }
        if let Some(s) = self.species.iter().find(|&&s| s as usize >= ns) {
            return bad(format!("species index {s} but only {ns} species"));
        }
        if self.n_chain > MAX_CHAIN {
            return bad(format!(
                "Nose-Hoover chain length {} (use 1..={MAX_CHAIN}, or 0 for NVE)",
                self.n_chain
            ));
        }
        let rl = self.pairs.iter().map(|p| p.rl).fold(0.0, f64::max);
        if 2.0 * rl > self.box_l {
            return bad(format!(
                "box side {:.3} is shorter than twice the neighbour radius {:.3}: use more particles",
                self.box_l, rl
            ));
        }
        Ok(())
    }
}

/// Upper bounds on the loop trips (back-edges taken, every loop counted, none assumed unrolled) that one thread of
/// an MD kernel makes, for drivers that end a shader's loops after a fixed total (`GpuContext::loop_budget`).
/// Counted from md_common.wgsl, md_step.wgsl and md_fire.wgsl with every cell and list at capacity and a list
/// rebuild at every step, so a dispatch sized by them cannot reach the budget whatever the particles do. A pair's
/// term is straight-line code whatever its form (`compute_forces` branches on the form word and loops only over
/// the list), so the bounds hold for every `PairForm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopTrips {
    /// A dispatch's fixed part: one list build and force evaluation (md_forces, and md_fire with 0 steps).
    pub once: u64,
    /// One more md_step step or md_fire iteration.
    pub per_step: u64,
}

/// The loop-trip bounds of the MD kernels for `setup` at list capacities `cell_cap` and `nbr_cap`.
pub fn loop_trips(setup: &MdSetup, cell_cap: u32, nbr_cap: u32) -> LoopTrips {
    let wg = WG as u64;
    let nc = setup.cells_per_side() as u64;
    let cap = cell_cap as u64;
    // particles and cells one thread strides over
    let p = (setup.n as u64).div_ceil(wg);
    let c = (nc * nc).div_ceil(wg);
    // a tree reduction over the workgroup (wg_sum, wg_max, wg_stats)
    let reduce = (WG.ilog2() + 1) as u64;
    // rebuild: zero the counts, bin, insertion-sort each cell, then one merge pass per particle over its stencil
    // (9 head slots, at most 9 cells of `cap` members, one trip per member and one to end)
    let sort = cap + cap * cap.saturating_sub(1) / 2;
    let rebuild = c + p + c * (1 + sort) + p * (1 + 9 + 9 * cap + 1);
    let forces = p * (1 + nbr_cap as u64);
    // the particle loops of a step or iteration, the thermostat chain (thread 0, both half steps) and reductions
    let step_rest = 8 * p + 8 * reduce + 12 * MAX_CHAIN as u64 + 16;
    LoopTrips {
        once: rebuild + forces + 2 * reduce + 16,
        per_step: rebuild + forces + step_rest,
    }
}

/// Steps (md_step) or iterations (md_fire) one dispatch may run under a driver's loop budget, at most `wanted`;
/// an error naming `kernel` when not even one fits.
pub fn steps_within_budget(
    kernel: &str,
    setup: &MdSetup,
    cell_cap: u32,
    nbr_cap: u32,
    wanted: u32,
    budget: Option<u64>,
) -> crate::error::Result<u32> {
    let Some(budget) = budget else {
        return Ok(wanted.max(1));
    };
    let t = loop_trips(setup, cell_cap, nbr_cap);
    let room = budget.saturating_sub(t.once);
    let fit = room / t.per_step;
    if fit == 0 {
        return Err(crate::error::KernelError::LoopBudget {
            kernel: kernel.into(),
            needed: t.once + t.per_step,
            budget,
            n: setup.n,
        });
    }
    Ok(fit.min(wanted.max(1) as u64) as u32)
}

/// Nose-Hoover chain and bookkeeping of one replica, in f64 on the host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thermo {
    pub eta: [f64; MAX_CHAIN],
    pub veta: [f64; MAX_CHAIN],
    pub ke: f64,
    pub pe: f64,
    pub status: u32,
    pub fail_step: u64,
    /// The replica's target temperature is the schedule's times this (1 unless replicas run at several T).
    pub t_scale: f64,
}

impl Default for Thermo {
    fn default() -> Self {
        Thermo {
            eta: [0.0; MAX_CHAIN],
            veta: [0.0; MAX_CHAIN],
            ke: 0.0,
            pe: 0.0,
            status: 0,
            fail_step: 0,
            t_scale: 1.0,
        }
    }
}

impl Thermo {
    pub fn to_gpu(&self) -> ReplicaState {
        ReplicaState {
            eta: self.eta.map(|x| x as f32),
            veta: self.veta.map(|x| x as f32),
            ke: self.ke as f32,
            pe: self.pe as f32,
            status: self.status,
            fail_step: self.fail_step as u32,
            rebuilds: 0,
            t_scale: self.t_scale as f32,
            _pad1: 0,
            _pad2: 0,
        }
    }
    pub fn from_gpu(s: &ReplicaState) -> Thermo {
        Thermo {
            eta: s.eta.map(|x| x as f64),
            veta: s.veta.map(|x| x as f64),
            ke: s.ke as f64,
            pe: s.pe as f64,
            status: s.status,
            fail_step: s.fail_step as u64,
            t_scale: s.t_scale as f64,
        }
    }

    /// Thermostat energy: sum Q_j veta_j^2 / 2 + n_dof kT eta_0 + kT sum_{j>=1} eta_j (for the conserved quantity).
    pub fn bath_energy(&self, setup: &MdSetup, kt: f64) -> f64 {
        let tau2 = setup.tau_t * setup.tau_t;
        let mut e = 0.0;
        for j in 0..setup.n_chain {
            let q = if j == 0 {
                setup.n_dof() * kt * tau2
            } else {
                kt * tau2
            };
            e += 0.5 * q * self.veta[j] * self.veta[j];
            e += if j == 0 { setup.n_dof() * kt } else { kt } * self.eta[j];
        }
        e
    }
}

/// The host's copy of a batch of replicas (replica-major), what goes up to and comes back from a backend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replicas {
    pub n: usize,
    pub pos: Vec<[f64; 2]>,
    pub vel: Vec<[f64; 2]>,
    pub img: Vec<[i32; 2]>,
    pub thermo: Vec<Thermo>,
}

impl Replicas {
    pub fn count(&self) -> usize {
        self.thermo.len()
    }

    /// Replicas `range` (a chunk of a batch).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Replicas {
        let n = self.n;
        Replicas {
            n,
            pos: self.pos[range.start * n..range.end * n].to_vec(),
            vel: self.vel[range.start * n..range.end * n].to_vec(),
            img: self.img[range.start * n..range.end * n].to_vec(),
            thermo: self.thermo[range].to_vec(),
        }
    }
}

/// A stretch of the thermostat schedule: the target goes linearly from `t_from` to `t_to` over `len` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    pub t_from: f64,
    pub t_to: f64,
    pub len: u64,
}

impl Segment {
    /// Target temperature at the end of step `k` of the segment (k = len gives t_to exactly).
    pub fn target_at(&self, k: u64) -> f64 {
        let a = k as f64 / self.len.max(1) as f64;
        self.t_from * (1.0 - a) + self.t_to * a
    }
}

/// Where one call to `advance` sits: which segment, how far into it, and the global step count.
#[derive(Clone, Copy, Debug)]
pub struct Advance {
    pub segment: Segment,
    /// Steps of the segment already done.
    pub seg_done: u64,
    /// Global step number before this call.
    pub step0: u64,
    pub steps: u64,
}

/// What both MD backends do: take replicas, advance them, hand them back.
pub trait MdBackend {
    /// Loads the replicas and evaluates forces (md_forces) so that the next step can start.
    fn upload(&mut self, replicas: &Replicas) -> crate::error::Result<()>;
    /// Runs `adv.steps` steps of md_step.
    fn advance(&mut self, adv: &Advance) -> crate::error::Result<()>;
    /// The current replicas (positions wrapped into the box, image counts, thermostats, energies).
    fn download(&mut self) -> crate::error::Result<Replicas>;
    /// The replicas' thermostats, energies and status alone (`download`'s `thermo`): a small read, which also
    /// waits for the device to finish (what a timing loop needs without copying every position back).
    fn thermo(&mut self) -> crate::error::Result<Vec<Thermo>>;
    /// Forces and per-particle potential energies at the current positions.
    fn forces(&mut self) -> crate::error::Result<(Vec<[f64; 2]>, Vec<f64>)>;
    /// Every replica's cage-relative squared displacements since `pos0` [replicas, n] (kernel md_crsd): what a
    /// propensity sample needs, computed where the state is, so the state itself stays there.
    fn crsd(&mut self, cages: &Cages) -> crate::error::Result<Vec<f64>>;
}

/// The t = 0 positions (wrapped) and cages of a propensity ensemble, for [`MdBackend::crsd`]: the cage of
/// particle i is `cage[cage_end[i - 1]..cage_end[i]]` (its Voronoi neighbours, without i).
#[derive(Clone, Debug, Default)]
pub struct Cages {
    pub pos0: Vec<[f64; 2]>,
    pub cage_end: Vec<u32>,
    pub cage: Vec<u32>,
}

impl Cages {
    /// From one neighbour list per particle; refuses an index out of range.
    pub fn new(pos0: &[[f64; 2]], cages: &[Vec<u32>]) -> crate::error::Result<Cages> {
        let n = pos0.len();
        if cages.len() != n || cages.iter().flatten().any(|&j| j as usize >= n) {
            return Err(crate::error::KernelError::Input {
                kernel: "md_crsd".into(),
                message: format!(
                    "{} cages for {n} particles, each listing particles below {n}",
                    cages.len()
                ),
            });
        }
        let mut cage_end = Vec::with_capacity(n);
        let mut cage = Vec::new();
        for c in cages {
            cage.extend_from_slice(c);
            cage_end.push(cage.len() as u32);
        }
        Ok(Cages {
            pos0: pos0.to_vec(),
            cage_end,
            cage,
        })
    }
}
