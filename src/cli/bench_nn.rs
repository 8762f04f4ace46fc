//! `glasscam bench nn`: arguments, the rounds (each path of glasscam, then PyTorch at each thread setting, in
//! turn), the table of medians with the load beside every measurement, and the per-layer profile with each GEMM's
//! speed beside the machine's peak.

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam::backend::BenchBackends;
use glasscam::kernels::nn::fast::peak::peak;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::bench::{
    bench_path, median, profile_path, LayerProfile, LayerTime, NnPath, BENCH_PARTICLES,
};
use glasscam::learn::cnn::{ModelConfig, Precision};

/// `glasscam bench nn`
#[derive(Args, Debug, Clone)]
pub struct BenchNnArgs {
    /// cpu, gpu (any adapter, a software one included) or both (the GPU path only on a hardware adapter).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BenchBackends,
    /// The CPU's precisions timed, comma-separated: f32 (the fast backend, the default path) and f64 (the twin).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "f32,f64")]
    pub precision: Vec<Precision>,
    /// The networks timed, comma-separated, one after the other: `paper` (the paper's network) or a model file
    /// (TOML), e.g. `paper,presets/quick-model.toml`.
    #[arg(long, value_delimiter = ',', default_value = "paper")]
    pub model: Vec<PathBuf>,
    /// Grid size G of every network timed [default: the model file's, 128 for the paper's network].
    #[arg(long)]
    pub grid: Option<usize>,
    /// Seconds of timing per column, path and round (at least two batches each).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Rounds: every path and every PyTorch setting is timed once per round, in turn; the table gives medians.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// `benches/torch_cnn.py`: times the same network in PyTorch on the CPU, alternating with glasscam.
    #[arg(long)]
    pub torch: Option<PathBuf>,
    /// The Python interpreter that has torch.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// PyTorch's thread settings, comma-separated: `default` (torch as installed) or a count.
    #[arg(long, value_delimiter = ',', default_value = "default,1")]
    pub torch_threads: Vec<String>,
    /// Also the time per layer and pass of a training step and a Grad-CAM batch on each path (one op at a time),
    /// with each GEMM's GFLOP/s beside the machine's peak.
    #[arg(long)]
    pub profile: bool,
    /// FMA units per core at the widest vector width, for the peak [default: 1 for AVX-512 on AMD, else 2].
    #[arg(long)]
    pub fma_units: Option<usize>,
}

/// The 1-minute load average (NaN where unknown): printed beside every measurement, since others may share the
/// cores.
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One row of the table: per round, [step, train from set, Grad-CAM] images/s and the load when it ran.
struct Row {
    name: String,
    runs: Vec<([f64; 3], f64)>,
}

impl Row {
    fn medians(&self) -> [f64; 3] {
        std::array::from_fn(|i| median(self.runs.iter().map(|r| r.0[i]).collect()))
    }
}

#[derive(serde::Deserialize)]
struct TorchRow {
    backend: String,
    train_per_s: f64,
    gradcam_per_s: f64,
}

/// One run of the PyTorch script on the CPU with `threads` (None: as installed).
fn torch_row(
    a: &BenchNnArgs,
    script: &Path,
    threads: Option<usize>,
    cfg_file: Option<&Path>,
    grid: usize,
    json: &Path,
) -> glasscam::Result<TorchRow> {
    let mut cmd = std::process::Command::new(&a.python);
    cmd.arg(script)
        .args(["--device", "cpu", "--grid", &grid.to_string()])
        .args(["--seconds", &a.seconds.to_string()])
        .arg("--json")
        .arg(json);
    if let Some(m) = cfg_file {
        cmd.arg("--model").arg(m);
    }
    if let Some(t) = threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    let out = cmd.output().map_err(|e| {
        glasscam::Error::Input(format!(
            "cannot run {} {}: {e} (--python names the interpreter)",
            a.python,
            script.display()
        ))
    })?;
    if !out.status.success() {
        return Err(glasscam::Error::Input(format!(
            "{} {} failed ({}): {}; it needs torch (--python names an interpreter that has it)",
            a.python,
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = std::fs::read_to_string(json)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| glasscam::Error::Input(format!("{}: {e}", json.display())))
}

/// PyTorch's version and threading, in one line.
fn torch_info(python: &str) -> String {
    let probe = "import torch; print('pytorch', torch.__version__, '| intra-op threads', torch.get_num_threads(), \
                 '| MKL', torch.backends.mkl.is_available(), '| oneDNN', torch.backends.mkldnn.is_available(), \
                 '| CPU capability', torch.backends.cpu.get_cpu_capability())";
    match std::process::Command::new(python)
        .args(["-c", probe])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => format!("{python}: no torch"),
    }
}

fn fmt(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-".into()
    }
}

pub fn bench(a: &BenchNnArgs) -> glasscam::Result<()> {
    let threads: Vec<Option<usize>> = a
        .torch_threads
        .iter()
        .map(|t| match t.as_str() {
            "default" => Ok(None),
            n => n.parse().map(Some).map_err(|_| {
                glasscam::Error::Input(format!(
                    "--torch-threads `{n}`: give `default` or a thread count"
                ))
            }),
        })
        .collect::<glasscam::Result<_>>()?;
    // every network's settings first, so that a bad model file stops the run before any timing
    let mut nets = Vec::new();
    for m in &a.model {
        let (base, file) = match m.to_str() {
            Some("paper") => (ModelConfig::default(), None),
            _ => (ModelConfig::from_file(m)?, Some(m.as_path())),
        };
        let cfg = ModelConfig {
            grid: a.grid.unwrap_or(base.grid),
            ..base
        };
        cfg.check()
            .map_err(|e| glasscam::Error::Input(format!("{}: {e}", m.display())))?;
        nets.push((cfg, file));
    }
    let mut computes = super::bench::backends(a.backend)?;
    if a.backend == BenchBackends::Both {
        // a software adapter is minutes per round at grid 128: only when asked for by name
        computes.retain(|c| !matches!(c, Compute::Gpu(ctx) if ctx.is_software()));
    }
    let paths = NnPath::of(&computes, &a.precision);
    println!(
        "step: training steps on one fixed batch (what the PyTorch script times); train: from a training set on \
         the backend ({BENCH_PARTICLES} particles per snapshot, augmented, gridized and standardized per batch), as \
         `train` runs; Grad-CAM: batches of class glass"
    );
    if let Some(script) = &a.torch {
        println!("{} (script {})", torch_info(&a.python), script.display());
    }
    let peak = if a.profile {
        let (core_peak, cores, how) = peak(a.fma_units);
        for line in how {
            println!("{line}");
        }
        Some(core_peak * cores as f64)
    } else {
        None
    };
    for (cfg, file) in &nets {
        bench_network(a, cfg, *file, &paths, &threads, peak)?;
    }
    Ok(())
}

/// The rounds, the table and the profiles of one network (`file`: its model file, None for the paper's).
fn bench_network(
    a: &BenchNnArgs,
    cfg: &ModelConfig,
    file: Option<&Path>,
    paths: &[NnPath],
    threads: &[Option<usize>],
    peak: Option<f64>,
) -> glasscam::Result<()> {
    let channels = 2;
    println!(
        "\n== {}: grid {} channels {channels} conv {:?} kernel {} head {:?} hidden {} dropout {} batch {}; {} \
         rayon threads; load {:.2}",
        file.map_or("the paper's network".into(), |f| f.display().to_string()),
        cfg.grid,
        cfg.conv_channels,
        cfg.kernel,
        cfg.head,
        cfg.hidden,
        cfg.dropout,
        cfg.batch,
        rayon::current_num_threads(),
        load()
    );
    let mut rows: Vec<Row> = paths
        .iter()
        .map(|p| Row {
            name: p.describe(),
            runs: Vec::new(),
        })
        .collect();
    let ours = rows.len();
    if a.torch.is_some() {
        rows.extend(threads.iter().map(|t| Row {
            name: format!(
                "pytorch ({})",
                t.map_or("threads as installed".into(), |t| format!("{t} threads"))
            ),
            runs: Vec::new(),
        }));
    }
    let dir = std::env::temp_dir().join(format!("glasscam-bench-nn-{}", std::process::id()));
    if a.torch.is_some() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| glasscam::Error::Input(format!("{}: {e}", dir.display())))?;
    }
    for round in 1..=a.rounds.max(1) {
        for (i, path) in paths.iter().enumerate() {
            let l = load();
            let r = bench_path(path, cfg, channels, a.seconds)?;
            rows[i]
                .runs
                .push(([r.step_per_s, r.train_per_s, r.gradcam_per_s], l));
        }
        if let Some(script) = &a.torch {
            for (j, &t) in threads.iter().enumerate() {
                let l = load();
                let json = dir.join(format!("torch-{round}-{j}.json"));
                let r = torch_row(a, script, t, file, cfg.grid, &json)?;
                let row = &mut rows[ours + j];
                row.name = r.backend;
                row.runs
                    .push(([r.train_per_s, f64::NAN, r.gradcam_per_s], l));
            }
        }
        eprintln!("round {round} of {} done", a.rounds.max(1));
    }
    if a.torch.is_some() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    print_table(&rows, ours);
    let Some(peak) = peak else {
        return Ok(());
    };
    for path in paths {
        // the f64 twin runs half as many lanes per vector: its peak is half the f32 one
        let (reps, peak) = match path.precision {
            Precision::F64 if matches!(path.compute, Compute::Cpu) => (2, peak / 2.0),
            _ => (5, peak),
        };
        let l = load();
        print_profile(&profile_path(path, cfg, channels, reps)?, peak, l);
    }
    Ok(())
}

/// The medians with every round's step and Grad-CAM rates and load, then the ratios of the first path (the CPU's
/// f32 backend, or the GPU) to the best PyTorch setting and to the other paths.
fn print_table(rows: &[Row], ours: usize) {
    println!(
        "{:<46} {:>10} {:>11} {:>14}   per round: step / Grad-CAM img/s (load)",
        "path (medians over rounds)", "step img/s", "train img/s", "Grad-CAM img/s"
    );
    for r in rows {
        let m = r.medians();
        let rounds: Vec<String> = r
            .runs
            .iter()
            .map(|(x, l)| format!("{} / {} ({l:.1})", fmt(x[0]), fmt(x[2])))
            .collect();
        println!(
            "{:<46} {:>10} {:>11} {:>14}   {}",
            r.name,
            fmt(m[0]),
            fmt(m[1]),
            fmt(m[2]),
            rounds.join(", ")
        );
    }
    let Some(first) = rows.first().filter(|_| ours > 0) else {
        return;
    };
    let f = first.medians();
    if rows.len() > ours {
        let best = |i: usize| {
            rows[ours..]
                .iter()
                .map(|r| (r.medians()[i], r.name.as_str()))
                .max_by(|x, y| x.0.total_cmp(&y.0))
                .unwrap_or((f64::NAN, ""))
        };
        let (bt, bt_name) = best(0);
        let (bg, bg_name) = best(2);
        println!(
            "{} / best PyTorch: training {:.2}x (vs {bt_name}), Grad-CAM {:.2}x (vs {bg_name})",
            first.name,
            f[0] / bt,
            f[2] / bg
        );
    }
    for other in &rows[1..ours] {
        let m = other.medians();
        println!(
            "{} / {}: step {:.2}x, train {:.2}x, Grad-CAM {:.2}x",
            first.name,
            other.name,
            f[0] / m[0],
            f[1] / m[1],
            f[2] / m[2]
        );
    }
}

/// A path's per-layer times, each GEMM with its GFLOP/s and its share of the machine's peak `peak` (GFLOP/s, in
/// the path's float type).
fn print_profile(p: &LayerProfile, peak: f64, load: f64) {
    for (what, ops) in [("training step", &p.train), ("Grad-CAM batch", &p.gradcam)] {
        let total: f64 = ops.iter().map(|o| o.seconds).sum();
        println!(
            "\n{}, {what}: {:.1} ms per batch of {} ({:.1} img/s, one op at a time), load {load:.2}",
            p.backend,
            total * 1e3,
            p.batch,
            p.batch as f64 / total
        );
        println!(
            "  {:<26} {:>10} {:>7} {:>9} {:>8}",
            "layer and pass", "ms", "share", "GFLOP/s", "of peak"
        );
        for LayerTime {
            label,
            seconds,
            flops,
        } in ops.iter()
        {
            let (gf, of) = match flops {
                Some(f) => {
                    let g = f / seconds / 1e9;
                    (format!("{g:.1}"), format!("{:.1} %", 100.0 * g / peak))
                }
                None => (String::new(), String::new()),
            };
            println!(
                "  {label:<26} {:>10.3} {:>6.1}% {gf:>9} {of:>8}",
                seconds * 1e3,
                100.0 * seconds / total
            );
        }
    }
}
