//! md_fire: the GPU kernel (f32) against its twin, FIRE's iteration on the reference (`RefFire`, f64), on random
//! liquids of every test system: the same basin (minima close in space) and E_IS per particle within a named
//! tolerance; grow-and-redo; the same bits however the iterations are cut into dispatches.

use crate::common::{f32_exact, liquid, scaled, setup, System};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::fire::cpu::RefFire;
use glasscam_kernels::md::fire::gpu::GpuFire;
use glasscam_kernels::md::fire::{run_to_end, FireBackend, FireConfig, Minima, Outcome};
use glasscam_kernels::md::{MdSetup, Replicas};
use glasscam_kernels::KernelError;

/// E_IS per particle, GPU (f32) against the twin (f64).
pub(crate) const E_IS_TOL: f64 = 1e-5;
/// Largest distance between a particle's place in the two minima: same basin, not just similar energy (another
/// basin moves the particles of a rearrangement by a good fraction of sigma). The GPU stops at its looser ftol,
/// so its minimum sits up to about ftol / stiffness from the twin's.
pub(crate) const SAME_BASIN: f64 = 1e-2;
/// The force tolerances the f32 GPU path reaches on every replica (the twin's is 1e-8): kam and ka2d at N 200
/// get to 1e-3; abm at N 200 stalls near 2e-3 and kam at N 2000 above 1e-3 (positions rounded to f32 in a larger
/// box, times the contact stiffness), so those get 1e-2, the GPU default.
const GPU_FTOL_KAM: f64 = 1e-3;
const GPU_FTOL: f64 = 1e-2;

pub(crate) fn minimise(b: &mut dyn FireBackend, reps: &Replicas) -> Minima {
    run_to_end(b, reps, 1000, |_| Ok::<(), KernelError>(())).expect("minimise")
}

/// Largest periodic distance between the same particle in two minima.
pub(crate) fn max_displacement(s: &MdSetup, a: &Replicas, b: &Replicas) -> f64 {
    let l = s.box_l;
    a.pos
        .iter()
        .zip(&b.pos)
        .map(|(x, y)| {
            let d = [x[0] - y[0], x[1] - y[1]].map(|v| v - l * (v / l).round());
            (d[0] * d[0] + d[1] * d[1]).sqrt()
        })
        .fold(0.0, f64::max)
}

#[test]
fn md_fire_should_match_cpu_on_random_liquids_of_every_system() {
    let Some(ctx) = test_context("md_fire_should_match_cpu_on_random_liquids_of_every_system")
    else {
        return;
    };
    for (sys, n, gpu_ftol) in [
        (System::kam(), 200, GPU_FTOL_KAM),
        (System::abm(), 200, GPU_FTOL),
        (System::ka2d(), 200, GPU_FTOL_KAM),
    ] {
        let s = setup(&scaled(sys.clone(), n));
        let reps = f32_exact(liquid(&s, 13, 3, 1.0, 100));
        let cfg = FireConfig::for_md_dt(s.dt);
        let c = minimise(
            &mut RefFire::with_engine(s.clone(), cfg).expect("setup"),
            &reps,
        );
        let mut gcfg = cfg;
        gcfg.ftol = gpu_ftol;
        let mut gpu = GpuFire::new(ctx.clone(), s.clone(), gcfg).expect("setup");
        gpu.iters_per_dispatch = 37; // several dispatches and ragged ends
        let g = minimise(&mut gpu, &reps);
        for k in 0..3 {
            let (cm, gm) = (c.minima[k], g.minima[k]);
            eprintln!("{} replica {k}: cpu {cm:?}\n    gpu {gm:?}", sys.name);
            assert_eq!(
                cm.outcome,
                Outcome::Converged,
                "{} replica {k} (cpu)",
                sys.name
            );
            assert_eq!(
                gm.outcome,
                Outcome::Converged,
                "{} replica {k} (gpu)",
                sys.name
            );
            assert!(gm.fmax < gpu_ftol && cm.fmax < 1e-8);
            let de = (gm.e_per_particle - cm.e_per_particle).abs();
            assert!(
                de <= E_IS_TOL,
                "{} replica {k}: E_IS gpu {} cpu {} differ by {de:e} > {E_IS_TOL:e}",
                sys.name,
                gm.e_per_particle,
                cm.e_per_particle
            );
        }
        let sub = |m: &Minima, k: usize| Replicas {
            n,
            pos: m.replicas.pos[k * n..(k + 1) * n].to_vec(),
            ..Default::default()
        };
        for k in 0..3 {
            let d = max_displacement(&s, &sub(&g, k), &sub(&c, k));
            eprintln!("{} replica {k}: max displacement {d:e}", sys.name);
            assert!(d < SAME_BASIN, "{} replica {k}: minima {d} apart", sys.name);
        }
    }
}

#[test]
fn md_fire_grows_overflowing_lists_and_redoes_to_the_same_minimum() {
    let Some(ctx) = test_context("md_fire_grows_overflowing_lists_and_redoes_to_the_same_minimum")
    else {
        return;
    };
    let s = setup(&scaled(System::kam(), 200));
    let reps = f32_exact(liquid(&s, 17, 2, 1.0, 100));
    let mut cfg = FireConfig::for_md_dt(s.dt);
    cfg.ftol = GPU_FTOL_KAM;
    let roomy = minimise(
        &mut GpuFire::new(ctx.clone(), s.clone(), cfg).expect("setup"),
        &reps,
    );
    let mut tight = GpuFire::new(ctx.clone(), s.clone(), cfg).expect("setup");
    tight.nbr_cap = 3;
    tight.cell_cap = 2;
    let grown = minimise(&mut tight, &reps);
    assert!(tight.regrows >= 1, "capacities never overflowed");
    assert_eq!(grown.minima, roomy.minima);
    assert_eq!(grown.replicas.pos, roomy.replicas.pos);
}

/// At N = 2000 the f32 and f64 descents from one start can part at a saddle and end in different minima (seen
/// here: 4e-3 per particle apart), so this checks that the GPU ends at a true minimum: the twin, started from it,
/// stays in it (moves less than SAME_BASIN, E_IS changes less than E_IS_TOL).
#[test]
fn md_fire_on_a_2000_particle_liquid_ends_at_a_minimum_of_the_twin() {
    let Some(ctx) = test_context("md_fire_on_a_2000_particle_liquid_ends_at_a_minimum_of_the_twin")
    else {
        return;
    };
    let s = setup(&System::kam());
    let reps = f32_exact(liquid(&s, 21, 1, 1.0, 50));
    let cfg = FireConfig::for_md_dt(s.dt);
    let mut gcfg = cfg;
    gcfg.ftol = GPU_FTOL;
    let g = minimise(
        &mut GpuFire::new(ctx.clone(), s.clone(), gcfg).expect("setup"),
        &reps,
    );
    assert_eq!(g.minima[0].outcome, Outcome::Converged);
    let c = minimise(
        &mut RefFire::with_engine(s.clone(), cfg).expect("setup"),
        &g.replicas,
    );
    eprintln!(
        "N 2000: gpu {:?}\n   twin from it {:?}",
        g.minima[0], c.minima[0]
    );
    let de = (g.minima[0].e_per_particle - c.minima[0].e_per_particle).abs();
    assert!(de <= E_IS_TOL, "E_IS differs by {de:e}");
    let d = max_displacement(&s, &g.replicas, &c.replicas);
    assert!(
        d < SAME_BASIN,
        "the twin moved a particle {d} from the GPU's minimum"
    );
}

/// A FIRE run does not depend on how its iterations are cut into dispatches: dispatches of 300 iterations against
/// one iteration each, bit for bit, on a 2000-particle liquid whose first few hundred iterations rebuild its lists
/// often. A kernel race, or a driver that ends a dispatch's loops early, shows here as different states: Mesa
/// 22.3's lavapipe ends them after 65535 trips in all, a few rebuilds into a long dispatch, unless the launcher
/// sizes its dispatches by `GpuContext::loop_budget`.
#[test]
fn md_fire_gives_the_same_bits_whatever_the_iterations_per_dispatch() {
    let Some(ctx) =
        test_context("md_fire_gives_the_same_bits_whatever_the_iterations_per_dispatch")
    else {
        return;
    };
    let s = setup(&System::kam());
    let reps = f32_exact(liquid(&s, 21, 1, 1.0, 50));
    let mut cfg = FireConfig::for_md_dt(s.dt);
    cfg.ftol = GPU_FTOL;
    let run = |per: u32| {
        let mut g = GpuFire::new(ctx.clone(), s.clone(), cfg).expect("setup");
        g.iters_per_dispatch = per;
        g.upload(&reps).expect("upload");
        (0..2)
            .map(|_| {
                g.iterate(300).expect("iterate");
                g.download().expect("download")
            })
            .collect::<Vec<_>>()
    };
    let long = run(300);
    let single = run(1);
    for (k, (a, b)) in long.iter().zip(&single).enumerate() {
        let it = 300 * (k + 1);
        assert_eq!(
            a.minima, b.minima,
            "after {it} iterations: dispatches of 300 against dispatches of one"
        );
        assert_eq!(a.replicas.pos, b.replicas.pos, "positions after {it}");
    }
    assert_eq!(long[1].minima[0].outcome, Outcome::NotConverged);
    assert!(long[1].minima[0].e_per_particle < -3.0);
}
