//! The fast CPU MD engine, the production path without a GPU (`CpuMd`, and FIRE's on these lists): the same
//! physics as the reference (`md::reference`), tuned for speed. Half neighbour lists with Newton's third law and
//! a wider skin of its own (`lists`), a two-pass force loop (`forces`), hand-written vector code per instruction
//! set (`avx512`, `avx2`), the integrator with its passes fused (`step`), and a replica split over threads when
//! there are fewer replicas than threads (`split`). Every vector unit and every split gives the same bits; sums
//! run in another order than the reference's, so the two agree to rounding (the kernel tests compare them with
//! named tolerances, and pin this engine's own bits).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod forces;
mod lists;
mod split;
mod step;

use rayon::prelude::*;

use super::replica::{self, settle_failure, Engine, Replica};
use super::{Advance, Cages, Failure, MdBackend, MdSetup, Replicas, Thermo};
use crate::error::Result;
use forces::PairTable;
use lists::Grid;

pub use super::reference::{brute_force, md_crsd, nhc_update};
pub use forces::{check_forms, compute_forces, compute_forces_isa};
pub use lists::{rebuild, rebuild_isa};
pub use split::SplitWork;
pub use step::{md_step, md_step_split};

/// Half neighbour lists grouped by species: particle i's neighbours j > i of species s are
/// nbr[start[i * ns + s]..start[i * ns + s + 1]], sorted by index (ns species; start has n * ns + 1 entries).
#[derive(Clone, Debug, Default)]
pub struct HalfLists {
    pub start: Vec<u32>,
    pub nbr: Vec<u32>,
    /// Per list entry: the row's particle and the pair type (si * ns + sj), so the force loop runs over the whole
    /// list as one vector loop.
    pub owner: Vec<u32>,
    pub ptype: Vec<u32>,
}

/// A replica on the fast engine's lists.
pub type CpuReplica = Replica<HalfLists>;

impl Engine for HalfLists {
    fn rebuild(setup: &MdSetup, rep: &mut CpuReplica) {
        rebuild(setup, rep)
    }
    fn compute_forces(setup: &MdSetup, rep: &mut CpuReplica) -> (f64, Option<Failure>) {
        compute_forces(setup, rep)
    }
    /// `MdSetup::check`, and one pair form for every pair (`check_forms`).
    fn check(setup: &MdSetup) -> Result<()> {
        setup.check()?;
        check_forms(setup)
    }
}

/// Buffers the list build and the force loop reuse. They live per thread, not per replica (a replica needs them
/// only inside one call), so a thousand replicas cost no more than their lists; they only grow, so the step loop
/// allocates nothing once they have reached their size.
#[derive(Debug, Default)]
struct Work {
    grid: Grid,
    /// One row's candidates while it is built: species << 32 | index.
    row: Vec<u64>,
    table: PairTable,
    /// Per list entry, the force loop's pair terms: F/r times the separation, and half the pair energy.
    terms: Vec<[f64; 2]>,
    halfe: Vec<f64>,
}

thread_local! {
    static WORK: std::cell::RefCell<Work> = std::cell::RefCell::new(Work::default());
}

/// Minimum image of a separation between two wrapped positions (|d| < L): the same as the shader's
/// `d - L round(d / L)`, without the division and rounding that cost most in the CPU's inner loop.
#[inline(always)]
fn min_image(d: [f64; 2], l: f64) -> [f64; 2] {
    let h = 0.5 * l;
    let fold = |x: f64| {
        if x > h {
            x - l
        } else if x < -h {
            x + l
        } else {
            x
        }
    };
    [fold(d[0]), fold(d[1])]
}

/// The CPU's list skin: the setup's, or this much if that is more. The forces do not depend on the skin (see
/// `compute_forces`), so it is a speed setting only; on KAM N = 2000 at T = 0.8 a wider skin halves the
/// rebuilds (every 15 steps instead of 9) for 17 % longer lists.
pub const CPU_SKIN: f64 = 0.5;

/// The list skin the fast engine builds with and rebuilds by.
pub fn cpu_skin(setup: &MdSetup) -> f64 {
    setup.skin.max(CPU_SKIN)
}

/// The vector units the fast engine has code paths for, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}

impl Isa {
    /// The best vector unit of this CPU.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            // the list filters count kept lanes with popcnt, which every AVX2 processor has
            let popcnt = std::arch::is_x86_feature_detected!("popcnt");
            if popcnt && std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if popcnt && std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }
}

/// `md_forces` for one replica: lists, forces and energy once, a failure recorded at `step`.
pub fn md_forces(setup: &MdSetup, rep: &mut CpuReplica, step: u64) {
    rebuild(setup, rep);
    let (e, fail) = compute_forces(setup, rep);
    rep.thermo.pe = e;
    settle_failure(rep, fail, step);
}

/// The production CPU backend: replicas advanced in parallel, each split over threads when there are fewer
/// replicas than threads.
pub struct CpuMd {
    pub setup: MdSetup,
    pub reps: Vec<CpuReplica>,
    /// Per replica, the work of splitting it over threads (used while there are fewer replicas than threads).
    split: Vec<SplitWork>,
    /// Replicas of fewer particles are never split (`SPLIT_MIN_PARTICLES`).
    split_min: usize,
    step: u64,
}

/// The smallest replica `CpuMd` splits over threads. Below it the joins cost more than the second core gives:
/// on an idle 2-core machine one KAM replica ran 2.3e7 particle-steps/s on one thread and 0.93e7 split over two
/// at N = 2000, 2.1e7 and 2.2e7 at N = 8000, 1.7e7 and 2.1e7 at N = 32000.
pub const SPLIT_MIN_PARTICLES: usize = 16_000;

impl CpuMd {
    pub fn new(setup: MdSetup) -> Result<CpuMd> {
        HalfLists::check(&setup)?;
        Ok(CpuMd {
            setup,
            reps: Vec::new(),
            split: Vec::new(),
            split_min: SPLIT_MIN_PARTICLES,
            step: 0,
        })
    }

    /// Split replicas of at least `n` particles over threads when there are fewer replicas than threads
    /// (default `SPLIT_MIN_PARTICLES`); the bytes do not depend on it, which tests check with small systems.
    pub fn with_split_min(mut self, n: usize) -> CpuMd {
        self.split_min = n;
        self
    }
}

impl MdBackend for CpuMd {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        self.reps = replica::load(&self.setup, r)?;
        self.split.clear();
        let (setup, step) = (&self.setup, self.step);
        self.reps
            .par_iter_mut()
            .for_each(|rep| md_forces(setup, rep, step));
        Ok(())
    }

    fn advance(&mut self, adv: &Advance) -> Result<()> {
        let setup = &self.setup;
        // with fewer replicas than threads each replica (of `split_min` particles or more) is split so that every
        // thread has work; the bytes do not depend on it (`md_step_split`). Four parts per thread, so that a
        // thread the system deschedules holds up only a small part: the others take the rest (rayon's work
        // stealing) instead of waiting at the join.
        let share = rayon::current_num_threads().div_ceil(self.reps.len().max(1));
        let parts = if share > 1 && setup.n >= self.split_min {
            4 * share
        } else {
            1
        };
        if parts > 1 {
            self.split.resize_with(self.reps.len(), Default::default);
            self.reps
                .par_iter_mut()
                .zip(&mut self.split)
                .for_each(|(rep, work)| md_step_split(setup, rep, adv, work, parts));
        } else {
            self.reps
                .par_iter_mut()
                .for_each(|rep| md_step(setup, rep, adv));
        }
        self.step = adv.step0 + adv.steps;
        Ok(())
    }

    fn download(&mut self) -> Result<Replicas> {
        Ok(replica::gather(self.setup.n, &self.reps))
    }

    fn thermo(&mut self) -> Result<Vec<Thermo>> {
        Ok(self.reps.iter().map(|r| r.thermo).collect())
    }

    fn forces(&mut self) -> Result<(Vec<[f64; 2]>, Vec<f64>)> {
        Ok(replica::forces(&self.reps))
    }

    fn crsd(&mut self, cages: &Cages) -> Result<Vec<f64>> {
        replica::crsd(&self.setup, &self.reps, cages)
    }
}
