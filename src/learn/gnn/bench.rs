//! `glasscam bench gnn`: training graphs/s (forward with dropout, loss, backward, Adam) and attention graphs/s
//! (eval forward, last-update attention) of the graph network on the CPU, in the f32 training path and the f64
//! twin; and the graphs, labels and (with a model) logits written as raw little-endian files for
//! `benches/torch_mpnn.py`, which times the same network in PyTorch and checks the logits.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use glasscam_kernels::gnn::cpu::Real;
use glasscam_kernels::gnn::gpu_net::{GpuAdam, GpuMpnn};
use glasscam_kernels::gnn::{net, Attention, GraphBatch, MpnnSpec};
use glasscam_kernels::nn::cpu::adam;
use glasscam_kernels::nn::AdamSpec;
use glasscam_kernels::rng::mix;
use glasscam_kernels::GpuContext;
use serde::{Deserialize, Serialize};

use super::config::MpnnConfig;
use super::graph::{build, Region};
use super::train::{graphs, to_f32};
use crate::error::{IoContext, Result};
use crate::io::dataset::Dataset;
use crate::io::json::write_json_atomic;
use crate::learn::split::all_labelled;

/// The graphs a benchmark runs on.
#[derive(Clone, Debug)]
pub struct BenchGraphs {
    pub graphs: Vec<GraphBatch>,
    pub labels: Vec<u32>,
    pub n_species: usize,
    /// Where they came from (a data set directory, or "random").
    pub source: String,
}

/// `count` labelled snapshots of `data` (cycled when it has fewer), or, without data, `count` periodic kNN graphs
/// of 2000 uniformly random particles at density 1.1 with alternating labels.
pub fn bench_graphs(data: Option<&Dataset>, cfg: &MpnnConfig, count: usize) -> Result<BenchGraphs> {
    match data {
        Some(d) => {
            let set = all_labelled(d);
            let pick: Vec<(usize, u32)> = (0..count.min(set.len().max(1)))
                .filter_map(|i| set.get(i).copied())
                .collect();
            let idx: Vec<usize> = pick.iter().map(|x| x.0).collect();
            Ok(BenchGraphs {
                graphs: graphs(d, cfg, &idx)?,
                labels: pick.iter().map(|x| x.1).collect(),
                n_species: d.manifest.system.n_species(),
                source: d.dir.display().to_string(),
            })
        }
        None => {
            let graphs = (0..count)
                .map(|i| Ok(random_graphs(1, 2000, cfg.k, mix(i as u64 + 1))?.remove(0)))
                .collect::<Result<Vec<_>>>()?;
            Ok(BenchGraphs {
                graphs,
                labels: (0..count).map(|i| (i % 2) as u32).collect(),
                n_species: 2,
                source: "random".into(),
            })
        }
    }
}

/// `count` periodic kNN graphs of `n` uniformly random particles (every third of species 1) at density 1.1, all
/// drawn from one seed: the benchmark's input without a data set.
pub fn random_graphs(count: usize, n: usize, k: usize, seed: u64) -> Result<Vec<GraphBatch>> {
    let box_l = (n as f64 / 1.1).sqrt();
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    let mut s = mix(seed);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let pos: Vec<f64> = (0..2 * n)
            .map(|_| {
                s = mix(s);
                (s >> 11) as f64 / (1u64 << 53) as f64 * box_l
            })
            .collect();
        out.push(build(&pos, &species, box_l, k, Region::Periodic)?.0);
    }
    Ok(out)
}

/// One measured row.
#[derive(Clone, Debug, Serialize)]
pub struct GnnRow {
    /// "cpu f32" (the training path), "cpu f64" (the reference twin) or "gpu f32" (`GpuMpnn`).
    pub backend: String,
    /// "train" or "attention".
    pub what: String,
    pub graphs: usize,
    pub seconds: f64,
    pub graphs_per_s: f64,
}

fn batches(g: &BenchGraphs, batch: usize) -> Vec<(GraphBatch, Vec<u32>)> {
    g.graphs
        .chunks(batch.max(1))
        .zip(g.labels.chunks(batch.max(1)))
        .map(|(c, y)| {
            (
                GraphBatch::concat(&c.iter().collect::<Vec<_>>()),
                y.to_vec(),
            )
        })
        .collect()
}

/// Runs `step` over the batches in turn (one warm-up call first) until `seconds` have passed; (graphs, seconds).
fn time_loop(
    bs: &[(GraphBatch, Vec<u32>)],
    seconds: f64,
    mut step: impl FnMut(usize),
) -> (usize, f64) {
    step(0);
    let start = Instant::now();
    let (mut n, mut i) = (0, 0);
    while n == 0 || start.elapsed().as_secs_f64() < seconds {
        let k = i % bs.len();
        step(k);
        n += bs[k].1.len();
        i += 1;
    }
    (n, start.elapsed().as_secs_f64())
}

/// Training steps in precision `T`: parameters converted from the f64 master copy, forward with dropout, loss,
/// backward, Adam, as `train` does.
pub fn time_train<T: Real>(
    spec: &MpnnSpec,
    g: &BenchGraphs,
    batch: usize,
    seconds: f64,
) -> (usize, f64) {
    let bs = batches(g, batch);
    let mut params = spec.init(0);
    let (mut m, mut v) = (vec![0.0; params.len()], vec![0.0; params.len()]);
    let mut step = 0u64;
    let (mut fw, mut sc) = (net::Forward::default(), net::Scratch::default());
    time_loop(&bs, seconds, |k| {
        let p: Vec<T> = params.iter().map(|&x| T::of(x)).collect();
        let (_, grads) = net::loss_and_grads_with(
            spec,
            &p,
            &bs[k].0,
            &bs[k].1,
            Some(step as u32),
            &mut fw,
            &mut sc,
        );
        let grads: Vec<f64> = grads.iter().map(|x| x.f64()).collect();
        step += 1;
        adam(
            &AdamSpec::default().params(params.len(), step),
            &grads,
            &mut params,
            &mut m,
            &mut v,
        );
    })
}

/// Attention passes in precision `T`: the eval forward and the last update's attention, as `attention` does.
pub fn time_attention<T: Real>(
    spec: &MpnnSpec,
    g: &BenchGraphs,
    batch: usize,
    seconds: f64,
) -> (usize, f64) {
    let bs = batches(g, batch);
    let p: Vec<T> = spec.init(0).iter().map(|&x| T::of(x)).collect();
    let mut sink = 0.0;
    let mut fw = net::Forward::default();
    let r = time_loop(&bs, seconds, |k| {
        net::forward_into(spec, &p, &bs[k].0, None, &mut fw);
        sink += fw.last_attention().first().map_or(0.0, |x| x.f64());
    });
    std::hint::black_box(sink);
    r
}

/// `time_loop` over a GPU step that can fail: the first error ends the benchmark with that error.
fn time_loop_gpu(
    bs: &[(GraphBatch, Vec<u32>)],
    seconds: f64,
    mut step: impl FnMut(usize) -> glasscam_kernels::Result<()>,
) -> Result<(usize, f64)> {
    let mut err = None;
    let r = time_loop(bs, seconds, |k| {
        if err.is_none() {
            if let Err(e) = step(k) {
                err = Some(e);
            }
        }
    });
    match err {
        Some(e) => Err(e.into()),
        None => Ok(r),
    }
}

/// Training steps on the GPU (`GpuMpnn`): forward, loss (logits read back), backward, Adam on the device, as
/// `train --backend gpu` does (dropout included); the batches are uploaded once, before the clock starts.
pub fn time_train_gpu(
    ctx: &Arc<GpuContext>,
    spec: &MpnnSpec,
    g: &BenchGraphs,
    batch: usize,
    seconds: f64,
) -> Result<(usize, f64)> {
    let bs = batches(g, batch);
    let net = GpuMpnn::new(ctx.clone(), *spec, &to_f32(&spec.init(0)))?;
    let opt = GpuAdam::new(&net)?;
    let dev = bs
        .iter()
        .map(|(b, _)| net.batch(b))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut step = 0u64;
    time_loop_gpu(&bs, seconds, |k| {
        step += 1;
        net.loss_and_grads(&dev[k], &bs[k].1, Some(step as u32))?;
        opt.step(&net, &dev[k].d.grads, 1e-3, step)
    })
}

/// Attention passes on the GPU: the eval forward with the logits and the last update's attention read back, the
/// batches uploaded once, before the clock starts.
pub fn time_attention_gpu(
    ctx: &Arc<GpuContext>,
    spec: &MpnnSpec,
    g: &BenchGraphs,
    batch: usize,
    seconds: f64,
) -> Result<(usize, f64)> {
    let bs = batches(g, batch);
    let net = GpuMpnn::new(ctx.clone(), *spec, &to_f32(&spec.init(0)))?;
    let dev = bs
        .iter()
        .map(|(b, _)| {
            let gr = net.graphs(b)?;
            let x = net.acts(&gr)?;
            Ok((gr, x))
        })
        .collect::<glasscam_kernels::Result<Vec<_>>>()?;
    time_loop_gpu(&bs, seconds, |k| net.eval(&dev[k].0, &dev[k].1).map(|_| ()))
}

/// Every row: training and attention, f32 path then f64 twin, `seconds` each.
pub fn bench_gnn(spec: &MpnnSpec, g: &BenchGraphs, batch: usize, seconds: f64) -> Vec<GnnRow> {
    let row = |backend: &str, what: &str, (n, s): (usize, f64)| GnnRow {
        backend: backend.into(),
        what: what.into(),
        graphs: n,
        seconds: s,
        graphs_per_s: n as f64 / s.max(1e-12),
    };
    vec![
        row(
            "cpu f32",
            "train",
            time_train::<f32>(spec, g, batch, seconds),
        ),
        row(
            "cpu f32",
            "attention",
            time_attention::<f32>(spec, g, batch, seconds),
        ),
        row(
            "cpu f64",
            "train",
            time_train::<f64>(spec, g, batch, seconds),
        ),
        row(
            "cpu f64",
            "attention",
            time_attention::<f64>(spec, g, batch, seconds),
        ),
    ]
}

/// `meta.json` of an exported graph set (read by `benches/torch_mpnn.py`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportMeta {
    pub n_graphs: usize,
    pub n_nodes: usize,
    pub n_edges: usize,
    pub n_species: usize,
    pub hidden: usize,
    pub depth: usize,
    /// "graph", "batch" or "none".
    pub attention: String,
    pub dropout: f64,
    pub batch: usize,
    pub dist_mean: f64,
    pub dist_std: f64,
    pub source: String,
    /// Files: name -> dtype ("i32" or "f64"), raw little-endian.
    pub files: Vec<(String, String)>,
}

fn write_raw(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).at(&p)
}

/// Writes `g` as one concatenated batch (`node_ptr`, `edge_ptr`, `in_ptr`, `src`, `dst`, `rev`, `species` as i32,
/// `dist` as f64, `labels` as i32) with `meta.json`; with `logits` (f32 path, f64 twin) also those, [graphs, 2].
pub fn export(
    dir: &Path,
    spec: &MpnnSpec,
    batch: usize,
    g: &BenchGraphs,
    logits: Option<(&[f64], &[f64])>,
) -> Result<()> {
    std::fs::create_dir_all(dir).at(dir)?;
    let b = GraphBatch::concat(&g.graphs.iter().collect::<Vec<_>>());
    let i32s =
        |v: &[u32]| -> Vec<u8> { v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect() };
    let f64s = |v: &[f64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let mut files = Vec::new();
    for (name, v) in [
        ("node_ptr", &b.node_ptr),
        ("edge_ptr", &b.edge_ptr),
        ("in_ptr", &b.in_ptr),
        ("src", &b.src),
        ("dst", &b.dst),
        ("rev", &b.rev),
        ("species", &b.species),
        ("labels", &g.labels),
    ] {
        write_raw(dir, &format!("{name}.bin"), &i32s(v))?;
        files.push((name.to_string(), "i32".to_string()));
    }
    write_raw(dir, "dist.bin", &f64s(&b.dist))?;
    files.push(("dist".into(), "f64".into()));
    if let Some((l32, l64)) = logits {
        write_raw(dir, "logits_f32.bin", &f64s(l32))?;
        write_raw(dir, "logits_f64.bin", &f64s(l64))?;
        files.push(("logits_f32".into(), "f64".into()));
        files.push(("logits_f64".into(), "f64".into()));
    }
    let meta = ExportMeta {
        n_graphs: b.n_graphs(),
        n_nodes: b.n_nodes(),
        n_edges: b.n_edges(),
        n_species: spec.n_species,
        hidden: spec.hidden,
        depth: spec.depth,
        attention: match spec.attention {
            Attention::Off => "none",
            Attention::Graph => "graph",
            Attention::Batch => "batch",
        }
        .into(),
        dropout: spec.dropout,
        batch,
        dist_mean: spec.dist_mean,
        dist_std: spec.dist_std,
        source: g.source.clone(),
        files,
    };
    write_json_atomic(&dir.join("meta.json"), &meta)
}
