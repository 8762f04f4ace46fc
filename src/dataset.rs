//! The data set a simulation writes and every later stage reads: `.npy` arrays and `manifest.json`.
//!
//! Layout of a data set directory:
//! - `positions.npy`  float64 [S, N, 2]: snapshot k's particle positions, wrapped into [0, L)
//! - `species.npy`    uint32  [N]: species index of each particle (the same in every snapshot)
//! - `labels.npy`     int64   [S]: 1 glass, 0 liquid, -1 any other snapshot temperature
//! - `box.npy`        float64 [2]: box sides (L, L)
//! - `manifest.json`  `Manifest`: system, protocol, seeds, and per snapshot its replica, class, step, temperatures
//!   and potential energy per particle.
//!
//! Snapshots are replica-major: snapshot k = replica * (snapshots per replica) + t.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::npy;
use crate::system::SystemDef;

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT_VERSION: u32 = 1;
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
    pub class: String,
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
}

impl Dataset {
    /// Loads and checks a data set directory.
    pub fn load(dir: &Path) -> Result<Dataset> {
        let bad = |message: String| Error::Dataset {
            path: dir.to_path_buf(),
            message,
        };
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&mpath).map_err(|e| {
            bad(format!(
                "cannot read {MANIFEST} ({e}); is this a directory written by `glasscam simulate`?"
            ))
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{MANIFEST} is not a valid manifest: {e}")))?;
        if manifest.format_version > FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is newer than this glasscam understands ({FORMAT_VERSION}); update glasscam",
                manifest.format_version
            )));
        }
        let n = manifest.n_particles;
        let s = manifest.snapshots.len();
        let (shape, positions) = npy::read::<f64>(&dir.join("positions.npy"))?;
        if shape != [s as u64, n as u64, 2] {
            return Err(bad(format!(
                "positions.npy has shape {shape:?}, the manifest says [{s}, {n}, 2]"
            )));
        }
        let (shape, species) = npy::read::<u32>(&dir.join("species.npy"))?;
        if shape != [n as u64] {
            return Err(bad(format!(
                "species.npy has shape {shape:?}, expected [{n}]"
            )));
        }
        let ns = manifest.system.n_species() as u32;
        if let Some(bad_s) = species.iter().find(|&&x| x >= ns) {
            return Err(bad(format!(
                "species.npy holds species {bad_s} but the system has {ns}"
            )));
        }
        Ok(Dataset {
            dir: dir.to_path_buf(),
            manifest,
            positions,
            species,
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

    /// Snapshot indices whose class is `class` ("glass", "liquid", "other").
    pub fn of_class(&self, class: &str) -> Vec<usize> {
        self.manifest
            .snapshots
            .iter()
            .filter(|m| m.class == class)
            .map(|m| m.index)
            .collect()
    }

    /// Writes a data set (arrays first, manifest last: a directory with a manifest is complete). An existing
    /// manifest is removed first, so a kill halfway never leaves new arrays under an old manifest; the caller
    /// has checked that overwriting is wanted (`--force`).
    pub fn write(
        dir: &Path,
        manifest: &Manifest,
        positions: &[f64],
        species: &[u32],
    ) -> Result<()> {
        std::fs::create_dir_all(dir).at(dir)?;
        let mpath = dir.join(MANIFEST);
        if mpath.exists() {
            std::fs::remove_file(&mpath).at(&mpath)?;
        }
        let n = manifest.n_particles as u64;
        let s = manifest.snapshots.len() as u64;
        npy::write(&dir.join("positions.npy"), &[s, n, 2], positions)?;
        npy::write(&dir.join("species.npy"), &[n], species)?;
        let labels: Vec<i64> = manifest.snapshots.iter().map(|m| m.label).collect();
        npy::write(&dir.join("labels.npy"), &[s], &labels)?;
        npy::write(
            &dir.join("box.npy"),
            &[2],
            &[manifest.box_l, manifest.box_l],
        )?;
        write_json_atomic(&dir.join(MANIFEST), manifest)
    }
}

/// Writes JSON to a temporary file and renames it into place (see `outdir::write_atomic`).
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Input(format!("{}: cannot serialise: {e}", path.display())))?;
    crate::outdir::write_atomic(path, text.as_bytes())
}

/// Reads the JSON file `file` of `dir` as a `T`; one whose format version (`version`) is newer than `max_version`
/// is refused. `redo` names the command that writes it again (for the message).
pub fn read_json_file<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &str,
    max_version: u32,
    version: fn(&T) -> u32,
    redo: &str,
) -> Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).at(&path)?;
    let value: T = serde_json::from_str(&text).map_err(|e| Error::Dataset {
        path: dir.to_path_buf(),
        message: format!("{file} is not valid: {e}; rewrite it with {redo}"),
    })?;
    if version(&value) > max_version {
        return Err(Error::Dataset {
            path: dir.to_path_buf(),
            message: format!(
                "{file} has format version {}, newer than this glasscam's {max_version}; update glasscam",
                version(&value)
            ),
        });
    }
    Ok(value)
}

/// Reads only the manifest of the data set in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).at(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::Dataset {
        path: dir.to_path_buf(),
        message: format!(
            "{MANIFEST} is not a valid manifest ({e}); check the file or rerun with --force"
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
    let _lock = crate::outdir::OutDir::lock(out)?;
    crate::outdir::no_overwrite(&out.join(MANIFEST), force, "a data set")?;
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
