//! One replica as the CPU engines hold it, generic over the engine's neighbour lists, and what the CPU backends
//! share: loading a batch of replicas, handing it back, its forces and cage-relative displacements. The two
//! engines are the plain reference (`md::reference`) and the fast production engine (`md::cpu`); FIRE's iteration
//! (`md::fire::cpu`) runs on either.

use rayon::prelude::*;

use super::reference::md_crsd;
use super::{Cages, Failure, MdSetup, Replicas, Thermo};
use crate::error::{KernelError, Result};

/// One replica's arrays and the neighbour lists `L` of the engine that steps it.
#[derive(Clone, Debug, Default)]
pub struct Replica<L> {
    pub pos: Vec<[f64; 2]>,
    pub vel: Vec<[f64; 2]>,
    pub force: Vec<[f64; 2]>,
    pub pe: Vec<f64>,
    pub img: Vec<[i32; 2]>,
    /// The positions the lists were built at.
    pub xref: Vec<[f64; 2]>,
    pub lists: L,
    pub thermo: Thermo,
    pub rebuilds: u64,
}

/// A CPU engine: its neighbour lists and the force loop over them, what FIRE's iteration and the backends need.
pub trait Engine: Clone + Default + Send + Sync + Sized {
    /// Rebuilds `rep`'s lists at its positions, which become its reference positions (`xref`).
    fn rebuild(setup: &MdSetup, rep: &mut Replica<Self>);
    /// Forces and per-particle energies at `rep`'s positions from its lists: the total energy and the failure seen.
    fn compute_forces(setup: &MdSetup, rep: &mut Replica<Self>) -> (f64, Option<Failure>);
    /// Refuses a setup the engine cannot run; the message says what to change.
    fn check(setup: &MdSetup) -> Result<()> {
        setup.check()
    }
}

/// Records the first failure of a replica (its status and step) and says whether it has stopped.
pub fn settle_failure<L>(rep: &mut Replica<L>, fail: Option<Failure>, step: u64) -> bool {
    if let Some(f) = fail {
        if rep.thermo.status == 0 {
            rep.thermo.status = f.status();
            rep.thermo.fail_step = step;
        }
    }
    rep.thermo.status != 0
}

/// The replicas of `r` as an engine holds them (forces zero, lists empty), refused unless they have the setup's
/// particle count.
pub fn load<L: Default>(setup: &MdSetup, r: &Replicas) -> Result<Vec<Replica<L>>> {
    let n = setup.n;
    if r.n != n || r.pos.len() != n * r.count() || r.img.len() != r.pos.len() {
        return Err(KernelError::Input {
            kernel: "md_forces".into(),
            message: format!(
                "replicas of {} particles ({} positions for {} replicas) but the setup has {n}",
                r.n,
                r.pos.len(),
                r.count()
            ),
        });
    }
    Ok((0..r.count())
        .map(|k| Replica {
            pos: r.pos[k * n..(k + 1) * n].to_vec(),
            vel: r.vel[k * n..(k + 1) * n].to_vec(),
            force: vec![[0.0; 2]; n],
            pe: vec![0.0; n],
            img: r.img[k * n..(k + 1) * n].to_vec(),
            thermo: r.thermo[k],
            ..Default::default()
        })
        .collect())
}

/// The replicas as a batch (replica-major).
pub fn gather<L>(n: usize, reps: &[Replica<L>]) -> Replicas {
    let mut out = Replicas {
        n,
        ..Default::default()
    };
    // sized once: grown by doubling, a thousand replicas' tens of MB were copied over and over
    let total = n * reps.len();
    out.pos.reserve_exact(total);
    out.vel.reserve_exact(total);
    out.img.reserve_exact(total);
    out.thermo.reserve_exact(reps.len());
    for rep in reps {
        out.pos.extend_from_slice(&rep.pos);
        out.vel.extend_from_slice(&rep.vel);
        out.img.extend_from_slice(&rep.img);
        out.thermo.push(rep.thermo);
    }
    out
}

/// Every replica's forces and per-particle energies, replica-major.
pub fn forces<L>(reps: &[Replica<L>]) -> (Vec<[f64; 2]>, Vec<f64>) {
    let mut f = Vec::new();
    let mut e = Vec::new();
    for rep in reps {
        f.extend_from_slice(&rep.force);
        e.extend_from_slice(&rep.pe);
    }
    (f, e)
}

/// Every replica's cage-relative squared displacements (`md_crsd`'s twin), replica-major.
pub fn crsd<L: Sync>(setup: &MdSetup, reps: &[Replica<L>], cages: &Cages) -> Result<Vec<f64>> {
    let n = setup.n;
    if cages.pos0.len() != n {
        return Err(KernelError::Input {
            kernel: "md_crsd".into(),
            message: format!("cages of {} particles, the setup has {n}", cages.pos0.len()),
        });
    }
    let mut out = vec![0.0; n * reps.len()];
    out.par_chunks_mut(n.max(1))
        .zip(reps)
        .for_each(|(o, rep)| md_crsd(setup.box_l, &rep.pos, &rep.img, cages, o));
    Ok(out)
}
