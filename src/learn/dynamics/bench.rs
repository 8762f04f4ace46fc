//! `glasscam bench gn`: training graphs/s (one configuration per step: forward, masked squared error, backward,
//! clip, Adam) and prediction graphs/s (one forward, one orientation) of the propensity network, on the CPU twin
//! (f32) and on the GPU, on a data set's configurations; `benches/torch_gn.py` times the same network in PyTorch.

use std::time::Instant;

use glasscam_kernels::gnn::bapst::{self, GnGraph, GnSpec};
use glasscam_kernels::gnn::gpu_bapst::GpuGn;
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::Compute;

use super::config::GnConfig;
use super::train::clip_norm;
use crate::error::Result;

/// Runs `step(k)` for graphs k = 0, 1, ... (cycling) until `seconds` have passed (at least once, after one
/// untimed warm-up step); returns (graphs, seconds).
fn timed(
    n: usize,
    seconds: f64,
    mut step: impl FnMut(usize) -> Result<()>,
) -> Result<(usize, f64)> {
    step(0)?;
    let start = Instant::now();
    let mut k = 0;
    while k == 0 || start.elapsed().as_secs_f64() < seconds {
        step(k % n.max(1))?;
        k += 1;
    }
    Ok((k, start.elapsed().as_secs_f64()))
}

/// Training steps on `compute` over `graphs` (zero targets: the timing does not depend on them).
pub fn time_train(
    spec: &GnSpec,
    cfg: &GnConfig,
    graphs: &[GnGraph],
    compute: &Compute,
    seconds: f64,
) -> Result<(usize, f64)> {
    let mut params = spec.init(cfg.seed);
    let (mut m, mut v) = (vec![0.0; params.len()], vec![0.0; params.len()]);
    let targets: Vec<Vec<f32>> = graphs
        .iter()
        .map(|g| vec![0.0; g.graph.n_nodes() * spec.outputs])
        .collect();
    let a = AdamSpec {
        lr: cfg.lr,
        ..AdamSpec::default()
    };
    let to_f32 = |p: &[f64]| p.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let mut t = 0u64;
    let mut update = |params: &mut Vec<f64>, mut g: Vec<f64>| {
        clip_norm(&mut g, cfg.clip);
        t += 1;
        adam(&a.params(params.len(), t), &g, params, &mut m, &mut v);
    };
    match compute {
        Compute::Cpu => timed(graphs.len(), seconds, |k| {
            let p32 = to_f32(&params);
            let (_, g, _) =
                bapst::loss_and_grads(spec, &p32, &graphs[k], cfg.loss_species(), &targets[k]);
            update(&mut params, g.into_iter().map(f64::from).collect());
            Ok(())
        }),
        Compute::Gpu(ctx) => {
            let gpu = GpuGn::new(ctx.clone(), *spec, &to_f32(&params))?;
            let batches = graphs
                .iter()
                .map(|g| gpu.batch(g, cfg.loss_species()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            timed(graphs.len(), seconds, |k| {
                gpu.set_params(&to_f32(&params));
                let (_, g) = gpu.loss_and_grads(&batches[k], &targets[k])?;
                update(&mut params, g);
                Ok(())
            })
        }
    }
}

/// Prediction passes (one forward, one orientation) on `compute` over `graphs`.
pub fn time_predict(
    spec: &GnSpec,
    cfg: &GnConfig,
    graphs: &[GnGraph],
    compute: &Compute,
    seconds: f64,
) -> Result<(usize, f64)> {
    let p32: Vec<f32> = spec.init(cfg.seed).iter().map(|&x| x as f32).collect();
    match compute {
        Compute::Cpu => timed(graphs.len(), seconds, |k| {
            std::hint::black_box(bapst::forward(spec, &p32, &graphs[k]));
            Ok(())
        }),
        Compute::Gpu(ctx) => {
            let gpu = GpuGn::new(ctx.clone(), *spec, &p32)?;
            let batches = graphs
                .iter()
                .map(|g| gpu.batch(g, cfg.species))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            timed(graphs.len(), seconds, |k| {
                std::hint::black_box(gpu.forward(&batches[k])?);
                Ok(())
            })
        }
    }
}
