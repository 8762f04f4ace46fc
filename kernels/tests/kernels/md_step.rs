//! md_step: the GPU kernel against the reference (`md::reference`) over a short NVT run, grow-and-redo on
//! overflow, replica independence and a blown-up replica that stops alone on every backend, and NVE energy
//! conservation on the GPU; both pair forms.

use crate::common::{f32_box, f32_exact, liquid, random_replicas, scaled, setup, System};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::reference::RefMd;
use glasscam_kernels::md::{Advance, Failure, MdBackend, MdSetup, Replicas, Segment};
use glasscam_kernels::tolerance::{assert_close, Tolerance};

pub(crate) fn run(b: &mut dyn MdBackend, reps: &Replicas, seg: Segment, steps: u64) -> Replicas {
    b.upload(reps).unwrap();
    b.advance(&Advance {
        segment: seg,
        seg_done: 0,
        step0: 0,
        steps,
    })
    .unwrap();
    let out = b.download().unwrap();
    // the small read that timing loops use instead of a download
    assert_eq!(b.thermo().unwrap(), out.thermo, "thermo() is download()'s");
    out
}

/// Unwrapped positions, so that a particle that crossed the boundary on one side only still compares.
fn unwrapped(r: &Replicas, l: f64) -> Vec<f64> {
    r.pos
        .iter()
        .zip(&r.img)
        .flat_map(|(x, w)| [x[0] + w[0] as f64 * l, x[1] + w[1] as f64 * l])
        .collect()
}

#[test]
fn md_step_should_match_cpu_over_a_short_nvt_run() {
    let Some(ctx) = test_context("md_step_should_match_cpu_over_a_short_nvt_run") else {
        return;
    };
    for (sys, n) in [
        (System::kam(), 300),
        (System::abm(), 257),
        (System::ka2d(), 1290),
    ] {
        let s = f32_box(setup(&scaled(sys.clone(), n)));
        let reps = f32_exact(liquid(&s, 21, 3, 1.5, 150));
        // a ramp segment, so the target-temperature formula is exercised too
        let seg = Segment {
            t_from: 1.5,
            t_to: 1.0,
            len: 60,
        };
        let c = run(&mut RefMd::new(s.clone()).unwrap(), &reps, seg, 60);
        let mut gpu = GpuMd::new(ctx.clone(), s.clone()).unwrap();
        gpu.steps_per_dispatch = 7; // several dispatches and a ragged last one
        let g = run(&mut gpu, &reps, seg, 60);
        let l = s.box_l;
        assert_close(
            &format!("{} positions after 60 steps", sys.name),
            &unwrapped(&g, l),
            &unwrapped(&c, l),
            Tolerance::F32_LOOSE,
        );
        let ke = |r: &Replicas| r.thermo.iter().map(|t| t.ke).collect::<Vec<_>>();
        let pe = |r: &Replicas| r.thermo.iter().map(|t| t.pe).collect::<Vec<_>>();
        let veta = |r: &Replicas| {
            r.thermo
                .iter()
                .flat_map(|t| t.veta[..3].to_vec())
                .collect::<Vec<_>>()
        };
        assert_close("kinetic energy", &ke(&g), &ke(&c), Tolerance::F32_LOOSE);
        assert_close("potential energy", &pe(&g), &pe(&c), Tolerance::F32_LOOSE);
        assert_close(
            "thermostat velocities",
            &veta(&g),
            &veta(&c),
            Tolerance {
                abs: 1e-3,
                rel: 1e-2,
            },
        );
    }
}

#[test]
fn overflowing_capacities_are_grown_and_the_step_redone() {
    let Some(ctx) = test_context("overflowing_capacities_are_grown_and_the_step_redone") else {
        return;
    };
    let s = setup(&scaled(System::kam(), 300));
    let reps = f32_exact(liquid(&s, 4, 2, 1.0, 100));
    let seg = Segment {
        t_from: 1.0,
        t_to: 1.0,
        len: 100,
    };
    let mut roomy = GpuMd::new(ctx.clone(), s.clone()).unwrap();
    let a = run(&mut roomy, &reps, seg, 100);
    let mut tight = GpuMd::new(ctx, s.clone()).unwrap();
    tight.cell_cap = 2;
    tight.nbr_cap = 3;
    tight.steps_per_dispatch = 10;
    tight.dispatches_per_submit = 2;
    let b = run(&mut tight, &reps, seg, 100);
    assert!(
        tight.regrows >= 1,
        "the tiny capacities must have overflowed"
    );
    assert!(tight.cell_cap > 2 && tight.nbr_cap > 3);
    assert_eq!(
        a, b,
        "a run that grew its lists must equal one that never overflowed, bit for bit"
    );
}

fn replica_alone_equals_replica_among_many(
    b: &mut dyn MdBackend,
    other: &mut dyn MdBackend,
    s: &MdSetup,
) {
    let n = s.n;
    let many = f32_exact(random_replicas(s, 77, 64, 2.0));
    let k = 37;
    let alone = Replicas {
        n,
        pos: many.pos[k * n..(k + 1) * n].to_vec(),
        vel: many.vel[k * n..(k + 1) * n].to_vec(),
        img: many.img[k * n..(k + 1) * n].to_vec(),
        thermo: vec![many.thermo[k]],
    };
    let seg = Segment {
        t_from: 2.0,
        t_to: 1.0,
        len: 200,
    };
    let m = run(b, &many, seg, 120);
    let a = run(other, &alone, seg, 120);
    assert_eq!(
        a.pos,
        m.pos[k * n..(k + 1) * n].to_vec(),
        "replica {k} alone vs among 64: positions"
    );
    assert_eq!(a.vel, m.vel[k * n..(k + 1) * n].to_vec());
    assert_eq!(a.thermo[0], m.thermo[k]);
}

#[test]
fn replica_trajectory_does_not_depend_on_its_neighbours() {
    let s = setup(&scaled(System::kam(), 100));
    replica_alone_equals_replica_among_many(
        &mut RefMd::new(s.clone()).unwrap(),
        &mut RefMd::new(s.clone()).unwrap(),
        &s,
    );
    replica_alone_equals_replica_among_many(
        &mut CpuMd::new(s.clone()).unwrap(),
        &mut CpuMd::new(s.clone()).unwrap(),
        &s,
    );
    if let Some(ctx) = test_context("replica_trajectory_does_not_depend_on_its_neighbours") {
        replica_alone_equals_replica_among_many(
            &mut GpuMd::new(ctx.clone(), s.clone()).unwrap(),
            &mut GpuMd::new(ctx, s.clone()).unwrap(),
            &s,
        );
    }
}

#[test]
fn a_blown_up_replica_stops_alone_and_says_why() {
    let s = setup(&scaled(System::kam(), 150));
    let n = s.n;
    let good = f32_exact(liquid(&s, 8, 3, 1.0, 50));
    let mut bad = good.clone();
    // replica 1: particle 0 flung at its neighbour at absurd speed
    bad.vel[n] = [4.0e3, 1.0e3];
    let seg = Segment {
        t_from: 1.0,
        t_to: 1.0,
        len: 50,
    };
    type Pair = (&'static str, Box<dyn MdBackend>, Box<dyn MdBackend>);
    let mut backends: Vec<Pair> = vec![
        (
            "reference",
            Box::new(RefMd::new(s.clone()).unwrap()),
            Box::new(RefMd::new(s.clone()).unwrap()),
        ),
        (
            "fast cpu",
            Box::new(CpuMd::new(s.clone()).unwrap()),
            Box::new(CpuMd::new(s.clone()).unwrap()),
        ),
    ];
    if let Some(ctx) = test_context("a_blown_up_replica_stops_alone_and_says_why") {
        backends.push((
            "gpu",
            Box::new(GpuMd::new(ctx.clone(), s.clone()).unwrap()),
            Box::new(GpuMd::new(ctx, s.clone()).unwrap()),
        ));
    }
    for (name, mut b1, mut b2) in backends {
        let after_bad = run(b1.as_mut(), &bad, seg, 50);
        let after_good = run(b2.as_mut(), &good, seg, 50);
        let t = after_bad.thermo[1];
        let why = Failure::from_status(t.status);
        assert!(why.is_some(), "{name}: replica 1 must be flagged");
        assert!(
            (1..=5).contains(&t.fail_step),
            "{name}: failed at step {} (expected within the first steps)",
            t.fail_step
        );
        for k in [0, 2] {
            assert_eq!(
                after_bad.thermo[k].status, 0,
                "{name}: replica {k} must go on"
            );
            assert_eq!(
                after_bad.pos[k * n..(k + 1) * n],
                after_good.pos[k * n..(k + 1) * n],
                "{name}: replica {k} must not feel replica 1's failure"
            );
        }
    }
}

#[test]
fn nve_energy_drift_on_the_gpu_is_bounded() {
    let Some(ctx) = test_context("nve_energy_drift_on_the_gpu_is_bounded") else {
        return;
    };
    // liquids at T_L = 0.8 of both pair forms, equilibrated with the thermostat on the reference, then NVE (chain
    // length 0)
    for sys in [System::kam(), System::ka2d()] {
        let mut s = setup(&scaled(sys.clone(), 500));
        let liquid = liquid(&s, 2, 1, 0.8, 2000);
        s.n_chain = 0;
        let mut gpu = GpuMd::new(ctx.clone(), s.clone()).unwrap();
        gpu.upload(&liquid).unwrap();
        let seg = Segment {
            t_from: 0.8,
            t_to: 0.8,
            len: 3000,
        };
        // E = KE + PE after every 250 steps
        let energies: Vec<f64> = (0..12)
            .map(|block| {
                gpu.advance(&Advance {
                    segment: seg,
                    seg_done: 250 * block,
                    step0: 250 * block,
                    steps: 250,
                })
                .unwrap();
                let t = gpu.thermo().unwrap()[0];
                t.ke + t.pe
            })
            .collect();
        let excursion = energies
            .iter()
            .map(|e| (e - energies[0]).abs() / s.n as f64)
            .fold(0.0, f64::max);
        println!(
            "GPU NVE (f32), {} N=500, 3000 steps: max |E - E0| / N = {excursion:.3e}",
            sys.name
        );
        // measured 1.6e-4 (KAM) and 3.0e-4 (KA2D) in f32 on lavapipe; a broken integrator drifts far beyond this
        assert!(
            excursion < 2e-3,
            "{}: energy per particle wandered by {excursion:e}",
            sys.name
        );
    }
}
