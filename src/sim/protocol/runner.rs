//! Runs a protocol's schedule for many replicas, in chunks that fit the device, into a data set: checkpoints
//! every few minutes and on a cancel, exact `--resume` after any kill, "already complete" for a finished run,
//! blown-up replicas reported and left out, and memory and time estimated up front.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, Failure, MdBackend, MdSetup, Replicas};
use glasscam_kernels::Compute;

use super::checkpoint::{self, Checkpoint, ChunkResult, RunKey, ThermoRecord};
use super::schedule::{Leg, Protocol};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::{
    read_manifest, Dataset, FailedReplica, Manifest, SnapshotMeta, FORMAT_VERSION, MANIFEST,
};
use crate::io::outdir::OutDir;
use crate::sim::system::SystemDef;

/// The scratch directory of an unfinished run inside its output directory.
pub const PARTIAL: &str = ".partial";
/// Where a new run's scratch directory is prepared before it is switched in (so `.partial` always holds its
/// `run.json`).
const PARTIAL_NEW: &str = ".partial.new";

/// How to run: where, on what, how often to checkpoint.
#[derive(Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub seed: u64,
    pub compute: Compute,
    /// Continue an unfinished run in `out`, or confirm a finished one ("already complete"); a run with other
    /// settings is refused.
    pub resume: bool,
    /// Replace a finished data set or an unfinished run with other settings in `out`.
    pub force: bool,
    /// Time between checkpoints (zero: after every call into the MD backend).
    pub checkpoint_every: Duration,
    /// Replicas per chunk; default: what fits the device (GPU) or all of them (CPU).
    pub chunk: Option<usize>,
    /// Global replica indices to run (a shard of the whole run); default all.
    pub replicas: Option<std::ops::Range<usize>>,
    /// Stop (with a checkpoint, as if interrupted) once this many steps of a chunk are done: for tests.
    pub stop_after_steps: Option<u64>,
    /// Further devices that run chunks at the same time as `compute`, one host thread each (`--adapters`). The
    /// chunks are the same, so the data set is byte-identical to a one-device run's.
    pub more_devices: Vec<Compute>,
}

impl RunOptions {
    pub fn new(out: &Path, seed: u64, compute: Compute) -> RunOptions {
        RunOptions {
            out: out.to_path_buf(),
            seed,
            compute,
            resume: false,
            force: false,
            checkpoint_every: Duration::from_secs(300),
            chunk: None,
            replicas: None,
            stop_after_steps: None,
            more_devices: Vec::new(),
        }
    }
}

/// The checkpoint interval for `seconds` (`--checkpoint-every`): finite and >= 0, refused otherwise (a NaN or
/// an infinity is no interval, and nothing is silently rounded to another one).
pub fn checkpoint_interval(seconds: f64) -> Result<Duration> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err(Error::Input(format!(
            "`checkpoint_every` {seconds}: give seconds >= 0 (0 checkpoints after every call into the MD backend)"
        )));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        Error::Input(format!(
            "`checkpoint_every` {seconds}: give a finite number of seconds (at most {:.0e}; 86400 is a day)",
            Duration::MAX.as_secs_f64()
        ))
    })
}

/// The one MD backend factory: the CPU twin or the GPU path for `setup`.
pub fn md_backend(compute: &Compute, setup: &MdSetup) -> Result<Box<dyn MdBackend>> {
    Ok(match compute {
        Compute::Cpu => Box::new(CpuMd::new(setup.clone())?),
        Compute::Gpu(ctx) => Box::new(GpuMd::new(ctx.clone(), setup.clone())?),
    })
}

/// Neighbour-list entries per particle to plan for: the backend's starting capacity with room to grow 1.5x on
/// overflow (one capacity model: `MdSetup::list_capacities`).
fn neighbours_per_particle(setup: &MdSetup) -> f64 {
    setup.list_capacities().1 as f64 * 1.5
}

/// Device bytes per replica in the largest buffer, the neighbour list.
fn device_bytes_per_replica(setup: &MdSetup) -> f64 {
    neighbours_per_particle(setup) * 4.0 * setup.n as f64
}

/// Particles per CPU chunk: one step of a chunk stays well under a second, so the first call into the backend
/// (one step) already leaves a cancel responsive, and host memory stays bounded whatever the replica count.
const CPU_CHUNK_PARTICLES: usize = 1 << 22;

/// Replicas per chunk: what fits the device (GPU), or about 4 million particles (CPU).
pub fn default_chunk(compute: &Compute, setup: &MdSetup, total: usize) -> usize {
    match compute {
        Compute::Cpu => (CPU_CHUNK_PARTICLES / setup.n.max(1)).clamp(1, total.max(1)),
        Compute::Gpu(ctx) => {
            let fit = (ctx.max_binding() as f64 / device_bytes_per_replica(setup)).floor() as usize;
            let max_wg = ctx.limits.max_compute_workgroups_per_dimension as usize;
            fit.clamp(1, max_wg).min(total.max(1))
        }
    }
}

/// Host memory a run needs at its peak, in bytes: one chunk's state, its snapshots and neighbour lists (the data
/// set's positions are written one chunk at a time, so it never needs more than one chunk's snapshots), and the
/// records of every snapshot, which the manifest holds in memory and as JSON text while it is written.
pub fn memory_estimate(
    setup: &MdSetup,
    chunk: usize,
    total: usize,
    snapshots_per_replica: usize,
) -> f64 {
    let n = setup.n as f64;
    // pos, vel, img, force, a backup copy for a checkpoint download
    let state = chunk as f64 * n * (16.0 + 16.0 + 8.0 + 16.0) * 2.0;
    // a neighbour-list entry: 4 bytes on the GPU, 12 in the CPU twin (index plus per-pair terms); count the larger
    let nbr = chunk as f64 * n * neighbours_per_particle(setup) * 12.0;
    let snaps = (chunk.min(total) * snapshots_per_replica) as f64 * n * 16.0;
    // a record (~100 B), its pretty JSON (~230 B) and the copy read back to check it
    let records = (total * snapshots_per_replica) as f64 * 512.0;
    state + nbr + snaps + records
}

/// Refuses a request taken from the user (`what`, e.g. "`replicas` 1000000000") that needs `need` bytes of host
/// memory when the system has less available, saying what it would need, before anything is allocated.
pub fn check_memory(what: &str, need: f64) -> Result<()> {
    let avail = available_memory().unwrap_or(f64::INFINITY);
    if !need.is_finite() || need > 0.9 * avail {
        return Err(Error::Input(format!(
            "{what} needs about {} of memory but {} are available; ask for less",
            if need.is_finite() {
                gib(need)
            } else {
                "more than any machine has".to_string()
            },
            gib(avail)
        )));
    }
    Ok(())
}

/// Memory the system reports as available, if it says (Linux).
fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
}

/// Lists what differs between two records (as JSON), e.g. `seed: 1 then, 2 now`, at most `max` entries.
fn differences(
    then: &serde_json::Value,
    now: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (then, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                differences(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &p,
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} then, {b} now")),
        _ => {}
    }
}

fn describe_differences<T: serde::Serialize>(then: &T, now: &T) -> String {
    let (a, b) = (serde_json::to_value(then), serde_json::to_value(now));
    let mut d = Vec::new();
    if let (Ok(a), Ok(b)) = (a, b) {
        differences(&a, &b, "", &mut d);
    }
    let more = d.len().saturating_sub(4);
    d.truncate(4);
    let mut s = d.join("; ");
    if more > 0 {
        s.push_str(&format!("; and {more} more"));
    }
    s
}

/// What a finished data set says about the run that made it, in the shape `RunKey` compares.
#[derive(serde::Serialize, PartialEq)]
struct Outcome<'a> {
    system: &'a SystemDef,
    protocol: serde_json::Value,
    seed: u64,
    replicas: (usize, usize),
}

/// What a run is, worked out before anything is written: the MD setup and schedule, the replicas and their
/// chunks, the key a checkpoint must match, and the memory it needs.
struct Plan {
    setup: MdSetup,
    legs: Vec<Leg>,
    temps: Vec<(f64, crate::domain::Class)>,
    range: std::ops::Range<usize>,
    chunk: usize,
    n_chunks: usize,
    key: RunKey,
    protocol_value: serde_json::Value,
    /// Snapshots per replica.
    per_replica: usize,
    /// Bytes of memory at the peak.
    need: f64,
}

impl Plan {
    /// The plan of `proto` for `sys` under `opts`; a run that cannot fit in memory is refused up front.
    fn of(sys: &SystemDef, proto: &Protocol, opts: &RunOptions) -> Result<Plan> {
        let setup = sys.md_setup(&proto.md);
        setup.check()?;
        let legs = proto.schedule(sys)?;
        let temps = proto.snapshot_temps(sys)?;
        let range = opts.replicas.clone().unwrap_or(0..proto.replicas);
        if range.end > proto.replicas {
            return Err(Error::Input(format!(
                "replicas {}..{} lie outside the run's {} replicas",
                range.start, range.end, proto.replicas
            )));
        }
        let total = range.len();
        if total == 0 {
            return Err(Error::Input(format!(
                "no replicas to run: the replica range {}..{} is empty; give a non-empty range of the run's {} replicas",
                range.start, range.end, proto.replicas
            )));
        }
        // several devices share the replicas; the chunks hold the same replicas' results whatever their size
        let devices = 1 + opts.more_devices.len();
        let chunk = opts
            .chunk
            .unwrap_or_else(|| {
                default_chunk(&opts.compute, &setup, total).min(total.div_ceil(devices))
            })
            .max(1);
        let key = RunKey {
            state_version: checkpoint::STATE_VERSION,
            system: sys.clone(),
            protocol: proto.clone(),
            seed: opts.seed,
            replicas: (range.start, range.end),
            chunk,
        };
        let protocol_value =
            serde_json::to_value(proto).map_err(|e| Error::Input(e.to_string()))?;
        let per_replica = legs.iter().filter(|s| s.snapshot.is_some()).count();
        let need = memory_estimate(&setup, chunk, total, per_replica);
        if let Some(avail) = available_memory() {
            if need > 0.9 * avail {
                return Err(Error::Input(format!(
                    "this run needs about {} of memory at its peak but {} are available; split it with \
                     `shard` k/n (each shard needs less) and join the shards with `glasscam merge`, or use fewer \
                     `replicas`",
                    gib(need),
                    gib(avail)
                )));
            }
        }
        Ok(Plan {
            n_chunks: total.div_ceil(chunk),
            setup,
            legs,
            temps,
            range,
            chunk,
            key,
            protocol_value,
            per_replica,
            need,
        })
    }

    /// The replicas of chunk `c`.
    fn chunk_replicas(&self, c: usize) -> std::ops::Range<usize> {
        let lo = self.range.start + c * self.chunk;
        lo..(lo + self.chunk).min(self.range.end)
    }
}

/// Runs the protocol and writes the data set to `opts.out`. Returns the manifest. Progress goes to
/// `ctx.observer`; a cancel through `ctx.cancel` writes a checkpoint and returns `Error::Interrupted`.
pub fn run(
    sys: &SystemDef,
    proto: &Protocol,
    opts: &RunOptions,
    ctx: &Ctx<'_>,
) -> Result<Manifest> {
    let plan = Plan::of(sys, proto, opts)?;
    let mut out = match OutDir::lock(&opts.out) {
        Ok(out) => out,
        // a finished data set where the lock file cannot be written (a read-only directory; not one in use by
        // another process, which is refused): `resume` only reads
        Err(e)
            if !matches!(e, Error::Input(_))
                && opts.resume
                && !opts.force
                && opts.out.join(MANIFEST).exists() =>
        {
            let m = compare_finished(sys, &plan, opts)?;
            note_complete(opts, &m, ctx);
            return Ok(m);
        }
        Err(e) => return Err(e),
    };
    let part = opts.out.join(PARTIAL);
    if let Some(done) = finished(&mut out, &part, sys, &plan, opts, ctx)? {
        return Ok(done);
    }
    prepare_scratch(&mut out, &part, &plan, opts, ctx)?;
    run_chunks(&plan, opts, &part, ctx)?;
    assemble(&mut out, &part, sys, proto, &plan, opts, ctx)
}

/// A data set already in `opts.out`: with `resume` and the same settings, the finished run's manifest (nothing to
/// do); with `force`, `None` (it is replaced); otherwise refused with what to do.
fn finished(
    out: &mut OutDir,
    part: &Path,
    sys: &SystemDef,
    plan: &Plan,
    opts: &RunOptions,
    ctx: &Ctx<'_>,
) -> Result<Option<Manifest>> {
    if !opts.out.join(MANIFEST).exists() {
        return Ok(None);
    }
    if opts.force {
        ctx.note(&format!(
            "{}: `force`: replacing the data set there",
            opts.out.display()
        ));
        return Ok(None);
    }
    if !opts.resume {
        return Err(Error::Input(format!(
            "{} already holds a data set; add `resume` to confirm it is complete (nothing is recomputed), \
             use `force` to overwrite it, or choose another `out`",
            opts.out.display()
        )));
    }
    let m = compare_finished(sys, plan, opts)?;
    // A kill during the final clean-up can leave the finished run's scratch behind: it is ours.
    if part.exists() {
        out.adopt(part)?;
        out.remove_dir(part)?;
    }
    note_complete(opts, &m, ctx);
    Ok(Some(m))
}

/// The finished data set in `opts.out` when it was made with these settings; other settings are refused by
/// name. Reads only.
fn compare_finished(sys: &SystemDef, plan: &Plan, opts: &RunOptions) -> Result<Manifest> {
    let m = read_manifest(&opts.out)?;
    let then = Outcome {
        system: &m.system,
        protocol: m.protocol.clone(),
        seed: m.seed,
        replicas: m.replica_range,
    };
    let now = Outcome {
        system: sys,
        protocol: plan.protocol_value.clone(),
        seed: opts.seed,
        replicas: (plan.range.start, plan.range.end),
    };
    if then != now {
        return Err(Error::Input(format!(
            "`resume`: {} holds a finished data set made with other settings ({}); rerun with the original \
             settings, use `force` to overwrite it, or choose another `out`",
            opts.out.display(),
            describe_differences(&then, &now)
        )));
    }
    Ok(m)
}

fn note_complete(opts: &RunOptions, m: &Manifest, ctx: &Ctx<'_>) {
    ctx.note(&format!(
        "{}: already complete ({} snapshots of {} replicas); nothing to do",
        opts.out.display(),
        m.snapshots.len(),
        m.n_replicas
    ));
}

/// The scratch directory `part` of this run: an unfinished run with the same settings is continued on `resume`,
/// discarded on `force`, refused otherwise; a fresh one is switched in with its `run.json`.
fn prepare_scratch(
    out: &mut OutDir,
    part: &Path,
    plan: &Plan,
    opts: &RunOptions,
    ctx: &Ctx<'_>,
) -> Result<()> {
    if part.exists() {
        let old = if opts.force {
            checkpoint::load_key(part).ok()
        } else {
            Some(checkpoint::load_key(part)?)
        };
        let same = old.as_ref() == Some(&plan.key);
        if same && opts.resume {
            return out.adopt(part);
        } else if opts.force {
            ctx.note(&format!(
                "`force`: discarding the unfinished run in {}",
                part.display()
            ));
            out.adopt(part)?;
            out.remove_dir(part)?;
        } else if same {
            return Err(Error::Input(format!(
                "{} holds an unfinished run of these settings; add `resume` to continue it, or `force` to start \
                 it over",
                opts.out.display()
            )));
        } else {
            let what = old
                .map(|o| describe_differences(&o, &plan.key))
                .unwrap_or_default();
            return Err(Error::Input(format!(
                "{} holds an unfinished run started with other settings ({what}); rerun with the original ones \
                 and `resume`, use `force` to discard it, or choose another `out`",
                opts.out.display()
            )));
        }
    }
    // Prepare the scratch directory beside its final name and switch it in with one rename, so `.partial`
    // never exists without its run.json. A leftover `.partial.new` is an earlier start killed here.
    let new = opts.out.join(PARTIAL_NEW);
    if new.exists() {
        out.adopt(&new)?;
        out.remove_dir(&new)?;
    }
    let new = out.create_dir(PARTIAL_NEW)?;
    crate::io::json::write_json_atomic(&new.join(checkpoint::RUN_KEY), &plan.key)?;
    crate::io::outdir::rename(&new, part)?;
    out.adopt(part)
}

/// Every chunk not finished before (a finished one that does not read back whole is run again), in order, on
/// `opts.compute` and any `opts.more_devices` at once (one host thread each), with progress over the whole run.
fn run_chunks(plan: &Plan, opts: &RunOptions, part: &Path, ctx: &Ctx<'_>) -> Result<()> {
    let (setup, total) = (&plan.setup, plan.range.len());
    let steps_per_replica: u64 = plan.legs.iter().map(|s| s.segment.len).sum();
    ctx.note(&format!(
        "{} replicas in {} chunk(s) of up to {}; about {} of memory at the peak; data set {}",
        total,
        plan.n_chunks,
        plan.chunk,
        gib(plan.need),
        gib((total * plan.per_replica) as f64 * setup.n as f64 * 8.0)
    ));
    ctx.observer.event(Event::Begin {
        what: "replica-steps",
        total: steps_per_replica * total as u64,
    });
    let clock = std::sync::Mutex::new(Clock::new(
        steps_per_replica * total as u64 * setup.n as u64,
    ));
    let mut todo = Vec::new();
    for c in 0..plan.n_chunks {
        let reps = plan.chunk_replicas(c);
        let file = part.join(checkpoint::chunk_file(c));
        if file.exists() {
            match checkpoint::load_chunk(part, c, setup.n, reps.clone()) {
                Ok(_) => {
                    let done = steps_per_replica * reps.len() as u64;
                    ctx.observer.event(Event::Advance(done));
                    lock(&clock).skip(done * setup.n as u64);
                    continue;
                }
                Err(e) => {
                    ctx.warn(&format!(
                        "chunk {} of {} is damaged ({e}); running that chunk again, the others are kept",
                        c + 1,
                        plan.n_chunks
                    ));
                    std::fs::remove_file(&file).at(&file)?;
                }
            }
        }
        todo.push(c);
    }
    let first = todo.first().copied();
    let job = |c: usize, compute: &Compute| {
        let reps = plan.chunk_replicas(c);
        ctx.observer.event(Event::Status(&format!(
            "{}/{} (replicas {}..{})",
            c + 1,
            plan.n_chunks,
            reps.start,
            reps.end
        )));
        run_chunk(
            &ChunkJob {
                setup,
                legs: &plan.legs,
                opts,
                compute,
                c,
                n_chunks: plan.n_chunks,
                replicas: reps,
                part,
                announce: Some(c) == first,
            },
            ctx,
            &clock,
        )
    };
    let devices: Vec<&Compute> = std::iter::once(&opts.compute)
        .chain(&opts.more_devices)
        .collect();
    let r = on_devices(&todo, &devices, &job).map(|_| ());
    ctx.observer.event(Event::End);
    r
}

/// `job` for every item of `todo`, on `devices` at once, one host thread per device, each taking the next item
/// not yet started (on one device: in order, on this thread); the results in the order of `todo`. A failure
/// stops the other devices after their item; an error other than an interrupt is the one returned.
pub(crate) fn on_devices<T: Send>(
    todo: &[usize],
    devices: &[&Compute],
    job: &(dyn Fn(usize, &Compute) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    if let [compute] = devices {
        return todo.iter().map(|&c| job(c, compute)).collect();
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let slots: Vec<std::sync::Mutex<Option<T>>> =
        todo.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = devices
            .iter()
            .map(|&compute| {
                let (next, stop, slots) = (&next, &stop, &slots);
                s.spawn(move || -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= todo.len() || stop.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                        match job(todo[i], compute) {
                            Ok(t) => *lock(&slots[i]) = Some(t),
                            Err(e) => {
                                stop.store(true, Ordering::SeqCst);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Input("a device's host thread panicked".into())))
            })
            .collect()
    });
    let mut first: Option<Error> = None;
    for e in results.into_iter().filter_map(|r| r.err()) {
        let replace = match &first {
            None => true,
            Some(Error::Interrupted) => !matches!(e, Error::Interrupted),
            Some(_) => false,
        };
        if replace {
            first = Some(e);
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    let out: Vec<T> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect();
    if out.len() != todo.len() {
        return Err(Error::Input(
            "a device stopped without a result or an error".into(),
        ));
    }
    Ok(out)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Joins the chunks into the data set: their records first, then their positions streamed into positions.npy
/// one chunk at a time, so the whole data set is never in memory.
fn assemble(
    out: &mut OutDir,
    part: &Path,
    sys: &SystemDef,
    proto: &Protocol,
    plan: &Plan,
    opts: &RunOptions,
    ctx: &Ctx<'_>,
) -> Result<Manifest> {
    let (n, total) = (plan.setup.n, plan.range.len());
    let mut snapshots = Vec::new();
    let mut failed = Vec::new();
    let mut backends: Vec<String> = Vec::new();
    for c in 0..plan.n_chunks {
        let (meta, _) = checkpoint::load_chunk(part, c, n, plan.chunk_replicas(c))?;
        for mut m in meta.snapshots {
            m.index = snapshots.len();
            snapshots.push(m);
        }
        failed.extend(meta.failed);
        for b in meta.backends {
            if !backends.contains(&b) {
                backends.push(b);
            }
        }
    }
    if !failed.is_empty() {
        let summary = failure_summary(&failed, total, proto, sys);
        if failed.len() >= total {
            // nothing to write: an empty data set would read as a result
            out.remove_dir(part)?;
            return Err(Error::Input(format!(
                "simulate: {summary}; no data set was written"
            )));
        }
        ctx.warn(&format!(
            "{summary}; they are left out (manifest.json lists them)"
        ));
    }
    let backend = match backends.as_slice() {
        [one] => one.clone(),
        many => {
            ctx.warn(&format!(
                "parts of this run ran on different backends ({}); the manifest says so and `merge` refuses it",
                many.join(", ")
            ));
            format!("{}{}", crate::io::dataset::MIXED, many.join(" + "))
        }
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        system: sys.clone(),
        protocol: plan.protocol_value.clone(),
        seed: opts.seed,
        n_particles: n,
        box_l: plan.setup.box_l,
        n_replicas: total,
        replica_range: (plan.range.start, plan.range.end),
        snapshot_temps: plan.temps.iter().map(|t| t.0).collect(),
        backend,
        failed,
        snapshots,
    };
    Dataset::write_with(&opts.out, &manifest, &plan.setup.species, |sink| {
        for c in 0..plan.n_chunks {
            let (_, pos) = checkpoint::load_chunk(part, c, n, plan.chunk_replicas(c))?;
            crate::io::dataset::store(sink, &pos)?;
        }
        Ok(())
    })?;
    out.remove_dir(part)?;
    Ok(manifest)
}

/// "3 x cause a, 1 x cause b": how often each cause occurs, in order of first occurrence.
pub fn tally<'a>(causes: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in causes {
        match counts.iter_mut().find(|(x, _)| *x == c) {
            Some((_, k)) => *k += 1,
            None => counts.push((c, 1)),
        }
    }
    counts
        .iter()
        .map(|(c, k)| format!("{k} x {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "k of n replicas blew up (cause: replica r at step s, ...)" and, when most did, what usually causes it.
pub fn failure_summary(
    failed: &[FailedReplica],
    total: usize,
    proto: &Protocol,
    sys: &SystemDef,
) -> String {
    let first = &failed[0];
    let mut s = format!(
        "{} of {total} replicas blew up ({}; the first, replica {}, at step {})",
        failed.len(),
        tally(failed.iter().map(|f| f.cause.as_str())),
        first.replica,
        first.step
    );
    if 2 * failed.len() >= total {
        s.push_str(&format!(
            "; most replicas failing points at the settings: a time step too large for the system (dt {}, try \
             half), a start temperature too high ({}), or a density or sigma in other units than the system's \
             (density {}, box side {:.4})",
            proto.md.dt,
            proto.t_start,
            sys.density,
            sys.box_l()
        ));
    }
    s
}

/// Measures the MD rate and says once how long the rest will take.
struct Clock {
    total: u64,
    done: u64,
    start: Option<(Instant, u64)>,
    said: bool,
}

impl Clock {
    fn new(total_particle_steps: u64) -> Clock {
        Clock {
            total: total_particle_steps,
            done: 0,
            start: None,
            said: false,
        }
    }

    fn skip(&mut self, n: u64) {
        self.done += n;
    }

    fn tick(&mut self, n: u64, ctx: &Ctx<'_>) {
        let (t0, d0) = *self.start.get_or_insert((Instant::now(), self.done));
        self.done += n;
        let secs = t0.elapsed().as_secs_f64();
        if !self.said && secs >= 2.0 {
            self.said = true;
            let rate = (self.done - d0) as f64 / secs;
            let left = self.total.saturating_sub(self.done) as f64 / rate.max(1e-9);
            ctx.note(&format!(
                "measured {rate:.3e} particle-steps/s: about {} of MD left",
                human_time(left)
            ));
        }
    }
}

fn human_time(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
}

/// Seconds one call into the backend should take: short enough that a cancel is seen within about a second,
/// shorter still when checkpoints are due more often.
fn call_target(checkpoint_every: Duration) -> f64 {
    (checkpoint_every.as_secs_f64() / 2.0).clamp(0.02, 0.5)
}

/// Where a chunk is: the leg it is in, the steps done of that leg and in all, and what it has taken so far.
struct ChunkState {
    leg: usize,
    seg_done: u64,
    step: u64,
    snapshots: Vec<SnapshotMeta>,
    snap_pos: Vec<f64>,
    failed: Vec<FailedReplica>,
    backends: Vec<String>,
}

/// One chunk of a run: its index and replicas, with what every chunk shares.
struct ChunkJob<'a> {
    setup: &'a MdSetup,
    legs: &'a [Leg],
    opts: &'a RunOptions,
    /// The device this chunk runs on (`opts.compute` or one of `opts.more_devices`).
    compute: &'a Compute,
    c: usize,
    n_chunks: usize,
    replicas: std::ops::Range<usize>,
    /// The run's scratch directory.
    part: &'a Path,
    /// Whether this chunk is the first to run: its set-up (starts, buffers) precedes the first MD progress, and
    /// at 1e5 replicas it takes minutes, so it says what it does.
    announce: bool,
}

/// The chunk's state and replicas: from its checkpoint when there is one, else fresh random starts.
fn start_chunk(job: &ChunkJob, ctx: &Ctx<'_>) -> Result<(ChunkState, Replicas)> {
    let expect = checkpoint::Expect {
        chunk: job.c,
        replicas: job.replicas.clone(),
        legs: job.legs,
    };
    let identity = job.compute.identity();
    let (mut state, start) = match checkpoint::load(job.part, job.setup.n, &expect)? {
        Some((cp, reps, snaps)) => {
            ctx.note(&format!(
                "resuming chunk {} at step {} from its checkpoint",
                job.c + 1,
                cp.step
            ));
            let state = ChunkState {
                leg: cp.stage,
                seg_done: cp.seg_done,
                step: cp.step,
                snapshots: cp.snapshots,
                snap_pos: snaps,
                failed: cp.failed,
                backends: cp.backends,
            };
            (state, reps)
        }
        None => {
            let t = job.legs[0].segment.t_from;
            let target = call_target(job.opts.checkpoint_every);
            if job.announce {
                ctx.note(&format!(
                    "setting up chunk {}/{}: the initial configurations of {} replicas, then the MD's buffers",
                    job.c + 1,
                    job.n_chunks,
                    job.replicas.len()
                ));
            }
            let state = ChunkState {
                leg: 0,
                seg_done: 0,
                step: 0,
                snapshots: Vec::new(),
                snap_pos: Vec::new(),
                failed: Vec::new(),
                backends: Vec::new(),
            };
            (
                state,
                fresh_replicas(
                    job.setup,
                    job.opts.seed,
                    job.replicas.clone(),
                    (t, target),
                    job.announce,
                    ctx,
                )?,
            )
        }
    };
    if !state.backends.contains(&identity) {
        state.backends.push(identity);
    }
    Ok((state, start))
}

/// Runs chunk `c` (replicas `replicas`) through the schedule, from its checkpoint if it has one: calls into the
/// MD backend sized by time, each replica that blows up reported once, the snapshots at the ends of their legs,
/// a checkpoint when one is due or a cancel comes; then the chunk's file.
fn run_chunk(job: &ChunkJob, ctx: &Ctx<'_>, clock: &std::sync::Mutex<Clock>) -> Result<()> {
    let ChunkJob {
        setup,
        legs,
        opts,
        compute,
        c,
        ref replicas,
        part,
        ..
    } = *job;
    let n = setup.n;
    let count = replicas.len();
    let set_up = Instant::now();
    let (mut state, start) = start_chunk(job, ctx)?;
    ctx.observer
        .event(Event::Advance(state.step * count as u64));
    lock(clock).skip(state.step * (count * n) as u64);
    // replicas that failed before the checkpoint we resumed from are in `failed` already
    let mut reported: Vec<bool> = start.thermo.iter().map(|t| t.status != 0).collect();
    let mut md = md_backend(compute, setup)?;
    md.upload(&start)?;
    drop(start);
    if job.announce {
        ctx.note(&format!(
            "chunk {}/{} set up in {:.1} s; the MD begins",
            c + 1,
            job.n_chunks,
            set_up.elapsed().as_secs_f64()
        ));
    }
    let mut last_checkpoint = Instant::now();
    // Steps per call, sized by time: the first call is one step (at 1e5 replicas even that takes a while),
    // later ones aim at `call_target` seconds, growing at most 4x per call.
    let target = call_target(opts.checkpoint_every);
    let mut batch: u64 = 1;
    let steps_this_call_start = state.step;
    while state.leg < legs.len() {
        let st = &legs[state.leg];
        if state.seg_done < st.segment.len {
            let mut steps = batch.min(st.segment.len - state.seg_done);
            if let Some(s) = opts.stop_after_steps {
                steps = steps.min(s.saturating_sub(state.step - steps_this_call_start).max(1));
            }
            let t0 = Instant::now();
            md.advance(&Advance {
                segment: st.segment,
                seg_done: state.seg_done,
                step0: state.step,
                steps,
            })?;
            state.seg_done += steps;
            state.step += steps;
            ctx.observer.event(Event::Advance(steps * count as u64));
            lock(clock).tick(steps * (count * n) as u64, ctx);
            let per_step = t0.elapsed().as_secs_f64().max(1e-7) / steps as f64;
            batch = ((target / per_step) as u64).clamp(1, batch.saturating_mul(4).max(4));
        }
        let interrupted = ctx.cancel.is_cancelled()
            || opts
                .stop_after_steps
                .is_some_and(|s| state.step - steps_this_call_start >= s);
        let at_end = state.seg_done >= st.segment.len;
        let due = last_checkpoint.elapsed() >= opts.checkpoint_every;
        if !(at_end || interrupted || due) {
            continue;
        }
        let reps = md.download()?;
        report_failures(&reps, &mut reported, replicas.start, &mut state.failed, ctx);
        if at_end {
            if let Some(class) = st.snapshot {
                take_snapshot(
                    setup,
                    &reps,
                    class,
                    state.step,
                    st.segment.t_to,
                    replicas.start,
                    &mut state.snapshots,
                    &mut state.snap_pos,
                );
            }
            state.leg += 1;
            state.seg_done = 0;
        }
        if (interrupted || due) && state.leg < legs.len() {
            let cp = Checkpoint {
                chunk: c,
                stage: state.leg,
                seg_done: state.seg_done,
                step: state.step,
                thermo: reps.thermo.iter().map(ThermoRecord::from).collect(),
                snapshots: state.snapshots.clone(),
                failed: state.failed.clone(),
                backends: state.backends.clone(),
            };
            checkpoint::save(part, &cp, &reps, &state.snap_pos)?;
            last_checkpoint = Instant::now();
            if interrupted {
                ctx.note(&format!(
                    "checkpoint written at step {} of chunk {}; the same command with `resume` continues from \
                     here",
                    state.step,
                    c + 1
                ));
                return Err(Error::Interrupted);
            }
        }
    }
    finish_chunk(part, c, n, state)
}

/// Records each replica of `reps` (the first is `first`) that blew up since the last look, once, and says so.
fn report_failures(
    reps: &Replicas,
    reported: &mut [bool],
    first: usize,
    failed: &mut Vec<FailedReplica>,
    ctx: &Ctx<'_>,
) {
    for (k, t) in reps.thermo.iter().enumerate() {
        if t.status != 0 && !reported[k] {
            reported[k] = true;
            let cause = Failure::from_status(t.status).map_or("unknown", |f| f.describe());
            ctx.warn(&format!(
                "replica {} blew up at step {}: {cause}; the others go on",
                first + k,
                t.fail_step
            ));
            failed.push(FailedReplica {
                replica: first + k,
                step: t.fail_step,
                cause: cause.to_string(),
            });
        }
    }
}

/// Writes a finished chunk's file: its snapshots replica-major, those of replicas that blew up left out; the
/// chunk's checkpoint is then stale and removed.
fn finish_chunk(part: &Path, c: usize, n: usize, state: ChunkState) -> Result<()> {
    let dead: std::collections::BTreeSet<usize> = state.failed.iter().map(|f| f.replica).collect();
    let mut kept_meta = Vec::new();
    let mut kept_pos = Vec::new();
    for (m, p) in state
        .snapshots
        .iter()
        .zip(state.snap_pos.chunks_exact(2 * n))
    {
        if !dead.contains(&m.replica) {
            kept_meta.push(m.clone());
            kept_pos.extend_from_slice(p);
        }
    }
    // snapshots replica-major: sort by (replica, order taken)
    let mut order: Vec<usize> = (0..kept_meta.len()).collect();
    order.sort_by_key(|&i| (kept_meta[i].replica, i));
    let meta: Vec<SnapshotMeta> = order.iter().map(|&i| kept_meta[i].clone()).collect();
    let pos: Vec<f64> = order
        .iter()
        .flat_map(|&i| kept_pos[i * 2 * n..(i + 1) * 2 * n].iter().copied())
        .collect();
    checkpoint::save_chunk(
        part,
        c,
        &ChunkResult {
            snapshots: meta,
            failed: state.failed,
            backends: state.backends,
        },
        &pos,
    )?;
    // The chunk file now holds everything; the checkpoint of this chunk is stale (a later chunk ignores it).
    let cp = part.join(checkpoint::CHECKPOINT);
    if cp.exists() {
        std::fs::remove_file(&cp).at(&cp)?;
    }
    Ok(())
}

/// The random starts of `replicas`, made in pieces sized by time (each start relaxes its lattice with about 60
/// force evaluations: at 2000 replicas of 2000 particles that is minutes), checking for a cancel between pieces.
fn fresh_replicas(
    setup: &MdSetup,
    seed: u64,
    replicas: std::ops::Range<usize>,
    (t, target): (f64, f64),
    announce: bool,
    ctx: &Ctx<'_>,
) -> Result<Replicas> {
    let mut all = Replicas {
        n: setup.n,
        ..Default::default()
    };
    let (mut lo, mut piece) = (replicas.start, 1usize);
    let mut said = Instant::now();
    while lo < replicas.end {
        ctx.cancel.check()?;
        let hi = (lo + piece).min(replicas.end);
        let t0 = Instant::now();
        let part = crate::sim::init::random_replicas(setup, seed, lo..hi, t);
        let per = t0.elapsed().as_secs_f64().max(1e-7) / (hi - lo) as f64;
        piece = ((target / per) as usize).clamp(1, piece.saturating_mul(4));
        all.pos.extend(part.pos);
        all.vel.extend(part.vel);
        all.img.extend(part.img);
        all.thermo.extend(part.thermo);
        lo = hi;
        if announce && said.elapsed().as_secs() >= 20 && lo < replicas.end {
            said = Instant::now();
            ctx.note(&format!(
                "initial configurations: {} of {} replicas placed",
                lo - replicas.start,
                replicas.len()
            ));
        }
    }
    Ok(all)
}

#[allow(clippy::too_many_arguments)]
fn take_snapshot(
    setup: &MdSetup,
    reps: &Replicas,
    class: Class,
    step: u64,
    target_t: f64,
    first: usize,
    snapshots: &mut Vec<SnapshotMeta>,
    snap_pos: &mut Vec<f64>,
) {
    let n = setup.n;
    for (k, t) in reps.thermo.iter().enumerate() {
        snapshots.push(SnapshotMeta {
            index: 0,
            replica: first + k,
            class,
            label: class.label(),
            step,
            target_t,
            kinetic_t: 2.0 * t.ke / setup.n_dof(),
            pe_per_particle: t.pe / n as f64,
        });
        snap_pos.extend(
            reps.pos[k * n..(k + 1) * n]
                .iter()
                .flat_map(|x| [x[0], x[1]]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_changed_fields() {
        let a = serde_json::json!({"seed": 1, "protocol": {"cool_rate": 2.0, "md": {"dt": 0.005}}});
        let b = serde_json::json!({"seed": 2, "protocol": {"cool_rate": 2.0, "md": {"dt": 0.004}}});
        let s = describe_differences(&a, &b);
        assert_eq!(
            s,
            "protocol.md.dt: 0.005 then, 0.004 now; seed: 1 then, 2 now"
        );
    }

    #[test]
    fn cpu_chunks_hold_about_four_million_particles() {
        let setup = SystemDef::kam().md_setup(&crate::sim::system::MdSettings::default());
        assert_eq!(setup.n, 2000);
        assert_eq!(default_chunk(&Compute::Cpu, &setup, 100_000), 2097);
        assert_eq!(default_chunk(&Compute::Cpu, &setup, 64), 64);
        // and a paper-size run fits this machine's estimate with room to spare
        let gib = memory_estimate(&setup, 2097, 5000, 2) / (1u64 << 30) as f64;
        assert!(gib > 0.5 && gib < 6.0, "{gib} GiB");
    }

    #[test]
    fn calls_are_sized_for_a_responsive_cancel() {
        assert_eq!(call_target(Duration::from_secs(300)), 0.5);
        assert_eq!(call_target(Duration::ZERO), 0.02);
    }
}
