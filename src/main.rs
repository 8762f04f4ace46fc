//! The `glasscam` command line.

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use glasscam::kernels::{BackendChoice, Compute};

#[derive(Parser)]
#[command(
    name = "glasscam",
    version,
    about = "GPU-first engine for finding the structures that make a glass a glass"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The GPU adapter to use, by index or name as `glasscam info` lists them (default: `GLASSCAM_ADAPTER`, else
    /// the best one); e.g. `--adapter $SLURM_LOCALID` on a node without per-job device isolation.
    #[arg(long, global = true)]
    adapter: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Cool many replicas of a glass former and snapshot them at T_L (liquid) and T_G (glass).
    Simulate(cli::simulate::SimulateArgs),
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
    /// Read another program's data: `import glassbench DIR --out OUT` (GlassBench's KA2D archive, as a data set
    /// with targets).
    Import {
        #[command(subcommand)]
        what: cli::import::ImportWhat,
    },
    /// Benchmarks: `bench md` (particle-steps/s, CPU twin vs GPU), `nn`, `gnn`, `gridize`, `minimize`, ...
    Bench {
        #[command(subcommand)]
        what: cli::bench::BenchWhat,
    },
    /// Print every GPU adapter (index, name, type, backend, driver, limits) and the compute backend that would be
    /// used.
    Info {
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Train the glass/liquid CNN on a data set (`--arch mpnn`: the graph network instead; `--arch gn`: the
    /// propensity network on a data set with targets).
    Train(cli::train::TrainCmd),
    /// Per-particle predictions of a trained propensity network (`.npy` + JSON), scored where the data set has
    /// targets.
    Predict(cli::dynamics::PredictArgs),
    /// Per-edge and per-particle attention of a trained graph network and Swanson's metrics M1-M3.
    Attention(cli::gnn::AttentionArgs),
    /// Grad-CAM maps and per-particle Gamma from a trained model.
    Gradcam(cli::gradcam::GradcamArgs),
    /// Structural indicators and their correlations with Grad-CAM.
    Analyze(cli::analyze::AnalyzeArgs),
    /// Everything from nothing to the paper's figures: simulate, train, gradcam, analyze, propensity, report.
    Reproduce(cli::reproduce::ReproduceArgs),
    /// Dynamic propensity from isoconfigurational ensembles, and C(Gamma, 1 - Delta) over time.
    Propensity(cli::propensity::PropensityArgs),
    /// Equilibrate a data set's snapshots at T, measure F_s(k, t) and tau_alpha of every start at once, and keep
    /// the end states that pass the equilibration check.
    Relax(cli::propensity::RelaxArgs),
    /// GlassBench's targets (displacement and bond-breaking propensity, noise ceiling) from batched
    /// isoconfigurational ensembles of a data set's snapshots, written as a data set with targets.
    Targets(cli::propensity::TargetsArgs),
    /// GlassBench's descriptor baselines: each structural descriptor alone and a ridge regression on all of
    /// them, scored by Pearson per time point against a data set's target on its test configurations.
    Baselines(cli::baselines::BaselinesArgs),
    /// Inherent structures: FIRE-minimise a data set's snapshots (E_IS, max |F|, iterations per snapshot).
    Minimize(cli::simulate::MinimizeArgs),
    /// A liquid-vs-glass task (a data set `train` reads) from ramp points of one or two data sets, or a preset's
    /// tasks (`--preset swanson`: Swanson et al.'s six and a null task, plus the E_IS(T) landscape).
    Task(cli::task::TaskArgs),
}

/// The binary's context: the console renderer and the signal-driven cancel token.
fn ctx() -> glasscam::events::Ctx<'static> {
    static CONSOLE: std::sync::OnceLock<cli::render::Console> = std::sync::OnceLock::new();
    let console = CONSOLE.get_or_init(cli::render::Console::new);
    glasscam::events::Ctx::new(console, cli::signals::token())
}

/// How to go on after a signal stopped `command`.
fn after_interrupt(command: &Command) -> &'static str {
    match command {
        Command::Simulate(_) => {
            "the work done is saved; the same command with --resume continues to exactly the same result"
        }
        Command::Reproduce(_) => {
            "run the same command again: finished stages are kept and the stage that was running resumes its \
             checkpoint or starts again"
        }
        _ => "nothing was written; run the command again",
    }
}

/// What `command` does on the first signal: the commands that check the cancel token say how they stop, the
/// others exit at once (their outputs are written atomically, so nothing is left half-written).
fn on_signal(command: &Command) -> cli::signals::OnSignal {
    match command {
        Command::Simulate(_) => Some("writing a checkpoint and stopping"),
        Command::Reproduce(_) => Some("stopping the running stage (finished stages are kept)"),
        Command::Train(_)
        | Command::Attention(_)
        | Command::Propensity(_)
        | Command::Minimize(_)
        | Command::Baselines(_) => Some("stopping; nothing is written"),
        _ => None,
    }
}

/// wgpu's Vulkan loader asks Wayland for a display, and Wayland prints "error: XDG_RUNTIME_DIR is invalid or not
/// set" when the variable is missing: not an error of ours, so the process gets a private runtime directory
/// before anything opens a device.
fn quiet_runtime_dir() {
    let valid = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| {
        std::path::Path::new(&d).is_absolute() && std::path::Path::new(&d).is_dir()
    });
    if valid {
        return;
    }
    #[cfg(unix)]
    let user = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
    };
    #[cfg(not(unix))]
    let user = 0;
    let dir = std::env::temp_dir().join(format!("glasscam-runtime-{user}"));
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    std::env::set_var("XDG_RUNTIME_DIR", dir);
}

fn run(command: Command) -> glasscam::Result<()> {
    let ctx = ctx();
    match command {
        Command::Simulate(a) => cli::simulate::simulate(a, ctx),
        Command::Merge { shards, out, force } => {
            let m = glasscam::io::dataset::merge(&shards, &out, force)?;
            eprintln!(
                "merged {} shards: {} replicas, {} snapshots in {}",
                shards.len(),
                m.n_replicas,
                m.snapshots.len(),
                out.display()
            );
            Ok(())
        }
        Command::Export {
            dir,
            snapshot,
            format,
            out,
            force,
        } => glasscam::io::export::export(&dir, snapshot, format, &out, force),
        Command::Import { what } => cli::import::import(what, ctx),
        Command::Bench { what } => cli::bench::bench(what, ctx),
        Command::Info { backend } => {
            let adapters = glasscam::kernels::gpu::list_adapters();
            let c = Compute::select(backend)?;
            println!("{}", c.describe());
            println!(
                "adapters ({}; choose with --adapter INDEX|NAME or GLASSCAM_ADAPTER):",
                adapters.len()
            );
            for a in &adapters {
                println!("  {}", a.line());
            }
            if let Some(note) = c.note() {
                println!("note: {note}");
            }
            Ok(())
        }
        Command::Train(t) => cli::train::train(&t, ctx),
        Command::Predict(a) => cli::dynamics::predict(&a, ctx),
        Command::Attention(args) => cli::gnn::attention(&args, ctx),
        Command::Gradcam(args) => cli::gradcam::gradcam(&args),
        Command::Analyze(args) => cli::analyze::analyze(&args, ctx),
        Command::Reproduce(args) => cli::reproduce::reproduce(&args, ctx),
        Command::Propensity(args) => cli::propensity::propensity(&args, ctx).map(|_| ()),
        Command::Targets(a) => cli::propensity::targets(&a, ctx),
        Command::Relax(a) => cli::propensity::relax(&a, ctx),
        Command::Minimize(a) => cli::simulate::minimize(a, ctx),
        Command::Baselines(a) => cli::baselines::baselines(&a, ctx),
        Command::Task(a) => cli::task::task(&a),
    }
}

/// The options of the invoked (sub)command: each argument's field name and its long flag.
fn options(matches: &clap::ArgMatches) -> Vec<(String, String)> {
    let mut cmd = Cli::command();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        match cmd.find_subcommand(name) {
            Some(c) => cmd = c.clone(),
            None => break,
        }
        m = sub;
    }
    // the global options (`--adapter`) are declared on the top command
    cmd.get_arguments()
        .chain(Cli::command().get_arguments())
        .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_string())))
        .collect()
}

fn main() {
    quiet_runtime_dir();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    glasscam::kernels::gpu::choose_adapter(cli.adapter.as_deref());
    cli::signals::install(on_signal(&cli.command));
    let after = after_interrupt(&cli.command);
    if let Err(e) = run(cli.command) {
        match e {
            glasscam::Error::Interrupted => eprintln!("interrupted: {after}"),
            _ => eprintln!(
                "error: {}",
                cli::with_flags(&e.to_string(), &options(&matches))
            ),
        }
        std::process::exit(match e {
            glasscam::Error::Interrupted => 130,
            _ => 1,
        });
    }
}
