//! md_forces: the GPU kernel against the reference (`md::reference`), the reference's lists against their
//! definition, both CPU engines' cell paths against brute force, analytic small cases and Newton's third law on
//! every backend, particle-order permutation; both pair forms, GlassBench's KA2D against its formula.

use crate::common::{f32_box, f32_exact, flat, liquid, mixed_forms, scaled, setup, System};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::reference::{brute_force, rebuild, RefMd, RefReplica};
use glasscam_kernels::md::{MdBackend, MdSetup, Pair, PairForm, Replicas, Thermo};
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// f32 forces summed over ~20 neighbours whose terms reach O(100): absolute error scales with the terms.
const FORCES: Tolerance = Tolerance {
    abs: 2e-3,
    rel: 1e-4,
};

fn replicas_of(setup: &MdSetup, pos: Vec<[f64; 2]>) -> Replicas {
    let count = pos.len() / setup.n;
    Replicas {
        n: setup.n,
        vel: vec![[0.0; 2]; pos.len()],
        img: vec![[0; 2]; pos.len()],
        pos,
        thermo: vec![Thermo::default(); count],
    }
}

/// `sys` in a fixed box, for hand-placed particles.
fn toy_of(sys: System, n: usize, box_l: f64, species: Vec<u32>) -> MdSetup {
    let mut s = setup(&sys);
    s.n = n;
    s.box_l = box_l;
    s.species = species;
    s
}

/// Two-species setup in a fixed box, for hand-placed particles.
fn toy(n: usize, box_l: f64, species: Vec<u32>) -> MdSetup {
    toy_of(System::kam(), n, box_l, species)
}

#[test]
fn md_forces_should_match_cpu_on_liquids_of_every_system() {
    let Some(ctx) = test_context("md_forces_should_match_cpu_on_liquids_of_every_system") else {
        return;
    };
    for (sys, n) in [
        (System::kam(), 300),
        (System::abm(), 257),
        (System::kam(), 255),
        (System::ka2d(), 1290),
        (System::ka2d(), 257),
    ] {
        // The GPU holds f32 positions and box side: give the reference the same, bit for bit.
        let s = f32_box(setup(&scaled(sys.clone(), n)));
        let reps = f32_exact(liquid(&s, 11, 3, 2.0, 200));
        let mut cpu = RefMd::new(s.clone()).unwrap();
        cpu.upload(&reps).unwrap();
        let mut gpu = GpuMd::new(ctx.clone(), s.clone()).unwrap();
        gpu.upload(&reps).unwrap();
        let (fc, ec) = cpu.forces().unwrap();
        let (fg, eg) = gpu.forces().unwrap();
        let what = format!("{} N={n} forces", sys.name);
        assert_close(&what, &flat(&fg), &flat(&fc), FORCES);
        assert_close(&format!("{} N={n} energies", sys.name), &eg, &ec, FORCES);
        let pc: Vec<f64> = cpu
            .download()
            .unwrap()
            .thermo
            .iter()
            .map(|t| t.pe)
            .collect();
        let pg: Vec<f64> = gpu
            .download()
            .unwrap()
            .thermo
            .iter()
            .map(|t| t.pe)
            .collect();
        assert_close("per-replica potential energy", &pg, &pc, Tolerance::F32_SUM);
    }
}

/// A table of both forms (`mixed_forms`): the GPU evaluates each pair in its own form, as the reference does.
#[test]
fn md_forces_should_match_cpu_on_a_table_of_mixed_forms() {
    let Some(ctx) = test_context("md_forces_should_match_cpu_on_a_table_of_mixed_forms") else {
        return;
    };
    let s = f32_box(mixed_forms(257));
    let reps = f32_exact(liquid(&s, 12, 2, 2.0, 100));
    let mut cpu = RefMd::new(s.clone()).unwrap();
    cpu.upload(&reps).unwrap();
    let mut gpu = GpuMd::new(ctx, s.clone()).unwrap();
    gpu.upload(&reps).unwrap();
    let ((fc, ec), (fg, eg)) = (cpu.forces().unwrap(), gpu.forces().unwrap());
    assert_close("mixed forms: forces", &flat(&fg), &flat(&fc), FORCES);
    assert_close("mixed forms: energies", &eg, &ec, FORCES);
    // and the mixture is not either form alone: the AB pairs' form moves the energies
    let mut linear = s.clone();
    linear.pairs = setup(&scaled(System::kam(), 257)).pairs;
    let mut one = RefMd::new(linear).unwrap();
    one.upload(&reps).unwrap();
    let e1 = one.forces().unwrap().1;
    assert!(
        e1.iter().zip(&ec).any(|(a, b)| (a - b).abs() > 1e-3),
        "the KA2D AB pairs changed no energy"
    );
}

#[test]
fn cell_path_matches_brute_force() {
    for (sys, n) in [
        (System::kam(), 400),
        (System::abm(), 333),
        (System::ka2d(), 400),
    ] {
        let s = setup(&scaled(sys, n));
        assert!(
            s.cells_per_side() >= 3,
            "the test must exercise the cell stencil"
        );
        let reps = liquid(&s, 3, 2, 2.0, 100);
        let engines: [Box<dyn MdBackend>; 2] = [
            Box::new(RefMd::new(s.clone()).unwrap()),
            Box::new(CpuMd::new(s.clone()).unwrap()),
        ];
        for mut engine in engines {
            engine.upload(&reps).unwrap();
            let (f, e) = engine.forces().unwrap();
            for k in 0..2 {
                let (fb, eb) = brute_force(&s, &reps.pos[k * n..(k + 1) * n]);
                let tight = Tolerance {
                    abs: 1e-10,
                    rel: 1e-10,
                };
                assert_close(
                    "cell vs brute forces",
                    &flat(&f[k * n..(k + 1) * n]),
                    &flat(&fb),
                    tight,
                );
                assert_close("cell vs brute energies", &e[k * n..(k + 1) * n], &eb, tight);
            }
        }
    }
}

/// The reference's lists are what md_common.wgsl builds: for each particle every other one within its pair's
/// list radius rc + skin, in index order, whatever cells the candidates came from; and a box too small for a
/// 3 x 3 stencil of cells (one cell) gives the same definition.
#[test]
fn reference_lists_are_every_pair_within_the_list_radius_in_index_order() {
    for (sys, n) in [
        (System::kam(), 400),
        (System::abm(), 257),
        (System::kam(), 40),
    ] {
        let s = setup(&scaled(sys.clone(), n));
        let reps = liquid(&s, 5, 1, 1.5, 30);
        let mut rep = RefReplica {
            pos: reps.pos.clone(),
            ..Default::default()
        };
        rebuild(&s, &mut rep);
        let l = s.box_l;
        let w = |d: f64| d - l * (d / l).round();
        for i in 0..n {
            let want: Vec<u32> = (0..n)
                .filter(|&j| {
                    let (dx, dy) = (
                        w(reps.pos[i][0] - reps.pos[j][0]),
                        w(reps.pos[i][1] - reps.pos[j][1]),
                    );
                    let rl = s.pair(s.species[i], s.species[j]).rl;
                    j != i && dx * dx + dy * dy < rl * rl
                })
                .map(|j| j as u32)
                .collect();
            let (a, b) = (rep.lists.start[i] as usize, rep.lists.start[i + 1] as usize);
            assert_eq!(
                rep.lists.nbr[a..b],
                want[..],
                "{} N={n}: list of particle {i}",
                sys.name
            );
        }
        assert_eq!(rep.xref, reps.pos, "the lists' reference positions");
    }
}

/// Analytic force-shifted LJ: F(r) = 24 eps/r (2 (s/r)^12 - (s/r)^6) + phi*'(rc), pointing along the separation.
fn analytic(p: &Pair, r: f64) -> (f64, f64) {
    if r >= p.rc {
        return (0.0, 0.0);
    }
    let sr6 = (p.sigma / r).powi(6);
    let f = 24.0 * p.eps / r * (2.0 * sr6 * sr6 - sr6) + p.fc;
    let e = 4.0 * p.eps * (sr6 * sr6 - sr6) - p.ec - (r - p.rc) * p.fc;
    (f, e)
}

/// (backend, forces, energies) of `pos` on the reference, the fast CPU engine and the GPU.
fn every_backend(s: &MdSetup, pos: Vec<[f64; 2]>) -> Vec<(String, Vec<[f64; 2]>, Vec<f64>)> {
    let reps = replicas_of(s, pos);
    let mut out = Vec::new();
    let engines: [(&str, Box<dyn MdBackend>); 2] = [
        ("reference", Box::new(RefMd::new(s.clone()).unwrap())),
        ("fast cpu", Box::new(CpuMd::new(s.clone()).unwrap())),
    ];
    for (name, mut engine) in engines {
        engine.upload(&reps).unwrap();
        let (f, e) = engine.forces().unwrap();
        out.push((name.to_string(), f, e));
    }
    if let Some(ctx) = test_context("md_forces analytic cases (gpu half)") {
        let mut gpu = GpuMd::new(ctx, s.clone()).unwrap();
        gpu.upload(&reps).unwrap();
        let (f, e) = gpu.forces().unwrap();
        out.push(("gpu".to_string(), f, e));
    }
    out
}

/// Forces and energies of `pos` on every backend against the expected ones (the GPU's to f32 precision).
fn assert_every_backend(
    what: &str,
    s: &MdSetup,
    pos: Vec<[f64; 2]>,
    expect_f: &[f64],
    expect_e: &[f64],
) {
    for (name, f, e) in every_backend(s, pos) {
        let tol = if name == "gpu" {
            Tolerance::F32_TIGHT
        } else {
            Tolerance {
                abs: 1e-12,
                rel: 1e-12,
            }
        };
        assert_close(&format!("{name} {what} forces"), &flat(&f), expect_f, tol);
        assert_close(&format!("{name} {what} energies"), &e, expect_e, tol);
    }
}

#[test]
fn two_particles_across_the_periodic_boundary() {
    // A-B pair 1.0 apart through the x boundary of a 10-wide box.
    let s = toy(2, 10.0, vec![0, 1]);
    let p = *s.pair(0, 1);
    let (fa, ea) = analytic(&p, 1.0);
    // particle 0 sits right of particle 1 (through the boundary): pushed in +x when repulsive.
    assert_every_backend(
        "pair",
        &s,
        vec![[0.25, 5.0], [9.25, 5.0]],
        &[fa, 0.0, -fa, 0.0],
        &[ea / 2.0, ea / 2.0],
    );
}

#[test]
fn three_particles_on_a_line() {
    // A at 2, A at 3.125, B at 4.0 (all exact in f32) (y = 5): forces are sums of the analytic pair forces.
    let s = toy(3, 12.0, vec![0, 0, 1]);
    let (paa, pab) = (*s.pair(0, 0), *s.pair(0, 1));
    let (f01, e01) = analytic(&paa, 1.125);
    let (f02, e02) = analytic(&pab, 2.0);
    let (f12, e12) = analytic(&pab, 0.875);
    let expect_f = [-f01 - f02, 0.0, f01 - f12, 0.0, f02 + f12, 0.0];
    let expect_e = [(e01 + e02) / 2.0, (e01 + e12) / 2.0, (e02 + e12) / 2.0];
    let pos = vec![[2.0, 5.0], [3.125, 5.0], [4.0, 5.0]];
    assert_every_backend("three-particle", &s, pos, &expect_f, &expect_e);
}

#[test]
fn force_and_energy_vanish_continuously_at_the_cutoff() {
    for sys in [System::kam(), System::ka2d()] {
        let s = toy_of(sys.clone(), 2, 12.0, vec![0, 0]);
        let rc = s.pair(0, 0).rc;
        for (r, inside) in [(rc - 1e-6, true), (rc + 1e-6, false)] {
            for (name, f, e) in every_backend(&s, vec![[1.0, 1.0], [1.0 + r, 1.0]]) {
                if inside {
                    // linear smoothing: force ~ |phi''| dr and energy ~ dr^2; KA2D: both at the level of the
                    // coefficients' rounding; tiny but not zero either way, on the GPU too
                    assert!(
                        f[0][0].abs() < 1e-5 && e[0].abs() < 1e-8,
                        "{} {name}: at rc - 1e-6 f={:e} e={:e}",
                        sys.name,
                        f[0][0],
                        e[0]
                    );
                } else {
                    assert_eq!(
                        (f[0][0], e[0]),
                        (0.0, 0.0),
                        "{} {name}: beyond rc",
                        sys.name
                    );
                }
            }
        }
    }
    let s = toy(2, 12.0, vec![0, 0]);
    let rc = s.pair(0, 0).rc;
    // The CPU twin in f64 shows the continuity itself: |F| and |E| fall with the distance to rc.
    let p = *s.pair(0, 0);
    let (f1, e1) = p.eval((rc - 1e-3).powi(2));
    let (f2, e2) = p.eval((rc - 1e-4).powi(2));
    assert!(
        f2.abs() < f1.abs() / 5.0 && e2.abs() < e1.abs() / 50.0,
        "F and E go to zero at rc"
    );
}

/// GlassBench's KA2D coefficients, written out again so that nothing here comes from the code under test.
const KA2D_C: [f64; 3] = [0.04049023795, -0.00970155098, 0.00062012616];

/// The KA2D pair potential from its formula, V(r) = 4 eps [(s/r)^12 - (s/r)^6 + C0 + C2 (r/s)^2 + C4 (r/s)^4],
/// ignoring the cutoff, and its first two derivatives: [V, V', V''] in plain f64.
fn ka2d_formula(sigma: f64, eps: f64, r: f64) -> [f64; 3] {
    let [c0, c2, c4] = KA2D_C;
    let x = r / sigma;
    let k = 4.0 * eps;
    [
        k * (x.powi(-12) - x.powi(-6) + c0 + c2 * x.powi(2) + c4 * x.powi(4)),
        k / sigma * (-12.0 * x.powi(-13) + 6.0 * x.powi(-7) + 2.0 * c2 * x + 4.0 * c4 * x.powi(3)),
        k / (sigma * sigma)
            * (156.0 * x.powi(-14) - 42.0 * x.powi(-8) + 2.0 * c2 + 12.0 * c4 * x * x),
    ]
}

/// The six species pairs of KA2D (AA, AB, AC, BB, BC, CC) as the setup holds them.
fn ka2d_pairs() -> Vec<(&'static str, Pair)> {
    let s = setup(&System::ka2d());
    [
        ("AA", 0, 0),
        ("AB", 0, 1),
        ("AC", 0, 2),
        ("BB", 1, 1),
        ("BC", 1, 2),
        ("CC", 2, 2),
    ]
    .into_iter()
    .map(|(name, a, b)| (name, *s.pair(a, b)))
    .collect()
}

/// `Pair::eval` of the KA2D form against the formula: the energy, the force against the formula's derivative and
/// against a central finite difference of the formula's energy, and the pair's own force against a finite
/// difference of its own energy, from the repulsive core to just inside the cutoff, for every species pair; zero
/// at and beyond the cutoff.
#[test]
fn ka2d_pair_energy_and_force_match_the_formula() {
    let exact = Tolerance {
        abs: 1e-12,
        rel: 1e-12,
    };
    // central differences at h = 1e-6 sigma: truncation h^2 V''' / 6 and rounding 1e-16 V / h, both below 1e-8
    let fd = Tolerance {
        abs: 1e-7,
        rel: 1e-7,
    };
    for (name, p) in ka2d_pairs() {
        assert_eq!(p.form, PairForm::KA2D, "{name}");
        assert_eq!(p.rc, 2.5 * p.sigma, "{name}: cutoff");
        let (mut got, mut want, mut got_f, mut want_f) = (vec![], vec![], vec![], vec![]);
        let (mut fd_formula, mut fd_own) = (vec![], vec![]);
        for x in [
            0.85, 0.9, 1.0, 1.05, 1.1225, 1.3, 1.6, 2.0, 2.3, 2.45, 2.499,
        ] {
            let r = x * p.sigma;
            let h = 1e-6 * p.sigma;
            let (fr, e) = p.eval(r * r);
            let [v, dv, _] = ka2d_formula(p.sigma, p.eps, r);
            got.push(e);
            want.push(v);
            // F = -dV/dr along the separation (repulsive > 0); eval gives F / r
            got_f.push(fr * r);
            want_f.push(-dv);
            let v_at = |r: f64| ka2d_formula(p.sigma, p.eps, r)[0];
            fd_formula.push(-(v_at(r + h) - v_at(r - h)) / (2.0 * h));
            let e_at = |r: f64| p.eval(r * r).1;
            fd_own.push(-(e_at(r + h) - e_at(r - h)) / (2.0 * h));
        }
        assert_close(&format!("{name}: energy"), &got, &want, exact);
        assert_close(&format!("{name}: force"), &got_f, &want_f, exact);
        assert_close(
            &format!("{name}: force vs the formula's finite difference"),
            &got_f,
            &fd_formula,
            fd,
        );
        assert_close(
            &format!("{name}: force vs its own energy's finite difference"),
            &got_f,
            &fd_own,
            fd,
        );
        for x in [2.5, 2.5 + 1e-9, 2.6, 4.0] {
            let r = x * p.sigma;
            assert_eq!(p.eval(r * r), (0.0, 0.0), "{name} at r = {x} sigma");
        }
    }
}

/// The KA2D polynomial smooths the potential to zero at 2.5 sigma: V, V' and V'' of the formula there are below
/// 1e-9 in units of 4 eps and sigma (they are -3.34e-10, -5.37e-10 and -6.49e-10: the coefficients' 11 digits),
/// the pair's energy and force just inside are as small, and its force vanishes as (rc - r)^2 and its energy as
/// (rc - r)^3 (zero curvature; linear smoothing's force vanishes as rc - r, which the ratios below would fail).
#[test]
fn ka2d_energy_force_and_curvature_vanish_at_the_cutoff() {
    const NEAR: f64 = 1e-9;
    for (name, p) in ka2d_pairs() {
        let (k, s) = (4.0 * p.eps, p.sigma);
        let [v, dv, d2v] = ka2d_formula(s, p.eps, p.rc);
        println!(
            "KA2D {name} at rc: V/(4 eps) = {:.3e}, V' sigma/(4 eps) = {:.3e}, V'' sigma^2/(4 eps) = {:.3e}",
            v / k,
            dv * s / k,
            d2v * s * s / k
        );
        assert!(
            (v / k).abs() < NEAR && (dv * s / k).abs() < NEAR && (d2v * s * s / k).abs() < NEAR,
            "{name}: V, V', V'' at rc = {v:e}, {dv:e}, {d2v:e}"
        );
        let (fr, e) = p.eval((p.rc * (1.0 - 1e-12)).powi(2));
        assert!(
            (e / k).abs() < NEAR && (fr * p.rc * s / k).abs() < NEAR,
            "{name}: just inside rc, E = {e:e}, F = {:e}",
            fr * p.rc
        );
        let at = |d: f64| {
            let r = p.rc - d * s;
            let (fr, e) = p.eval(r * r);
            (fr * r, e)
        };
        let ((f1, e1), (f2, e2)) = (at(1e-1), at(1e-2));
        assert!(
            f1 / f2 > 50.0 && e1 / e2 > 500.0,
            "{name}: from rc - 0.1 sigma to rc - 0.01 sigma, F falls {:.1}x (quadratic: ~100x) and E {:.1}x \
             (cubic: ~1000x)",
            f1 / f2,
            e1 / e2
        );
    }
}

/// A, B and C of KA2D on a line (AB 1.0 apart, BC 1.125, AC 2.125, inside the AC cutoff 2.25), on every
/// backend: forces and energies are sums of the formula's pair terms.
#[test]
fn ka2d_three_species_on_a_line() {
    let s = toy_of(System::ka2d(), 3, 12.0, vec![0, 1, 2]);
    let term = |a: u32, b: u32, r: f64| {
        let p = s.pair(a, b);
        assert!(r < p.rc);
        let [v, dv, _] = ka2d_formula(p.sigma, p.eps, r);
        (-dv, v)
    };
    let (fab, eab) = term(0, 1, 1.0);
    let (fbc, ebc) = term(1, 2, 1.125);
    let (fac, eac) = term(0, 2, 2.125);
    let expect_f = [-fab - fac, 0.0, fab - fbc, 0.0, fac + fbc, 0.0];
    let expect_e = [(eab + eac) / 2.0, (eab + ebc) / 2.0, (eac + ebc) / 2.0];
    let pos = vec![[2.0, 5.0], [3.0, 5.0], [4.125, 5.0]];
    assert_every_backend("KA2D", &s, pos, &expect_f, &expect_e);
}

#[test]
fn newtons_third_law_total_force_vanishes() {
    let s = setup(&scaled(System::abm(), 300));
    let reps = f32_exact(liquid(&s, 5, 2, 2.0, 100));
    let mut backends: Vec<(&str, Box<dyn MdBackend>)> = vec![
        ("reference", Box::new(RefMd::new(s.clone()).unwrap())),
        ("fast cpu", Box::new(CpuMd::new(s.clone()).unwrap())),
    ];
    if let Some(ctx) = test_context("newtons_third_law_total_force_vanishes") {
        backends.push(("gpu", Box::new(GpuMd::new(ctx, s.clone()).unwrap())));
    }
    for (name, mut b) in backends {
        b.upload(&reps).unwrap();
        let (f, _) = b.forces().unwrap();
        for k in 0..2 {
            let mut tot = [0.0; 2];
            let mut scale: f64 = 0.0;
            for fi in &f[k * 300..(k + 1) * 300] {
                tot[0] += fi[0];
                tot[1] += fi[1];
                scale = scale.max(fi[0].abs()).max(fi[1].abs());
            }
            let bound = if name == "gpu" {
                1e-4 * scale * 300.0
            } else {
                1e-10 * scale
            };
            assert!(
                tot[0].abs() < bound && tot[1].abs() < bound,
                "{name}: total force {tot:?}, bound {bound:e}"
            );
        }
    }
}

#[test]
fn particle_order_permutation_permutes_forces() {
    let s = setup(&scaled(System::kam(), 200));
    let reps = liquid(&s, 9, 1, 2.0, 50);
    // Swap two A particles and two B particles (species per index must stay).
    let mut perm: Vec<usize> = (0..200).collect();
    perm.swap(3, 77);
    perm.swap(150, 199);
    let permuted: Vec<[f64; 2]> = perm.iter().map(|&i| reps.pos[i]).collect();
    let mut a = CpuMd::new(s.clone()).unwrap();
    a.upload(&reps).unwrap();
    let mut b = CpuMd::new(s.clone()).unwrap();
    b.upload(&replicas_of(&s, permuted.clone())).unwrap();
    let (fa, _) = a.forces().unwrap();
    let (fb, _) = b.forces().unwrap();
    let fa_perm: Vec<[f64; 2]> = perm.iter().map(|&i| fa[i]).collect();
    let mut r = RefMd::new(s.clone()).unwrap();
    r.upload(&replicas_of(&s, permuted.clone())).unwrap();
    let (fr, _) = r.forces().unwrap();
    assert_close(
        "permuted forces (reference)",
        &flat(&fr),
        &flat(&fa_perm),
        Tolerance {
            abs: 1e-12,
            rel: 1e-12,
        },
    );
    assert_close(
        "permuted forces",
        &flat(&fb),
        &flat(&fa_perm),
        Tolerance {
            abs: 1e-12,
            rel: 1e-12,
        },
    );
}
