//! md_crsd: the cage-relative squared displacements the device computes from its own state against the reference
//! (positions exact in f32 on both sides, image counts of both signs, cages from empty to 8 neighbours), at the
//! smallest system, one workgroup less and more than 256 threads, and several replicas; the fast CPU backend's
//! equal to the reference's.

use crate::common::{liquid, scaled, setup, Rng, System};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::reference::RefMd;
use glasscam_kernels::md::{Cages, MdBackend, Replicas};
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// `reps` with image counts in -2..=2, positions rounded to f32 (the device holds f32), a t = 0 configuration a
/// little away from replica 0's, and random cages.
fn inputs(reps: &mut Replicas, l: f64, seed: u64) -> (Vec<[f64; 2]>, Vec<Vec<u32>>) {
    let mut rng = Rng(seed);
    let n = reps.n;
    for (x, w) in reps.pos.iter_mut().zip(reps.img.iter_mut()) {
        *x = [x[0] as f32 as f64, x[1] as f32 as f64];
        *w = [(rng.next() * 5.0) as i32 - 2, (rng.next() * 5.0) as i32 - 2];
    }
    let pos0: Vec<[f64; 2]> = reps.pos[..n]
        .iter()
        .map(|x| {
            [
                ((x[0] + rng.uniform(-0.5, 0.5)).rem_euclid(l) as f32) as f64,
                ((x[1] + rng.uniform(-0.5, 0.5)).rem_euclid(l) as f32) as f64,
            ]
        })
        .collect();
    let cages = (0..n)
        .map(|i| {
            let k = (rng.next() * 9.0) as usize;
            (0..k)
                .map(|_| (rng.next() * n as f64) as u32 % n as u32)
                .filter(|&j| j as usize != i)
                .collect()
        })
        .collect();
    (pos0, cages)
}

#[test]
fn md_crsd_should_match_cpu() {
    let Some(ctx) = test_context("md_crsd_should_match_cpu") else {
        return;
    };
    // (particles, replicas): the smallest box the MD setup takes, 255 and 257 threads in all, 3 replicas
    for (i, (n, r)) in [(40usize, 1usize), (85, 3), (257, 1), (200, 3)]
        .into_iter()
        .enumerate()
    {
        let setup = setup(&scaled(System::kam(), n));
        let mut reps = liquid(&setup, 60 + i as u64, r, 1.0, 20);
        let (pos0, cages) = inputs(&mut reps, setup.box_l, 70 + i as u64);
        let cages = Cages::new(&pos0, &cages).expect("cages");
        let mut cpu = RefMd::new(setup.clone()).expect("reference");
        let mut gpu = GpuMd::new(ctx.clone(), setup.clone()).expect("gpu");
        cpu.upload(&reps).expect("cpu upload");
        gpu.upload(&reps).expect("gpu upload");
        let want = cpu.crsd(&cages).expect("cpu crsd");
        let got = gpu.crsd(&cages).expect("gpu crsd");
        assert_eq!(want.len(), n * r);
        assert!(
            want.iter().any(|&x| x > 1e-3),
            "all displacements ~0 test nothing"
        );
        // the unwrapped displacement loses f32 digits of |x| ~ L + 2 L to cancellation
        let tol = Tolerance {
            abs: 1e-4 * setup.box_l,
            rel: 1e-3,
        };
        assert_close(&format!("md_crsd n {n} replicas {r}"), &got, &want, tol);
    }
}

#[test]
fn the_fast_backend_gives_the_references_displacements() {
    let setup = setup(&scaled(System::kam(), 64));
    let mut reps = liquid(&setup, 5, 2, 1.0, 20);
    let (pos0, cage_lists) = inputs(&mut reps, setup.box_l, 6);
    let cages = Cages::new(&pos0, &cage_lists).expect("cages");
    let mut reference = RefMd::new(setup.clone()).expect("reference");
    let mut fast = CpuMd::new(setup.clone()).expect("cpu");
    reference.upload(&reps).expect("upload");
    fast.upload(&reps).expect("upload");
    assert_eq!(
        fast.crsd(&cages).expect("crsd"),
        reference.crsd(&cages).expect("crsd")
    );
    let e = Cages::new(&pos0, &[vec![0]]).expect_err("one cage for 64 particles");
    assert!(e.to_string().contains("1 cages for 64 particles"), "{e}");
}
