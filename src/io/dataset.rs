//! The data set a simulation writes and every later stage reads: `.npy` arrays and `manifest.json`.
//!
//! Layout of a data set directory:
//! - `positions.npy`  float32 [S, N, 2]: snapshot k's particle positions, wrapped into [0, L) (float64 before
//!   format 2, still read; either loads as f64)
//! - `species.npy`    uint32  [N]: species index of each particle (the same in every snapshot)
//! - `labels.npy`     int64   [S]: 1 glass, 0 liquid, -1 any other snapshot temperature
//! - `box.npy`        float64 [2]: box sides (L, L)
//! - `manifest.json`  `Manifest`: system, protocol, seeds, and per snapshot its replica, class, step, temperatures
//!   and potential energy per particle.
//!
//! Snapshots are replica-major: snapshot k = replica * (snapshots per replica) + t.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::io::json::write_json_readable;
use crate::io::npy;
use crate::sim::system::SystemDef;

pub const MANIFEST: &str = "manifest.json";
/// 2: positions.npy holds float32 (half the bytes of format 1's float64; docs/reference/file-formats.md says why that is
/// enough).
pub const FORMAT_VERSION: u32 = 2;
/// How `Manifest::backend` begins when parts of a run ran on different backends.
pub const MIXED: &str = "mixed: ";

/// One snapshot's record in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SnapshotMeta {
    /// Row in positions.npy.
    pub index: usize,
    /// Global replica index (seeded from the run seed and this index).
    pub replica: usize,
    /// "glass", "liquid" or "other".
    pub class: Class,
    /// 1 glass, 0 liquid, -1 other (as in labels.npy).
    pub label: i64,
    /// MD step at which it was taken.
    pub step: u64,
    /// Thermostat target temperature at that step.
    pub target_t: f64,
    /// Kinetic temperature 2 KE / n_dof.
    pub kinetic_t: f64,
    /// Potential energy per particle.
    pub pe_per_particle: f64,
}

/// What `manifest.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Manifest {
    pub format_version: u32,
    /// The glasscam version that wrote it.
    pub program_version: String,
    pub system: SystemDef,
    /// The protocol as run (see `protocol::Protocol`).
    pub protocol: serde_json::Value,
    pub seed: u64,
    pub n_particles: usize,
    pub box_l: f64,
    pub n_replicas: usize,
    /// Global replica indices [start, end) this data set holds (a shard holds part of the run).
    pub replica_range: (usize, usize),
    /// Target temperatures at which every replica was snapshotted, in order.
    pub snapshot_temps: Vec<f64>,
    /// Which backend and device produced it (what determines the numbers, not thread counts). A resumed run
    /// that moved records every backend that ran part of it, in order of first use, as `mixed: A + B`: its
    /// numbers mix two arithmetics, and `merge` refuses it.
    pub backend: String,
    /// Replicas that blew up and have no snapshots: (replica, step, cause).
    #[serde(default)]
    pub failed: Vec<FailedReplica>,
    pub snapshots: Vec<SnapshotMeta>,
}

impl Manifest {
    /// Checks a manifest read from the data set `dir` on its own: format version, the system (like a system
    /// file), counts, box and every snapshot record. The arrays are checked against it by `Dataset::load`.
    pub fn check(&self, dir: &Path) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Dataset {
                path: dir.to_path_buf(),
                message: format!("{MANIFEST}: {message}"),
            })
        };
        if self.format_version > FORMAT_VERSION {
            return bad(format!(
                "format version {} is newer than this glasscam understands ({FORMAT_VERSION}); update glasscam",
                self.format_version
            ));
        }
        self.system.check(&format!(
            "data set {}: {MANIFEST} field `system`",
            dir.display()
        ))?;
        let n = self.system.n_particles();
        if self.n_particles != n {
            return bad(format!(
                "`n_particles` is {} but the system's species counts add up to {n}",
                self.n_particles
            ));
        }
        let want = self.system.box_l();
        if !(self.box_l > 0.0 && self.box_l.is_finite()) || (self.box_l - want).abs() > 1e-6 * want
        {
            return bad(format!(
                "`box_l` is {} but the system (N {n}, density {}) gives {want}",
                self.box_l, self.system.density
            ));
        }
        let (r0, r1) = self.replica_range;
        if r1.checked_sub(r0) != Some(self.n_replicas) {
            return bad(format!(
                "`replica_range` {r0}..{r1} does not hold `n_replicas` ({}) replicas",
                self.n_replicas
            ));
        }
        for (k, m) in self.snapshots.iter().enumerate() {
            if m.index != k {
                return bad(format!(
                    "snapshot record {k} gives `index` {}; record k must describe row k of positions.npy",
                    m.index
                ));
            }
            if !(r0..r1).contains(&m.replica) {
                return bad(format!(
                    "snapshot {k} belongs to replica {}, outside this data set's replicas {r0}..{r1}",
                    m.replica
                ));
            }
            if m.class.label() != m.label {
                return bad(format!(
                    "snapshot {k} has class `{}` but label {} (glass 1, liquid 0, other -1)",
                    m.class, m.label
                ));
            }
            if !(m.target_t.is_finite() && m.kinetic_t.is_finite()) {
                return bad(format!(
                    "snapshot {k}: temperatures {} and {} must be finite",
                    m.target_t, m.kinetic_t
                ));
            }
        }
        Ok(())
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedReplica {
    pub replica: usize,
    pub step: u64,
    pub cause: String,
}

/// A loaded data set.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// [S * N * 2] positions.
    pub positions: Vec<f64>,
    /// [N] species indices.
    pub species: Vec<u32>,
    /// `sha256:<hex>` of manifest.json, positions.npy and species.npy as read: what every derived file (models,
    /// Grad-CAM, analysis, propensity) records, so a consumer can refuse output computed on another data set.
    pub fingerprint: String,
}

/// Relative slack on the box when checking positions: GPU runs wrap in f32, so a coordinate may reach L itself
/// or sit an f32 rounding above it.
const BOX_SLACK: f64 = 1e-5;

impl Dataset {
    /// Loads and checks a data set directory: the manifest's system is checked like a system file, the arrays
    /// against the manifest (shapes, species counts, snapshot records) and every coordinate is finite and in the
    /// box.
    pub fn load(dir: &Path) -> Result<Dataset> {
        let bad = |message: String| Error::Dataset {
            path: dir.to_path_buf(),
            message,
        };
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read(&mpath).map_err(|e| {
            bad(format!(
                "cannot read {MANIFEST} ({e}); is this a directory written by `glasscam simulate`?"
            ))
        })?;
        let ppath = dir.join("positions.npy");
        let pbytes = std::fs::read(&ppath).at(&ppath)?;
        let spath = dir.join("species.npy");
        let sbytes = std::fs::read(&spath).at(&spath)?;
        let d = Self::from_bytes(dir, &text, &pbytes, &sbytes)?;
        d.check_labels()?;
        Ok(d)
    }

    /// `labels.npy` must say what the manifest's snapshot records say (a tool reading the arrays alone trusts it).
    fn check_labels(&self) -> Result<()> {
        let path = self.dir.join("labels.npy");
        let bytes = std::fs::read(&path).at(&path)?;
        let (shape, labels) = npy::parse::<i64>(&path, &bytes)?;
        let want: Vec<i64> = self.manifest.snapshots.iter().map(|m| m.label).collect();
        if shape != [want.len() as u64] || labels != want {
            let k = labels
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(labels.len().min(want.len()));
            return Err(Error::Dataset {
                path: self.dir.clone(),
                message: format!(
                    "labels.npy does not match the manifest's snapshots (shape {shape:?} for {} snapshots; first \
                     difference at snapshot {k}); the data set is damaged or was edited: write it again",
                    want.len()
                ),
            });
        }
        Ok(())
    }

    /// `load` on the bytes of manifest.json, positions.npy and species.npy read from `dir`.
    pub fn from_bytes(dir: &Path, text: &[u8], pbytes: &[u8], sbytes: &[u8]) -> Result<Dataset> {
        let bad = |message: String| Error::Dataset {
            path: dir.to_path_buf(),
            message,
        };
        let manifest: Manifest = serde_json::from_slice(text)
            .map_err(|e| bad(format!("{MANIFEST} is not a valid manifest: {e}")))?;
        manifest.check(dir)?;
        let n = manifest.n_particles;
        let s = manifest.snapshots.len();
        let ppath = dir.join("positions.npy");
        let (shape, positions) = npy::parse_float(&ppath, pbytes)?;
        if shape != [s as u64, n as u64, 2] {
            return Err(bad(format!(
                "positions.npy has shape {shape:?}, the manifest says [{s}, {n}, 2]"
            )));
        }
        let spath = dir.join("species.npy");
        let (shape, species) = npy::parse::<u32>(&spath, sbytes)?;
        if shape != [n as u64] {
            return Err(bad(format!(
                "species.npy has shape {shape:?}, expected [{n}]"
            )));
        }
        let system = &manifest.system;
        let ns = system.n_species();
        let mut counts = vec![0usize; ns];
        for &x in &species {
            match counts.get_mut(x as usize) {
                Some(c) => *c += 1,
                None => {
                    return Err(bad(format!(
                        "species.npy holds species {x} but the system has {ns}"
                    )))
                }
            }
        }
        for (sp, &c) in system.species.iter().zip(&counts) {
            if c != sp.count {
                return Err(bad(format!(
                    "species.npy has {c} particles of species `{}` but the manifest's system says {}; the arrays \
                     do not belong to this manifest",
                    sp.name, sp.count
                )));
            }
        }
        let l = manifest.box_l;
        let (lo, hi) = (-BOX_SLACK * l, l * (1.0 + BOX_SLACK));
        if let Some(k) = positions.iter().position(|x| !(*x >= lo && *x <= hi)) {
            let (snap, i, axis) = (k / (2 * n), (k / 2) % n, ["x", "y"][k % 2]);
            let what = if positions[k].is_finite() {
                format!("lies outside the box [0, {l}] (is `box_l` in the manifest right?)")
            } else {
                "is not finite".to_string()
            };
            return Err(bad(format!(
                "positions.npy snapshot {snap} particle {i}: {axis} = {} {what}; the data set is damaged, \
                 simulate it again",
                positions[k]
            )));
        }
        // the manifest's content, not its text: the same data set re-serialised is the same data set
        let canonical = serde_json::to_vec(&manifest)
            .map_err(|e| bad(format!("{MANIFEST} cannot be serialised again: {e}")))?;
        let mut h = Sha256::new();
        for part in [&canonical[..], pbytes, sbytes] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let fingerprint = format!("sha256:{}", hex(&h.finalize()));
        Ok(Dataset {
            dir: dir.to_path_buf(),
            manifest,
            positions,
            species,
            fingerprint,
        })
    }

    pub fn n_particles(&self) -> usize {
        self.manifest.n_particles
    }

    pub fn n_snapshots(&self) -> usize {
        self.manifest.snapshots.len()
    }

    pub fn box_l(&self) -> f64 {
        self.manifest.box_l
    }

    /// Positions of snapshot k as [x0, y0, x1, y1, ...].
    pub fn snapshot(&self, k: usize) -> &[f64] {
        let n2 = 2 * self.n_particles();
        &self.positions[k * n2..(k + 1) * n2]
    }

    /// Snapshot indices of class `class`.
    pub fn of_class(&self, class: Class) -> Vec<usize> {
        self.manifest
            .snapshots
            .iter()
            .filter(|m| m.class == class)
            .map(|m| m.index)
            .collect()
    }

    /// Writes a data set (arrays first, manifest last: a directory with a manifest is complete). An existing
    /// manifest is removed first, so a kill halfway never leaves new arrays under an old manifest; the caller
    /// has checked that overwriting is wanted (`--force`). Positions are stored as float32.
    pub fn write(
        dir: &Path,
        manifest: &Manifest,
        positions: &[f64],
        species: &[u32],
    ) -> Result<()> {
        Self::write_with(dir, manifest, species, |sink| store(sink, positions))
    }

    /// `write` with the positions handed over in pieces by `fill` (e.g. one simulation chunk at a time, so a
    /// long ramp is never held in memory whole); `fill` must give exactly the manifest's S x N x 2 values.
    pub fn write_with(
        dir: &Path,
        manifest: &Manifest,
        species: &[u32],
        fill: impl FnOnce(&mut npy::Sink<'_, f32>) -> Result<()>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).at(dir)?;
        let mpath = dir.join(MANIFEST);
        if mpath.exists() {
            std::fs::remove_file(&mpath).at(&mpath)?;
        }
        let n = manifest.n_particles as u64;
        let s = manifest.snapshots.len() as u64;
        npy::write_with(&dir.join("positions.npy"), &[s, n, 2], fill)?;
        npy::write(&dir.join("species.npy"), &[n], species)?;
        let labels: Vec<i64> = manifest.snapshots.iter().map(|m| m.label).collect();
        npy::write(&dir.join("labels.npy"), &[s], &labels)?;
        npy::write(
            &dir.join("box.npy"),
            &[2],
            &[manifest.box_l, manifest.box_l],
        )?;
        write_json_readable(&dir.join(MANIFEST), manifest)
    }
}

/// Hands positions computed in f64 to a data set's positions.npy, rounded to the nearest f32.
pub fn store(sink: &mut npy::Sink<'_, f32>, positions: &[f64]) -> Result<()> {
    for &x in positions {
        sink.push(&(x as f32))?;
    }
    Ok(())
}

/// Reads only the manifest of the data set in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).at(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::Dataset {
        path: dir.to_path_buf(),
        message: format!(
            "{MANIFEST} is not a valid manifest ({e}); check the file or rerun with `force`"
        ),
    })
}

/// Joins shard data sets (from `simulate --shard k/n`) into one at `out`, identical byte for byte to the data
/// set a single run would write. `force` allows replacing a data set already at `out`.
pub fn merge(shards: &[PathBuf], out: &Path, force: bool) -> Result<Manifest> {
    if shards.is_empty() {
        return Err(Error::Input(
            "merge: give the shard directories to join".into(),
        ));
    }
    let mut sets: Vec<Dataset> = shards
        .iter()
        .map(|d| Dataset::load(d))
        .collect::<Result<_>>()?;
    let mut seen = std::collections::BTreeMap::new();
    for d in &sets {
        let key = std::fs::canonicalize(&d.dir).unwrap_or_else(|_| d.dir.clone());
        if let Some(first) = seen.insert(key, &d.dir) {
            return Err(Error::Input(format!(
                "merge: {} and {} are the same shard; give each shard once",
                first.display(),
                d.dir.display()
            )));
        }
    }
    let inputs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let _lock = crate::io::outdir::claim(out, &inputs, true, force)?;
    sets.sort_by_key(|d| d.manifest.replica_range.0);
    let first = sets[0].manifest.clone();
    let total = first
        .protocol
        .get("replicas")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            Error::Input(format!(
                "{}: the manifest's protocol has no replica count",
                sets[0].dir.display()
            ))
        })? as usize;
    let mut next = 0;
    let mut prev = None;
    for d in &sets {
        let m = &d.manifest;
        if m.backend.starts_with(MIXED) {
            return Err(Error::Input(format!(
                "merge: {} ran on several backends ({}); rerun that shard on one backend",
                d.dir.display(),
                m.backend
            )));
        }
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
        if m.replica_range.0 < next {
            let prev = prev.map_or_else(String::new, |p: &Dataset| p.dir.display().to_string());
            return Err(Error::Input(format!(
                "merge: {} (replicas {}..{}) overlaps {prev} (replicas up to {next}): give each shard once, \
                 all from one run's split into shards k/n",
                d.dir.display(),
                m.replica_range.0,
                m.replica_range.1
            )));
        }
        if m.replica_range.0 > next {
            return Err(Error::Input(format!(
                "merge: replicas {}..{} are missing (next shard, {}, starts at {})",
                next,
                m.replica_range.0,
                d.dir.display(),
                m.replica_range.0
            )));
        }
        next = m.replica_range.1;
        prev = Some(d);
    }
    if next != total {
        return Err(Error::Input(format!(
            "merge: the shards cover replicas 0..{next} of {total}; run the missing shards first"
        )));
    }
    let mut snapshots = Vec::new();
    let mut failed = Vec::new();
    for d in &sets {
        for m in &d.manifest.snapshots {
            let mut m = m.clone();
            m.index = snapshots.len();
            snapshots.push(m);
        }
        failed.extend(d.manifest.failed.iter().cloned());
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        n_replicas: total,
        replica_range: (0, total),
        failed,
        snapshots,
        ..first
    };
    Dataset::write_with(out, &manifest, &sets[0].species, |sink| {
        sets.iter().try_for_each(|d| store(sink, &d.positions))
    })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    /// Checkpoints and manifests keep f64 state as JSON numbers: every finite f64 must come back bit for bit
    /// (serde_json's `float_roundtrip`), including 17-digit decimals as Python's `repr` writes them.
    #[test]
    fn every_f64_survives_a_json_round_trip_bit_exactly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let mut values: Vec<f64> = vec![
            0.1 + 0.2,
            f64::MIN_POSITIVE,
            f64::MAX,
            -f64::MIN_POSITIVE / 3.0,
            5e-324,
            1.0 - f64::EPSILON / 2.0,
        ];
        for _ in 0..200_000 {
            let x = f64::from_bits(rng.random::<u64>());
            if x.is_finite() {
                values.push(x);
            }
            // a "typical" physics value, printed with 17 significant digits and read back
            let y: f64 = rng.random_range(-10.0..10.0);
            values.push(format!("{y:.16e}").parse().expect("a float"));
        }
        for x in values {
            let text = serde_json::to_string(&x).expect("serialise");
            let back: f64 = serde_json::from_str(&text).expect("parse");
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e} -> {text} -> {back:e}");
            // the 17-digit text form (what Python's repr or another tool may write) parses exactly too
            let long = format!("{x:.16e}");
            let parsed: f64 = serde_json::from_str(&long).expect("parse 17 digits");
            assert_eq!(parsed.to_bits(), x.to_bits(), "{long}");
        }
    }
}
