//! `glasscam bench md|nn|gnn|gridize|minimize|analysis|propensity`: arguments, the paths each times
//! (`--backend cpu|gpu|both`, `glasscam::backend::bench_backends`), and the tables of what the library's benches
//! return.

use std::path::PathBuf;

use clap::Subcommand;
use glasscam::analysis::bench::{BenchReport, BENCH_DENSITY};
use glasscam::backend::{bench_backends, BenchBackends};
use glasscam::events::Ctx;
use glasscam::kernels::Compute;
use glasscam::sim::bench::{MdRow, PropensityRow};
use glasscam::sim::system::SystemDef;

/// What `glasscam bench` times.
#[derive(Subcommand)]
pub enum BenchWhat {
    /// MD throughput at N = 2000 (KAM by default) for 1, 16, 256 and 1024 replicas.
    Md {
        /// cpu, gpu or both (the CPU twin, and the GPU path when an adapter exists).
        #[arg(long, value_enum, default_value = "both")]
        backend: BenchBackends,
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
    /// CNN training and Grad-CAM images/s on the CPU's f32 backend and f64 twin (and the GPU), beside PyTorch
    /// with --torch; the time per layer with --profile.
    Nn(super::bench_nn::BenchNnArgs),
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
        #[arg(long, value_enum, default_value = "both")]
        backend: BenchBackends,
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
        #[arg(long, value_enum, default_value = "both")]
        backend: BenchBackends,
        #[arg(long, value_delimiter = ',', default_value = "1,16,256,1024")]
        replicas: Vec<usize>,
        #[arg(long, default_value = "kam")]
        system: String,
        /// Time budget per row: a row whose replicas all converge within it measures minimisations/s, the others
        /// give FIRE iterations x particles / s and derived minimisations/s.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// Graph network training and attention graphs/s (CPU f32 path and f64 twin, GPU path), beside PyTorch with
    /// --torch.
    Gnn(super::gnn::BenchGnnArgs),
    /// The propensity network: training and prediction graphs/s on the CPU and the GPU, beside PyTorch.
    Gn(super::dynamics::BenchGnArgs),
    /// Batched propensity ensemble vs `bench md` at the same replica count (particle-steps/s).
    Propensity {
        #[arg(long, value_enum, default_value = "both")]
        backend: BenchBackends,
        /// Replicas (temperatures x runs).
        #[arg(long, default_value_t = 90)]
        replicas: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// `kam`, `abm`, `ka2d` or a TOML system file.
        #[arg(long, default_value = "kam")]
        system: String,
    },
}

/// The computes of `choice`, each described on stderr.
pub fn backends(choice: BenchBackends) -> glasscam::Result<Vec<Compute>> {
    let (computes, lines) = bench_backends(choice)?;
    for line in lines {
        eprintln!("{line}");
    }
    Ok(computes)
}

/// `--seconds` of a benchmark: a finite, positive time.
fn check_seconds(seconds: f64) -> glasscam::Result<()> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 {
        Ok(())
    } else {
        Err(glasscam::Error::Input(format!(
            "--seconds {seconds}: give the seconds of timing per row, above 0 and at most a day (e.g. 3)"
        )))
    }
}

/// Replica counts of an MD benchmark on `sys`: at least one each, and each within the memory of this machine.
fn check_replicas(sys: &SystemDef, replicas: &[usize]) -> glasscam::Result<()> {
    let setup = sys.md_setup(&Default::default());
    for &r in replicas {
        if r == 0 {
            return Err(glasscam::Error::Input(
                "--replicas 0: give at least one replica per row".into(),
            ));
        }
        glasscam::sim::protocol::runner::check_memory(
            &format!("--replicas {r} (of {} particles)", setup.n),
            glasscam::sim::protocol::runner::memory_estimate(&setup, r, r, 1),
        )?;
    }
    Ok(())
}

/// A size from the command line: at least 1, and its memory (`bytes_each` per unit) within this machine's.
pub(super) fn check_size(flag: &str, value: usize, bytes_each: f64) -> glasscam::Result<()> {
    if value == 0 {
        return Err(glasscam::Error::Input(format!("{flag} 0: give at least 1")));
    }
    glasscam::sim::protocol::runner::check_memory(
        &format!("{flag} {value}"),
        value as f64 * bytes_each,
    )
}

/// Runs one benchmark and prints its table.
pub fn bench(what: BenchWhat, ctx: Ctx) -> glasscam::Result<()> {
    match what {
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
                .transpose()?;
            let sys = match &start {
                Some((s, _)) => s.clone(),
                None => SystemDef::resolve(&system)?,
            };
            check_seconds(seconds)?;
            check_replicas(&sys, &replicas)?;
            let rows = glasscam::sim::bench::bench_md(
                &sys,
                &backends(backend)?,
                &replicas,
                seconds,
                start.as_ref().map(|(_, r)| r),
            )?;
            print_md(&rows);
        }
        BenchWhat::Nn(args) => super::bench_nn::bench(&args)?,
        BenchWhat::Analysis { configs, out } => {
            // 2000 particles per configuration: positions, Voronoi cells, indicators
            check_size("--configs", configs, 2000.0 * 400.0)?;
            let r = glasscam::analysis::bench_analysis(configs, 2000, 1, out.as_deref())?;
            print_analysis(&r);
        }
        BenchWhat::Minimize {
            backend,
            replicas,
            system,
            seconds,
        } => {
            let sys = SystemDef::resolve(&system)?;
            check_seconds(seconds)?;
            check_replicas(&sys, &replicas)?;
            let b = glasscam::sim::bench::bench_minimize(
                &sys,
                &backends(backend)?,
                &replicas,
                seconds,
                &ctx,
            )?;
            println!("{} N = {}", sys.name, sys.n_particles());
            print!("{}", glasscam::sim::bench::minimize_table(&b));
        }
        BenchWhat::Gridize {
            backend,
            grid,
            particles,
            batch,
            seconds,
        } => {
            check_seconds(seconds)?;
            check_size("--grid", grid, 0.0)?;
            check_size("--particles", particles, 0.0)?;
            // per snapshot: its two-species image and its positions, as input and on the device
            check_size(
                &format!("--grid {grid} and --particles {particles} with --batch"),
                batch,
                (grid as f64 * grid as f64 * 2.0 * 4.0 + particles as f64 * 16.0) * 2.0,
            )?;
            let rows = glasscam::learn::cnn::bench::bench_gridize(
                &backends(backend)?,
                grid,
                particles,
                batch,
                seconds,
            )?;
            print!("{}", glasscam::learn::cnn::bench::gridize_table(&rows));
        }
        BenchWhat::Gnn(args) => super::gnn::bench(&args)?,
        BenchWhat::Gn(args) => super::dynamics::bench(&args)?,
        BenchWhat::Propensity {
            backend,
            replicas,
            seconds,
            system,
        } => {
            check_seconds(seconds)?;
            check_replicas(&SystemDef::kam(), &[replicas])?;
            let rows = glasscam::sim::bench::bench_propensity(
                &SystemDef::resolve(&system)?,
                &backends(backend)?,
                replicas,
                seconds,
            )?;
            print_propensity(&rows);
        }
    }
    Ok(())
}

/// The analysis table: median and minimum per stage, then the all-core throughput.
fn print_analysis(r: &BenchReport) {
    println!(
        "analysis bench: {} configurations of {} particles (density {BENCH_DENSITY}, seed {})",
        r.n_configs, r.n_particles, r.seed
    );
    println!(
        "{:<28} {:>10} {:>10}",
        "stage (1 thread)", "median ms", "min ms"
    );
    for (name, med, min) in [
        ("Voronoi (periodic)", r.voronoi_s, r.min_s[0]),
        ("Tong-Tanaka", r.tong_tanaka_s, r.min_s[1]),
        ("coarse-graining (2 fields)", r.coarse_grain_s, r.min_s[2]),
        ("total", r.total_s, r.min_s[3]),
    ] {
        println!("{name:<28} {:>10.3} {:>10.3}", 1e3 * med, 1e3 * min);
    }
    println!(
        "all cores ({} threads, full analyse_config incl. normalise + correlations): {:.1} configurations/s",
        r.threads, r.configs_per_s
    );
}

/// The md table: one line per replica count and backend, each with its ratio to the CPU twin's row of that count.
fn print_md(rows: &[MdRow]) {
    println!(
        "{:<8} {:>9} {:>10} {:>7} {:>9} {:>16} {:>12}",
        "backend", "replicas", "particles", "steps", "seconds", "particle-steps/s", "vs cpu twin"
    );
    for r in rows {
        let cpu = rows
            .iter()
            .find(|c| c.backend == "cpu" && c.replicas == r.replicas);
        let ratio = cpu.map_or("-".to_string(), |c| {
            format!("{:.2}x", r.particle_steps_per_s / c.particle_steps_per_s)
        });
        println!(
            "{:<8} {:>9} {:>10} {:>7} {:>9.2} {:>16.3e} {:>12}",
            r.backend, r.replicas, r.particles, r.steps, r.seconds, r.particle_steps_per_s, ratio
        );
    }
}

/// The propensity table: the ensemble's rate beside `bench md`'s at the same replica count.
fn print_propensity(rows: &[PropensityRow]) {
    println!(
        "{:<8} {:>9} {:>18} {:>18} {:>8}",
        "backend", "replicas", "bench md p-s/s", "propensity p-s/s", "ratio"
    );
    for r in rows {
        println!(
            "{:<8} {:>9} {:>18.3e} {:>18.3e} {:>7.2}x",
            r.backend,
            r.replicas,
            r.md_particle_steps_per_s,
            r.propensity_particle_steps_per_s,
            r.propensity_particle_steps_per_s / r.md_particle_steps_per_s
        );
    }
}
