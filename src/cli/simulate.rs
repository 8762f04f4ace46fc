//! `glasscam simulate` and `glasscam minimize`: arguments, console lines, and the calls to the protocol runner
//! and to FIRE.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use glasscam::events::Ctx;
use glasscam::io::dataset::{Dataset, MANIFEST};
use glasscam::kernels::BackendChoice;
use glasscam::sim::minimize::{self as mz, MinimizeSettings, Selection};
use glasscam::sim::protocol::{self, Overrides, RunOptions};
use glasscam::sim::system::SystemDef;

use super::select_compute;

/// `glasscam simulate`
#[derive(Args)]
pub struct SimulateArgs {
    /// `abm`, `kam`, `ka2d` or a TOML system file.
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

/// `glasscam minimize`
#[derive(Args)]
pub struct MinimizeArgs {
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

/// `k/n` of `--shard`.
fn shard(text: &str, replicas: usize) -> glasscam::Result<std::ops::Range<usize>> {
    let parsed = text.split_once('/').and_then(|(k, n)| {
        Some((
            k.trim().parse::<usize>().ok()?,
            n.trim().parse::<usize>().ok()?,
        ))
    });
    let (k, n) = parsed.ok_or_else(|| {
        glasscam::Error::Input(format!("--shard {text}: write it as k/n, e.g. 0/8"))
    })?;
    protocol::shard_range(k, n, replicas)
}

pub fn simulate(a: SimulateArgs, ctx: Ctx) -> glasscam::Result<()> {
    let sys = SystemDef::resolve(&a.system)?;
    let overrides = Overrides {
        replicas: a.replicas,
        cool_rate: a.cool_rate,
        equilibrate_time: a.equilibrate_time,
        hold_time: a.hold_time,
        dt: a.dt,
        temps: a.temps,
        t_start: a.t_start,
        ramp_snapshots: a.ramp_snapshots,
    };
    let proto = overrides.apply(&a.preset, &sys)?;
    let compute = select_compute(a.backend)?;
    let mut opts = RunOptions::new(&a.out, a.seed, compute);
    opts.resume = a.resume;
    opts.force = a.force;
    opts.checkpoint_every = protocol::checkpoint_interval(a.checkpoint_every)?;
    opts.chunk = a.chunk;
    if let Some(sh) = &a.shard {
        opts.replicas = Some(shard(sh, proto.replicas)?);
    }
    let legs = proto.schedule(&sys)?;
    let steps: u64 = legs.iter().map(|s| s.segment.len).sum();
    eprintln!(
        "simulate: {} (N = {}, L = {:.3}), {} replicas, {} steps each (equilibrate {} at T = {}, cool at {} per time unit), seed {}",
        sys.name,
        sys.n_particles(),
        sys.box_l(),
        proto.replicas,
        steps,
        legs[0].segment.len,
        proto.t_start,
        proto.cool_rate,
        a.seed
    );
    let finished_before = a.out.join(MANIFEST).exists() && a.resume && !a.force;
    let t0 = Instant::now();
    let m = protocol::run(&sys, &proto, &opts, &ctx)?;
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
        let data = Dataset::load(&a.out)?;
        let inh = mz::minimize(
            &data,
            &Selection::All,
            &MinimizeSettings::default(),
            &opts.compute,
            &ctx,
        )?;
        mz::write_inherent(&a.out.join(mz::INHERENT_DIR), &inh, true)?;
        eprintln!(
            "inherent structures of all {} snapshots in {} ({} not converged)",
            inh.info.snapshots.len(),
            a.out.join(mz::INHERENT_DIR).display(),
            inh.info.not_converged.len()
        );
    }
    Ok(())
}

pub fn minimize(a: MinimizeArgs, ctx: Ctx) -> glasscam::Result<()> {
    let settings = MinimizeSettings {
        ftol: a.ftol,
        max_iter: a.max_iter,
        batch: a.batch,
    };
    settings.check()?;
    let selection = Selection::parse(&a.snapshots)?;
    glasscam::io::outdir::no_overwrite(&a.out.join(mz::INHERENT), a.force, "inherent structures")?;
    let data = Dataset::load(&a.data)?;
    let compute = select_compute(a.backend)?;
    let t0 = Instant::now();
    let inh = mz::minimize(&data, &selection, &settings, &compute, &ctx)?;
    mz::write_inherent(&a.out, &inh, a.force)?;
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
