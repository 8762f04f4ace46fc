//! gather_augment and the training set kept on the backend (`Net::load_set`, `train_set_step`): the GPU path
//! against the CPU twin (gathered, augmented, gridized and standardized images; an epoch's tally and parameters),
//! and the twin against the host path `train` used before (augment, gridize, standardize on the host): equal bit
//! for bit.

mod common;

use common::Rng;
use glasscam::kernels::gpu::test_context;
use glasscam::kernels::nn::net::{gridize, Net, TrainSet};
use glasscam::kernels::tolerance::{assert_close, Tolerance};
use glasscam::kernels::Compute;
use glasscam::learn::cnn::config::ModelConfig;
use glasscam::learn::cnn::data::{augment, augment_seed, augment_transform};
use glasscam::learn::cnn::model::Standardization;

const SET: usize = 5;

struct Case {
    cfg: ModelConfig,
    n: usize,
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
    let cfg = ModelConfig {
        grid: 16,
        width: 0.6,
        ..ModelConfig::quick()
    };
    Case {
        cfg,
        n,
        box_l,
        pos: rng.vec_f64(SET * n * 2, 0.0, box_l),
        species: (0..n).map(|i| (i % 3 % 2) as u32).collect(),
        labels: (0..SET as u32).map(|i| i % 2).collect(),
        mean: vec![0.4, 0.2],
        std: vec![0.5, 0.8],
    }
}

fn net(compute: &Compute, c: &Case) -> Net {
    let spec = c.cfg.net_spec(2);
    let mut net = Net::new(compute, spec.clone(), &spec.init(3), 3).expect("net");
    net.load_set(&TrainSet {
        positions: &c.pos,
        species: &c.species,
        labels: &c.labels,
        grid: c.cfg.grid_spec(c.box_l),
        mean: &c.mean,
        std: &c.std,
    })
    .expect("load_set");
    net
}

const ORDER: [u32; 5] = [3, 0, 4, 1, 2];

fn transforms(c: &Case, epoch: usize) -> Vec<[f64; 4]> {
    (0..SET)
        .map(|k| augment_transform(c.box_l, augment_seed(9, epoch, k)))
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
fn the_set_on_the_cpu_twin_gives_the_host_paths_images_exactly() {
    let c = case(60, 7);
    let mut a = net(&Compute::Cpu, &c);
    let grid = c.cfg.grid_spec(c.box_l);
    let norm = Standardization {
        mean: c.mean.clone(),
        std: c.std.clone(),
    };
    let per = 2 * 16 * 16;
    for aug in [false, true] {
        let tf = transforms(&c, 2);
        a.begin_epoch(&ORDER, aug.then_some(&tf[..]))
            .expect("epoch");
        let got = a.set_images(1, 3).expect("images");
        for (s, &k) in ORDER[1..4].iter().enumerate() {
            let k = k as usize;
            let snap = &c.pos[k * c.n * 2..(k + 1) * c.n * 2];
            let pos = if aug {
                augment(snap, c.box_l, augment_seed(9, 2, k))
            } else {
                snap.to_vec()
            };
            let mut want = gridize(&Compute::Cpu, &grid, &pos, &c.species, 2).expect("gridize");
            norm.apply(&mut want, 16 * 16);
            let want: Vec<f64> = want.iter().map(|&x| x as f64).collect();
            assert_eq!(
                &got[s * per..(s + 1) * per],
                &want[..],
                "augment {aug} sample {s}"
            );
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
    let adam = c.cfg.adam();
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
    let spec = c.cfg.net_spec(2);
    let mut n = Net::new(&Compute::Cpu, spec.clone(), &spec.init(3), 3).expect("net");
    let e = n.set_images(0, 1).expect_err("no set").to_string();
    assert!(e.contains("call Net::load_set first"), "{e}");
    let mut bad = TrainSet {
        positions: &c.pos[1..],
        species: &c.species,
        labels: &c.labels,
        grid: c.cfg.grid_spec(c.box_l),
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
