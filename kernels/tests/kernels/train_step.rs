//! A whole training step (forward with dropout, loss, backward, Adam) and a Grad-CAM pass: GPU against the CPU
//! twin from the same parameters and batch, for both heads (flatten, docs/methods.md "CNN"; mean, the quick model's).

use crate::common::Rng;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::nn::net::Net;
use glasscam_kernels::nn::{AdamSpec, Head, NetSpec};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::Compute;

fn spec(head: Head) -> NetSpec {
    NetSpec {
        in_channels: 2,
        grid: 16,
        conv: vec![4, 8, 8],
        kernel: 5,
        hidden: 16,
        classes: 2,
        head,
        dropout: 0.5,
    }
}

#[test]
fn train_step_should_match_cpu() {
    train_step_check("train_step_should_match_cpu", Head::Flatten);
}

#[test]
fn train_step_mean_head_should_match_cpu() {
    train_step_check("train_step_mean_head_should_match_cpu", Head::Mean);
}

fn train_step_check(name: &str, head: Head) {
    let Some(ctx) = test_context(name) else {
        return;
    };
    let spec = spec(head);
    let init = spec.init(11);
    let mut rng = Rng(3000);
    let batch = 5;
    let adam = AdamSpec::default();
    let mut cpu = Net::new(&Compute::Cpu, spec.clone(), &init, 8).expect("cpu net");
    let mut gpu = Net::new(&Compute::Gpu(ctx), spec.clone(), &init, 8).expect("gpu net");
    for step in 0..2u32 {
        let images = rng.vec_f32(batch * spec.act_len(0), 0.0, 0.5);
        let labels: Vec<u32> = (0..batch as u32).map(|i| (i + step) % 2).collect();
        let a = cpu
            .train_step(&images, &labels, 40 + step, &adam)
            .expect("cpu step");
        let b = gpu
            .train_step(&images, &labels, 40 + step, &adam)
            .expect("gpu step");
        assert_close(
            &format!("step {step} loss"),
            &b.loss,
            &a.loss,
            Tolerance::F32_LOOSE,
        );
        assert_close(
            &format!("step {step} scores"),
            &b.logits,
            &a.logits,
            Tolerance::F32_LOOSE,
        );
        let (ga, gb) = (cpu.grads().expect("grads"), gpu.grads().expect("grads"));
        let scale = ga.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        // gradients are sums over the batch and the pixels: compare relative to the largest one
        assert_close(
            &format!("step {step} gradients"),
            &gb,
            &ga,
            Tolerance {
                abs: 1e-4 * scale,
                rel: 1e-3,
            },
        );
        let (pa, pb) = (
            cpu.params_f64().expect("params"),
            gpu.params_f64().expect("params"),
        );
        // Adam moves each weight by about lr = 1e-3 per step; f32 rounding of tiny gradients may change a step's
        // size, so the check is at a tenth of lr
        assert_close(
            &format!("step {step} parameters"),
            &pb,
            &pa,
            Tolerance {
                abs: 1e-4,
                rel: 1e-4,
            },
        );
    }
}

#[test]
fn gradcam_pass_should_match_cpu() {
    // seed 19: both classes' maps are non-zero for this untrained net (for some seeds one or both vanish)
    gradcam_pass_check("gradcam_pass_should_match_cpu", Head::Flatten, 19);
}

#[test]
fn gradcam_pass_mean_head_should_match_cpu() {
    gradcam_pass_check("gradcam_pass_mean_head_should_match_cpu", Head::Mean, 19);
}

fn gradcam_pass_check(name: &str, head: Head, seed: u64) {
    let Some(ctx) = test_context(name) else {
        return;
    };
    let spec = spec(head);
    let init = spec.init(seed);
    let mut rng = Rng(3100);
    let images = rng.vec_f32(3 * spec.act_len(0), 0.0, 0.5);
    let mut cpu = Net::new(&Compute::Cpu, spec.clone(), &init, 4).expect("cpu net");
    let mut gpu = Net::new(&Compute::Gpu(ctx), spec.clone(), &init, 4).expect("gpu net");
    let mut nonzero = 0;
    for cls in 0..2 {
        let (la, ma) = cpu.gradcam(&images, cls).expect("cpu");
        let (lb, mb) = gpu.gradcam(&images, cls).expect("gpu");
        assert_close("scores", &lb, &la, Tolerance::F32_LOOSE);
        let scale = ma.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        eprintln!("class {cls}: largest map value {scale}");
        nonzero += (scale > 0.0) as usize;
        assert_close(
            &format!("class {cls} maps"),
            &mb,
            &ma,
            Tolerance {
                abs: 1e-4 * scale,
                rel: 1e-3,
            },
        );
    }
    assert_eq!(nonzero, 2, "an all-zero Grad-CAM map tests nothing");
}

#[test]
fn a_profiled_step_is_a_plain_step() {
    // profile_train_step launches the same plan one kernel at a time: the same parameters must come out, and
    // every launch is timed
    let spec = spec(Head::Flatten);
    let init = spec.init(5);
    let images = Rng(3200).vec_f32(4 * spec.act_len(0), 0.0, 0.5);
    let labels = [0u32, 1, 1, 0];
    let adam = AdamSpec::default();
    let mut backends = vec![Compute::Cpu];
    if let Some(ctx) = test_context("a_profiled_step_is_a_plain_step") {
        backends.push(Compute::Gpu(ctx));
    }
    for compute in backends {
        let mut plain = Net::new(&compute, spec.clone(), &init, 4).expect("net");
        let mut timed = Net::new(&compute, spec.clone(), &init, 4).expect("net");
        plain
            .train_step(&images, &labels, 9, &adam)
            .expect("plain step");
        let times = timed
            .profile_train_step(&images, &labels, 9, &adam)
            .expect("profiled step");
        let names: Vec<&str> = times.iter().map(|t| t.0).collect();
        for k in [
            "conv2d_forward",
            "conv2d_backward_weight",
            "softmax_xent",
            "adam",
        ] {
            assert!(
                names.contains(&k),
                "{}: no {k} in {names:?}",
                compute.describe()
            );
        }
        assert!(times.iter().all(|t| t.1 >= 0.0) && times.iter().any(|t| t.1 > 0.0));
        assert_eq!(
            plain.params_f64().expect("params"),
            timed.params_f64().expect("params"),
            "{}: profiling changed the step",
            compute.describe()
        );
    }
}
