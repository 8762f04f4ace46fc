//! md_forces: GPU kernel vs CPU twin, the cell path vs brute force, analytic small cases, Newton's third law.

mod common;

use common::{flat, liquid, scaled, setup};
use glasscam::sim::system::SystemDef;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::{brute_force, CpuMd};
use glasscam_kernels::md::gpu::GpuMd;
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

fn f32_exact(mut r: Replicas) -> Replicas {
    for x in r.pos.iter_mut() {
        *x = [x[0] as f32 as f64, x[1] as f32 as f64];
    }
    r
}

/// Two-species setup in a fixed box, for hand-placed particles.
fn toy(n: usize, box_l: f64, species: Vec<u32>) -> MdSetup {
    let sys = SystemDef::kam();
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
        (SystemDef::kam(), 300),
        (SystemDef::abm(), 257),
        (SystemDef::kam(), 255),
    ] {
        let s = setup(&scaled(sys.clone(), n));
        // The GPU holds f32 positions: give the reference the same, bit for bit.
        let reps = f32_exact(liquid(&s, 11, 3, 2.0, 200));
        let mut cpu = CpuMd::new(s.clone()).unwrap();
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
    for (sys, n) in [(SystemDef::kam(), 400), (SystemDef::abm(), 333)] {
        let s = setup(&scaled(sys, n));
        assert!(
            s.cells_per_side() >= 3,
            "the test must exercise the cell stencil"
        );
        let reps = liquid(&s, 3, 2, 2.0, 100);
        let mut cpu = CpuMd::new(s.clone()).unwrap();
        cpu.upload(&reps).unwrap();
        let (f, e) = cpu.forces().unwrap();
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

fn both_backends(s: &MdSetup, pos: Vec<[f64; 2]>) -> Vec<(String, Vec<[f64; 2]>, Vec<f64>)> {
    let reps = replicas_of(s, pos);
    let mut out = Vec::new();
    let mut cpu = CpuMd::new(s.clone()).unwrap();
    cpu.upload(&reps).unwrap();
    let (f, e) = cpu.forces().unwrap();
    out.push(("cpu".to_string(), f, e));
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
    for (name, f, e) in both_backends(&s, vec![[0.25, 5.0], [9.25, 5.0]]) {
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
    for (name, f, e) in both_backends(&s, vec![[2.0, 5.0], [3.125, 5.0], [4.0, 5.0]]) {
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
        for (name, f, e) in both_backends(&s, vec![[1.0, 1.0], [1.0 + r, 1.0]]) {
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
    let s = setup(&scaled(SystemDef::abm(), 300));
    let reps = f32_exact(liquid(&s, 5, 2, 2.0, 100));
    let mut backends: Vec<(&str, Box<dyn MdBackend>)> =
        vec![("cpu", Box::new(CpuMd::new(s.clone()).unwrap()))];
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
    let s = setup(&scaled(SystemDef::kam(), 200));
    let reps = liquid(&s, 9, 1, 2.0, 50);
    // Swap two A particles and two B particles (species per index must stay).
    let mut perm: Vec<usize> = (0..200).collect();
    perm.swap(3, 77);
    perm.swap(150, 199);
    let permuted: Vec<[f64; 2]> = perm.iter().map(|&i| reps.pos[i]).collect();
    let mut a = CpuMd::new(s.clone()).unwrap();
    a.upload(&reps).unwrap();
    let mut b = CpuMd::new(s.clone()).unwrap();
    b.upload(&replicas_of(&s, permuted)).unwrap();
    let (fa, _) = a.forces().unwrap();
    let (fb, _) = b.forces().unwrap();
    let fa_perm: Vec<[f64; 2]> = perm.iter().map(|&i| fa[i]).collect();
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

/// The neighbour lists are the same bit for bit whichever vector unit's filter builds them (on a CPU without
/// AVX-512 or AVX2 the wider paths fall back and the comparison is trivially true). Large systems first, so the
/// smaller ones reuse the thread's buffers with stale padding, and one box with a single cell.
#[test]
fn cpu_lists_should_not_depend_on_the_vector_unit() {
    use glasscam_kernels::md::cpu::{cpu_skin, rebuild_isa, CpuReplica, Isa};
    let mut checked = 0;
    for (sys, n) in [
        (SystemDef::kam(), 2000),
        (SystemDef::abm(), 257),
        (SystemDef::kam(), 301),
        (SystemDef::kam(), 40),
    ] {
        let s = setup(&scaled(sys.clone(), n));
        let reps = liquid(&s, 5, 2, 1.5, 30);
        for k in 0..2 {
            let lists = |isa: Isa| {
                let mut rep = CpuReplica {
                    pos: reps.pos[k * n..(k + 1) * n].to_vec(),
                    ..Default::default()
                };
                rebuild_isa(&s, &mut rep, isa);
                (rep.start, rep.nbr, rep.owner, rep.ptype)
            };
            let scalar = lists(Isa::Scalar);
            assert!(
                scalar.1.len() > 5 * n,
                "{} N={n}: {} listed pairs",
                sys.name,
                scalar.1.len()
            );
            // and they are what the definition says, whatever cells the candidates came from: row i holds
            // every j > i within rc + skin, by species then index
            let (l, ns) = (s.box_l, s.n_species());
            let fold = |x: f64| {
                if x > 0.5 * l {
                    x - l
                } else if x < -0.5 * l {
                    x + l
                } else {
                    x
                }
            };
            let pos = &reps.pos[k * n..(k + 1) * n];
            let mut want: Vec<u32> = Vec::new();
            for i in 0..n {
                let si = s.species[i] as usize;
                for sj in 0..ns {
                    let rl = s.pairs[si * ns + sj].rc + cpu_skin(&s);
                    want.extend(
                        (i + 1..n)
                            .filter(|&j| {
                                let (dx, dy) =
                                    (fold(pos[i][0] - pos[j][0]), fold(pos[i][1] - pos[j][1]));
                                s.species[j] as usize == sj && dx * dx + dy * dy < rl * rl
                            })
                            .map(|j| j as u32),
                    );
                }
            }
            assert!(
                scalar.1 == want,
                "{} N={n} replica {k}: lists are not the definition's",
                sys.name
            );
            for isa in [Isa::Avx2, Isa::Avx512] {
                assert!(
                    lists(isa) == scalar,
                    "{} N={n} replica {k}: {isa:?} lists differ",
                    sys.name
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}

/// The forces and energies are the same bit for bit whichever vector unit computes the pair terms (AVX-512 has
/// a kernel of its own that looks the pair constants up by a permutation up to 8 pair types, by a gather above),
/// with and without energies. Large systems first (stale buffers), a tail of fewer than 8 entries (N = 40), and
/// three species (9 pair types) for the gather path. On a CPU without AVX-512 or AVX2 the wider paths fall
/// back and the comparison is trivially true.
#[test]
fn cpu_forces_should_not_depend_on_the_vector_unit() {
    use glasscam_kernels::md::cpu::{compute_forces_isa, rebuild, CpuReplica, Isa};
    let ternary = |n: usize| {
        let mut s = setup(&scaled(SystemDef::kam(), n));
        let (rc, skin) = (s.pairs[0].rc, s.skin);
        s.mass.push(0.7);
        s.pairs = (0..9)
            .map(|t| {
                let (a, b) = (t / 3, t % 3);
                let sigma = [1.0, 0.88, 0.8][a.min(b)] * [1.0, 0.95, 0.9][a.max(b)];
                Pair::new(sigma, 1.0 - 0.1 * (a + b) as f64, rc * sigma, skin)
            })
            .collect();
        for (i, sp) in s.species.iter_mut().enumerate() {
            *sp = (i % 3) as u32;
        }
        s
    };
    let mut checked = 0;
    for (name, s) in [
        ("kam", setup(&scaled(SystemDef::kam(), 2000))),
        ("abm", setup(&scaled(SystemDef::abm(), 257))),
        ("ternary", ternary(301)),
        ("kam", setup(&scaled(SystemDef::kam(), 40))),
    ] {
        let n = s.n;
        let reps = liquid(&s, 5, 2, 1.5, 30);
        for energies in [true, false] {
            let run = |isa: Isa| {
                let mut rep = CpuReplica {
                    pos: reps.pos[..n].to_vec(),
                    force: vec![[0.0; 2]; n],
                    pe: vec![0.0; n],
                    ..Default::default()
                };
                rebuild(&s, &mut rep);
                let (e, fail) = compute_forces_isa(&s, &mut rep, isa, energies);
                (e.to_bits(), fail, flat(&rep.force), rep.pe)
            };
            let scalar = run(Isa::Scalar);
            assert!(
                scalar.2.iter().filter(|f| **f != 0.0).count() > n,
                "{name} N={n}: the forces are not all computed"
            );
            assert_eq!(energies, scalar.3.iter().any(|e| *e != 0.0), "{name}");
            for isa in [Isa::Avx2, Isa::Avx512] {
                let got = run(isa);
                assert!(
                    got.0 == scalar.0 && got.1 == scalar.1,
                    "{name} N={n}: {isa:?} energy or status differs"
                );
                for (k, (a, b)) in got.2.iter().zip(&scalar.2).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits(),
                        "{name} N={n} {isa:?}: force component {k}: {a} != {b}"
                    );
                }
                assert!(got.3 == scalar.3, "{name} N={n} {isa:?}: energies differ");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}
