//! The cooling protocol of SPEC §3 (random start, equilibration at T = 4, constant-rate cooling, snapshots at
//! T_L and T_G and any extra temperatures), run for many replicas in chunks that fit the device, with a
//! progress bar, atomic checkpoints, `--resume`, and blown-up replicas reported and left out.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::gpu::GpuMd;
use glasscam_kernels::md::{Advance, Failure, MdBackend, MdSetup, Replicas, Segment, Thermo};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use crate::dataset::{
    write_json_atomic, Dataset, FailedReplica, Manifest, SnapshotMeta, FORMAT_VERSION,
};
use crate::error::{Error, IoContext, Result};
use crate::events::{Cancel, Ctx, Event, Observer};
use crate::npy;
use crate::system::{MdSettings, SystemDef};

/// A cooling protocol; `quick` and `paper` are presets, every field can be changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub preset: String,
    pub replicas: usize,
    /// Melt temperature, where the run starts and equilibrates.
    pub t_start: f64,
    /// Equilibration time at t_start (time units).
    pub equilibrate_time: f64,
    /// Cooling rate |dT/dt| (per time unit).
    pub cool_rate: f64,
    /// Snapshot temperatures besides T_L and T_G.
    #[serde(default)]
    pub extra_temps: Vec<f64>,
    /// Time held at each snapshot temperature before the snapshot (lets the thermostat catch up with a fast
    /// ramp; 0 in the paper's protocol).
    #[serde(default)]
    pub hold_time: f64,
    pub md: MdSettings,
}

impl Protocol {
    /// The paper's protocol: 5000 replicas, rate 8.33e-5 (about 9.5e6 steps per replica).
    pub fn paper() -> Protocol {
        Protocol {
            preset: "paper".into(),
            replicas: 5000,
            t_start: 4.0,
            equilibrate_time: 100.0,
            cool_rate: 8.33e-5,
            extra_temps: Vec::new(),
            hold_time: 0.0,
            md: MdSettings::default(),
        }
    }

    /// Fast cooling (about 5000 steps from 4.0 to 0.05) and 64 replicas: for demos and tests.
    pub fn quick() -> Protocol {
        Protocol {
            preset: "quick".into(),
            replicas: 64,
            t_start: 4.0,
            equilibrate_time: 5.0,
            cool_rate: 0.16,
            extra_temps: Vec::new(),
            hold_time: 2.5,
            md: MdSettings::default(),
        }
    }

    pub fn preset(name: &str) -> Result<Protocol> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(Error::Input(format!(
                "unknown preset `{other}`: use quick or paper"
            ))),
        }
    }

    /// Snapshot temperatures, highest first, each with its class.
    pub fn snapshot_temps(&self, sys: &SystemDef) -> Result<Vec<(f64, &'static str)>> {
        let mut temps: Vec<(f64, &'static str)> =
            vec![(sys.t_liquid, "liquid"), (sys.t_glass, "glass")];
        for &t in &self.extra_temps {
            if t != sys.t_liquid && t != sys.t_glass {
                temps.push((t, "other"));
            }
        }
        temps.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(t, _) in &temps {
            if !(t > 0.0 && t < self.t_start) {
                return Err(Error::Input(format!(
                    "snapshot temperature {t} must lie between 0 and the start temperature {}",
                    self.t_start
                )));
            }
        }
        Ok(temps)
    }

    /// The schedule: equilibration, then per snapshot temperature a ramp to it (its last target is exactly that
    /// temperature), an optional hold there, and the snapshot at the end.
    pub fn schedule(&self, sys: &SystemDef) -> Result<Vec<Stage>> {
        if self.cool_rate.is_nan()
            || self.cool_rate <= 0.0
            || self.md.dt.is_nan()
            || self.md.dt <= 0.0
        {
            return Err(Error::Input("cool rate and dt must be > 0".into()));
        }
        let eq = (self.equilibrate_time / self.md.dt).round() as u64;
        let mut stages = vec![Stage {
            segment: Segment {
                t_from: self.t_start,
                t_to: self.t_start,
                len: eq,
            },
            snapshot: None,
        }];
        let mut t = self.t_start;
        for (target, class) in self.snapshot_temps(sys)? {
            let len = (((t - target) / (self.cool_rate * self.md.dt)).round() as u64).max(1);
            let hold = (self.hold_time / self.md.dt).round() as u64;
            stages.push(Stage {
                segment: Segment {
                    t_from: t,
                    t_to: target,
                    len,
                },
                snapshot: if hold == 0 {
                    Some(class.to_string())
                } else {
                    None
                },
            });
            if hold > 0 {
                stages.push(Stage {
                    segment: Segment {
                        t_from: target,
                        t_to: target,
                        len: hold,
                    },
                    snapshot: Some(class.to_string()),
                });
            }
            t = target;
        }
        Ok(stages)
    }
}

/// One stretch of the schedule, and the class of the snapshot taken at its end (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub segment: Segment,
    pub snapshot: Option<String>,
}

/// How to run: where, on what, how often to checkpoint.
#[derive(Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub seed: u64,
    pub compute: Compute,
    pub resume: bool,
    pub checkpoint_every: Duration,
    /// Replicas per chunk; default: what fits the device (GPU) or all of them (CPU).
    pub chunk: Option<usize>,
    /// Global replica indices to run (a shard of the whole run); default all.
    pub replicas: Option<std::ops::Range<usize>>,
    /// Stop (with a checkpoint, as if interrupted) once this many steps of a chunk are done: for tests.
    pub stop_after_steps: Option<u64>,
}

impl RunOptions {
    pub fn new(out: &Path, seed: u64, compute: Compute) -> RunOptions {
        RunOptions {
            out: out.to_path_buf(),
            seed,
            compute,
            resume: false,
            checkpoint_every: Duration::from_secs(300),
            chunk: None,
            replicas: None,
            stop_after_steps: None,
        }
    }
}

/// What identifies a run, stored beside its partial results; `--resume` refuses a different one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RunKey {
    system: SystemDef,
    protocol: Protocol,
    seed: u64,
    replicas: (usize, usize),
    chunk: usize,
}

/// The state of the chunk in progress, as checkpointed.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Checkpoint {
    chunk: usize,
    stage: usize,
    seg_done: u64,
    step: u64,
    thermo: Vec<ThermoRecord>,
    snapshots: Vec<SnapshotMeta>,
    failed: Vec<FailedReplica>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ThermoRecord {
    eta: Vec<f64>,
    veta: Vec<f64>,
    ke: f64,
    pe: f64,
    status: u32,
    fail_step: u64,
    #[serde(default = "one")]
    t_scale: f64,
}

fn one() -> f64 {
    1.0
}

impl From<&Thermo> for ThermoRecord {
    fn from(t: &Thermo) -> Self {
        ThermoRecord {
            eta: t.eta.to_vec(),
            veta: t.veta.to_vec(),
            ke: t.ke,
            pe: t.pe,
            status: t.status,
            fail_step: t.fail_step,
            t_scale: t.t_scale,
        }
    }
}

impl ThermoRecord {
    fn thermo(&self) -> Thermo {
        let mut t = Thermo {
            ke: self.ke,
            pe: self.pe,
            status: self.status,
            fail_step: self.fail_step,
            t_scale: self.t_scale,
            ..Default::default()
        };
        t.eta[..self.eta.len()].copy_from_slice(&self.eta);
        t.veta[..self.veta.len()].copy_from_slice(&self.veta);
        t
    }
}

/// Transition only, for stages not yet handed a `Ctx` (reproduce, propensity): the cancel token and observer the
/// binary registered with `share_ctx`. Remove once every stage takes a `Ctx`.
static SHARED: OnceLock<(Cancel, &'static dyn Observer)> = OnceLock::new();

/// Registers the binary's cancel token and observer for `shared_ctx` (first call wins).
pub fn share_ctx(cancel: &Cancel, observer: &'static dyn Observer) {
    let _ = SHARED.set((cancel.clone(), observer));
}

/// The context registered with `share_ctx`, or a silent, never-cancelled one.
pub fn shared_ctx() -> Ctx<'static> {
    match SHARED.get() {
        Some((cancel, observer)) => Ctx::new(*observer, cancel),
        None => crate::events::quiet(),
    }
}

/// Transition wrapper: the binary installs the signal handler now; this does nothing.
pub fn catch_interrupts() {}

fn partial_dir(out: &Path) -> PathBuf {
    out.join(".partial")
}

/// Replicas per chunk that fit the device: the neighbour list is the largest buffer.
pub fn default_chunk(compute: &Compute, setup: &MdSetup, total: usize) -> usize {
    match compute {
        Compute::Cpu => total.max(1),
        Compute::Gpu(ctx) => {
            let density = setup.n as f64 / (setup.box_l * setup.box_l);
            let rl = setup.pairs.iter().map(|p| p.rl).fold(0.0, f64::max);
            // room for the list to grow 1.5x over its expected size
            let per_replica =
                (std::f64::consts::PI * rl * rl * density * 2.0 + 16.0) * setup.n as f64 * 4.0;
            let fit = (ctx.max_binding() as f64 / per_replica).floor() as usize;
            let max_wg = ctx.limits.max_compute_workgroups_per_dimension as usize;
            fit.clamp(1, max_wg).min(total.max(1))
        }
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
    let setup = sys.md_setup(&proto.md);
    setup.check()?;
    let stages = proto.schedule(sys)?;
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
        return Err(Error::Input(
            "no replicas to run: give --replicas >= 1".into(),
        ));
    }
    let chunk = opts
        .chunk
        .unwrap_or_else(|| default_chunk(&opts.compute, &setup, total))
        .max(1);
    let n_chunks = total.div_ceil(chunk);
    let part = partial_dir(&opts.out);
    let key = RunKey {
        system: sys.clone(),
        protocol: proto.clone(),
        seed: opts.seed,
        replicas: (range.start, range.end),
        chunk,
    };
    let key_path = part.join("run.json");
    if opts.out.join(crate::dataset::MANIFEST).exists() && !opts.resume {
        return Err(Error::Input(format!(
            "{} already holds a data set; choose another --out or delete it",
            opts.out.display()
        )));
    }
    if part.exists() {
        if !opts.resume {
            return Err(Error::Input(format!(
                "{} holds an unfinished run; add --resume to continue it, or delete {}",
                opts.out.display(),
                part.display()
            )));
        }
        let text = std::fs::read_to_string(&key_path).at(&key_path)?;
        let old: RunKey = serde_json::from_str(&text).map_err(|e| {
            Error::Input(format!(
                "{}: unreadable ({e}); delete it to start over",
                key_path.display()
            ))
        })?;
        if old != key {
            return Err(Error::Input(format!(
                "--resume: {} was started with other settings (system, protocol, seed, replicas or chunk); \
                 rerun with the original ones or choose another --out",
                opts.out.display()
            )));
        }
    } else {
        std::fs::create_dir_all(&part).at(&part)?;
        write_json_atomic(&key_path, &key)?;
    }

    let steps_per_replica: u64 = stages.iter().map(|s| s.segment.len).sum();
    ctx.observer.event(Event::Begin {
        what: "replica-steps",
        total: steps_per_replica * total as u64,
    });
    for c in 0..n_chunks {
        let done_path = part.join(format!("chunk_{c:05}.json"));
        if done_path.exists() {
            ctx.observer.event(Event::Advance(
                steps_per_replica * chunk.min(total - c * chunk) as u64,
            ));
            continue;
        }
        let lo = range.start + c * chunk;
        let hi = (lo + chunk).min(range.end);
        ctx.observer.event(Event::Status(&format!(
            "{}/{n_chunks} (replicas {lo}..{hi})",
            c + 1
        )));
        let r = run_chunk(&setup, &stages, opts, c, lo..hi, &part, ctx);
        if r.is_err() {
            ctx.observer.event(Event::End);
        }
        r?;
    }
    ctx.observer.event(Event::End);

    // Join the chunks into the data set.
    let n = setup.n;
    let mut positions = Vec::new();
    let mut snapshots = Vec::new();
    let mut failed = Vec::new();
    for c in 0..n_chunks {
        let meta: ChunkResult = read_json(&part.join(format!("chunk_{c:05}.json")))?;
        let (_, pos) = npy::read::<f64>(&part.join(format!("chunk_{c:05}.npy")))?;
        positions.extend(pos);
        for mut m in meta.snapshots {
            m.index = snapshots.len();
            snapshots.push(m);
        }
        failed.extend(meta.failed);
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        system: sys.clone(),
        protocol: serde_json::to_value(proto).map_err(|e| Error::Input(e.to_string()))?,
        seed: opts.seed,
        n_particles: n,
        box_l: setup.box_l,
        n_replicas: total,
        replica_range: (range.start, range.end),
        snapshot_temps: temps.iter().map(|t| t.0).collect(),
        backend: opts.compute.identity(),
        failed,
        snapshots,
    };
    Dataset::write(&opts.out, &manifest, &positions, &setup.species)?;
    std::fs::remove_dir_all(&part).at(&part)?;
    Ok(manifest)
}

#[derive(Serialize, Deserialize)]
struct ChunkResult {
    snapshots: Vec<SnapshotMeta>,
    failed: Vec<FailedReplica>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

fn backend(compute: &Compute, setup: &MdSetup) -> Result<Box<dyn MdBackend>> {
    Ok(match compute {
        Compute::Cpu => Box::new(CpuMd::new(setup.clone())?),
        Compute::Gpu(ctx) => {
            let mut g = GpuMd::new(ctx.clone(), setup.clone())?;
            g.steps_per_dispatch = 25;
            g.dispatches_per_submit = 40;
            Box::new(g)
        }
    })
}

fn save_checkpoint(part: &Path, cp: &Checkpoint, reps: &Replicas, snap_pos: &[f64]) -> Result<()> {
    let n = reps.n as u64;
    let r = reps.count() as u64;
    let flat = |v: &[[f64; 2]]| -> Vec<f64> { v.iter().flat_map(|x| [x[0], x[1]]).collect() };
    npy::write(
        &part.join("checkpoint_pos.npy"),
        &[r, n, 2],
        &flat(&reps.pos),
    )?;
    npy::write(
        &part.join("checkpoint_vel.npy"),
        &[r, n, 2],
        &flat(&reps.vel),
    )?;
    let img: Vec<i32> = reps.img.iter().flat_map(|x| [x[0], x[1]]).collect();
    npy::write(&part.join("checkpoint_img.npy"), &[r, n, 2], &img)?;
    npy::write(
        &part.join("checkpoint_snapshots.npy"),
        &[snap_pos.len() as u64 / (2 * n), n, 2],
        snap_pos,
    )?;
    // the JSON goes last: a checkpoint counts only once it is there
    write_json_atomic(&part.join("checkpoint.json"), cp)
}

fn load_checkpoint(part: &Path, n: usize) -> Result<Option<(Checkpoint, Replicas, Vec<f64>)>> {
    let path = part.join("checkpoint.json");
    if !path.exists() {
        return Ok(None);
    }
    let cp: Checkpoint = read_json(&path)?;
    let pairs =
        |v: Vec<f64>| -> Vec<[f64; 2]> { v.chunks_exact(2).map(|c| [c[0], c[1]]).collect() };
    let (_, pos) = npy::read::<f64>(&part.join("checkpoint_pos.npy"))?;
    let (_, vel) = npy::read::<f64>(&part.join("checkpoint_vel.npy"))?;
    let (_, img) = npy::read::<i32>(&part.join("checkpoint_img.npy"))?;
    let (_, snaps) = npy::read::<f64>(&part.join("checkpoint_snapshots.npy"))?;
    let reps = Replicas {
        n,
        pos: pairs(pos),
        vel: pairs(vel),
        img: img.chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
        thermo: cp.thermo.iter().map(ThermoRecord::thermo).collect(),
    };
    Ok(Some((cp, reps, snaps)))
}

fn run_chunk(
    setup: &MdSetup,
    stages: &[Stage],
    opts: &RunOptions,
    c: usize,
    replicas: std::ops::Range<usize>,
    part: &Path,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let n = setup.n;
    let count = replicas.len();
    let resumed = load_checkpoint(part, n)?.filter(|(cp, _, _)| cp.chunk == c);
    let (mut stage, mut seg_done, mut step, start, mut snapshots, mut snap_pos, mut failed) =
        match resumed {
            Some((cp, reps, snaps)) => (
                cp.stage,
                cp.seg_done,
                cp.step,
                reps,
                cp.snapshots,
                snaps,
                cp.failed,
            ),
            None => (
                0,
                0,
                0,
                crate::init::random_replicas(
                    setup,
                    opts.seed,
                    replicas.clone(),
                    stages[0].segment.t_from,
                ),
                Vec::new(),
                Vec::new(),
                Vec::new(),
            ),
        };
    ctx.observer.event(Event::Advance(step * count as u64));
    let mut md = backend(&opts.compute, setup)?;
    md.upload(&start)?;
    let mut last_checkpoint = Instant::now();
    // Steps per advance call: aim at about a second of work so checks stay responsive.
    let mut batch: u64 = 50;
    let mut reported: Vec<bool> = start.thermo.iter().map(|t| t.status != 0).collect();
    let steps_this_call_start = step;
    while stage < stages.len() {
        let st = &stages[stage];
        if seg_done < st.segment.len {
            let mut steps = batch.min(st.segment.len - seg_done);
            if let Some(s) = opts.stop_after_steps {
                steps = steps.min(s.saturating_sub(step - steps_this_call_start).max(1));
            }
            let t0 = Instant::now();
            md.advance(&Advance {
                segment: st.segment,
                seg_done,
                step0: step,
                steps,
            })?;
            seg_done += steps;
            step += steps;
            ctx.observer.event(Event::Advance(steps * count as u64));
            let dt = t0.elapsed().as_secs_f64().max(1e-6);
            batch = ((steps as f64 / dt).ceil() as u64).clamp(1, 5000);
        }
        let interrupted = ctx.cancel.is_cancelled()
            || opts
                .stop_after_steps
                .is_some_and(|s| step - steps_this_call_start >= s);
        let at_end = seg_done >= st.segment.len;
        let due = last_checkpoint.elapsed() >= opts.checkpoint_every;
        if at_end || interrupted || due {
            let reps = md.download()?;
            for (k, t) in reps.thermo.iter().enumerate() {
                if t.status != 0 && !reported[k] {
                    reported[k] = true;
                    let cause = Failure::from_status(t.status).map_or("unknown", |f| f.describe());
                    let msg = format!(
                        "replica {} blew up at step {}: {cause}; the others go on",
                        replicas.start + k,
                        t.fail_step
                    );
                    ctx.warn(&msg);
                    failed.push(FailedReplica {
                        replica: replicas.start + k,
                        step: t.fail_step,
                        cause: cause.to_string(),
                    });
                }
            }
            if at_end {
                if let Some(class) = &st.snapshot {
                    for (k, t) in reps.thermo.iter().enumerate() {
                        snapshots.push(SnapshotMeta {
                            index: 0,
                            replica: replicas.start + k,
                            class: class.clone(),
                            label: match class.as_str() {
                                "glass" => 1,
                                "liquid" => 0,
                                _ => -1,
                            },
                            step,
                            target_t: st.segment.t_to,
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
                stage += 1;
                seg_done = 0;
            }
            if interrupted || due {
                let cp = Checkpoint {
                    chunk: c,
                    stage,
                    seg_done,
                    step,
                    thermo: reps.thermo.iter().map(ThermoRecord::from).collect(),
                    snapshots: snapshots.clone(),
                    failed: failed.clone(),
                };
                save_checkpoint(part, &cp, &reps, &snap_pos)?;
                last_checkpoint = Instant::now();
                if interrupted {
                    return Err(Error::Interrupted);
                }
            }
        }
    }
    // Leave out every snapshot of a replica that blew up.
    let dead: std::collections::BTreeSet<usize> = failed.iter().map(|f| f.replica).collect();
    let mut kept_meta = Vec::new();
    let mut kept_pos = Vec::new();
    for (m, p) in snapshots.iter().zip(snap_pos.chunks_exact(2 * n)) {
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
    npy::write(
        &part.join(format!("chunk_{c:05}.npy")),
        &[meta.len() as u64, n as u64, 2],
        &pos,
    )?;
    write_json_atomic(
        &part.join(format!("chunk_{c:05}.json")),
        &ChunkResult {
            snapshots: meta,
            failed,
        },
    )?;
    let cp = part.join("checkpoint.json");
    if cp.exists() {
        std::fs::remove_file(&cp).at(&cp)?;
    }
    Ok(())
}

/// Transition wrapper for stages not yet handed a `Ctx`: whether the shared token was cancelled.
pub fn interrupted() -> bool {
    shared_ctx().cancel.is_cancelled()
}

/// Replica range of shard `k` of `n` (0-based) of a run of `replicas`: contiguous, sizes differ by at most one.
pub fn shard_range(k: usize, n: usize, replicas: usize) -> Result<std::ops::Range<usize>> {
    if n == 0 || k >= n {
        return Err(Error::Input(format!(
            "--shard {k}/{n}: use k/n with 0 <= k < n (k is 0-based, like SLURM_ARRAY_TASK_ID from 0)"
        )));
    }
    Ok(k * replicas / n..(k + 1) * replicas / n)
}

/// Joins shard data sets into one, identical byte for byte to the data set a single run would write.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Manifest> {
    if shards.is_empty() {
        return Err(Error::Input(
            "merge: give the shard directories to join".into(),
        ));
    }
    let mut sets: Vec<Dataset> = shards
        .iter()
        .map(|d| Dataset::load(d))
        .collect::<Result<_>>()?;
    sets.sort_by_key(|d| d.manifest.replica_range.0);
    let first = sets[0].manifest.clone();
    let total: usize = serde_json::from_value::<Protocol>(first.protocol.clone())
        .map(|p| p.replicas)
        .map_err(|e| {
            Error::Input(format!(
                "{}: protocol unreadable: {e}",
                sets[0].dir.display()
            ))
        })?;
    let mut next = 0;
    for d in &sets {
        let m = &d.manifest;
        let same = m.system == first.system
            && m.protocol == first.protocol
            && m.seed == first.seed
            && m.backend == first.backend
            && m.snapshot_temps == first.snapshot_temps
            && m.n_particles == first.n_particles;
        if !same {
            return Err(Error::Input(format!(
                "merge: {} comes from another run than {} (system, protocol, seed or backend differ)",
                d.dir.display(),
                sets[0].dir.display()
            )));
        }
        if m.replica_range.0 != next {
            return Err(Error::Input(format!(
                "merge: replicas {}..{} are missing (next shard, {}, starts at {})",
                next,
                m.replica_range.0,
                d.dir.display(),
                m.replica_range.0
            )));
        }
        next = m.replica_range.1;
    }
    if next != total {
        return Err(Error::Input(format!(
            "merge: the shards cover replicas 0..{next} of {total}; run the missing shards first"
        )));
    }
    let mut positions = Vec::new();
    let mut snapshots = Vec::new();
    let mut failed = Vec::new();
    for d in &sets {
        positions.extend_from_slice(&d.positions);
        for m in &d.manifest.snapshots {
            let mut m = m.clone();
            m.index = snapshots.len();
            snapshots.push(m);
        }
        failed.extend(d.manifest.failed.iter().cloned());
    }
    let manifest = Manifest {
        n_replicas: total,
        replica_range: (0, total),
        failed,
        snapshots,
        ..first
    };
    Dataset::write(out, &manifest, &positions, &sets[0].species)?;
    Ok(manifest)
}
