//! `glasscam propensity`: arguments and the call to the propensity engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::analysis::GammaSet;
use glasscam::domain::Preset;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::sim::propensity::{Curves, EnsembleConfig};

use super::select_compute;

/// `glasscam propensity`
#[derive(Clone, Debug, Args)]
pub struct PropensityArgs {
    /// Data set directory (from `glasscam simulate`).
    #[arg(long)]
    pub data: PathBuf,
    /// Snapshot index of the configuration (a glass, usually).
    #[arg(long)]
    pub snapshot: usize,
    /// Temperatures (comma-separated); default T*, 1.25 T*, 1.5 T* of the system.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub temps: Vec<f64>,
    /// Runs per temperature (default 30).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Steps per run (default: the preset's).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Log-spaced sample times (default: the preset's).
    #[arg(long)]
    pub samples: Option<usize>,
    /// `quick` (minutes on a CPU) or `paper` (the paper's lengths, for a GPU).
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// A Grad-CAM directory (`glasscam gradcam`): gives C(Gamma, 1 - Delta).
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    /// Coarse-graining length xi.
    #[arg(long, default_value_t = 3.0, allow_hyphen_values = true)]
    pub xi: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// No plots.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn propensity(a: &PropensityArgs, ctx: Ctx) -> glasscam::Result<Curves> {
    let ds = Dataset::load(&a.data)?;
    let mut cfg = EnsembleConfig::preset(a.preset, ds.manifest.system.t_star);
    if !a.temps.is_empty() {
        cfg.temps = a.temps.clone();
    }
    if let Some(r) = a.runs {
        cfg.runs = r;
    }
    if let Some(s) = a.steps {
        cfg.steps = s;
    }
    if let Some(s) = a.samples {
        cfg.samples = s;
    }
    cfg.seed = a.seed;
    let gamma = a.gradcam.as_deref().map(GammaSet::load).transpose()?;
    let compute = select_compute(a.backend)?;
    let p = glasscam::sim::propensity::propensity(
        &ds,
        a.snapshot,
        &cfg,
        gamma.as_ref(),
        a.xi,
        &compute,
        ctx,
    )
    .map_err(|e| match (&a.gradcam, e) {
        // the engine speaks of "the Grad-CAM set"; name the directory the user gave
        (Some(dir), glasscam::Error::Input(m)) if m.contains("Grad-CAM set") => {
            glasscam::Error::Input(format!("{}: {m}", dir.display()))
        }
        (_, e) => e,
    })?;
    glasscam::sim::propensity::write_propensity(&a.out, &ds, &p, !a.no_plots)?;
    eprintln!("propensity: wrote {}", a.out.display());
    Ok(p.curves)
}

/// `glasscam targets`
#[derive(Clone, Debug, Args)]
pub struct TargetsArgs {
    /// Data set directory whose snapshots are the starting configurations.
    #[arg(long)]
    pub data: PathBuf,
    /// Snapshot indices (comma-separated); default every snapshot.
    #[arg(long, value_delimiter = ',')]
    pub snapshots: Vec<usize>,
    /// Temperature of the runs.
    #[arg(long)]
    pub temperature: f64,
    /// Runs per configuration (at least 2).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Steps per run.
    #[arg(long)]
    pub steps: u64,
    /// Time points in MD time units (comma-separated, ascending); default --samples log-spaced up to the end.
    #[arg(long, value_delimiter = ',')]
    pub times: Vec<f64>,
    /// Log-spaced time points when --times is not given.
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// A `glasscam relax` output: its tau_alpha (and spread) go into targets.json.
    #[arg(long)]
    pub relax: Option<PathBuf>,
    /// Time points in units of tau_alpha from --relax (comma-separated, ascending), instead of --times.
    #[arg(long, value_delimiter = ',')]
    pub times_tau: Vec<f64>,
    /// Also the cage-relative propensity (propensity_cage.npy).
    #[arg(long)]
    pub cage: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// Output directory: a data set with targets.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a data set already at --out.
    #[arg(long)]
    pub force: bool,
}

pub fn targets(a: &TargetsArgs, ctx: Ctx) -> glasscam::Result<()> {
    use glasscam::sim::targets::{ensemble_targets, write_ensemble_targets, TargetsConfig};
    let ds = Dataset::load(&a.data)?;
    let snapshots: Vec<usize> = if a.snapshots.is_empty() {
        (0..ds.n_snapshots()).collect()
    } else {
        a.snapshots.clone()
    };
    let relaxed: Option<glasscam::sim::relax::RelaxFile> = a
        .relax
        .as_ref()
        .map(|d| glasscam::io::json::read_json(&d.join(glasscam::sim::relax::RELAX)))
        .transpose()?;
    let tau = relaxed.as_ref().and_then(|r| r.tau_alpha);
    let times = if a.times_tau.is_empty() {
        a.times.clone()
    } else {
        let tau = tau.ok_or_else(|| {
            glasscam::Error::Input(
                "--times-tau needs tau_alpha: give --relax with a `glasscam relax` output that measured it".into(),
            )
        })?;
        a.times_tau.iter().map(|x| x * tau).collect()
    };
    let cfg = TargetsConfig {
        temperature: a.temperature,
        runs: a.runs,
        steps: a.steps,
        times: (!times.is_empty()).then_some(times),
        samples: a.samples,
        seed: a.seed,
        cage: a.cage,
    };
    let compute = select_compute(a.backend)?;
    let mut run = ensemble_targets(&ds, &snapshots, &cfg, &compute, ctx)?;
    run.meta.tau_alpha = tau;
    run.meta.tau_alpha_spread = relaxed.as_ref().and_then(|r| r.tau_alpha_spread);
    write_ensemble_targets(&a.out, &ds, &snapshots, &mut run, a.force)?;
    eprintln!(
        "targets: {} configurations x {} runs, {:.3e} particle-steps in {:.1} s of batched MD ({:.3e}/s)",
        snapshots.len(),
        a.runs,
        run.particle_steps,
        run.md_seconds,
        run.particle_steps / run.md_seconds.max(1e-9)
    );
    let fmt = |v: &[Option<f64>]| {
        v.iter()
            .map(|c| c.map_or("n/a".into(), |c| format!("{c:.3}")))
            .collect::<Vec<String>>()
            .join(" ")
    };
    eprintln!("  times: {:?}", run.meta.times);
    for (name, rows) in &run.ceiling_vs_runs {
        for (m, row) in rows {
            eprintln!("  noise ceiling {name}, {m} runs: {}", fmt(row));
        }
    }
    eprintln!("targets: wrote {}", a.out.display());
    Ok(())
}

/// `glasscam relax`
#[derive(Clone, Debug, Args)]
pub struct RelaxArgs {
    /// Data set directory whose snapshots are the starts.
    #[arg(long)]
    pub data: PathBuf,
    /// Snapshot indices (comma-separated); default every snapshot.
    #[arg(long, value_delimiter = ',')]
    pub snapshots: Vec<usize>,
    #[arg(long)]
    pub temperature: f64,
    /// Steps of the run (the equilibration).
    #[arg(long)]
    pub steps: u64,
    /// Log-spaced samples of F_s (as many linear ones are added for the energy).
    #[arg(long, default_value_t = 40)]
    pub samples: usize,
    /// F_s must reach 1/e within 1/this of the run for a start to count as equilibrated.
    #[arg(long, default_value_t = 3.0)]
    pub min_decays: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// Output: relax.json and the equilibrated end states as a data set.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a data set already at --out.
    #[arg(long)]
    pub force: bool,
}

pub fn relax(a: &RelaxArgs, ctx: Ctx) -> glasscam::Result<()> {
    use glasscam::sim::relax::{relax, write_relax, RelaxConfig};
    let ds = Dataset::load(&a.data)?;
    let snapshots: Vec<usize> = if a.snapshots.is_empty() {
        (0..ds.n_snapshots()).collect()
    } else {
        a.snapshots.clone()
    };
    let cfg = RelaxConfig {
        temperature: a.temperature,
        steps: a.steps,
        samples: a.samples,
        min_decays: a.min_decays,
        seed: a.seed,
    };
    let compute = select_compute(a.backend)?;
    let r = relax(&ds, &snapshots, &cfg, &compute, ctx)?;
    write_relax(&a.out, &ds, &r, a.force)?;
    let f = &r.file;
    let ok = f.starts.iter().filter(|c| c.equilibrated).count();
    eprintln!(
        "relax: T = {}, k = {:.3}: tau_alpha = {} +- {} over {} starts; {ok} of {} equilibrated; wrote {}",
        f.temperature,
        f.k,
        f.tau_alpha.map_or("n/a".into(), |t| format!("{t:.3}")),
        f.tau_alpha_spread.map_or("n/a".into(), |t| format!("{t:.3}")),
        f.starts.iter().filter(|c| c.tau_alpha.is_some()).count(),
        f.starts.len(),
        a.out.display()
    );
    Ok(())
}
