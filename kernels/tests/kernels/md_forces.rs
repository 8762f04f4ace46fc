//! md_forces: the GPU kernel against the reference (`md::reference`), the reference's lists against their
//! definition, both CPU engines' cell paths against brute force, analytic small cases and Newton's third law on
//! every backend, particle-order permutation.

use crate::common::{f32_exact, flat, liquid, scaled, setup, System};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::reference::{brute_force, rebuild, RefMd, RefReplica};
use glasscam_kernels::md::{MdBackend, MdSetup, Pair, Replicas, Thermo};
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

/// Two-species setup in a fixed box, for hand-placed particles.
fn toy(n: usize, box_l: f64, species: Vec<u32>) -> MdSetup {
    let sys = System::kam();
    let mut s = setup(&sys);
    s.n = n;
    s.box_l = box_l;
    s.species = species;
    s
}

#[test]
fn md_forces_should_match_cpu_on_liquids_of_both_presets() {
    let Some(ctx) = test_context("md_forces_should_match_cpu_on_liquids_of_both_presets") else {
        return;
    };
    for (sys, n) in [
        (System::kam(), 300),
        (System::abm(), 257),
        (System::kam(), 255),
    ] {
        let s = setup(&scaled(sys.clone(), n));
        // The GPU holds f32 positions: give the reference the same, bit for bit.
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

#[test]
fn cell_path_matches_brute_force() {
    for (sys, n) in [(System::kam(), 400), (System::abm(), 333)] {
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

#[test]
fn two_particles_across_the_periodic_boundary() {
    // A-B pair 1.0 apart through the x boundary of a 10-wide box.
    let s = toy(2, 10.0, vec![0, 1]);
    let p = *s.pair(0, 1);
    let (fa, ea) = analytic(&p, 1.0);
    for (name, f, e) in every_backend(&s, vec![[0.25, 5.0], [9.25, 5.0]]) {
        let tol = if name == "gpu" {
            Tolerance::F32_TIGHT
        } else {
            Tolerance {
                abs: 1e-12,
                rel: 1e-12,
            }
        };
        // particle 0 sits right of particle 1 (through the boundary): pushed in +x when repulsive.
        assert_close(
            &format!("{name} pair force"),
            &flat(&f),
            &[fa, 0.0, -fa, 0.0],
            tol,
        );
        assert_close(
            &format!("{name} pair energy"),
            &e,
            &[ea / 2.0, ea / 2.0],
            tol,
        );
    }
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
    for (name, f, e) in every_backend(&s, vec![[2.0, 5.0], [3.125, 5.0], [4.0, 5.0]]) {
        let tol = if name == "gpu" {
            Tolerance::F32_TIGHT
        } else {
            Tolerance {
                abs: 1e-12,
                rel: 1e-12,
            }
        };
        assert_close(
            &format!("{name} three-particle forces"),
            &flat(&f),
            &expect_f,
            tol,
        );
        assert_close(
            &format!("{name} three-particle energies"),
            &e,
            &expect_e,
            tol,
        );
    }
}

#[test]
fn force_and_energy_vanish_continuously_at_the_cutoff() {
    let s = toy(2, 12.0, vec![0, 0]);
    let rc = s.pair(0, 0).rc;
    for (r, inside) in [(rc - 1e-6, true), (rc + 1e-6, false)] {
        for (name, f, e) in every_backend(&s, vec![[1.0, 1.0], [1.0 + r, 1.0]]) {
            if inside {
                // force ~ |phi''| dr and energy ~ dr^2: both tiny but not zero.
                assert!(
                    f[0][0].abs() < 1e-5 && e[0].abs() < 1e-8,
                    "{name}: at rc - 1e-6 f={:e} e={:e}",
                    f[0][0],
                    e[0]
                );
            } else {
                assert_eq!((f[0][0], e[0]), (0.0, 0.0), "{name}: beyond rc");
            }
        }
    }
    // The CPU twin in f64 shows the continuity itself: |F| and |E| fall with the distance to rc.
    let p = *s.pair(0, 0);
    let (f1, e1) = p.eval((rc - 1e-3).powi(2));
    let (f2, e2) = p.eval((rc - 1e-4).powi(2));
    assert!(
        f2.abs() < f1.abs() / 5.0 && e2.abs() < e1.abs() / 50.0,
        "F and E go to zero at rc"
    );
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
