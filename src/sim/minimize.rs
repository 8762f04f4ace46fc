//! Inherent structures (docs/methods.md, "Inherent structures"): every chosen snapshot of a data set FIRE-minimised (`md_fire` on the chosen
//! backend), written as a data set of minima whose `inherent.json` gives E_IS, max |F| and iterations per
//! snapshot and links each to its source snapshot.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::Class;
use crate::error::{Error, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::{Dataset, Manifest};
use crate::io::json::write_json_atomic;
use crate::kernels::md::fire::cpu::CpuFire;
use crate::kernels::md::fire::gpu::GpuFire;
use crate::kernels::md::fire::{run_to_end, FireBackend, FireConfig, Minima, Outcome};
use crate::kernels::md::{MdSetup, Replicas, Thermo};
use crate::kernels::Compute;
use crate::sim::system::MdSettings;

/// The file beside `manifest.json` that says what each minimum is.
pub const INHERENT: &str = "inherent.json";
/// Where `simulate --inherent` writes the inherent structures of a data set (and where tasks look for them).
pub const INHERENT_DIR: &str = "inherent";
pub const FORMAT_VERSION: u32 = 1;
/// Default force tolerance of the f64 CPU twin.
pub const CPU_FTOL: f64 = 1e-8;
/// Default force tolerance of the f32 GPU path: what it reaches on every replica of both presets at N = 2000
/// (kernels/tests/kernels/md_fire.rs); its E_IS agrees with the twin's to 1e-5 per particle.
pub const GPU_FTOL: f64 = 1e-2;

/// Which snapshots to minimise.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    All,
    Class(Class),
    /// Snapshot indices (rows of positions.npy).
    List(Vec<usize>),
}

impl Selection {
    /// Parses `all`, `glass`, `liquid`, `other` or a list such as `0,4,10-19`.
    pub fn parse(text: &str) -> Result<Selection> {
        let t = text.trim();
        match t {
            "all" => return Ok(Selection::All),
            "glass" => return Ok(Selection::Class(Class::Glass)),
            "liquid" => return Ok(Selection::Class(Class::Liquid)),
            "other" => return Ok(Selection::Class(Class::Other)),
            _ => {}
        }
        let bad = || {
            Error::Input(format!(
                "`snapshots` {text}: use all, glass, liquid, other, or snapshot indices such as 0,4,10-19"
            ))
        };
        let mut out = Vec::new();
        for part in t.split(',') {
            let part = part.trim();
            if let Some((a, b)) = part.split_once('-') {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if b < a {
                    return Err(bad());
                }
                out.extend(a..=b);
            } else {
                out.push(part.parse().map_err(|_| bad())?);
            }
        }
        Ok(Selection::List(out))
    }

    /// The snapshot indices of `data` this selection names, in order; an index past the end is refused.
    pub fn indices(&self, data: &Dataset) -> Result<Vec<usize>> {
        let s = data.n_snapshots();
        match self {
            Selection::All => Ok((0..s).collect()),
            Selection::Class(c) => Ok(data.of_class(*c)),
            Selection::List(v) => {
                if let Some(&k) = v.iter().find(|&&k| k >= s) {
                    return Err(Error::Input(format!(
                        "`snapshots`: snapshot {k} does not exist; {} has snapshots 0..{}",
                        data.dir.display(),
                        s.saturating_sub(1)
                    )));
                }
                Ok(v.clone())
            }
        }
    }
}

/// Settings of a minimisation run (FIRE parameters other than these are the defaults of docs/methods.md, "Inherent structures").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinimizeSettings {
    /// max |F| at which a snapshot counts as minimised; `None`: CPU_FTOL on the twin, GPU_FTOL on the GPU.
    pub ftol: Option<f64>,
    /// FIRE iteration cap per snapshot.
    pub max_iter: u32,
    /// Snapshots minimised together (one batch of replicas).
    pub batch: usize,
}

impl Default for MinimizeSettings {
    fn default() -> Self {
        MinimizeSettings {
            ftol: None,
            max_iter: 100_000,
            batch: 256,
        }
    }
}

impl MinimizeSettings {
    /// Refuses settings no run can use; the message says what to change.
    pub fn check(&self) -> Result<()> {
        if let Some(f) = self.ftol {
            if !(f > 0.0 && f.is_finite()) {
                return Err(Error::Input(format!(
                    "`ftol` {f}: the force tolerance must be a positive number, e.g. {CPU_FTOL:e} on the CPU \
                     twin or {GPU_FTOL:e} on the GPU"
                )));
            }
        }
        if self.batch == 0 {
            return Err(Error::Input(
                "`batch` 0: minimise at least one snapshot at a time".into(),
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::Input(
                "`max_iter` 0: allow at least one FIRE iteration".into(),
            ));
        }
        Ok(())
    }

    /// The FIRE settings for an MD setup on a backend.
    pub fn fire(&self, setup: &MdSetup, compute: &Compute) -> Result<FireConfig> {
        self.check()?;
        let mut cfg = FireConfig::for_md_dt(setup.dt);
        cfg.ftol = self.ftol.unwrap_or(match compute {
            Compute::Gpu(_) => GPU_FTOL,
            Compute::Cpu => CPU_FTOL,
        });
        cfg.max_iter = self.max_iter;
        cfg.check()?;
        Ok(cfg)
    }
}

/// One minimum's record in `inherent.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InherentMeta {
    /// Row in this data set's positions.npy.
    pub index: usize,
    /// Row of the snapshot it was minimised from, in the source data set.
    pub source_index: usize,
    pub replica: usize,
    pub class: Class,
    /// Target temperature of the source snapshot.
    pub target_t: f64,
    /// Potential energy per particle of the source snapshot.
    pub pe_per_particle: f64,
    /// Inherent-structure energy per particle.
    pub e_is: f64,
    /// max |F_i| at the minimum.
    pub fmax: f64,
    pub iterations: u32,
    /// "converged", "not converged" (hit max_iter) or the failure.
    pub outcome: String,
}

/// What `inherent.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InherentFile {
    pub format_version: u32,
    pub program_version: String,
    /// The data set the snapshots came from.
    pub source: PathBuf,
    pub backend: String,
    pub ftol: f64,
    pub max_iter: u32,
    pub snapshots: Vec<InherentMeta>,
    /// Rows (of this data set) that did not converge, so no one takes them for minima unknowingly.
    pub not_converged: Vec<usize>,
}

/// The minima of a data set's snapshots: a data set of its own (positions at the minima, pe = E_IS) plus
/// `inherent.json`.
#[derive(Clone, Debug)]
pub struct Inherent {
    pub manifest: Manifest,
    /// [S * N * 2] positions at the minima, as they are stored (f32: docs/reference/file-formats.md, "Format versions").
    pub positions: Vec<f32>,
    pub species: Vec<u32>,
    pub info: InherentFile,
}

/// The MD setup a data set was simulated with (its protocol's integrator settings, the data set's species).
pub fn setup_of(data: &Dataset) -> MdSetup {
    let md: MdSettings = data
        .manifest
        .protocol
        .get("md")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let mut setup = data.manifest.system.md_setup(&md);
    setup.species.clone_from(&data.species);
    setup
}

fn describe(o: Outcome) -> String {
    match o {
        Outcome::Converged => "converged".into(),
        Outcome::NotConverged => "not converged".into(),
        Outcome::Failed(f) => format!("failed: {}", f.describe()),
    }
}

/// Minimises the chosen snapshots of `data` in batches on `compute`.
pub fn minimize(
    data: &Dataset,
    selection: &Selection,
    settings: &MinimizeSettings,
    compute: &Compute,
    ctx: &Ctx,
) -> Result<Inherent> {
    minimize_on(
        data,
        selection,
        settings,
        std::slice::from_ref(compute),
        ctx,
    )
}

/// `minimize` with the batches shared among `devices`, one host thread each (`--adapters`); each snapshot is
/// minimised alone, so the result is byte-identical to one device's.
pub fn minimize_on(
    data: &Dataset,
    selection: &Selection,
    settings: &MinimizeSettings,
    devices: &[Compute],
    ctx: &Ctx,
) -> Result<Inherent> {
    let Some(compute) = devices.first() else {
        return Err(Error::Input("minimize: no device to run on".into()));
    };
    let rows = selection.indices(data)?;
    if rows.is_empty() {
        return Err(Error::Input(format!(
            "`snapshots` selects no snapshot of {}; it has {} (choose all, glass, liquid or indices)",
            data.dir.display(),
            data.n_snapshots()
        )));
    }
    let setup = setup_of(data);
    let cfg = settings.fire(&setup, compute)?;
    let n = setup.n;
    ctx.observer.event(Event::Begin {
        what: "snapshots minimised",
        total: rows.len() as u64,
    });
    let mut positions = Vec::with_capacity(rows.len() * n * 2);
    let mut metas = Vec::with_capacity(rows.len());
    let mut snapshots = Vec::with_capacity(rows.len());
    let batch_size = settings
        .batch
        .min(rows.len().div_ceil(devices.len()))
        .max(1);
    let batches: Vec<&[usize]> = rows.chunks(batch_size).collect();
    let run_batch = |b: usize, compute: &Compute| -> Result<Minima> {
        let batch = batches[b];
        let mut backend: Box<dyn FireBackend> = match compute {
            Compute::Gpu(g) => Box::new(GpuFire::new(g.clone(), setup.clone(), cfg)?),
            Compute::Cpu => Box::new(CpuFire::new(setup.clone(), cfg)?),
        };
        let mut reps = Replicas {
            n,
            thermo: vec![Thermo::default(); batch.len()],
            ..Default::default()
        };
        for &k in batch {
            reps.pos
                .extend(data.snapshot(k).chunks_exact(2).map(|x| [x[0], x[1]]));
        }
        reps.vel = vec![[0.0; 2]; reps.pos.len()];
        reps.img = vec![[0; 2]; reps.pos.len()];
        let m = run_to_end(backend.as_mut(), &reps, 500, |_| ctx.cancel.check())?;
        ctx.observer.event(Event::Advance(batch.len() as u64));
        Ok(m)
    };
    let order: Vec<usize> = (0..batches.len()).collect();
    let devs: Vec<&Compute> = devices.iter().collect();
    let results = crate::sim::protocol::runner::on_devices(&order, &devs, &run_batch)?;
    for (batch, m) in batches.iter().zip(results) {
        for (j, &k) in batch.iter().enumerate() {
            let src = &data.manifest.snapshots[k];
            let min = m.minima[j];
            let index = metas.len();
            positions.extend(
                m.replicas.pos[j * n..(j + 1) * n]
                    .iter()
                    .flat_map(|x| [x[0] as f32, x[1] as f32]),
            );
            let mut snap = src.clone();
            snap.index = index;
            snap.pe_per_particle = min.e_per_particle;
            snap.kinetic_t = 0.0;
            snapshots.push(snap);
            metas.push(InherentMeta {
                index,
                source_index: k,
                replica: src.replica,
                class: src.class,
                target_t: src.target_t,
                pe_per_particle: src.pe_per_particle,
                e_is: min.e_per_particle,
                fmax: min.fmax,
                iterations: min.iterations,
                outcome: describe(min.outcome),
            });
        }
    }
    ctx.observer.event(Event::End);
    let not_converged: Vec<usize> = metas
        .iter()
        .filter(|m| m.outcome != "converged")
        .map(|m| m.index)
        .collect();
    if !not_converged.is_empty() {
        ctx.warn(&format!(
            "{} of {} snapshots did not reach max |F| < {:e} (rows {:?} of the output; see {INHERENT}): raise \
             `max_iter` or loosen `ftol`",
            not_converged.len(),
            metas.len(),
            cfg.ftol,
            &not_converged[..not_converged.len().min(20)]
        ));
    }
    let mut manifest = data.manifest.clone();
    manifest.format_version = crate::io::dataset::FORMAT_VERSION;
    manifest.snapshots = snapshots;
    manifest.program_version = env!("CARGO_PKG_VERSION").to_string();
    Ok(Inherent {
        manifest,
        positions,
        species: data.species.clone(),
        info: InherentFile {
            format_version: FORMAT_VERSION,
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            source: data.dir.clone(),
            backend: compute.identity(),
            ftol: cfg.ftol,
            max_iter: cfg.max_iter,
            snapshots: metas,
            not_converged,
        },
    })
}

/// Writes the minima as a data set (arrays, `manifest.json`) and `inherent.json`; refuses to overwrite
/// an existing one unless `force`.
pub fn write_inherent(dir: &Path, inh: &Inherent, force: bool) -> Result<()> {
    crate::io::outdir::no_overwrite(&dir.join(INHERENT), force, "inherent structures")?;
    Dataset::write_with(dir, &inh.manifest, &inh.species, |sink| {
        inh.positions.iter().try_for_each(|x| sink.push(x))
    })?;
    write_json_atomic(&dir.join(INHERENT), &inh.info)
}

/// Reads `inherent.json` of a directory written by `write_inherent`.
pub fn read_inherent(dir: &Path) -> Result<InherentFile> {
    crate::io::json::read_json_file(
        dir,
        INHERENT,
        FORMAT_VERSION,
        |f: &InherentFile| f.format_version,
        "`glasscam minimize`",
    )
}

/// The largest mean distance (in the system's length unit) between a minimum's particles and their places in
/// the snapshot it was minimised from; FIRE moves them a fraction of a diameter.
pub const MAX_MEAN_DISPLACEMENT: f64 = 1.0;

/// Mean minimum-image distance between the particles of two configurations [x0, y0, ...] in a square box.
fn mean_distance(a: &[f64], b: &[f64], l: f64) -> f64 {
    let n = (a.len() / 2).max(1);
    let sum: f64 = a
        .chunks_exact(2)
        .zip(b.chunks_exact(2))
        .map(|(p, q)| {
            let dx = p[0] - q[0] - l * ((p[0] - q[0]) / l).round();
            let dy = p[1] - q[1] - l * ((p[1] - q[1]) / l).round();
            dx.hypot(dy)
        })
        .sum();
    sum / n as f64
}

/// A directory written by `write_inherent`: the minima as a data set and their `inherent.json`.
#[derive(Clone, Debug)]
pub struct InherentSet {
    pub data: Dataset,
    pub info: InherentFile,
}

impl InherentSet {
    pub fn load(dir: &Path) -> Result<InherentSet> {
        Ok(InherentSet {
            info: read_inherent(dir)?,
            data: Dataset::load(dir)?,
        })
    }

    /// The row of the minimum of `source`'s snapshot `k`, refused unless these minima were made from `source`:
    /// the same particles, and a minimum of snapshot k from the same replica and energy.
    pub fn row_of(&self, source: &Dataset, k: usize) -> Result<usize> {
        let redo = || {
            format!(
                "run `glasscam minimize --data {} --out DIR` and give that DIR",
                source.dir.display()
            )
        };
        if self.data.species != source.species {
            return Err(Error::Input(format!(
                "inherent structures {} are of a system of {} particles with other species than {}; {}",
                self.data.dir.display(),
                self.data.n_particles(),
                source.dir.display(),
                redo()
            )));
        }
        let snap = &source.manifest.snapshots[k];
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        match self.info.snapshots.iter().find(|m| m.source_index == k) {
            Some(m) if m.replica == snap.replica && same(m.pe_per_particle, snap.pe_per_particle) => {
                // a minimum lies near its start; another configuration's particles are a box away on average
                let d = mean_distance(self.data.snapshot(m.index), source.snapshot(k), source.box_l());
                if d > MAX_MEAN_DISPLACEMENT {
                    return Err(Error::Input(format!(
                        "inherent structures {}: the particles of the minimum of snapshot {k} sit on average {d:.2} \
                         from their places in snapshot {k} of {} (a minimum lies within {MAX_MEAN_DISPLACEMENT} \
                         of its start): they are inherent structures of another data set; {}",
                        self.data.dir.display(),
                        source.dir.display(),
                        redo()
                    )));
                }
                Ok(m.index)
            }
            Some(m) => Err(Error::Input(format!(
                "inherent structures {}: the minimum of snapshot {k} was made from a snapshot of replica {} at \
                 energy {} per particle, but snapshot {k} of {} is of replica {} at {}: they are inherent \
                 structures of another data set; {}",
                self.data.dir.display(),
                m.replica,
                m.pe_per_particle,
                source.dir.display(),
                snap.replica,
                snap.pe_per_particle,
                redo()
            ))),
            None => Err(Error::Input(format!(
                "inherent structures {} hold no minimum of snapshot {k} of {}; {}",
                self.data.dir.display(),
                source.dir.display(),
                redo()
            ))),
        }
    }
}
