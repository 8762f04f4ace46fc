//! Dynamic propensity: unwrapping, cage-relative displacements, determinism, GPU vs CPU, growth of delta(t).

use crate::common;

use common::{scaled, setup};
use glasscam::events::quiet;
use glasscam::sim::propensity::{
    crsd, delta, run_ensemble, sample_steps, unwrapped_displacement, EnsembleConfig,
};
use glasscam::sim::system::SystemDef;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment, Thermo};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

#[test]
fn unwrapping_follows_a_particle_across_the_boundary() {
    // Constructed: from x = 0.1 to x = L - 0.2 having crossed once to the left.
    let l = 20.0;
    let d = unwrapped_displacement(&[[0.1, 5.0]], &[[l - 0.2, 5.0]], &[[-1, 0]], l);
    assert!((d[0][0] + 0.3).abs() < 1e-12 && d[0][1] == 0.0, "{d:?}");
    // Real MD: two far-apart free particles (NVE), one flying in +x across the boundary twice.
    let mut s: MdSetup = setup(&SystemDef::kam());
    s.n = 2;
    s.box_l = 20.0;
    s.species = vec![0, 0];
    s.n_chain = 0;
    let start = Replicas {
        n: 2,
        pos: vec![[15.0, 2.0], [5.0, 12.0]],
        vel: vec![[3.0, 0.5], [-3.0, 0.5]],
        img: vec![[0, 0]; 2],
        thermo: vec![Thermo::default()],
    };
    let mut backends: Vec<Box<dyn MdBackend>> = vec![Box::new(CpuMd::new(s.clone()).unwrap())];
    if let Some(ctx) = test_context("unwrapping_follows_a_particle_across_the_boundary") {
        backends.push(Box::new(GpuMd::new(ctx, s.clone()).unwrap()));
    }
    for mut b in backends {
        b.upload(&start).unwrap();
        // 10 time units: particle 0 moves +30 in x (crossing twice) and +5 in y
        b.advance(&Advance {
            segment: Segment {
                t_from: 1.0,
                t_to: 1.0,
                len: 2000,
            },
            seg_done: 0,
            step0: 0,
            steps: 2000,
        })
        .unwrap();
        let r = b.download().unwrap();
        assert_eq!(r.img[0], [2, 0]);
        assert_eq!(r.img[1], [-2, 0]);
        let d = unwrapped_displacement(&start.pos, &r.pos, &r.img, 20.0);
        assert_close(
            "unwrapped displacement",
            &[d[0][0], d[0][1], d[1][0], d[1][1]],
            &[30.0, 5.0, -30.0, 5.0],
            Tolerance {
                abs: 1e-3,
                rel: 1e-5,
            },
        );
    }
}

#[test]
fn the_cage_average_includes_the_particle_itself() {
    // i moved by (1, 0), its one neighbour j did not: cage mean is (0.5, 0), so Delta_i = 0.25 (1.0 if i were
    // left out of its own cage), and Delta_j = 0.25 too.
    let d = [[1.0, 0.0], [0.0, 0.0]];
    let cages = vec![vec![1], vec![0]];
    assert_eq!(crsd(&d, &cages), vec![0.25, 0.25]);
    // a particle with no neighbours is its own cage: no cage-relative motion
    assert_eq!(crsd(&[[3.0, 4.0]], &[vec![]]), vec![0.0]);
}

#[test]
fn a_constructed_displacement_field_has_the_known_crsd_and_propensity() {
    // A uniform translation moves no particle relative to its cage.
    let cages: Vec<Vec<u32>> = vec![vec![1, 2, 3], vec![0, 2], vec![0, 1, 3], vec![0, 2]];
    let shift = vec![[0.7, -0.2]; 4];
    assert!(crsd(&shift, &cages).iter().all(|&x| x.abs() < 1e-24));
    // On top of it, particle 0 hops by a = (2, 0): with k = 3 neighbours Delta_0 = (a k / (k+1))^2, and
    // a neighbour j with k_j neighbours (0 among them) gets (a / (k_j + 1))^2; particle 3 likewise.
    let mut d = shift.clone();
    d[0][0] += 2.0;
    let c = crsd(&d, &cages);
    let expect = [
        (2.0 * 3.0 / 4.0f64).powi(2),
        (2.0 / 3.0f64).powi(2),
        (2.0 / 4.0f64).powi(2),
        (2.0 / 3.0f64).powi(2),
    ];
    assert_close(
        "crsd",
        &c,
        &expect,
        Tolerance {
            abs: 1e-12,
            rel: 1e-12,
        },
    );
    // The propensity averages runs; delta averages sqrt over particles.
    let run2 = crsd(&shift, &cages);
    let prop: Vec<f64> = c.iter().zip(&run2).map(|(a, b)| 0.5 * (a + b)).collect();
    let want = (prop.iter().map(|x| x.sqrt()).sum::<f64>()) / 4.0;
    assert!((delta(&prop) - want).abs() < 1e-15);
    assert_eq!(sample_steps(1000, 4), vec![1, 10, 100, 1000]);
}

/// Cages from a distance criterion: enough for tests of the engine (the analysis uses Voronoi neighbours).
fn distance_cages(pos: &[[f64; 2]], l: f64, r: f64) -> Vec<Vec<u32>> {
    let n = pos.len();
    (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| {
                    let mut dx = pos[i][0] - pos[j][0];
                    let mut dy = pos[i][1] - pos[j][1];
                    dx -= l * (dx / l).round();
                    dy -= l * (dy / l).round();
                    j != i && dx * dx + dy * dy < r * r
                })
                .map(|j| j as u32)
                .collect()
        })
        .collect()
}

/// A small quenched KAM glass.
fn glass(n: usize) -> (MdSetup, Vec<[f64; 2]>) {
    let sys = scaled(SystemDef::kam(), n);
    let s = setup(&sys);
    let start = glasscam::sim::init::random_replicas(&s, 2, 0..1, 2.0);
    let mut cpu = CpuMd::new(s.clone()).unwrap();
    cpu.upload(&start).unwrap();
    cpu.advance(&Advance {
        segment: Segment {
            t_from: 2.0,
            t_to: 0.3,
            len: 2000,
        },
        seg_done: 0,
        step0: 0,
        steps: 2000,
    })
    .unwrap();
    (s, cpu.download().unwrap().pos)
}

#[test]
fn same_seed_same_propensity_and_delta_grows_from_the_glass() {
    let (s, pos) = glass(150);
    let cages = distance_cages(&pos, s.box_l, 1.4);
    let cfg = EnsembleConfig {
        temps: vec![0.37, 0.55],
        runs: 4,
        steps: 400,
        samples: 6,
        seed: 3,
    };
    let a = run_ensemble(&s, &pos, &cages, &cfg, &Compute::Cpu, quiet()).unwrap();
    let b = run_ensemble(&s, &pos, &cages, &cfg, &Compute::Cpu, quiet()).unwrap();
    assert_eq!(a.propensity, b.propensity);
    let c = run_ensemble(
        &s,
        &pos,
        &cages,
        &EnsembleConfig {
            seed: 4,
            ..cfg.clone()
        },
        &Compute::Cpu,
        quiet(),
    )
    .unwrap();
    assert_ne!(
        a.propensity, c.propensity,
        "another seed must draw other velocities"
    );
    for (ti, dl) in a.delta.iter().enumerate() {
        assert!(
            dl.windows(2).all(|w| w[1] >= w[0] * 0.9),
            "T index {ti}: delta {dl:?} should grow"
        );
        assert!(
            dl.last().unwrap() > &(3.0 * dl[0]),
            "T index {ti}: delta {dl:?} should grow well beyond its start"
        );
    }
    // hotter runs move more
    assert!(a.delta[1].last() > a.delta[0].last(), "{:?}", a.delta);
}

#[test]
fn gpu_and_cpu_ensembles_agree_on_a_short_run() {
    let Some(ctx) = test_context("gpu_and_cpu_ensembles_agree_on_a_short_run") else {
        return;
    };
    let (s, pos) = glass(120);
    let pos: Vec<[f64; 2]> = pos
        .iter()
        .map(|x| [x[0] as f32 as f64, x[1] as f32 as f64])
        .collect();
    let cages = distance_cages(&pos, s.box_l, 1.4);
    let cfg = EnsembleConfig {
        temps: vec![0.4, 0.6],
        runs: 3,
        steps: 60,
        samples: 4,
        seed: 8,
    };
    let c = run_ensemble(&s, &pos, &cages, &cfg, &Compute::Cpu, quiet()).unwrap();
    let g = run_ensemble(&s, &pos, &cages, &cfg, &Compute::Gpu(ctx), quiet()).unwrap();
    assert_eq!(c.steps, g.steps);
    for ti in 0..2 {
        for si in 0..c.steps.len() {
            assert_close(
                &format!("propensity T{ti} sample {si}"),
                &g.propensity[ti][si],
                &c.propensity[ti][si],
                Tolerance {
                    abs: 1e-6,
                    rel: 1e-2,
                },
            );
        }
        assert_close(
            "delta",
            &g.delta[ti],
            &c.delta[ti],
            Tolerance {
                abs: 1e-6,
                rel: 1e-3,
            },
        );
    }
}

/// The CPU backend's cage-relative displacements (kernel md_crsd's twin, which the GPU kernel is tested against in
/// the kernels crate) are the host formula's (`unwrapped_displacement` + `crsd`), bit for bit: image counts of
/// both signs, cages from empty to 8 neighbours.
#[test]
fn the_md_crsd_twin_is_the_host_formula() {
    let s = setup(&scaled(SystemDef::kam(), 64));
    let mut reps = common::liquid(&s, 5, 2, 1.0, 20);
    let n = s.n;
    for (k, w) in reps.img.iter_mut().enumerate() {
        *w = [(k % 5) as i32 - 2, (k % 3) as i32 - 1];
    }
    let pos0: Vec<[f64; 2]> = reps.pos[..n]
        .iter()
        .map(|x| {
            [
                (x[0] + 0.3).rem_euclid(s.box_l),
                (x[1] - 0.2).rem_euclid(s.box_l),
            ]
        })
        .collect();
    let cage_lists: Vec<Vec<u32>> = (0..n)
        .map(|i| (1..=i % 9).map(|d| ((i + 7 * d) % n) as u32).collect())
        .collect();
    let cages = glasscam_kernels::md::Cages::new(&pos0, &cage_lists).expect("cages");
    let mut cpu = CpuMd::new(s.clone()).expect("cpu");
    cpu.upload(&reps).expect("upload");
    let got = cpu.crsd(&cages).expect("crsd");
    for k in 0..2 {
        let d = unwrapped_displacement(
            &pos0,
            &reps.pos[k * n..(k + 1) * n],
            &reps.img[k * n..(k + 1) * n],
            s.box_l,
        );
        assert_eq!(
            &got[k * n..(k + 1) * n],
            &crsd(&d, &cage_lists)[..],
            "replica {k}"
        );
    }
}
