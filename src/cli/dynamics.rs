//! `glasscam predict` and `glasscam bench gn`: arguments, console lines, and the calls to the propensity network.

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam::backend::BenchBackends;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::Compute;
use glasscam::learn::dynamics::bench::{time_predict, time_train};
use glasscam::learn::dynamics::graph::graphs;
use glasscam::learn::dynamics::model::scaled_inputs;
use glasscam::learn::dynamics::{self, Gn, GnConfig};
use glasscam::learn::model::Model;
use glasscam::learn::split::ReplicaSet;
use glasscam::sim::minimize::InherentSet;

/// `glasscam predict`
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// Model directory written by `glasscam train --arch gn`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data set directory (with targets, the predictions are scored against them).
    #[arg(long)]
    pub data: PathBuf,
    /// Which configurations: the model's test replicas (of its training data set), or all.
    #[arg(long, value_enum, default_value = "test")]
    pub split: ReplicaSet,
    /// The data set's inherent structures (`glasscam minimize`), for a network trained with them.
    #[arg(long)]
    pub inherent: Option<PathBuf>,
    /// Output directory for predictions.npy and predictions.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace predictions already in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn predict(a: &PredictArgs, ctx: Ctx) -> glasscam::Result<()> {
    let data = Dataset::load(&a.data)?;
    let model = Gn::load(&a.model)?;
    let inherent = a.inherent.as_deref().map(InherentSet::load).transpose()?;
    let p = dynamics::predict(&model, &a.model, &data, a.split, inherent.as_ref(), ctx)?;
    dynamics::write_predictions(&a.out, &p, a.force)?;
    let f = &p.file;
    let score = match &f.pearson {
        Some(r) => {
            let r: Vec<String> = r.iter().map(|x| format!("{x:.3}")).collect();
            format!(
                "; Pearson per time point (species {}): [{}]",
                f.species,
                r.join(", ")
            )
        }
        None => String::new(),
    };
    println!(
        "{} of {} configurations at {} time points in {}{score}",
        f.target,
        f.snapshots.len(),
        f.times.len(),
        a.out.display()
    );
    Ok(())
}

/// `glasscam bench gn`
#[derive(Args, Debug, Clone)]
pub struct BenchGnArgs {
    /// Data set whose first snapshots are the graphs (targets not needed: the timing uses zero targets).
    #[arg(long)]
    pub data: PathBuf,
    /// Propensity-network model file (TOML, as `train --arch gn --model`) [default: presets/quick-gn.toml].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Time points the network predicts.
    #[arg(long, default_value_t = 10)]
    pub outputs: usize,
    /// The data set's inherent structures (`glasscam minimize`), for a network that takes them.
    #[arg(long)]
    pub inherent: Option<PathBuf>,
    /// Graphs in the benchmark set.
    #[arg(long, default_value_t = 8)]
    pub graphs: usize,
    /// Seconds of timing per row and round.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// benches/torch_gn.py: times the same network in PyTorch on the same configurations, alternating with ours.
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// The Python that runs --torch (it needs torch and numpy).
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// PyTorch's thread count (--threads of the script) [default: torch's own].
    #[arg(long)]
    pub torch_threads: Option<usize>,
    /// cpu (the f32 twin), gpu (`train --backend gpu`'s steps and the forward) or both.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
}

#[derive(serde::Deserialize)]
struct TorchRow {
    what: String,
    graphs: usize,
    seconds: f64,
}

/// One round of the PyTorch script: its rows.
fn torch_rows(
    a: &BenchGnArgs,
    script: &Path,
    spec: &str,
    round: usize,
) -> glasscam::Result<Vec<TorchRow>> {
    let json = std::env::temp_dir().join(format!(
        "glasscam-bench-gn-{}-{round}.json",
        std::process::id()
    ));
    let mut cmd = std::process::Command::new(&a.python);
    cmd.arg(script);
    if let Some(t) = a.torch_threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    let status = cmd
        .arg("--time")
        .arg(&a.data)
        .args([
            "--spec",
            spec,
            "--graphs",
            &a.graphs.to_string(),
            "--seconds",
            &a.seconds.to_string(),
        ])
        .arg("--json")
        .arg(&json)
        .status()
        .map_err(|e| {
            glasscam::Error::Input(format!(
                "cannot run {} {}: {e}",
                a.python.display(),
                script.display()
            ))
        })?;
    if !status.success() {
        return Err(glasscam::Error::Input(format!(
            "{} {} failed ({status}); it needs torch and numpy: give a Python that has them with --python",
            a.python.display(),
            script.display()
        )));
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))?;
    let _ = std::fs::remove_file(&json);
    serde_json::from_str(&text)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))
}

pub fn bench(a: &BenchGnArgs) -> glasscam::Result<()> {
    let cfg = match &a.config {
        Some(p) => GnConfig::from_file(p)?,
        None => GnConfig::quick(),
    };
    let data = Dataset::load(&a.data)?;
    let idx: Vec<usize> = (0..a.graphs.min(data.n_snapshots())).collect();
    let inherent = a.inherent.as_deref().map(InherentSet::load).transpose()?;
    let (inputs, desc) = scaled_inputs(&data, &cfg, inherent.as_ref(), &idx)?;
    let gs = graphs(&data, cfg.cutoff, &idx, inputs.as_ref(), desc.as_ref())?;
    let ns = data.manifest.system.n_species();
    let spec = cfg.spec(ns, a.outputs);
    spec.check()?;
    let edges: usize = gs.iter().map(|g| g.graph.n_edges()).sum();
    println!(
        "{} graphs of {} particles from {} ({:.0} edges each), hidden {}, steps {}, cutoff {}, {} outputs, {} rayon \
         threads",
        gs.len(),
        data.n_particles(),
        data.dir.display(),
        edges as f64 / gs.len().max(1) as f64,
        spec.hidden,
        spec.steps,
        cfg.cutoff,
        spec.outputs,
        rayon::current_num_threads()
    );
    let computes = super::bench::backends(a.backend)?;
    let spec_json = serde_json::json!({
        "n_species": ns, "node_in": spec.node_in, "edge_in": spec.edge_in, "hidden": spec.hidden, "steps": spec.steps, "outputs": spec.outputs,
        "cutoff": cfg.cutoff, "species": cfg.species, "all_species": cfg.all_species, "lr": cfg.lr, "clip": cfg.clip,
    })
    .to_string();
    println!(
        "{:<6} {:<9} {:<8} {:>7} {:>8} {:>9} {:>9}",
        "round", "backend", "what", "graphs", "seconds", "graphs/s", "vs torch"
    );
    let line = |round: usize, backend: &str, what: &str, n: usize, s: f64, vs: String| {
        println!(
            "{round:<6} {backend:<9} {what:<8} {n:>7} {s:>8.2} {:>9.2} {vs:>9}",
            n as f64 / s.max(1e-12)
        );
    };
    for round in 1..=a.rounds {
        let mut torch = std::collections::BTreeMap::new();
        if let Some(script) = &a.torch {
            for t in torch_rows(a, script, &spec_json, round)? {
                line(round, "torch", &t.what, t.graphs, t.seconds, String::new());
                torch.insert(t.what, t.graphs as f64 / t.seconds.max(1e-12));
            }
        }
        for compute in &computes {
            let backend = match compute {
                Compute::Cpu => "cpu f32",
                Compute::Gpu(_) => "gpu f32",
            };
            let rows = [
                ("train", time_train(&spec, &cfg, &gs, compute, a.seconds)?),
                (
                    "predict",
                    time_predict(&spec, &cfg, &gs, compute, a.seconds)?,
                ),
            ];
            for (what, (n, s)) in rows {
                let vs = torch.get(what).map_or(String::new(), |t| {
                    format!("{:.2}x", n as f64 / s.max(1e-12) / t)
                });
                line(round, backend, what, n, s, vs);
            }
        }
    }
    Ok(())
}
