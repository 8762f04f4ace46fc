//! The `glasscam` command line.

mod cli;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use glasscam::kernels::{BackendChoice, Compute};
use glasscam::sim::protocol::{Protocol, RunOptions};
use glasscam::sim::system::SystemDef;

#[derive(Parser)]
#[command(
    name = "glasscam",
    version,
    about = "GPU-first engine for finding the structures that make a glass a glass"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cool many replicas of a glass former and snapshot them at T_L (liquid) and T_G (glass).
    Simulate(SimulateArgs),
    /// Join data sets written by `simulate --shard k/n` into one (identical to a single run's).
    Merge {
        /// Shard directories, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Replace a data set already at --out.
        #[arg(long)]
        force: bool,
    },
    /// Write one snapshot of a data set as extended XYZ or a LAMMPS data file.
    Export {
        /// Data set directory (from `glasscam simulate`).
        dir: PathBuf,
        #[arg(long)]
        snapshot: usize,
        #[arg(long, value_enum)]
        format: glasscam::io::export::Format,
        #[arg(long)]
        out: PathBuf,
        /// Replace a file already at --out.
        #[arg(long)]
        force: bool,
    },
    /// Benchmarks: `bench md` (particle-steps/s, CPU twin vs GPU).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Print the compute backend that would be used.
    Info {
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Train the glass/liquid CNN on a data set.
    /// (`--arch mpnn`: the graph network of SPEC §10 instead.)
    Train(cli::gnn::TrainCmd),
    /// Per-edge and per-particle attention of a trained graph network and Swanson's metrics M1-M3.
    Attention(cli::gnn::AttentionArgs),
    /// Grad-CAM maps and per-particle Gamma from a trained model.
    Gradcam(cli::nn::GradcamArgs),
    /// Structural indicators and their correlations with Grad-CAM (SPEC §7-8).
    Analyze(cli::analyze::AnalyzeArgs),
    /// Everything from nothing to the paper's figures: simulate, train, gradcam, analyze, propensity, report.
    Reproduce(cli::reproduce::ReproduceArgs),
    /// Dynamic propensity from isoconfigurational ensembles, and C(Gamma, 1 - Delta) over time (SPEC §9).
    Propensity(cli::propensity::PropensityArgs),
    /// Inherent structures: FIRE-minimise a data set's snapshots (E_IS, max |F|, iterations per snapshot).
    Minimize(MinimizeArgs),
    /// A liquid-vs-glass task (a data set `train` reads) from ramp points of one or two data sets, or a preset's
    /// tasks (`--preset swanson`: Swanson et al.'s six and a null task, plus the E_IS(T) landscape).
    Task(cli::task::TaskArgs),
}

#[derive(Args)]
struct MinimizeArgs {
    /// Data set directory (from `glasscam simulate`).
    #[arg(long)]
    data: PathBuf,
    /// all, glass, liquid, other, or snapshot indices such as 0,4,10-19.
    #[arg(long, default_value = "all")]
    snapshots: String,
    /// Stop a snapshot at max |F| below this [default: 1e-8 on the CPU twin, 1e-2 on the GPU].
    #[arg(long, allow_hyphen_values = true)]
    ftol: Option<f64>,
    /// FIRE iteration cap per snapshot (those still above ftol are reported).
    #[arg(long, default_value_t = 100_000)]
    max_iter: u32,
    /// Snapshots minimised together.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Overwrite an existing result in --out.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct SimulateArgs {
    /// `abm`, `kam` or a TOML system file.
    #[arg(long, default_value = "kam")]
    system: String,
    /// `quick` (fast cooling, 64 replicas) or `paper` (the paper's rate, 5000 replicas).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Number of replicas (default: the preset's).
    #[arg(long)]
    replicas: Option<usize>,
    /// Temperature at which the run melts, equilibrates and starts cooling (default: the preset's, 4.0;
    /// Swanson: 2.0).
    #[arg(long, allow_hyphen_values = true)]
    t_start: Option<f64>,
    /// K snapshots evenly spaced in T from --t-start down to T_G (Swanson: 200), with no hold before each
    /// (a constant-rate ramp); T_L and T_G keep their classes, the others are `other`.
    #[arg(long)]
    ramp_snapshots: Option<usize>,
    /// Also FIRE-minimise every snapshot afterwards: OUT/inherent holds the inherent structures and E_IS.
    #[arg(long)]
    inherent: bool,
    /// Cooling rate |dT/dt| per time unit (default: the preset's).
    #[arg(long, allow_hyphen_values = true)]
    cool_rate: Option<f64>,
    /// Time held at each snapshot temperature before the snapshot (default: the preset's).
    #[arg(long, allow_hyphen_values = true)]
    hold_time: Option<f64>,
    /// Equilibration time at the start temperature (default: the preset's).
    #[arg(long, allow_hyphen_values = true)]
    equilibrate_time: Option<f64>,
    /// Snapshot temperatures besides T_L and T_G (comma-separated).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    temps: Vec<f64>,
    /// Time step (default 0.005).
    #[arg(long, allow_hyphen_values = true)]
    dt: Option<f64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output data set directory.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Continue an interrupted run in --out (exact: the result equals an uninterrupted run's), or, on a finished
    /// one with the same settings, say "already complete" and exit 0 (requeued Slurm tasks cost nothing).
    #[arg(long)]
    resume: bool,
    /// Replace a finished data set, or an unfinished run with other settings, in --out.
    #[arg(long)]
    force: bool,
    /// Seconds between checkpoints (a kill -9 loses at most this much work; SIGINT, SIGTERM and SIGHUP lose
    /// nothing). 0: after every call into the MD backend.
    #[arg(long, default_value_t = 300.0, allow_hyphen_values = true)]
    checkpoint_every: f64,
    /// Replicas per chunk (default: as many as fit the device).
    #[arg(long)]
    chunk: Option<usize>,
    /// Run only shard k of n (0-based, e.g. `--shard $SLURM_ARRAY_TASK_ID/8`); join shards with `merge`.
    #[arg(long)]
    shard: Option<String>,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// MD throughput at N = 2000 (KAM by default) for 1, 16, 256 and 1024 replicas.
    Md {
        /// auto|gpu|cpu; without it both the CPU twin and (when an adapter exists) the GPU path run.
        #[arg(long)]
        backend: Option<BackendChoice>,
        /// Replica counts (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,16,256,1024")]
        replicas: Vec<usize>,
        #[arg(long, default_value = "kam")]
        system: String,
        /// Seconds of timing per row.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Time copies of a snapshot of this data set (its own system; --system is ignored) instead of a
        /// fresh liquid: `benches/lammps_md.py` hands the same snapshot to LAMMPS.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Which snapshot of --data.
        #[arg(long, default_value_t = 0)]
        snapshot: usize,
    },
    /// CNN training and Grad-CAM images/s, CPU twin vs GPU path.
    Nn {
        /// Grid size G [default: 64, or the model file's] (the CPU twin takes long at the SPEC's 128).
        #[arg(long)]
        grid: Option<usize>,
        /// Training steps (batches of 32) timed on each path.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// A model file (TOML) to time instead of the default network (e.g. `presets/quick-model.toml`);
        /// --grid still sets the grid size when given.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Also time each kernel of a training step (one launch at a time, waiting after each).
        #[arg(long)]
        profile: bool,
    },
    /// Voronoi + Tong-Tanaka + coarse-graining per 2000-particle configuration (compare `benches/freud_voronoi.py`).
    Analysis {
        #[arg(long, default_value_t = 16)]
        configs: usize,
        /// Also write the configurations here for the freud script.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Gridization images/s (paper's Gaussian, 2 species), CPU twin vs GPU path.
    Gridize {
        #[arg(long)]
        backend: Option<BackendChoice>,
        #[arg(long, default_value_t = 128)]
        grid: usize,
        #[arg(long, default_value_t = 2000)]
        particles: usize,
        /// Snapshots per call.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// FIRE minimisation throughput (`md_fire`), CPU twin vs GPU path, at N = 2000.
    Minimize {
        #[arg(long)]
        backend: Option<BackendChoice>,
        #[arg(long, value_delimiter = ',', default_value = "1,16,256,1024")]
        replicas: Vec<usize>,
        #[arg(long, default_value = "kam")]
        system: String,
        /// Time budget per row: a row whose replicas all converge within it measures minimisations/s, the others
        /// give FIRE iterations x particles / s and derived minimisations/s.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// Graph network training and attention graphs/s on the CPU (f32 path, f64 twin), beside PyTorch with --torch.
    Gnn(cli::gnn::BenchGnnArgs),
    /// Batched propensity ensemble vs `bench md` at the same replica count (particle-steps/s).
    Propensity {
        #[arg(long)]
        backend: Option<BackendChoice>,
        /// Replicas (temperatures x runs).
        #[arg(long, default_value_t = 90)]
        replicas: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

/// The compute path for `--backend`, saying on stderr which one and why.
fn select_backend(choice: BackendChoice) -> glasscam::Result<Compute> {
    let (compute, line) = Compute::resolve(choice)?;
    eprintln!("{line}");
    Ok(compute)
}

fn backends_for_bench(choice: Option<BackendChoice>) -> glasscam::Result<Vec<Compute>> {
    use glasscam::kernels::gpu::shared_context;
    Ok(match choice {
        Some(BackendChoice::Cpu) => vec![Compute::Cpu],
        Some(c) => vec![select_backend(c)?],
        None => {
            let mut v = vec![Compute::Cpu];
            match shared_context() {
                Ok(ctx) => {
                    eprintln!("gpu: {}", ctx.describe());
                    v.push(Compute::Gpu(ctx));
                }
                Err(e) => eprintln!("no GPU adapter ({e}): CPU twin only"),
            }
            v
        }
    })
}

fn simulate(a: SimulateArgs) -> glasscam::Result<()> {
    let sys = SystemDef::resolve(&a.system)?;
    let mut proto = Protocol::preset(&a.preset)?;
    if let Some(r) = a.replicas {
        proto.replicas = r;
    }
    if let Some(x) = a.cool_rate {
        proto.cool_rate = x;
    }
    if let Some(x) = a.equilibrate_time {
        proto.equilibrate_time = x;
    }
    if let Some(x) = a.hold_time {
        proto.hold_time = x;
    }
    if let Some(x) = a.dt {
        proto.md.dt = x;
    }
    proto.extra_temps = a.temps;
    if let Some(t) = a.t_start {
        proto.t_start = t;
    }
    if let (Some(_), Some(h)) = (a.ramp_snapshots, a.hold_time) {
        return Err(glasscam::Error::Input(format!(
            "--hold-time {h} with --ramp-snapshots: a ramp takes its snapshots without holds; drop --hold-time"
        )));
    }
    if let Some(k) = a.ramp_snapshots {
        proto
            .extra_temps
            .extend(glasscam::pipeline::swanson::task::ramp_temps(
                proto.t_start,
                sys.t_glass,
                k,
            )?);
        proto.hold_time = 0.0;
    }
    let compute = select_backend(a.backend)?;
    let mut opts = RunOptions::new(&a.out, a.seed, compute);
    opts.resume = a.resume;
    opts.force = a.force;
    opts.checkpoint_every = glasscam::sim::protocol::checkpoint_interval(a.checkpoint_every)?;
    opts.chunk = a.chunk;
    if let Some(sh) = &a.shard {
        let parsed = sh.split_once('/').and_then(|(k, n)| {
            Some((
                k.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            ))
        });
        let (k, n) = parsed.ok_or_else(|| {
            glasscam::Error::Input(format!("--shard {sh}: write it as k/n, e.g. 0/8"))
        })?;
        opts.replicas = Some(glasscam::sim::protocol::shard_range(k, n, proto.replicas)?);
    }
    let stages = proto.schedule(&sys)?;
    let steps: u64 = stages.iter().map(|s| s.segment.len).sum();
    eprintln!(
        "simulate: {} (N = {}, L = {:.3}), {} replicas, {} steps each (equilibrate {} at T = {}, cool at {} per time unit), seed {}",
        sys.name,
        sys.n_particles(),
        sys.box_l(),
        proto.replicas,
        steps,
        stages[0].segment.len,
        proto.t_start,
        proto.cool_rate,
        a.seed
    );
    let finished_before =
        a.out.join(glasscam::io::dataset::MANIFEST).exists() && a.resume && !a.force;
    let t0 = std::time::Instant::now();
    let compute = opts.compute.clone();
    let m = glasscam::sim::protocol::run(&sys, &proto, &opts, &ctx())?;
    if finished_before {
        return Ok(());
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "wrote {} snapshots of {} replicas to {} in {:.1} s ({:.3e} particle-steps/s){}",
        m.snapshots.len(),
        m.n_replicas,
        a.out.display(),
        secs,
        (steps * m.n_replicas as u64 * m.n_particles as u64) as f64 / secs,
        if m.failed.is_empty() {
            String::new()
        } else {
            format!(
                "; {} of {} replicas blew up and were left out (see manifest.json)",
                m.failed.len(),
                m.n_replicas
            )
        }
    );
    if a.inherent {
        use glasscam::sim::minimize as mz;
        let data = glasscam::io::dataset::Dataset::load(&a.out)?;
        let inh = mz::minimize(
            &data,
            &mz::Selection::All,
            &mz::MinimizeSettings::default(),
            &compute,
            &ctx(),
        )?;
        mz::write_inherent(&a.out.join("inherent"), &inh, true)?;
        eprintln!(
            "inherent structures of all {} snapshots in {} ({} not converged)",
            inh.info.snapshots.len(),
            a.out.join("inherent").display(),
            inh.info.not_converged.len()
        );
    }
    Ok(())
}

fn minimize(a: MinimizeArgs) -> glasscam::Result<()> {
    use glasscam::sim::minimize::{self as m, MinimizeSettings, Selection};
    let settings = MinimizeSettings {
        ftol: a.ftol,
        max_iter: a.max_iter,
        batch: a.batch,
    };
    settings.check()?;
    let selection = Selection::parse(&a.snapshots)?;
    glasscam::io::outdir::no_overwrite(&a.out.join(m::INHERENT), a.force, "inherent structures")?;
    let data = glasscam::io::dataset::Dataset::load(&a.data)?;
    let compute = select_backend(a.backend)?;
    let t0 = std::time::Instant::now();
    let inh = m::minimize(&data, &selection, &settings, &compute, &ctx())?;
    m::write_inherent(&a.out, &inh, a.force)?;
    let k = inh.info.snapshots.len();
    let iters: u64 = inh.info.snapshots.iter().map(|s| s.iterations as u64).sum();
    let worst = inh
        .info
        .snapshots
        .iter()
        .map(|s| s.fmax)
        .fold(0.0, f64::max);
    eprintln!(
        "minimised {k} snapshots in {:.1} s ({} FIRE iterations on average, largest final max|F| {worst:.2e}, ftol {:e}); \
         {} not converged; wrote {}",
        t0.elapsed().as_secs_f64(),
        iters / k.max(1) as u64,
        inh.info.ftol,
        inh.info.not_converged.len(),
        a.out.display()
    );
    Ok(())
}

/// The binary's context: the console renderer and the signal-driven cancel token.
fn ctx() -> glasscam::events::Ctx<'static> {
    static CONSOLE: std::sync::OnceLock<cli::render::Console> = std::sync::OnceLock::new();
    let console = CONSOLE.get_or_init(cli::render::Console::new);
    glasscam::events::Ctx::new(console, cli::signals::token())
}

fn main() {
    let cli = Cli::parse();
    let ctx = ctx();
    // how to go on after a signal, per command
    let after_interrupt = match &cli.command {
        Command::Simulate(_) => {
            "the work done is saved; the same command with --resume continues to exactly the same result"
        }
        Command::Reproduce(_) => {
            "run the same command again: finished stages are kept and the simulation resumes its checkpoint"
        }
        _ => "run the command again",
    };
    let result: glasscam::Result<()> = match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Merge { shards, out, force } => glasscam::io::dataset::merge(&shards, &out, force)
            .map(|m| {
                eprintln!(
                    "merged {} shards: {} replicas, {} snapshots in {}",
                    shards.len(),
                    m.n_replicas,
                    m.snapshots.len(),
                    out.display()
                )
            }),
        Command::Export {
            dir,
            snapshot,
            format,
            out,
            force,
        } => glasscam::io::export::export(&dir, snapshot, format, &out, force),
        Command::Bench { what } => match what {
            BenchWhat::Md {
                backend,
                replicas,
                system,
                seconds,
                data,
                snapshot,
            } => {
                let start = data
                    .as_deref()
                    .map(|dir| glasscam::sim::bench::snapshot_start(dir, snapshot))
                    .transpose();
                start.and_then(|start| {
                    let sys = match &start {
                        Some((s, _)) => s.clone(),
                        None => SystemDef::resolve(&system)?,
                    };
                    glasscam::sim::bench::bench_md(
                        &sys,
                        &backends_for_bench(backend)?,
                        &replicas,
                        seconds,
                        start.as_ref().map(|(_, r)| r),
                    )
                    .map(|rows| cli::bench::print_md(&rows))
                })
            }
            BenchWhat::Nn {
                grid,
                steps,
                model,
                profile,
            } => {
                let base = match &model {
                    Some(path) => glasscam::learn::cnn::ModelConfig::from_file(path),
                    // the SPEC network at G = 64: the CPU twin takes long at 128
                    None => Ok(glasscam::learn::cnn::ModelConfig {
                        grid: 64,
                        ..Default::default()
                    }),
                };
                base.and_then(|base| {
                    let cfg = glasscam::learn::cnn::ModelConfig {
                        grid: grid.unwrap_or(base.grid),
                        ..base
                    };
                    glasscam::learn::cnn::bench_nn(&cfg, 2, steps, steps, profile)
                        .map(|b| cli::bench::print_nn(&b))
                })
            }
            BenchWhat::Analysis { configs, out } => {
                glasscam::analysis::bench_analysis(configs, 2000, 1, out.as_deref())
                    .map(|r| cli::bench::print_analysis(&r))
            }
            BenchWhat::Minimize {
                backend,
                replicas,
                system,
                seconds,
            } => SystemDef::resolve(&system).and_then(|sys| {
                let b = glasscam::sim::bench::bench_minimize(
                    &sys,
                    &backends_for_bench(backend)?,
                    &replicas,
                    seconds,
                    &ctx,
                )?;
                println!("{} N = {}", sys.name, sys.n_particles());
                print!("{}", glasscam::sim::bench::minimize_table(&b));
                Ok(())
            }),
            BenchWhat::Gridize {
                backend,
                grid,
                particles,
                batch,
                seconds,
            } => backends_for_bench(backend).and_then(|b| {
                glasscam::sim::bench::bench_gridize(&b, grid, particles, batch, seconds)
                    .map(|rows| print!("{}", glasscam::sim::bench::gridize_table(&rows)))
            }),
            BenchWhat::Gnn(args) => cli::gnn::bench(&args),
            BenchWhat::Propensity {
                backend,
                replicas,
                seconds,
            } => backends_for_bench(backend).and_then(|b| {
                glasscam::sim::bench::bench_propensity(&SystemDef::kam(), &b, replicas, seconds)
                    .map(|rows| cli::bench::print_propensity(&rows))
            }),
        },
        Command::Info { backend } => Compute::select(backend)
            .map(|c| {
                println!("{}", c.describe());
                if let Some(note) = c.note() {
                    println!("note: {note}");
                }
            })
            .map_err(Into::into),
        Command::Train(t) => match t.arch {
            cli::gnn::Arch::Cnn => cli::nn::train(&t.args, ctx),
            cli::gnn::Arch::Mpnn => cli::gnn::train(&t.args, ctx),
        },
        Command::Attention(args) => cli::gnn::attention(&args, ctx),
        Command::Gradcam(args) => cli::nn::gradcam(&args),
        Command::Analyze(args) => cli::analyze::analyze(&args, ctx),
        Command::Reproduce(args) => cli::reproduce::reproduce(&args, ctx),
        Command::Propensity(args) => cli::propensity::propensity(&args, ctx).map(|_| ()),
        Command::Minimize(a) => minimize(a),
        Command::Task(a) => cli::task::task(&a),
    };
    if let Err(e) = result {
        match e {
            glasscam::Error::Interrupted => eprintln!("interrupted: {after_interrupt}"),
            _ => eprintln!("error: {e}"),
        }
        std::process::exit(match e {
            glasscam::Error::Interrupted => 130,
            _ => 1,
        });
    }
}
