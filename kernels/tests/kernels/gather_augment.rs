//! gather_augment and the training set kept on the backend (`Net::load_set`, `train_set_step`): the GPU path
//! against the CPU twin (gathered, augmented, gridized and standardized images; an epoch's tally and parameters),
//! and bad sets and batches refused. (The twin against the main crate's host path: its tests/nn_augment.rs.)

use crate::common::Rng;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::net::{Net, TrainSet};
use glasscam_kernels::nn::{AdamSpec, GridSpec, Head, NetSpec};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

const SET: usize = 5;

struct Case {
    spec: NetSpec,
    grid: GridSpec,
    box_l: f64,
    pos: Vec<f64>,
    species: Vec<u32>,
    labels: Vec<u32>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

fn case(n: usize, seed: u64) -> Case {
    let mut rng = Rng(seed);
    // one-pixel-wide Gaussian windows on the 16-pixel grid whatever n is
    let box_l = 16.0;
    // the quick preset's network on a 16-pixel grid
    let spec = NetSpec {
        in_channels: 2,
        grid: 16,
        conv: vec![4, 4, 4],
        kernel: 3,
        hidden: 16,
        classes: 2,
        head: Head::Mean,
        dropout: 0.0,
    };
    let grid = GridSpec {
        grid: 16,
        box_l,
        width: 0.6,
        cutoff: 4.0,
    };
    Case {
        spec,
        grid,
        box_l,
        pos: rng.vec_f64(SET * n * 2, 0.0, box_l),
        species: (0..n).map(|i| (i % 3 % 2) as u32).collect(),
        labels: (0..SET as u32).map(|i| i % 2).collect(),
        mean: vec![0.4, 0.2],
        std: vec![0.5, 0.8],
    }
}

fn net(compute: &Compute, c: &Case) -> Net {
    let spec = c.spec.clone();
    let mut net = Net::new(compute, spec.clone(), &spec.init(3), 3).expect("net");
    net.load_set(&TrainSet {
        positions: &c.pos,
        species: &c.species,
        labels: &c.labels,
        grid: c.grid,
        mean: &c.mean,
        std: &c.std,
    })
    .expect("load_set");
    net
}

const ORDER: [u32; 5] = [3, 0, 4, 1, 2];

/// A random symmetry of the box per set snapshot: (tx, ty, g, box_l), g in 0..8 (gather_augment.wgsl).
fn transforms(c: &Case, epoch: usize) -> Vec<[f64; 4]> {
    let mut rng = Rng(900 + epoch as u64);
    (0..SET)
        .map(|_| {
            let (tx, ty) = (rng.uniform(0.0, c.box_l), rng.uniform(0.0, c.box_l));
            [tx, ty, (rng.next() * 8.0).floor(), c.box_l]
        })
        .collect()
}

#[test]
fn gather_augment_should_match_cpu() {
    let Some(ctx) = test_context("gather_augment_should_match_cpu") else {
        return;
    };
    let gpu = Compute::Gpu(ctx);
    // one particle, one workgroup less and more than one (255, 257 threads over the batch), a real snapshot size
    for (i, n) in [1usize, 85, 257, 400].into_iter().enumerate() {
        let c = case(n, 40 + i as u64);
        let (mut a, mut b) = (net(&Compute::Cpu, &c), net(&gpu, &c));
        for aug in [false, true] {
            let tf = transforms(&c, i);
            let tf = aug.then_some(&tf[..]);
            a.begin_epoch(&ORDER, tf).expect("cpu epoch");
            b.begin_epoch(&ORDER, tf).expect("gpu epoch");
            for (start, len) in [(0, 3), (3, 2), (4, 1)] {
                let want = a.set_images(start, len).expect("cpu images");
                let got = b.set_images(start, len).expect("gpu images");
                assert_close(
                    &format!("n {n} augment {aug} batch {start}+{len}"),
                    &got,
                    &want,
                    Tolerance::F32_SUM,
                );
            }
        }
    }
}

#[test]
fn a_training_epoch_from_the_set_should_match_cpu() {
    let Some(ctx) = test_context("a_training_epoch_from_the_set_should_match_cpu") else {
        return;
    };
    let c = case(120, 11);
    let (mut a, mut b) = (net(&Compute::Cpu, &c), net(&Compute::Gpu(ctx), &c));
    let adam = AdamSpec::default();
    let tf = transforms(&c, 1);
    for n in [&mut a, &mut b] {
        n.begin_epoch(&ORDER, Some(&tf)).expect("epoch");
        n.train_set_step(0, 3, 17, &adam).expect("step");
        n.train_set_step(3, 2, 18, &adam).expect("step");
    }
    let (ta, tb) = (a.epoch_tally().expect("cpu"), b.epoch_tally().expect("gpu"));
    assert_close("loss sum", &[tb.0], &[ta.0], Tolerance::F32_LOOSE);
    assert_eq!(ta.1, tb.1, "correct predictions");
    assert!(ta.1 <= SET && ta.0 > 0.0, "{ta:?}");
    let (pa, pb) = (a.params_f64().expect("cpu"), b.params_f64().expect("gpu"));
    assert_close("parameters after 2 steps", &pb, &pa, Tolerance::F32_LOOSE);
    // a new epoch starts the tally from zero
    a.begin_epoch(&ORDER, None).expect("epoch");
    assert_eq!(a.epoch_tally().expect("tally"), (0.0, 0));
}

#[test]
fn a_bad_set_or_batch_is_refused_with_what_is_wrong() {
    let c = case(10, 3);
    let spec = c.spec.clone();
    let mut n = Net::new(&Compute::Cpu, spec.clone(), &spec.init(3), 3).expect("net");
    let e = n.set_images(0, 1).expect_err("no set").to_string();
    assert!(e.contains("call Net::load_set first"), "{e}");
    let mut bad = TrainSet {
        positions: &c.pos[1..],
        species: &c.species,
        labels: &c.labels,
        grid: c.grid,
        mean: &c.mean,
        std: &c.std,
    };
    let e = n.load_set(&bad).expect_err("short positions").to_string();
    assert!(e.contains("is not 5 snapshots of 10 particles"), "{e}");
    bad.positions = &c.pos;
    n.load_set(&bad).expect("good set");
    let e = n.begin_epoch(&[0, 5], None).expect_err("index").to_string();
    assert!(e.contains("an order of 2 indices into a set of 5"), "{e}");
    n.begin_epoch(&ORDER, None).expect("epoch");
    let e = n.set_images(4, 2).expect_err("past the order").to_string();
    assert!(e.contains("batch 4..6 of an epoch order of 5"), "{e}");
}
