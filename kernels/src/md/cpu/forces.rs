//! The fast engine's force loop over half lists: every listed pair's term in one branch-free pass that the
//! compiler vectorises (`avx512` writes it out), then the terms summed row by row on both particles.

#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use super::{min_image, CpuReplica, HalfLists, Isa, Work, WORK};
use crate::error::{KernelError, Result};
use crate::md::{Failure, MdSetup, Pair, PairForm};

/// Per species pair (index si * ns + sj) the force loop's constants, hoisted out of it. The products are the
/// ones `Pair::eval` forms (sigma sigma, 24 eps, 4 eps, left to right), so each pair term is bit for bit
/// `Pair::eval`'s. One form for every pair (`check_forms`): the loop is compiled per form.
#[derive(Clone, Debug, Default)]
pub(super) struct PairTable {
    /// Every pair is `PairForm::LjPoly` (else every pair is `LjSmoothLinear`).
    pub(super) poly: bool,
    pub(super) s2: Vec<f64>,
    pub(super) eps24: Vec<f64>,
    pub(super) eps4: Vec<f64>,
    pub(super) fc: Vec<f64>,
    pub(super) ec: Vec<f64>,
    pub(super) rc: Vec<f64>,
    pub(super) rc2: Vec<f64>,
    /// `Pair::poly`
    pub(super) k0: Vec<f64>,
    pub(super) k2: Vec<f64>,
    pub(super) k4: Vec<f64>,
}

impl PairTable {
    pub(super) fn fill(&mut self, pairs: &[Pair]) {
        let form = pairs
            .first()
            .map_or(PairForm::CODE_LJ_SMOOTH_LINEAR, |p| p.form.code());
        assert!(
            pairs.iter().all(|p| p.form.code() == form),
            "the fast CPU engine takes one pair form per setup (CpuMd::new and CpuFire::new refuse a mixed table)"
        );
        self.poly = form == PairForm::CODE_LJ_POLY;
        let col = |v: &mut Vec<f64>, f: &dyn Fn(&Pair) -> f64| {
            v.clear();
            v.extend(pairs.iter().map(f));
        };
        col(&mut self.s2, &|p| p.sigma * p.sigma);
        col(&mut self.eps24, &|p| 24.0 * p.eps);
        col(&mut self.eps4, &|p| 4.0 * p.eps);
        col(&mut self.fc, &|p| p.fc);
        col(&mut self.ec, &|p| p.ec);
        col(&mut self.rc, &|p| p.rc);
        col(&mut self.rc2, &|p| p.rc2);
        col(&mut self.k0, &|p| p.poly[0]);
        col(&mut self.k2, &|p| p.poly[1]);
        col(&mut self.k4, &|p| p.poly[2]);
    }
}

/// Refuses a pair table of more than one form, which the fast engine's force loop (compiled per form) cannot run;
/// the GPU and the reference take any table.
pub fn check_forms(setup: &MdSetup) -> Result<()> {
    let ns = setup.n_species();
    let Some(first) = setup.pairs.first() else {
        return Ok(());
    };
    match setup.pairs.iter().position(|p| p.form.code() != first.form.code()) {
        None => Ok(()),
        Some(k) => Err(KernelError::Input {
            kernel: "md (fast CPU engine)".into(),
            message: format!(
                "species pair ({}, {}) has the form {} but pair (0, 0) has {}: the fast CPU engine takes one form \
                 for every pair; give them all the same form, or run on the GPU",
                k / ns,
                k % ns,
                setup.pairs[k].form.name(),
                first.form.name()
            ),
        }),
    }
}

/// `*v.get_unchecked(k)` for the force loop's gathers, whose indices `rebuild` bounds (see there).
#[inline(always)]
pub(super) fn at<T: Copy>(v: &[T], k: u32) -> T {
    debug_assert!((k as usize) < v.len());
    // SAFETY: every caller passes an index that `rebuild` wrote or read from the setup: a particle index < n
    // (the length of pos), a pair type si * ns + sj < ns * ns (the length of the pair table's columns) or a
    // species < ns (the length of a row of rl2); `MdSetup::check` bounds the species.
    unsafe { *v.get_unchecked(k as usize) }
}

/// (F/r, phi) of a `LjSmoothLinear` pair of type `t` at squared distance r2 inside rc, phi only with `E`: the
/// operations of `Pair::eval`.
#[inline(always)]
fn linear_term<const E: bool>(k: &PairTable, t: u32, r2: f64) -> (f64, f64) {
    // one square root and one division per pair, as in Pair::eval
    let rinv = 1.0 / r2.sqrt();
    let inv2 = rinv * rinv;
    let sr2 = at(&k.s2, t) * inv2;
    let sr6 = sr2 * sr2 * sr2;
    let sr12 = sr6 * sr6;
    let fc = at(&k.fc, t);
    let fr = at(&k.eps24, t) * inv2 * (2.0 * sr12 - sr6) + fc * rinv;
    if !E {
        return (fr, 0.0);
    }
    let rr = r2 * rinv;
    let e = at(&k.eps4, t) * (sr12 - sr6) - at(&k.ec, t) - (rr - at(&k.rc, t)) * fc;
    (fr, e)
}

/// `linear_term` for a `LjPoly` pair: one division, no square root, as in `Pair::eval`.
#[inline(always)]
fn poly_term<const E: bool>(k: &PairTable, t: u32, r2: f64) -> (f64, f64) {
    let inv2 = 1.0 / r2;
    let sr2 = at(&k.s2, t) * inv2;
    let sr6 = sr2 * sr2 * sr2;
    let sr12 = sr6 * sr6;
    let (k2, k4) = (at(&k.k2, t), at(&k.k4, t));
    let fr = at(&k.eps24, t) * inv2 * (2.0 * sr12 - sr6) - (2.0 * k2 + 4.0 * k4 * r2);
    if !E {
        return (fr, 0.0);
    }
    let e = at(&k.eps4, t) * (sr12 - sr6) + (at(&k.k0, t) + r2 * (k2 + k4 * r2));
    (fr, e)
}

/// Pass 1 of the force loop: every listed pair's term (F/r times the separation, and with `E` half the pair
/// energy), zero beyond rc, in list order, for pairs of the form `POLY` says. One long loop without branches or
/// sums across pairs, so the compiler vectorises it (gathers of positions and pair constants).
#[inline(always)]
pub(super) fn pair_terms<const E: bool, const POLY: bool>(
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    list: (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    let (owner, nbr, ptype) = list;
    let m = nbr.len();
    let (owner, ptype, terms) = (&owner[..m], &ptype[..m], &mut terms[..m]);
    let halfe = &mut halfe[..if E { m } else { 0 }];
    for q in 0..m {
        let xi = at(pos, owner[q]);
        let xj = at(pos, nbr[q]);
        let t = ptype[q];
        let d = min_image([xi[0] - xj[0], xi[1] - xj[1]], l);
        let r2 = d[0] * d[0] + d[1] * d[1];
        let inside = r2 < at(&k.rc2, t);
        let (fr, e) = if POLY {
            poly_term::<E>(k, t, r2)
        } else {
            linear_term::<E>(k, t, r2)
        };
        let fr = if inside { fr } else { 0.0 };
        terms[q] = [fr * d[0], fr * d[1]];
        if E {
            halfe[q] = if inside { 0.5 * e } else { 0.0 };
        }
    }
}

/// The force loop. Pass 1 computes every pair's term (`pair_terms`); pass 2 sums them row by row in particle
/// order, each row in list order (species, then index), on i and (Newton's third law) on j. A pair beyond rc
/// adds an exact zero, which leaves every sum's bits alone, so the result depends only on the positions: not
/// on when the lists were built or which pairs beyond rc they hold (a resumed run rebuilds them at another
/// step).
pub(super) fn forces_body<const E: bool>(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    sc: &mut Work,
    isa: Isa,
) {
    let CpuReplica {
        pos,
        force,
        pe,
        lists:
            HalfLists {
                start,
                nbr,
                owner,
                ptype,
            },
        ..
    } = rep;
    let m = nbr.len();
    sc.table.fill(&setup.pairs);
    sc.terms.resize(m, [0.0; 2]);
    sc.halfe.resize(m, 0.0);
    pair_terms_isa::<E>(
        isa,
        pos,
        setup.box_l,
        &sc.table,
        (owner, nbr, ptype),
        &mut sc.terms,
        &mut sc.halfe,
    );
    sum_terms::<E>(setup, force, pe, start, nbr, sc);
}

/// Pass 2 of the force loop: the pair terms summed row by row in particle order, each row in list order, on i
/// and (Newton's third law) on j.
#[inline(always)]
pub(super) fn sum_terms<const E: bool>(
    setup: &MdSetup,
    force: &mut [[f64; 2]],
    pe: &mut [f64],
    start: &[u32],
    nbr: &[u32],
    sc: &Work,
) {
    let ns = setup.n_species();
    let n = setup.n;
    assert!(force.len() >= n && start.len() > n * ns && (!E || pe.len() >= n));
    force.iter_mut().for_each(|f| *f = [0.0; 2]);
    if E {
        pe.iter_mut().for_each(|e| *e = 0.0);
    }
    let m = nbr.len();
    let (terms, halfe) = (&sc.terms[..m], &sc.halfe[..if E { m } else { 0 }]);
    for i in 0..n {
        let (a, b) = (start[i * ns] as usize, start[(i + 1) * ns] as usize);
        let mut f = [0.0f64; 2];
        let mut e = 0.0;
        for (q, (&j, g)) in nbr[a..b].iter().zip(&terms[a..b]).enumerate() {
            f[0] += g[0];
            f[1] += g[1];
            debug_assert!((j as usize) < n);
            // SAFETY: `rebuild` lists only particle indices < n, and force (pe) holds n entries (asserted).
            let fj = unsafe { force.get_unchecked_mut(j as usize) };
            fj[0] -= g[0];
            fj[1] -= g[1];
            if E {
                let h = halfe[a + q];
                e += h;
                // SAFETY: as above.
                unsafe { *pe.get_unchecked_mut(j as usize) += h };
            }
        }
        force[i][0] += f[0];
        force[i][1] += f[1];
        if E {
            pe[i] += e;
        }
    }
}

/// `pair_terms` for the vector unit `isa` (one that `Isa::detect` found) and the table's form. AVX-512 has a
/// kernel of its own (`avx512::pair_terms`); AVX2 is `pair_terms` compiled for it. All give the same bits.
pub(super) fn pair_terms_isa<const E: bool>(
    isa: Isa,
    pos: &[[f64; 2]],
    l: f64,
    k: &PairTable,
    list: (&[u32], &[u32], &[u32]),
    terms: &mut [[f64; 2]],
    halfe: &mut [f64],
) {
    // SAFETY (each arm): `isa` comes from `Isa::detect`, so the CPU has the unit.
    #[cfg(target_arch = "x86_64")]
    match (isa, k.poly) {
        (Isa::Avx512, false) => {
            return unsafe { avx512::pair_terms::<E, false>(pos, l, k, list, terms, halfe) }
        }
        (Isa::Avx512, true) => {
            return unsafe { avx512::pair_terms::<E, true>(pos, l, k, list, terms, halfe) }
        }
        (Isa::Avx2, false) => {
            return unsafe { avx2::pair_terms::<E, false>(pos, l, k, list, (terms, halfe)) }
        }
        (Isa::Avx2, true) => {
            return unsafe { avx2::pair_terms::<E, true>(pos, l, k, list, (terms, halfe)) }
        }
        (Isa::Scalar, _) => {}
    }
    if k.poly {
        pair_terms::<E, true>(pos, l, k, list, terms, halfe)
    } else {
        pair_terms::<E, false>(pos, l, k, list, terms, halfe)
    }
}

/// `forces_body` with the pair terms of the best vector unit the CPU has (same operations, so the same bits on
/// each).
pub(super) fn forces<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica) {
    forces_isa::<E>(setup, rep, Isa::detect())
}

/// `forces` with the pair terms of a given vector unit (at most the CPU's best); every `isa` gives the same
/// bits, which tests compare.
pub(super) fn forces_isa<const E: bool>(setup: &MdSetup, rep: &mut CpuReplica, isa: Isa) {
    let isa = isa.min(Isa::detect());
    WORK.with_borrow_mut(|w| forces_body::<E>(setup, rep, w, isa))
}

/// The worst failure among the forces (and, with energies, the per-particle energies).
#[inline]
pub(super) fn check_forces(setup: &MdSetup, rep: &CpuReplica, energies: bool) -> Option<Failure> {
    let mut fail: Option<Failure> = None;
    let max2 = setup.max_force * setup.max_force;
    for (i, f) in rep.force.iter().enumerate() {
        let e_ok = !energies || rep.pe[i].is_finite();
        if !(f[0].is_finite() && f[1].is_finite() && e_ok) {
            return Some(Failure::NonFinite);
        } else if f[0] * f[0] + f[1] * f[1] > max2 {
            fail = Some(Failure::AbsurdForce);
        }
    }
    fail
}

/// The fast engine's force loop: forces, per-particle energies (half of each pair); returns the energy sum and
/// the failure seen (the first non-finite value, else an absurd force). Each pair is visited once and acts on
/// both particles.
pub fn compute_forces(setup: &MdSetup, rep: &mut CpuReplica) -> (f64, Option<Failure>) {
    compute_forces_isa(setup, rep, Isa::detect(), true)
}

/// `compute_forces` with the pair terms of a given vector unit (at most the CPU's best), with or without the
/// energies (without: the step's path; `pe` is left alone and the energy returned is 0). Every `isa` gives the
/// same bits; tests compare them.
pub fn compute_forces_isa(
    setup: &MdSetup,
    rep: &mut CpuReplica,
    isa: Isa,
    energies: bool,
) -> (f64, Option<Failure>) {
    if !energies {
        forces_isa::<false>(setup, rep, isa);
        return (0.0, check_forces(setup, rep, false));
    }
    forces_isa::<true>(setup, rep, isa);
    let e_total = rep.pe.iter().sum();
    (e_total, check_forces(setup, rep, true))
}
