//! Stress of each kernel family on the driver at hand: many dispatches at awkward sizes (1 particle a thread and
//! less, one more or less than a workgroup, odd batches and grids), compared with the twin, and the same run cut
//! into dispatches in different ways, which must give the same bits. A kernel race, a missing barrier, or a driver
//! that ends a dispatch's loops early (Mesa 22.3's lavapipe does after 65535 trips, `GpuContext::loop_budget`)
//! shows here as a mismatch. Each family's long loops are exercised: MD and FIRE dispatches of hundreds of steps
//! with list rebuilds (hot liquids), which loop past that budget unless the launchers size their dispatches by it.

use crate::common::{
    f32_exact, gnn_quick_net, liquid, random_batch, run_at, scaled, setup, Rng, System,
};
use glasscam_kernels::gnn::gpu_net::GpuMpnn;
use glasscam_kernels::gnn::net::{forward, loss_and_grads};
use glasscam_kernels::gnn::Attention;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::fire::cpu::RefFire;
use glasscam_kernels::md::fire::gpu::GpuFire;
use glasscam_kernels::md::fire::{run_to_end, FireConfig, Outcome};
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::reference::RefMd;
use glasscam_kernels::md::Replicas;
use glasscam_kernels::nn::net::Net;
use glasscam_kernels::nn::{AdamSpec, Head, NetSpec};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::{Compute, KernelError};

/// Systems whose sizes sit at the workgroup's edges (256 threads): one cell for the whole box (37), one particle
/// short of and one past a workgroup, and the paper's 2000 (8 particles a thread).
fn md_systems() -> Vec<(System, usize)> {
    vec![
        (System::kam(), 37),
        (System::abm(), 255),
        (System::kam(), 257),
        (System::kam(), 2000),
    ]
}

#[test]
fn md_step_stress_gives_the_same_bits_however_dispatched_and_tracks_the_twin() {
    let Some(ctx) = test_context("md_step_stress") else {
        return;
    };
    for (sys, n) in md_systems() {
        let s = setup(&scaled(sys.clone(), n));
        // a hot liquid (T = 2): lists are rebuilt every few steps
        let reps = f32_exact(liquid(&s, 31, 3, 2.0, 20));
        let what = format!("{} N {n}", sys.name);
        // short run against the reference: f32 against f64 before chaos parts them
        let c = run_at(&mut RefMd::new(s.clone()).expect("setup"), &reps, 2.0, 20);
        let mut g = GpuMd::new(ctx.clone(), s.clone()).expect("setup");
        g.steps_per_dispatch = 3;
        let gs = run_at(&mut g, &reps, 2.0, 20);
        let pe = |r: &Replicas| r.thermo.iter().map(|t| t.pe).collect::<Vec<_>>();
        assert_close(
            &format!("{what}: energies after 20 steps"),
            &pe(&gs),
            &pe(&c),
            Tolerance::F32_LOOSE,
        );
        // a long run cut three ways: the same bits
        let steps = if n > 1000 { 400 } else { 600 };
        let runs: Vec<Replicas> = [(1, 64), (7, 3), (1000, 40)]
            .into_iter()
            .map(|(per, per_submit)| {
                let mut g = GpuMd::new(ctx.clone(), s.clone()).expect("setup");
                g.steps_per_dispatch = per;
                g.dispatches_per_submit = per_submit;
                run_at(&mut g, &reps, 2.0, steps)
            })
            .collect();
        for r in &runs[1..] {
            assert_eq!(r.pos, runs[0].pos, "{what}: positions after {steps} steps");
            assert_eq!(r.vel, runs[0].vel, "{what}: velocities after {steps} steps");
            assert_eq!(r.thermo, runs[0].thermo, "{what}: thermostats");
        }
        assert!(
            runs[0].thermo.iter().all(|t| t.status == 0),
            "{what}: a replica failed"
        );
    }
}

#[test]
fn md_fire_stress_gives_the_same_bits_however_dispatched_and_ends_at_twin_minima() {
    let Some(ctx) = test_context("md_fire_stress") else {
        return;
    };
    for (sys, n) in md_systems() {
        let s = setup(&scaled(sys.clone(), n));
        let reps = f32_exact(liquid(&s, 52, 3, 2.0, 20));
        let what = format!("{} N {n}", sys.name);
        let mut cfg = FireConfig::for_md_dt(s.dt);
        cfg.ftol = 1e-2;
        cfg.max_iter = 4000;
        let minima: Vec<_> = [13, 5000]
            .into_iter()
            .map(|per| {
                let mut g = GpuFire::new(ctx.clone(), s.clone(), cfg).expect("setup");
                g.iters_per_dispatch = per;
                run_to_end(&mut g, &reps, 500, |_| Ok::<(), KernelError>(())).expect("minimise")
            })
            .collect();
        for m in &minima[1..] {
            assert_eq!(m.minima, minima[0].minima, "{what}: outcomes");
            assert_eq!(m.replicas.pos, minima[0].replicas.pos, "{what}: minima");
        }
        // each GPU minimum is one of the twin's: started there, the twin stays (E_IS to 1e-5 per particle)
        let mut tcfg = FireConfig::for_md_dt(s.dt);
        tcfg.ftol = 1e-6;
        let mut twin = RefFire::with_engine(s.clone(), tcfg).expect("setup");
        let c = run_to_end(&mut twin, &minima[0].replicas, 1000, |_| {
            Ok::<(), KernelError>(())
        })
        .expect("twin");
        for (k, (g, t)) in minima[0].minima.iter().zip(&c.minima).enumerate() {
            assert_eq!(g.outcome, Outcome::Converged, "{what} replica {k}: {g:?}");
            let de = (g.e_per_particle - t.e_per_particle).abs();
            assert!(
                de < 1e-5,
                "{what} replica {k}: GPU E_IS {g:?}, twin from it {t:?}"
            );
        }
    }
}

#[test]
fn nn_stress_matches_the_twin_over_many_steps_at_odd_sizes() {
    let Some(ctx) = test_context("nn_stress") else {
        return;
    };
    for (head, grid, conv, batch) in [
        (Head::Flatten, 20, vec![3, 5], 3),
        (Head::Mean, 17, vec![1, 4, 7], 5),
    ] {
        let spec = NetSpec {
            in_channels: 2,
            grid,
            conv,
            kernel: 3,
            hidden: 7,
            classes: 2,
            head,
            dropout: 0.25,
        };
        let what = format!("{head:?} head, grid {grid}, batch {batch}");
        let init = spec.init(23);
        let mut cpu = Net::new(&Compute::Cpu, spec.clone(), &init, batch).expect("cpu net");
        let mut gpu =
            Net::new(&Compute::Gpu(ctx.clone()), spec.clone(), &init, batch).expect("net");
        let adam = AdamSpec::default();
        let mut rng = Rng(4100);
        for step in 0..8u32 {
            // each step from the twin's parameters, so that a fault shows at the step it happens in
            gpu.set_params_f64(&cpu.params_f64().expect("params"))
                .expect("set");
            let images = rng.vec_f32(batch * spec.act_len(0), 0.0, 0.5);
            let labels: Vec<u32> = (0..batch as u32).map(|i| (i * 7 + step) % 2).collect();
            let a = cpu
                .train_step(&images, &labels, 90 + step, &adam)
                .expect("cpu");
            let b = gpu
                .train_step(&images, &labels, 90 + step, &adam)
                .expect("gpu");
            let tol = Tolerance::F32_LOOSE;
            assert_close(&format!("{what}: step {step} loss"), &b.loss, &a.loss, tol);
            assert_close(
                &format!("{what}: step {step} logits"),
                &b.logits,
                &a.logits,
                tol,
            );
            let (ga, gb) = (cpu.grads().expect("grads"), gpu.grads().expect("grads"));
            let scale = ga.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            let gtol = Tolerance {
                abs: 1e-4 * scale,
                rel: 1e-3,
            };
            assert_close(&format!("{what}: step {step} gradients"), &gb, &ga, gtol);
        }
        gpu.set_params_f64(&cpu.params_f64().expect("params"))
            .expect("set");
        let images = rng.vec_f32(batch * spec.act_len(0), 0.0, 0.5);
        for cls in 0..2 {
            let (la, ma) = cpu.gradcam(&images, cls).expect("cpu");
            let (lb, mb) = gpu.gradcam(&images, cls).expect("gpu");
            assert_close(
                &format!("{what}: Grad-CAM scores"),
                &lb,
                &la,
                Tolerance::F32_LOOSE,
            );
            let scale = ma.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            let mtol = Tolerance {
                abs: 1e-4 * scale,
                rel: 1e-3,
            };
            assert_close(&format!("{what}: Grad-CAM maps"), &mb, &ma, mtol);
        }
    }
}

#[test]
fn gnn_stress_matches_the_twin_over_many_batches_at_odd_sizes() {
    let Some(ctx) = test_context("gnn_stress") else {
        return;
    };
    // (graphs, particles, neighbours): one small graph, graphs straddling a workgroup, several at once
    for (count, n, k) in [(1, 37, 5), (3, 255, 7), (2, 257, 6)] {
        for attention in [Attention::Graph, Attention::Batch] {
            let (spec, params) = gnn_quick_net(attention, 5);
            let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
            let gpu = GpuMpnn::new(ctx.clone(), spec, &p32).expect("net");
            let what = format!("{count} graphs of {n} (k {k}), attention {attention:?}");
            for seed in 0..4 {
                let b = random_batch(count, n, k, 100 + seed);
                let want = forward(&spec, &params, &b, None);
                let got = gpu.forward(&b).expect("forward");
                assert_close(
                    &format!("{what}, seed {seed}: logits"),
                    &got.logits,
                    &want.logits,
                    Tolerance::F32_LOOSE,
                );
                assert_close(
                    &format!("{what}, seed {seed}: attention"),
                    &got.attention,
                    want.last_attention(),
                    Tolerance::F32_LOOSE,
                );
            }
            let b = random_batch(count, n, k, 200);
            let labels: Vec<u32> = (0..count as u32).map(|i| i % 2).collect();
            let (loss, _, _) = loss_and_grads(&spec, &params, &b, &labels, None);
            let bb = gpu.batch(&b).expect("batch");
            let (losses, _) = gpu.loss_and_grads(&bb, &labels, None).expect("step");
            let got = losses.iter().sum::<f64>() / losses.len() as f64;
            assert_close(
                &format!("{what}: loss"),
                &[got],
                &[loss],
                Tolerance::F32_LOOSE,
            );
        }
    }
}
