//! `glasscam bench md`: MD throughput (particle-steps/s) of the CPU twin and the GPU path at several replica
//! counts, with ratios to the CPU twin measured in the same run.

use std::time::Instant;

use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment};
use glasscam_kernels::Compute;

use crate::error::Result;
use crate::sim::system::{MdSettings, SystemDef};

/// One measured row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MdRow {
    pub backend: String,
    pub replicas: usize,
    pub particles: usize,
    pub steps: u64,
    pub seconds: f64,
    pub particle_steps_per_s: f64,
}

/// `r` copies of one equilibrated liquid configuration (throughput does not care that they are equal).
pub fn bench_replicas(setup: &MdSetup, r: usize, t: f64) -> Replicas {
    copies(&crate::sim::init::random_replicas(setup, 1, 0..1, t), r)
}

/// `r` copies of the single replica `one`.
pub fn copies(one: &Replicas, r: usize) -> Replicas {
    let mut out = Replicas {
        n: one.n,
        ..Default::default()
    };
    for _ in 0..r {
        out.pos.extend_from_slice(&one.pos);
        out.vel.extend_from_slice(&one.vel);
        out.img.extend_from_slice(&one.img);
        out.thermo.push(one.thermo[0]);
    }
    out
}

/// Times `backend` on `reps`: a warm-up, then batches until about `seconds` have passed.
pub fn time_backend(
    b: &mut dyn MdBackend,
    reps: &Replicas,
    t: f64,
    seconds: f64,
) -> Result<(u64, f64)> {
    let seg = Segment {
        t_from: t,
        t_to: t,
        len: u64::MAX / 4,
    };
    b.upload(reps)?;
    let particles = (reps.count() * reps.n) as f64;
    // warm-up: pipelines compiled, lists built, caches warm
    let warm = ((2.0e5 / particles).ceil() as u64).clamp(2, 50);
    b.advance(&Advance {
        segment: seg,
        seg_done: 0,
        step0: 0,
        steps: warm,
    })?;
    b.download()?;
    let mut steps = 0u64;
    let mut batch = warm;
    let start = Instant::now();
    let mut elapsed = 0.0;
    while elapsed < seconds {
        b.advance(&Advance {
            segment: seg,
            seg_done: warm + steps,
            step0: warm + steps,
            steps: batch,
        })?;
        b.thermo()?; // waits for the GPU to finish, without copying every position back
        steps += batch;
        elapsed = start.elapsed().as_secs_f64();
        let rate = steps as f64 / elapsed.max(1e-9);
        batch = ((rate * (seconds - elapsed)).ceil() as u64).clamp(1, 10_000);
    }
    Ok((steps, elapsed))
}

/// Snapshot `k` of the data set in `dir` as one replica of its own system, with Maxwell-Boltzmann velocities at
/// the system's liquid temperature (seeded): what `bench md --data` times, and what `benches/lammps_md.py`
/// hands LAMMPS (through `export`), so both start from the same configuration.
pub fn snapshot_start(dir: &std::path::Path, k: usize) -> Result<(SystemDef, Replicas)> {
    let ds = crate::io::dataset::Dataset::load(dir)?;
    if k >= ds.n_snapshots() {
        return Err(crate::Error::Input(format!(
            "`snapshot` {k}: {} has {} snapshots (0..{})",
            dir.display(),
            ds.n_snapshots(),
            ds.n_snapshots().saturating_sub(1)
        )));
    }
    let system = ds.manifest.system.clone();
    let setup = system.md_setup(&MdSettings::default());
    if ds.species != setup.species {
        return Err(crate::Error::Input(format!(
            "{}: species.npy does not list the particles in the order of its manifest's system",
            dir.display()
        )));
    }
    let pos: Vec<[f64; 2]> = ds
        .snapshot(k)
        .chunks_exact(2)
        .map(|c| [c[0], c[1]])
        .collect();
    let mut rng = crate::sim::init::replica_rng(1, k as u64);
    let vel = crate::sim::init::maxwell_boltzmann(&setup, system.t_liquid, &mut rng);
    let one = Replicas {
        n: setup.n,
        img: vec![[0, 0]; setup.n],
        pos,
        vel,
        thermo: vec![glasscam_kernels::md::Thermo::default()],
    };
    Ok((system, one))
}

/// Runs the MD benchmark on `system` for each replica count and each backend: one row each, in that order (the
/// binary prints them with the ratio to the CPU twin). The replicas are copies of `start` (one replica) when given,
/// else of a fresh liquid.
pub fn bench_md(
    system: &SystemDef,
    backends: &[Compute],
    replicas: &[usize],
    seconds: f64,
    start: Option<&Replicas>,
) -> Result<Vec<MdRow>> {
    let setup = system.md_setup(&MdSettings::default());
    let t = system.t_liquid;
    let mut rows = Vec::new();
    for &r in replicas {
        let reps = match start {
            Some(one) => copies(one, r),
            None => bench_replicas(&setup, r, t),
        };
        for compute in backends {
            // Replicas beyond what one device buffer holds run as sequential chunks, as in `simulate`.
            let chunk = crate::sim::protocol::default_chunk(compute, &setup, r);
            let name = backend_name(compute);
            let mut busy = 0.0; // seconds per step summed over chunks
            let mut steps = 0;
            let mut secs = 0.0;
            for lo in (0..r).step_by(chunk) {
                let hi = (lo + chunk).min(r);
                let part = reps.slice(lo..hi);
                let mut b: Box<dyn MdBackend> = crate::sim::protocol::md_backend(compute, &setup)?;
                let (s, e) =
                    time_backend(b.as_mut(), &part, t, seconds * (hi - lo) as f64 / r as f64)?;
                busy += e / s as f64;
                steps += s;
                secs += e;
            }
            let rate = (r * setup.n) as f64 / busy;
            rows.push(MdRow {
                backend: name.into(),
                replicas: r,
                particles: r * setup.n,
                steps,
                seconds: secs,
                particle_steps_per_s: rate,
            });
        }
    }
    Ok(rows)
}

/// One row of `bench propensity`: the ensemble's MD rate beside `bench md`'s at the same replica count.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PropensityRow {
    pub backend: String,
    pub replicas: usize,
    pub md_particle_steps_per_s: f64,
    pub propensity_particle_steps_per_s: f64,
}

/// The propensity ensemble's batched MD (all runs x temperatures of one glass configuration as replicas, fresh
/// velocities, per-replica temperatures) against `bench md`'s rate at the same replica count.
pub fn bench_propensity(
    system: &SystemDef,
    backends: &[Compute],
    replicas: usize,
    seconds: f64,
) -> Result<Vec<PropensityRow>> {
    use crate::sim::propensity::{run_ensemble, EnsembleConfig};
    let setup = system.md_setup(&MdSettings::default());
    let t_star = system.t_star.unwrap_or(system.t_liquid);
    let glass = bench_replicas(&setup, 1, t_star);
    // cages are irrelevant to the speed: every particle its own cage
    let cages = vec![Vec::new(); setup.n];
    let mut rows = Vec::new();
    for compute in backends {
        let md = bench_md_quiet(system, compute, replicas, seconds)?;
        // steps for about `seconds` at the bench-md rate, at least 10
        let steps = ((md * seconds / (replicas * setup.n) as f64) as u64).max(10);
        let cfg = EnsembleConfig {
            temps: vec![t_star, 1.25 * t_star, 1.5 * t_star],
            runs: replicas.div_ceil(3),
            steps,
            samples: 6,
            seed: 1,
        };
        let res = run_ensemble(
            &setup,
            &glass.pos,
            &cages,
            &cfg,
            compute,
            crate::events::quiet(),
        )?;
        let total = cfg.temps.len() * cfg.runs;
        let rate = (total * setup.n) as f64 * steps as f64 / res.md_seconds;
        rows.push(PropensityRow {
            backend: backend_name(compute).into(),
            replicas: total,
            md_particle_steps_per_s: md,
            propensity_particle_steps_per_s: rate,
        });
    }
    Ok(rows)
}

fn bench_md_quiet(
    system: &SystemDef,
    compute: &Compute,
    replicas: usize,
    seconds: f64,
) -> Result<f64> {
    let setup = system.md_setup(&MdSettings::default());
    let reps = bench_replicas(&setup, replicas, system.t_liquid);
    let mut b: Box<dyn MdBackend> = crate::sim::protocol::md_backend(compute, &setup)?;
    let (steps, secs) = time_backend(b.as_mut(), &reps, system.t_liquid, seconds)?;
    Ok(steps as f64 * (replicas * setup.n) as f64 / secs)
}

/// One measured row of `bench minimize`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MinimizeRow {
    pub backend: String,
    pub replicas: usize,
    /// Replicas per dispatch: fewer than `replicas` where the device cannot hold them all (the row then runs in
    /// batches, each with its share of the time budget).
    pub per_call: usize,
    pub particles: usize,
    /// The backend's default force tolerance (max |F| at which a replica stops).
    pub ftol: f64,
    /// FIRE iterations done in the timed window, summed over replicas (a converged replica stops counting).
    pub iterations: u64,
    pub seconds: f64,
    pub iteration_particles_per_s: f64,
    /// Replicas converged within the window.
    pub converged: usize,
    pub minimisations_per_s: f64,
    /// true: every replica converged within the budget, minimisations/s = replicas / seconds. false: derived,
    /// iterations x particles / s over `iterations_per_minimisation` x particles.
    pub measured: bool,
}

/// `bench minimize`'s result: the rows, and per backend the mean FIRE iterations one minimisation takes (from the
/// largest row that converged within its budget, or from one replica minimised to the end when none did).
#[derive(Clone, Debug, serde::Serialize)]
pub struct MinimizeBench {
    pub rows: Vec<MinimizeRow>,
    /// (backend, mean iterations per minimisation, where it was measured).
    pub iterations_per_minimisation: Vec<(String, f64, String)>,
}

/// Liquids at T_L to minimise: up to 16 distinct replicas run 200 MD steps on the CPU twin, tiled to `r`; every
/// copy past the first 16 is displaced by a seeded +-1e-3 per coordinate, so no two replicas follow the same FIRE
/// path (identical copies would all stop at the same iteration). Replica k is the same whatever `r` > k.
fn fire_liquids(setup: &MdSetup, t: f64, r: usize) -> Result<Replicas> {
    let distinct = r.clamp(1, 16);
    let mut md = glasscam_kernels::md::cpu::CpuMd::new(setup.clone())?;
    md.upload(&crate::sim::init::random_replicas(setup, 1, 0..distinct, t))?;
    md.advance(&Advance {
        segment: Segment {
            t_from: t,
            t_to: t,
            len: 200,
        },
        seg_done: 0,
        step0: 0,
        steps: 200,
    })?;
    let base = md.download()?;
    let n = setup.n;
    let mut out = Replicas {
        n,
        ..Default::default()
    };
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
    for k in 0..r {
        let j = k % distinct;
        for &[x, y] in &base.pos[j * n..(j + 1) * n] {
            let (dx, dy) = if k < distinct {
                (0.0, 0.0)
            } else {
                use rand::RngExt;
                (rng.random_range(-1e-3..1e-3), rng.random_range(-1e-3..1e-3))
            };
            out.pos.push([
                (x + dx).rem_euclid(setup.box_l),
                (y + dy).rem_euclid(setup.box_l),
            ]);
        }
        out.img.extend_from_slice(&base.img[j * n..(j + 1) * n]);
        out.thermo.push(base.thermo[j]);
    }
    out.vel = vec![[0.0; 2]; out.pos.len()];
    Ok(out)
}

/// Replicas `rs` of `all`.
fn slice(all: &Replicas, rs: std::ops::Range<usize>) -> Replicas {
    let n = all.n;
    Replicas {
        n,
        pos: all.pos[rs.start * n..rs.end * n].to_vec(),
        vel: all.vel[rs.start * n..rs.end * n].to_vec(),
        img: all.img[rs.start * n..rs.end * n].to_vec(),
        thermo: all.thermo[rs].to_vec(),
    }
}

/// The most of the first `r` replicas of `all` the device takes in one dispatch: a row bigger than that runs in
/// batches, as `minimize` does (lavapipe allows 128 MiB per buffer: 256 replicas of N = 2000, not 1024).
fn per_call(
    b: &mut dyn glasscam_kernels::md::fire::FireBackend,
    all: &Replicas,
    r: usize,
) -> Result<usize> {
    let mut per_call = r;
    while per_call > 1 {
        match b.upload(&slice(all, 0..per_call)) {
            Err(glasscam_kernels::KernelError::BufferTooLarge { .. }) => {
                per_call = per_call.div_ceil(2)
            }
            other => {
                other?;
                break;
            }
        }
    }
    Ok(per_call)
}

/// FIRE on the first `r` replicas of `all`, `per_call` at a time, each batch for its share of `seconds` or until
/// all converge: (iterations, seconds, converged).
fn time_row(
    b: &mut dyn glasscam_kernels::md::fire::FireBackend,
    all: &Replicas,
    r: usize,
    per_call: usize,
    seconds: f64,
    ctx: &crate::events::Ctx,
) -> Result<(u64, f64, usize)> {
    use glasscam_kernels::md::fire::Outcome;
    let (mut iterations, mut secs, mut converged) = (0u64, 0.0, 0usize);
    for lo in (0..r).step_by(per_call) {
        let reps = slice(all, lo..(lo + per_call).min(r));
        let budget = seconds * reps.count() as f64 / r as f64;
        b.upload(&reps)?;
        b.iterate(1)?; // warm-up: pipelines compiled, lists built
        b.upload(&reps)?;
        let start = Instant::now();
        let mut k = 1u32;
        loop {
            let call = Instant::now();
            let active = b.iterate(k)?;
            if active == 0 || start.elapsed().as_secs_f64() >= budget {
                break;
            }
            if call.elapsed().as_secs_f64() < 0.25 {
                k = (k * 2).min(4096);
            }
            ctx.cancel.check()?;
        }
        let done = b.download()?; // forces the GPU to finish
        secs += start.elapsed().as_secs_f64();
        iterations += done.minima.iter().map(|m| m.iterations as u64).sum::<u64>();
        converged += done
            .minima
            .iter()
            .filter(|m| m.outcome == Outcome::Converged)
            .count();
    }
    Ok((iterations, secs, converged))
}

/// `bench minimize`: FIRE on each backend at each replica count (ascending), at the backend's default tolerance,
/// for at most about `seconds` per row (calls of a doubling number of iterations, the first after a warm-up call
/// on the same replicas). A row whose replicas all converge in time measures minimisations/s; the others give
/// iterations x particles / s, and minimisations/s derived from the mean iterations per minimisation.
pub fn bench_minimize(
    system: &SystemDef,
    backends: &[Compute],
    replicas: &[usize],
    seconds: f64,
    ctx: &crate::events::Ctx,
) -> Result<MinimizeBench> {
    use glasscam_kernels::md::fire::cpu::CpuFire;
    use glasscam_kernels::md::fire::gpu::GpuFire;
    use glasscam_kernels::md::fire::{run_to_end, FireBackend};

    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(crate::Error::Input(format!(
            "`seconds` {seconds}: give the time budget per row in seconds, e.g. 30"
        )));
    }
    let setup = system.md_setup(&MdSettings::default());
    let t = system.t_liquid;
    let n = setup.n;
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.first().is_none_or(|&r| r == 0) {
        return Err(crate::Error::Input(format!(
            "`replicas` {replicas:?}: give replica counts of at least 1, e.g. 1,16,256,1024"
        )));
    }
    // every row's replicas are the first r of one tiling (the same liquids for every backend)
    let all = fire_liquids(&setup, t, sorted.last().copied().unwrap_or(1))?;
    let first = |r: usize| slice(&all, 0..r);
    let mut rows = Vec::new();
    let mut per_min_all = Vec::new();
    for compute in backends {
        let cfg = crate::sim::minimize::MinimizeSettings::default().fire(&setup, compute)?;
        let name = backend_name(compute);
        let mut b: Box<dyn FireBackend> = match compute {
            Compute::Cpu => Box::new(CpuFire::new(setup.clone(), cfg)?),
            Compute::Gpu(g) => Box::new(GpuFire::new(g.clone(), setup.clone(), cfg)?),
        };
        let mut per_min: Option<(f64, String)> = None;
        let mut pending = Vec::new();
        for &r in &sorted {
            ctx.cancel.check()?;
            ctx.observer.event(crate::events::Event::Status(&format!(
                "{name}: {r} replicas"
            )));
            let per_call = per_call(b.as_mut(), &all, r)?;
            let (iterations, secs, converged) =
                time_row(b.as_mut(), &all, r, per_call, seconds, ctx)?;
            let measured = converged == r;
            if measured {
                per_min = Some((iterations as f64 / r as f64, format!("the {r}-replica row")));
            }
            let ips = iterations as f64 * n as f64 / secs;
            rows.push(MinimizeRow {
                backend: name.into(),
                replicas: r,
                per_call,
                particles: n,
                ftol: cfg.ftol,
                iterations,
                seconds: secs,
                iteration_particles_per_s: ips,
                converged,
                minimisations_per_s: if measured { r as f64 / secs } else { f64::NAN },
                measured,
            });
            if !measured {
                pending.push(rows.len() - 1);
            }
        }
        if per_min.is_none() && !pending.is_empty() {
            ctx.observer.event(crate::events::Event::Status(&format!(
                "{name}: one replica to the end"
            )));
            let m = run_to_end(b.as_mut(), &first(1), 500, |_| ctx.cancel.check())?;
            per_min = Some((
                f64::from(m.minima[0].iterations),
                "one replica minimised to the end (untimed)".into(),
            ));
        }
        if let Some((iters, from)) = per_min {
            for &i in &pending {
                let row = &mut rows[i];
                row.minimisations_per_s = row.iteration_particles_per_s / (iters * n as f64);
            }
            per_min_all.push((name.to_string(), iters, from));
        }
    }
    Ok(MinimizeBench {
        rows,
        iterations_per_minimisation: per_min_all,
    })
}

/// `bench minimize`'s table, for the binary to print.
pub fn minimize_table(b: &MinimizeBench) -> String {
    let mut s = String::new();
    for (name, iters, from) in &b.iterations_per_minimisation {
        s.push_str(&format!(
            "{name}: one minimisation takes {iters:.0} FIRE iterations on average ({from})\n"
        ));
    }
    s.push_str(&format!(
        "{:<8} {:>9} {:>7} {:>11} {:>9} {:>10} {:>22} {:>16}\n",
        "backend",
        "replicas",
        "ftol",
        "iterations",
        "seconds",
        "converged",
        "iterations*particles/s",
        "minimisations/s"
    ));
    for r in &b.rows {
        s.push_str(&format!(
            "{:<8} {:>9} {:>7.0e} {:>11} {:>9.2} {:>10} {:>22.3e} {:>16.4} {}{}\n",
            r.backend,
            r.replicas,
            r.ftol,
            r.iterations,
            r.seconds,
            format!("{}/{}", r.converged, r.replicas),
            r.iteration_particles_per_s,
            r.minimisations_per_s,
            if r.measured { "measured" } else { "derived" },
            if r.per_call < r.replicas {
                format!(", in batches of {}", r.per_call)
            } else {
                String::new()
            }
        ));
    }
    s
}

pub fn backend_name(compute: &Compute) -> &'static str {
    match compute {
        Compute::Cpu => "cpu",
        Compute::Gpu(_) => "gpu",
    }
}
