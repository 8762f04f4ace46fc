//! `glasscam attention` and `glasscam bench gnn`: arguments, console lines, and the calls to the graph network.

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam::backend::BenchBackends;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::gnn::{GraphBatch, MpnnSpec};
use glasscam::kernels::Compute;
use glasscam::learn::gnn::attention::AttentionInput;
use glasscam::learn::gnn::bench::{
    bench_graphs, export, time_attention, time_attention_gpu, time_train, time_train_gpu,
    BenchGraphs,
};
use glasscam::learn::gnn::model::load;
use glasscam::learn::gnn::train::{dist_stats, predict};
use glasscam::learn::gnn::{Mpnn, MpnnConfig};

/// `glasscam attention`
#[derive(Args, Debug, Clone)]
pub struct AttentionArgs {
    /// Model directory written by `glasscam train --arch mpnn`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data set directory.
    #[arg(long)]
    pub data: PathBuf,
    /// `test`: the model's test replicas (default); `all`: every glass and liquid snapshot.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// High-attention threshold on the per-graph normalised attention (Swanson: 0.0025, 0.25 % of the range).
    #[arg(long, default_value_t = 0.0025)]
    pub threshold: f64,
    /// Grad-CAM output directory (`glasscam gradcam`) for C(attention, Gamma).
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn attention(a: &AttentionArgs, ctx: Ctx) -> glasscam::Result<()> {
    if !(0.0..1.0).contains(&a.threshold) {
        return Err(glasscam::Error::Input(format!(
            "--threshold {}: the high-attention threshold is a fraction of the range, from 0 up to 1 (Swanson: \
             0.0025)",
            a.threshold
        )));
    }
    let inputs: Vec<&std::path::Path> = [Some(&a.model), Some(&a.data), a.gradcam.as_ref()]
        .into_iter()
        .flatten()
        .map(|p| p.as_path())
        .collect();
    let _out = glasscam::io::outdir::claim(&a.out, &inputs, false, false)?;
    let input = AttentionInput {
        model: a.model.clone(),
        data: a.data.clone(),
        all: match a.split.as_str() {
            "test" => false,
            "all" => true,
            s => {
                return Err(glasscam::Error::Input(format!(
                    "--split `{s}`: use test or all"
                )))
            }
        },
        threshold: a.threshold,
        gradcam: a.gradcam.clone(),
        out: a.out.clone(),
    };
    let r = glasscam::learn::gnn::attention::attention(&input, ctx)?;
    for m in &r.aucs {
        println!(
            "{:<14} ROC AUC {:.3} (mean glass {:.1}, liquid {:.1})",
            m.metric, m.auc, m.mean_glass, m.mean_liquid
        );
    }
    println!(
        "{} configurations; files in {}",
        r.configs.len(),
        a.out.display()
    );
    Ok(())
}

/// `glasscam bench gnn`
#[derive(Args, Debug, Clone)]
pub struct BenchGnnArgs {
    /// Data set whose labelled snapshots are the graphs; without it, random 2000-particle configurations.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// MPNN model file (TOML, as `train --arch mpnn --model`) [default: the quick network, presets/quick-mpnn.toml].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A trained model directory: its network and weights; the export then also holds its logits on the graphs.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Graphs in the benchmark set.
    #[arg(long, default_value_t = 16)]
    pub graphs: usize,
    /// Seconds of timing per row and round.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Rounds (0: only write the export); with --torch, ours and PyTorch's alternate within each round.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// benches/torch_mpnn.py: times the same network in PyTorch on the same graphs (python3 with torch).
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// PyTorch's thread count (--threads of the script) [default: torch's own, the core count]. On a loaded
    /// machine torch's OpenMP threads spin against each other: measured here 16x slower with 2 threads than 1.
    #[arg(long)]
    pub torch_threads: Option<usize>,
    /// Also time the f64 reference twin.
    #[arg(long)]
    pub f64: bool,
    /// cpu (the f32 path), gpu (`train --backend gpu`'s steps and the eval forward with attention, on any
    /// adapter, a software one included) or both.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// Where the graphs (and logits) are written for the PyTorch script [default: a temporary directory].
    #[arg(long)]
    pub export: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct TorchRow {
    what: String,
    graphs: usize,
    seconds: f64,
}

/// One timed row: (backend, what, (graphs, seconds)).
type Row = (&'static str, &'static str, (usize, f64));

/// One round of our rows on each chosen path.
fn our_rows(
    a: &BenchGnnArgs,
    spec: &MpnnSpec,
    g: &BenchGraphs,
    batch: usize,
    computes: &[Compute],
) -> glasscam::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for compute in computes {
        match compute {
            Compute::Cpu => {
                rows.push((
                    "cpu f32",
                    "train",
                    time_train::<f32>(spec, g, batch, a.seconds),
                ));
                rows.push((
                    "cpu f32",
                    "attention",
                    time_attention::<f32>(spec, g, batch, a.seconds),
                ));
                if a.f64 {
                    rows.push((
                        "cpu f64",
                        "train",
                        time_train::<f64>(spec, g, batch, a.seconds),
                    ));
                    rows.push((
                        "cpu f64",
                        "attention",
                        time_attention::<f64>(spec, g, batch, a.seconds),
                    ));
                }
            }
            Compute::Gpu(ctx) => {
                rows.push((
                    "gpu f32",
                    "train",
                    time_train_gpu(ctx, spec, g, batch, a.seconds)?,
                ));
                rows.push((
                    "gpu f32",
                    "attention",
                    time_attention_gpu(ctx, spec, g, batch, a.seconds)?,
                ));
            }
        }
    }
    Ok(rows)
}

/// One round of `benches/torch_mpnn.py` on the exported graphs: its rows (what, graphs, seconds).
fn torch_rows(
    script: &Path,
    threads: Option<usize>,
    dir: &Path,
    seconds: f64,
    round: usize,
) -> glasscam::Result<Vec<TorchRow>> {
    let json = dir.join(format!("torch-{round}.json"));
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script);
    if let Some(t) = threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    let status = cmd
        .arg("--graphs")
        .arg(dir)
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--json")
        .arg(&json)
        .status()
        .map_err(|e| {
            glasscam::Error::Input(format!("cannot run python3 {}: {e}", script.display()))
        })?;
    if !status.success() {
        return Err(glasscam::Error::Input(format!(
            "python3 {} failed ({status}); it needs torch",
            script.display()
        )));
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))
}

fn line(round: usize, backend: &str, what: &str, n: usize, s: f64, vs: String) {
    println!(
        "{round:<6} {backend:<12} {what:<10} {n:>7} {s:>8.2} {:>9.2} {vs:>10}",
        n as f64 / s.max(1e-12)
    );
}

/// Writes the graphs (and, with a model, its logits from the f32 path and the f64 twin) for the PyTorch script.
fn export_graphs(
    dir: &Path,
    spec: &MpnnSpec,
    batch: usize,
    g: &BenchGraphs,
    model: Option<&Mpnn>,
) -> glasscam::Result<()> {
    let logits = model.map(|m| {
        let l32 = predict(spec, &m.params, &g.graphs, batch);
        let b = GraphBatch::concat(&g.graphs.iter().collect::<Vec<_>>());
        let l64 = glasscam::kernels::gnn::net::forward(spec, &m.params_f64(), &b, None).logits;
        (l32, l64)
    });
    export(
        dir,
        spec,
        batch,
        g,
        logits.as_ref().map(|(x, y)| (&x[..], &y[..])),
    )?;
    println!("graphs written to {}", dir.display());
    Ok(())
}

pub fn bench(a: &BenchGnnArgs) -> glasscam::Result<()> {
    let model = a.model.as_ref().map(|m| load(m)).transpose()?;
    let cfg = match (&model, &a.config) {
        (Some(m), _) => m.file.config.clone(),
        (None, Some(p)) => MpnnConfig::from_file(p)?,
        (None, None) => MpnnConfig::quick(),
    };
    let data = a.data.as_ref().map(|d| Dataset::load(d)).transpose()?;
    let g = bench_graphs(data.as_ref(), &cfg, a.graphs)?;
    let spec = match &model {
        Some(m) => m.file.spec(),
        None => cfg.spec(g.n_species, dist_stats(&g.graphs)),
    };
    spec.check()?;
    let edges: usize = g.graphs.iter().map(|x| x.n_edges()).sum();
    println!(
        "{} graphs from {} ({:.0} edges each), hidden {}, depth {}, attention {:?}, batch {}, {} rayon threads",
        g.graphs.len(),
        g.source,
        edges as f64 / g.graphs.len().max(1) as f64,
        spec.hidden,
        spec.depth,
        spec.attention,
        cfg.batch,
        rayon::current_num_threads()
    );
    let computes = super::bench::backends(a.backend)?;
    let dir = match (&a.export, &a.torch) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(_)) => {
            Some(std::env::temp_dir().join(format!("glasscam-bench-gnn-{}", std::process::id())))
        }
        (None, None) => None,
    };
    if let Some(dir) = &dir {
        export_graphs(dir, &spec, cfg.batch, &g, model.as_ref())?;
    }
    println!(
        "{:<6} {:<12} {:<10} {:>7} {:>8} {:>9} {:>10}",
        "round", "backend", "what", "graphs", "seconds", "graphs/s", "vs torch"
    );
    let mut ours: Vec<(String, f64)> = Vec::new();
    let mut theirs: Vec<(String, f64)> = Vec::new();
    for round in 1..=a.rounds {
        let rows = our_rows(a, &spec, &g, cfg.batch, &computes)?;
        let mut torch_rate = std::collections::BTreeMap::new();
        if let (Some(script), Some(dir)) = (&a.torch, &dir) {
            for t in torch_rows(script, a.torch_threads, dir, a.seconds, round)? {
                line(round, "torch", &t.what, t.graphs, t.seconds, String::new());
                let rate = t.graphs as f64 / t.seconds.max(1e-12);
                torch_rate.insert(t.what.clone(), rate);
                theirs.push((t.what, rate));
            }
        }
        for (backend, what, (n, s)) in rows {
            let rate = n as f64 / s.max(1e-12);
            let vs = torch_rate
                .get(what)
                .map_or(String::new(), |t| format!("{:.2}x", rate / t));
            line(round, backend, what, n, s, vs);
            if backend == "cpu f32" {
                ours.push((what.to_string(), rate));
            }
        }
    }
    if !theirs.is_empty() {
        for what in ["train", "attention"] {
            let mean = |v: &[(String, f64)]| {
                let x: Vec<f64> = v.iter().filter(|r| r.0 == what).map(|r| r.1).collect();
                x.iter().sum::<f64>() / x.len().max(1) as f64
            };
            println!(
                "{what}: cpu f32 {:.2} graphs/s, torch {:.2} graphs/s, ratio {:.2}x (means over rounds)",
                mean(&ours),
                mean(&theirs),
                mean(&ours) / mean(&theirs)
            );
        }
    }
    Ok(())
}
