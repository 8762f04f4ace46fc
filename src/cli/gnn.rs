//! `glasscam train --arch mpnn` and `glasscam attention`: arguments, console lines, and the calls to the gnn engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::domain::Class;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::{BackendChoice, Compute};
use glasscam::learn::gnn::attention::AttentionInput;
use glasscam::learn::gnn::MpnnConfig;

/// Which network `train` trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// The CNN on gridized images (SPEC §5).
    #[default]
    Cnn,
    /// Swanson's directed message-passing network with bond attention on kNN graphs (SPEC §10).
    Mpnn,
}

/// `glasscam train`: the network family, then the common arguments.
#[derive(Args, Debug, Clone)]
pub struct TrainCmd {
    /// cnn (default) or mpnn; with mpnn, `--model` is an MPNN model file (docs/gnn.md) and training runs on the
    /// CPU twin unless `--backend gpu` (the whole step in WGSL).
    #[arg(long, value_enum, default_value = "cnn")]
    pub arch: Arch,
    #[command(flatten)]
    pub args: super::nn::TrainArgs,
}

pub fn train(a: &super::nn::TrainArgs, ctx: Ctx) -> glasscam::Result<()> {
    let mut cfg = match &a.model {
        Some(p) => MpnnConfig::from_file(p)?,
        None => MpnnConfig::default(),
    };
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    let data = Dataset::load(&a.data)?;
    // the MPNN runs on the GPU only when asked: its GPU path is unmeasured on real GPUs (lavapipe only)
    let compute = match a.backend {
        BackendChoice::Gpu => super::select_compute(BackendChoice::Gpu)?,
        _ => {
            eprintln!(
                "backend: cpu: CPU twin (f32), {} threads (--backend gpu trains the MPNN on the GPU)",
                rayon::current_num_threads()
            );
            Compute::Cpu
        }
    };
    let t = glasscam::learn::gnn::train::train_on(&data, &cfg, &compute, ctx)?;
    glasscam::learn::gnn::train::write_model(&a.out, &t)?;
    let m = &t.metrics;
    println!(
        "test: accuracy glass {:.4} liquid {:.4}, ROC AUC {:.4} ({} graphs); best epoch {} of {}; model in {}",
        m.test.accuracy[Class::Glass.name()],
        m.test.accuracy[Class::Liquid.name()],
        m.test.roc_auc,
        m.test.n,
        m.best_epoch,
        m.epochs,
        a.out.display()
    );
    Ok(())
}

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
    /// Also time the GPU path (`train --backend gpu`'s steps; the eval forward with attention) on the
    /// first adapter, a software one (lavapipe) included: the line before the table names it.
    #[arg(long)]
    pub gpu: bool,
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

pub fn bench(a: &BenchGnnArgs) -> glasscam::Result<()> {
    use glasscam::learn::gnn::bench::{
        bench_graphs, export, time_attention, time_attention_gpu, time_train, time_train_gpu,
    };
    use glasscam::learn::gnn::model;
    let model = a.model.as_ref().map(|m| model::load(m)).transpose()?;
    let cfg = match (&model, &a.config) {
        (Some((file, _)), _) => file.config.clone(),
        (None, Some(p)) => MpnnConfig::from_file(p)?,
        (None, None) => MpnnConfig::quick(),
    };
    let data = a.data.as_ref().map(|d| Dataset::load(d)).transpose()?;
    let g = bench_graphs(data.as_ref(), &cfg, a.graphs)?;
    let spec = match &model {
        Some((file, _)) => file.spec(),
        None => cfg.spec(
            g.n_species,
            glasscam::learn::gnn::train::dist_stats(&g.graphs),
        ),
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
    let gpu = if a.gpu {
        let ctx = glasscam::kernels::gpu::shared_context()?;
        println!("gpu f32: {}", ctx.describe());
        Some(ctx)
    } else {
        None
    };
    let dir = match (&a.export, &a.torch) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(_)) => {
            Some(std::env::temp_dir().join(format!("glasscam-bench-gnn-{}", std::process::id())))
        }
        (None, None) => None,
    };
    if let Some(dir) = &dir {
        let logits = model.as_ref().map(|(_, params)| {
            let l32 = glasscam::learn::gnn::train::predict(&spec, params, &g.graphs, cfg.batch);
            let b =
                glasscam::kernels::gnn::GraphBatch::concat(&g.graphs.iter().collect::<Vec<_>>());
            let l64 = glasscam::kernels::gnn::net::forward(&spec, params, &b, None).logits;
            (l32, l64)
        });
        export(
            dir,
            &spec,
            cfg.batch,
            &g,
            logits.as_ref().map(|(x, y)| (&x[..], &y[..])),
        )?;
        println!("graphs written to {}", dir.display());
    }
    println!(
        "{:<6} {:<12} {:<10} {:>7} {:>8} {:>9} {:>10}",
        "round", "backend", "what", "graphs", "seconds", "graphs/s", "vs torch"
    );
    let mut ours: Vec<(String, f64)> = Vec::new();
    let mut theirs: Vec<(String, f64)> = Vec::new();
    let line = |round: usize, backend: &str, what: &str, n: usize, s: f64, vs: String| {
        println!(
            "{round:<6} {backend:<12} {what:<10} {n:>7} {s:>8.2} {:>9.2} {vs:>10}",
            n as f64 / s.max(1e-12)
        );
    };
    for round in 1..=a.rounds {
        let mut rows = vec![
            (
                "cpu f32",
                "train",
                time_train::<f32>(&spec, &g, cfg.batch, a.seconds),
            ),
            (
                "cpu f32",
                "attention",
                time_attention::<f32>(&spec, &g, cfg.batch, a.seconds),
            ),
        ];
        if a.f64 {
            rows.push((
                "cpu f64",
                "train",
                time_train::<f64>(&spec, &g, cfg.batch, a.seconds),
            ));
            rows.push((
                "cpu f64",
                "attention",
                time_attention::<f64>(&spec, &g, cfg.batch, a.seconds),
            ));
        }
        if let Some(ctx) = &gpu {
            rows.push((
                "gpu f32",
                "train",
                time_train_gpu(ctx, &spec, &g, cfg.batch, a.seconds)?,
            ));
            rows.push((
                "gpu f32",
                "attention",
                time_attention_gpu(ctx, &spec, &g, cfg.batch, a.seconds)?,
            ));
        }
        let mut torch_rate = std::collections::BTreeMap::new();
        if let (Some(script), Some(dir)) = (&a.torch, &dir) {
            let json = dir.join(format!("torch-{round}.json"));
            let mut cmd = std::process::Command::new("python3");
            if let Some(t) = a.torch_threads {
                cmd.arg(script).arg("--threads").arg(t.to_string());
            } else {
                cmd.arg(script);
            }
            let status = cmd
                .arg("--graphs")
                .arg(dir)
                .arg("--seconds")
                .arg(a.seconds.to_string())
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
            let trs: Vec<TorchRow> = serde_json::from_str(&text)
                .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))?;
            for t in trs {
                line(round, "torch", &t.what, t.graphs, t.seconds, String::new());
                let rate = t.graphs as f64 / t.seconds.max(1e-12);
                torch_rate.insert(t.what.clone(), rate);
                theirs.push((t.what, rate));
            }
        }
        for (backend, what, (n, s)) in rows.drain(..) {
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
