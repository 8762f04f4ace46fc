//! md_step: GPU kernel vs CPU twin over a short NVT run, grow-and-redo on overflow, replica independence,
//! and a blown-up replica that stops alone.

mod common;

use common::{liquid, scaled, setup};
use glasscam::sim::system::SystemDef;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, Failure, MdBackend, MdSetup, Replicas, Segment};
use glasscam_kernels::tolerance::{assert_close, Tolerance};

fn f32_exact(mut r: Replicas) -> Replicas {
    for x in r.pos.iter_mut().chain(r.vel.iter_mut()) {
        *x = [x[0] as f32 as f64, x[1] as f32 as f64];
    }
    for t in r.thermo.iter_mut() {
        t.eta = t.eta.map(|x| x as f32 as f64);
        t.veta = t.veta.map(|x| x as f32 as f64);
    }
    r
}

fn run(b: &mut dyn MdBackend, reps: &Replicas, seg: Segment, steps: u64) -> Replicas {
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
    for (sys, n) in [(SystemDef::kam(), 300), (SystemDef::abm(), 257)] {
        let s = setup(&scaled(sys.clone(), n));
        let reps = f32_exact(liquid(&s, 21, 3, 1.5, 150));
        // a ramp segment, so the target-temperature formula is exercised too
        let seg = Segment {
            t_from: 1.5,
            t_to: 1.0,
            len: 60,
        };
        let c = run(&mut CpuMd::new(s.clone()).unwrap(), &reps, seg, 60);
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
    let s = setup(&scaled(SystemDef::kam(), 300));
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
    let many = f32_exact(glasscam::sim::init::random_replicas(s, 77, 0..64, 2.0));
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
    let s = setup(&scaled(SystemDef::kam(), 100));
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
    let s = setup(&scaled(SystemDef::kam(), 150));
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
    let mut backends: Vec<Pair> = vec![(
        "cpu",
        Box::new(CpuMd::new(s.clone()).unwrap()),
        Box::new(CpuMd::new(s.clone()).unwrap()),
    )];
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

/// With fewer replicas than threads the CPU twin splits each replica over the threads: the bytes must be those
/// of the unsplit step whatever the thread count (1 thread: unsplit; 2, 3, 5: split in 8, 12, 20 parts), for a
/// replica alone or among others (4 replicas on 2 threads: unsplit), and for a run resumed halfway through a
/// fresh upload (rebuilding its lists at another step).
#[test]
fn cpu_replica_split_over_threads_gives_the_same_bytes() {
    for n in [300, 40] {
        let s = setup(&scaled(SystemDef::kam(), n));
        let many = glasscam::sim::init::random_replicas(&s, 91, 0..4, 2.0);
        let seg = Segment {
            t_from: 2.0,
            t_to: 1.0,
            len: 200,
        };
        let take = |r: &Replicas, k: usize| Replicas {
            n,
            pos: r.pos[k * n..(k + 1) * n].to_vec(),
            vel: r.vel[k * n..(k + 1) * n].to_vec(),
            img: r.img[k * n..(k + 1) * n].to_vec(),
            thermo: vec![r.thermo[k]],
        };
        let in_pool = |threads: usize, f: &(dyn Fn() -> (Replicas, Vec<f64>) + Sync)| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(f)
        };
        let whole = |reps: &Replicas| {
            let mut b = CpuMd::new(s.clone()).unwrap().with_split_min(0);
            let out = run(&mut b, reps, seg, 120);
            (out, b.forces().unwrap().1)
        };
        let (among, _) = in_pool(2, &|| whole(&many));
        let reference = take(&among, 2);
        let one = take(&many, 2);
        let (_, e1) = in_pool(1, &|| whole(&one));
        for threads in [1, 2, 3, 5] {
            let (a, e) = in_pool(threads, &|| whole(&one));
            assert_eq!(a.pos, reference.pos, "N={n}, {threads} threads: positions");
            assert_eq!(a.vel, reference.vel, "N={n}, {threads} threads: velocities");
            assert_eq!(a.img, reference.img);
            assert_eq!(
                a.thermo, reference.thermo,
                "N={n}, {threads} threads: thermostat"
            );
            assert_eq!(e, e1, "N={n}, {threads} threads: per-particle energies");
            // resumed: 60 steps, a fresh backend from the downloaded state, 60 more
            let (r, _) = in_pool(threads, &|| {
                let mut b = CpuMd::new(s.clone()).unwrap().with_split_min(0);
                let half = run(&mut b, &one, seg, 60);
                let mut c = CpuMd::new(s.clone()).unwrap().with_split_min(0);
                c.upload(&half).unwrap();
                c.advance(&Advance {
                    segment: seg,
                    seg_done: 60,
                    step0: 60,
                    steps: 60,
                })
                .unwrap();
                (c.download().unwrap(), c.forces().unwrap().1)
            });
            assert_eq!(
                r.pos, reference.pos,
                "N={n}, {threads} threads: resumed positions"
            );
            assert_eq!(
                r.thermo, reference.thermo,
                "N={n}, {threads} threads: resumed"
            );
        }
    }
}
