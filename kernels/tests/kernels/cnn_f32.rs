//! The CNN's f32 CPU backend (`nn::fast`) against the f64 twin (`nn::cpu`), the reference: scores, losses, the
//! gradient of every tensor and Grad-CAM maps of both classes, for the paper's network (SPEC §5), the quick
//! preset's and an odd-sized one that takes every tail path, on every vector unit of this CPU, from random images
//! and from images gridized from particle configurations; the f32 gridization and training-set path; a
//! finite-difference check of the f32 loss; and bit-for-bit determinism across runs and thread counts.

use crate::common::{random_replicas, scaled, setup, Rng, System};
use glasscam_kernels::nn::fast::Isa;
use glasscam_kernels::nn::net::{gridize, gridize_with, Net, TrainSet};
use glasscam_kernels::nn::{AdamSpec, GridSpec, Head, NetSpec, Precision};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

/// The paper's network (SPEC §5), as `ModelConfig::default()` builds it.
fn paper() -> NetSpec {
    NetSpec {
        in_channels: 2,
        grid: 128,
        conv: vec![8, 16, 16],
        kernel: 5,
        hidden: 64,
        classes: 2,
        dropout: 0.5,
        head: Head::Flatten,
    }
}

/// The quick preset's network (presets/quick-model.toml).
fn quick() -> NetSpec {
    NetSpec {
        in_channels: 2,
        grid: 64,
        conv: vec![4, 4, 4],
        kernel: 3,
        hidden: 16,
        classes: 2,
        dropout: 0.0,
        head: Head::Mean,
    }
}

/// Sizes that hit every edge of the kernels: a row of 21 pixels (one AVX-512 vector, a short one and single
/// pixels), channel counts that fill no register tile, a kernel of 7 (no tap block), three classes.
fn odd() -> NetSpec {
    NetSpec {
        in_channels: 3,
        grid: 21,
        conv: vec![5, 3, 9],
        kernel: 7,
        hidden: 7,
        classes: 3,
        dropout: 0.25,
        head: Head::Flatten,
    }
}

fn twin(spec: &NetSpec, init: &[f32], cap: usize) -> Net {
    Net::with_precision(&Compute::Cpu, Precision::F64, spec.clone(), init, cap).expect("twin")
}

fn fast(spec: &NetSpec, init: &[f32], cap: usize, isa: Isa) -> Net {
    let mut net = Net::with_precision(&Compute::Cpu, Precision::F32, spec.clone(), init, cap)
        .expect("f32 net");
    net.set_isa(isa);
    assert_eq!(net.isa(), Some(isa));
    net
}

fn largest(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Loss, scores and every tensor's gradient of one training step's forward and backward (no update) on both
/// paths.
fn step_should_match_twin(what: &str, spec: &NetSpec, images: &[f32], labels: &[u32], isa: Isa) {
    let init = spec.init(7);
    let b = labels.len();
    let (mut t, mut f) = (twin(spec, &init, b), fast(spec, &init, b, isa));
    let want = t.loss_and_grads(images, labels, 99).expect("twin step");
    let got = f.loss_and_grads(images, labels, 99).expect("f32 step");
    let what = format!("{what} ({})", isa.name());
    assert_close(
        &format!("{what} loss"),
        &got.loss,
        &want.loss,
        Tolerance::F32_NET,
    );
    assert_close(
        &format!("{what} scores"),
        &got.logits,
        &want.logits,
        Tolerance::F32_NET,
    );
    let (gt, gf) = (t.grads().expect("grads"), f.grads().expect("grads"));
    for (name, shape, off) in spec.tensors() {
        let n: usize = shape.iter().product();
        let (a, e) = (&gf[off..off + n], &gt[off..off + n]);
        assert!(
            largest(e) > 0.0,
            "{what}: {name} has no gradient, which tests nothing"
        );
        assert_close(
            &format!("{what} gradient of {name}"),
            a,
            e,
            Tolerance::F32_NET_GRAD.relative_to(largest(e)),
        );
    }
}

/// Grad-CAM maps and scores of both paths for every class.
fn gradcam_should_match_twin(what: &str, spec: &NetSpec, images: &[f32], seed: u64, isa: Isa) {
    let init = spec.init(seed);
    let b = images.len() / spec.act_len(0);
    let (mut t, mut f) = (twin(spec, &init, b), fast(spec, &init, b, isa));
    let what = format!("{what} ({})", isa.name());
    let mut nonzero = 0;
    for cls in 0..spec.classes {
        let (lt, mt) = t.gradcam(images, cls).expect("twin");
        let (lf, mf) = f.gradcam(images, cls).expect("f32");
        assert_close(&format!("{what} scores"), &lf, &lt, Tolerance::F32_NET);
        nonzero += (largest(&mt) > 0.0) as usize;
        assert_close(
            &format!("{what} class {cls} maps"),
            &mf,
            &mt,
            Tolerance::F32_NET_GRAD.relative_to(largest(&mt)),
        );
    }
    assert!(
        nonzero > 0,
        "{what}: every map is zero, which tests nothing"
    );
}

fn random_images(spec: &NetSpec, b: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let images = Rng(seed).vec_f32(b * spec.act_len(0), -1.0, 1.0);
    let labels = (0..b as u32).map(|i| i % spec.classes as u32).collect();
    (images, labels)
}

#[test]
fn cnn_f32_step_should_match_twin_on_every_unit() {
    for isa in Isa::available() {
        for (what, spec, b) in [("odd", odd(), 3), ("quick", quick(), 5)] {
            let (images, labels) = random_images(&spec, b, 4100);
            step_should_match_twin(what, &spec, &images, &labels, isa);
            gradcam_should_match_twin(what, &spec, &images, 19, isa);
        }
    }
}

#[test]
fn cnn_f32_paper_network_should_match_twin() {
    let spec = paper();
    let (images, labels) = random_images(&spec, 3, 4200);
    let isa = Isa::detect();
    step_should_match_twin("paper", &spec, &images, &labels, isa);
    gradcam_should_match_twin("paper", &spec, &images, 19, isa);
}

/// Two images of each network's grid gridized (by the twin) from KAM configurations at the paper's N = 2000,
/// standardized per channel as `train` does.
fn configuration_images(spec: &NetSpec, width: f64) -> (Vec<f32>, GridSpec, Vec<f64>, Vec<u32>) {
    let s = setup(&scaled(System::kam(), 2000));
    let reps = random_replicas(&s, 4300, 2, 0.8);
    let pos: Vec<f64> = reps.pos.iter().flat_map(|x| [x[0], x[1]]).collect();
    let species = s.species.clone();
    let grid = GridSpec {
        grid: spec.grid,
        box_l: s.box_l,
        width,
        cutoff: 4.0,
    };
    let mut images = gridize(&Compute::Cpu, &grid, &pos, &species, 2).expect("gridize");
    let gg = spec.pixels();
    for c in 0..2 {
        let plane = |b: usize| (b * 2 + c) * gg..(b * 2 + c + 1) * gg;
        let vals: Vec<f64> = (0..2)
            .flat_map(|b| images[plane(b)].iter().map(|&x| x as f64))
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / vals.len() as f64;
        for b in 0..2 {
            for x in &mut images[plane(b)] {
                *x = ((*x as f64 - mean) / var.sqrt()) as f32;
            }
        }
    }
    (images, grid, pos, species)
}

#[test]
fn cnn_f32_should_match_twin_on_configurations() {
    let isa = Isa::detect();
    for (what, spec, width) in [("paper", paper(), 0.3), ("quick", quick(), 0.5)] {
        let (images, grid, pos, species) = configuration_images(&spec, width);
        let what = format!("{what}, KAM configurations");
        step_should_match_twin(&what, &spec, &images, &[0, 1], isa);
        gradcam_should_match_twin(&what, &spec, &images, 19, isa);
        // the f32 backend's own gridization of the same configurations
        let want = gridize(&Compute::Cpu, &grid, &pos, &species, 2).expect("twin");
        let got =
            gridize_with(&Compute::Cpu, Precision::F32, &grid, &pos, &species, 2).expect("f32");
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        assert_close(
            &format!("{what}: gridize"),
            &f(&got),
            &f(&want),
            Tolerance::F32_SUM,
        );
    }
}

#[test]
fn cnn_f32_training_set_path_should_match_twin() {
    // train_set_step's input stage (gather, augmentation, gridization, standardization), two training steps with
    // Adam and the epoch's tally, on quick's network and on the paper's
    for (spec, width, batch) in [(quick(), 0.5, 4), (paper(), 0.3, 2)] {
        let s = setup(&scaled(System::kam(), 500));
        let size = 2 * batch;
        let reps = random_replicas(&s, 4400, size, 0.8);
        let pos: Vec<f64> = reps.pos.iter().flat_map(|x| [x[0], x[1]]).collect();
        let labels: Vec<u32> = (0..size as u32).map(|i| i % 2).collect();
        let set = TrainSet {
            positions: &pos,
            species: &s.species,
            labels: &labels,
            grid: GridSpec {
                grid: spec.grid,
                box_l: s.box_l,
                width,
                cutoff: 4.0,
            },
            mean: &[0.05, 0.03],
            std: &[0.1, 0.08],
        };
        let order: Vec<u32> = (0..size as u32).rev().collect();
        let tf: Vec<[f64; 4]> = (0..size)
            .map(|k| [0.37 * k as f64, 1.1, (k % 8) as f64, s.box_l])
            .collect();
        let init = spec.init(3);
        let adam = AdamSpec::default();
        let mut nets = [
            twin(&spec, &init, batch),
            fast(&spec, &init, batch, Isa::detect()),
        ];
        for net in &mut nets {
            net.load_set(&set).expect("set");
            net.begin_epoch(&order, Some(&tf)).expect("epoch");
        }
        let [t, f] = &mut nets;
        let what = format!("grid {}", spec.grid);
        for step in 0..2 {
            let (a, e) = (
                f.set_images(step * batch, batch).expect("f32"),
                t.set_images(step * batch, batch).expect("twin"),
            );
            assert_close(
                &format!("{what} step {step} images"),
                &a,
                &e,
                Tolerance::F32_SUM,
            );
            for net in [&mut *t, &mut *f] {
                net.train_set_step(step * batch, batch, 7 + step as u32, &adam)
                    .expect("step");
            }
        }
        let (lt, ct) = t.epoch_tally().expect("tally");
        let (lf, cf) = f.epoch_tally().expect("tally");
        assert_close(
            &format!("{what} loss sum"),
            &[lf],
            &[lt],
            Tolerance::F32_NET,
        );
        assert_eq!(cf, ct, "{what}: correct counts");
        // Adam moves each weight by about lr = 1e-3 per step; a tiny gradient's rounding may change a step's size,
        // so the check is at a tenth of lr (as the GPU path's)
        assert_close(
            &format!("{what} parameters after two steps"),
            &f.params_f64().expect("params"),
            &t.params_f64().expect("params"),
            Tolerance::F32_ADAM,
        );
    }
}

/// The change of the f32 loss along each tensor's gradient direction against the gradient's prediction. The
/// step is set so that the loss moves by about 2e-4 (relative 2e-4 for a loss near 1): far above the f32 loss's
/// rounding (~1e-6 from the scores' sums) and small enough that few ReLUs change sign. The perturbed parameters
/// are rounded to f32 when loaded, so the prediction uses the parameters' actual change: sum_i g_i (theta+_i -
/// theta-_i). Tolerance: 3 % of the predicted change (the worst seen is 1.5 %, at biases, whose shift moves every
/// pixel of a map towards its ReLU kink).
fn finite_differences(what: &str, spec: &NetSpec, images: &[f32], labels: &[u32]) {
    let init = spec.init(5);
    let b = labels.len();
    let mut net = fast(spec, &init, b, Isa::detect());
    let seed = 31;
    let base = net.loss_and_grads(images, labels, seed).expect("step");
    let l0 = base.loss.iter().sum::<f64>() / b as f64;
    let g = net.grads().expect("grads");
    let theta = net.params_f64().expect("params");
    let loss_at = |net: &mut Net, p: &[f64]| -> (f64, Vec<f64>) {
        net.set_params_f64(p).expect("params");
        let exact = net.params_f64().expect("params");
        let r = net.loss_and_grads(images, labels, seed).expect("step");
        (r.loss.iter().sum::<f64>() / b as f64, exact)
    };
    for (name, shape, off) in spec.tensors() {
        let n: usize = shape.iter().product();
        let gt = &g[off..off + n];
        let norm = gt.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(norm > 0.0, "{what}: {name} has no gradient");
        let h = 2e-4 * l0.max(0.1) / norm;
        let shifted = |sign: f64| {
            let mut p = theta.clone();
            for (pi, gi) in p[off..off + n].iter_mut().zip(gt) {
                *pi += sign * h * gi / norm;
            }
            p
        };
        let (lp, pp) = loss_at(&mut net, &shifted(1.0));
        let (lm, pm) = loss_at(&mut net, &shifted(-1.0));
        let predicted: f64 = (off..off + n).map(|i| g[i] * (pp[i] - pm[i])).sum();
        let measured = lp - lm;
        eprintln!("{what} {name}: loss change {measured:e}, predicted {predicted:e}");
        assert!(
            (measured - predicted).abs() <= 0.03 * predicted.abs(),
            "{what} {name}: the loss changed by {measured:e} along the gradient, its prediction is {predicted:e}"
        );
    }
}

#[test]
fn cnn_f32_loss_gradient_should_match_finite_differences() {
    let (images, labels) = random_images(&quick(), 4, 4500);
    finite_differences("quick", &quick(), &images, &labels);
    let (images, labels) = random_images(&odd(), 3, 4510);
    finite_differences("odd", &odd(), &images, &labels);
    let (images, labels) = random_images(&paper(), 2, 4520);
    finite_differences("paper", &paper(), &images, &labels);
}

#[test]
fn cnn_f32_steps_should_give_the_same_bits_on_any_thread_count() {
    // every sum runs in an order fixed by the shapes alone, never by the split over threads
    let spec = paper();
    let (images, labels) = random_images(&spec, 4, 4600);
    let init = spec.init(9);
    let adam = AdamSpec::default();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut net = fast(&spec, &init, 4, Isa::detect());
            for s in 0..2 {
                net.train_step(&images, &labels, s, &adam).expect("step");
            }
            let (_, maps) = net.gradcam(&images, 1).expect("gradcam");
            (net.params().expect("params"), maps)
        })
    };
    let one = run(1);
    for threads in [1, 2, 3, 8] {
        let other = run(threads);
        assert!(
            one.0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "parameters differ between 1 and {threads} threads"
        );
        assert!(
            one.1
                .iter()
                .zip(&other.1)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "Grad-CAM maps differ between 1 and {threads} threads"
        );
    }
}
