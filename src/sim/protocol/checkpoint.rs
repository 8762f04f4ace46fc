//! What an unfinished run keeps in `<out>/.partial`, each piece one file written atomically: `run.json` (the
//! settings that identify the run), `checkpoint.bin` (the state of the chunk in progress) and `chunk_NNNNN.bin`
//! (a finished chunk's snapshots). The `.bin` files are one container each: a header with a format version, the
//! record as JSON (floats round-trip exactly), the arrays as raw little-endian numbers, and a CRC-32 of it all
//! that every read verifies. A kill at any moment leaves either the old file or the new one: never a mixture.

use std::path::Path;

use glasscam_kernels::md::{Replicas, Thermo};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::schedule::{Leg, Protocol};
use crate::error::{Error, IoContext, Result};
use crate::io::dataset::{FailedReplica, SnapshotMeta};
use crate::sim::system::SystemDef;

const MAGIC: &[u8; 8] = b"glcmstat";
/// Bumped whenever the container or a record changes; `--resume` refuses any other version.
pub const STATE_VERSION: u32 = 2;

pub const RUN_KEY: &str = "run.json";
pub const CHECKPOINT: &str = "checkpoint.bin";

pub fn chunk_file(c: usize) -> String {
    format!("chunk_{c:05}.bin")
}

/// What identifies a run, stored beside its partial results; `--resume` refuses a different one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunKey {
    pub state_version: u32,
    pub system: SystemDef,
    pub protocol: Protocol,
    pub seed: u64,
    pub replicas: (usize, usize),
    pub chunk: usize,
}

/// The state of the chunk in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chunk: usize,
    pub stage: usize,
    pub seg_done: u64,
    pub step: u64,
    pub thermo: Vec<ThermoRecord>,
    pub snapshots: Vec<SnapshotMeta>,
    pub failed: Vec<FailedReplica>,
    /// Backends that ran this chunk so far, in order of first use.
    pub backends: Vec<String>,
}

/// A finished chunk: its snapshots (replica-major, blown-up replicas left out) and what failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkResult {
    pub snapshots: Vec<SnapshotMeta>,
    pub failed: Vec<FailedReplica>,
    pub backends: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThermoRecord {
    pub eta: Vec<f64>,
    pub veta: Vec<f64>,
    pub ke: f64,
    pub pe: f64,
    pub status: u32,
    pub fail_step: u64,
    pub t_scale: f64,
}

impl From<&Thermo> for ThermoRecord {
    fn from(t: &Thermo) -> Self {
        // A blown-up replica's values may be NaN, which JSON cannot hold (it would write null and the checkpoint
        // could not be read back); its state is never used again, so it is stored as 0.
        let keep = |x: f64| {
            if t.status != 0 && !x.is_finite() {
                0.0
            } else {
                x
            }
        };
        ThermoRecord {
            eta: t.eta.iter().map(|&x| keep(x)).collect(),
            veta: t.veta.iter().map(|&x| keep(x)).collect(),
            ke: keep(t.ke),
            pe: keep(t.pe),
            status: t.status,
            fail_step: t.fail_step,
            t_scale: keep(t.t_scale),
        }
    }
}

impl ThermoRecord {
    fn thermo(&self, path: &Path) -> Result<Thermo> {
        let mut t = Thermo {
            ke: self.ke,
            pe: self.pe,
            status: self.status,
            fail_step: self.fail_step,
            t_scale: self.t_scale,
            ..Default::default()
        };
        if self.eta.len() != t.eta.len() || self.veta.len() != t.veta.len() {
            return Err(corrupt(
                path,
                "thermostat chain length differs from this build's",
            ));
        }
        t.eta.copy_from_slice(&self.eta);
        t.veta.copy_from_slice(&self.veta);
        Ok(t)
    }
}

fn corrupt(path: &Path, what: &str) -> Error {
    Error::Input(format!(
        "{}: {what}; this run's scratch state cannot be used: delete only that file's directory ({}) and \
         rerun to start the unfinished part over, finished data sets are not affected",
        path.display(),
        path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    ))
}

/// Encodes a record and its arrays as one container.
fn encode<M: Serialize>(meta: &M, f64s: &[&[f64]], i32s: &[&[i32]]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(meta)
        .map_err(|e| Error::Input(format!("cannot serialise the run state: {e}")))?;
    let data: usize = f64s.iter().map(|a| a.len() * 8).sum::<usize>()
        + i32s.iter().map(|a| a.len() * 4).sum::<usize>();
    let mut b = Vec::with_capacity(64 + json.len() + data);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&STATE_VERSION.to_le_bytes());
    b.extend_from_slice(&(json.len() as u64).to_le_bytes());
    b.extend_from_slice(&json);
    b.extend_from_slice(&(f64s.len() as u32).to_le_bytes());
    b.extend_from_slice(&(i32s.len() as u32).to_le_bytes());
    for a in f64s {
        b.extend_from_slice(&(a.len() as u64).to_le_bytes());
        b.extend(a.iter().flat_map(|x| x.to_le_bytes()));
    }
    for a in i32s {
        b.extend_from_slice(&(a.len() as u64).to_le_bytes());
        b.extend(a.iter().flat_map(|x| x.to_le_bytes()));
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Ok(b)
}

/// A container's record and its f64 and i32 arrays.
pub type Decoded<M> = (M, Vec<Vec<f64>>, Vec<Vec<i32>>);

/// Decodes and verifies a container read from `path`.
fn decode<M: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<Decoded<M>> {
    if bytes.len() < MAGIC.len() + 4 + 4 || &bytes[..8] != MAGIC {
        return Err(corrupt(path, "not a glasscam state file (or truncated)"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let crc = u32::from_le_bytes(tail.try_into().map_err(|_| corrupt(path, "truncated"))?);
    let version = u32::from_le_bytes(
        body[8..12]
            .try_into()
            .map_err(|_| corrupt(path, "truncated"))?,
    );
    if version != STATE_VERSION {
        return Err(Error::Input(format!(
            "{}: written by another glasscam version (state format {version}, this one reads {STATE_VERSION}); \
             finish the run with that version, or delete only {} and rerun to start the unfinished part over",
            path.display(),
            path.parent().map(|p| p.display().to_string()).unwrap_or_default()
        )));
    }
    if crc32fast::hash(body) != crc {
        return Err(corrupt(path, "checksum mismatch (the file is damaged)"));
    }
    let mut r = Reader {
        b: body,
        at: 12,
        path,
    };
    let n = r.u64()? as usize;
    let meta: M = serde_json::from_slice(r.take(n)?)
        .map_err(|e| corrupt(path, &format!("record unreadable ({e})")))?;
    let (nf, ni) = (r.u32()? as usize, r.u32()? as usize);
    // no capacity from the counts: a damaged count must not allocate (each array needs 8 bytes of file anyway)
    let mut f64s = Vec::new();
    for _ in 0..nf {
        let len = r.u64()? as usize;
        let raw = r.take(
            len.checked_mul(8)
                .ok_or_else(|| corrupt(path, "bad length"))?,
        )?;
        f64s.push(
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        );
    }
    let mut i32s = Vec::new();
    for _ in 0..ni {
        let len = r.u64()? as usize;
        let raw = r.take(
            len.checked_mul(4)
                .ok_or_else(|| corrupt(path, "bad length"))?,
        )?;
        i32s.push(
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
    }
    if r.at != body.len() {
        return Err(corrupt(path, "trailing bytes"));
    }
    Ok((meta, f64s, i32s))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| corrupt(self.path, "truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes([
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
        ]))
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

fn read<M: DeserializeOwned>(path: &Path) -> Result<Decoded<M>> {
    let bytes = std::fs::read(path).at(path)?;
    decode(path, &bytes)
}

fn flat2<T: Copy>(v: &[[T; 2]]) -> Vec<T> {
    v.iter().flat_map(|x| [x[0], x[1]]).collect()
}

fn pairs<T: Copy>(v: &[T]) -> Vec<[T; 2]> {
    v.chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}

/// Writes the checkpoint of the chunk in progress (state of every replica and the snapshots taken so far).
pub fn save(part: &Path, cp: &Checkpoint, reps: &Replicas, snap_pos: &[f64]) -> Result<()> {
    // snapshots of blown-up replicas (dropped at the end) may carry NaN temperatures: stored as 0, see ThermoRecord
    let mut cp = cp.clone();
    for s in &mut cp.snapshots {
        if cp.failed.iter().any(|f| f.replica == s.replica) {
            for x in [&mut s.kinetic_t, &mut s.pe_per_particle] {
                if !x.is_finite() {
                    *x = 0.0;
                }
            }
        }
    }
    let bytes = encode(
        &cp,
        &[&flat2(&reps.pos), &flat2(&reps.vel), snap_pos],
        &[&flat2(&reps.img)],
    )?;
    crate::io::outdir::write_atomic(&part.join(CHECKPOINT), &bytes)
}

/// What a checkpoint of the chunk in progress must match: its chunk, its replicas, the run's legs.
pub struct Expect<'a> {
    pub chunk: usize,
    pub replicas: std::ops::Range<usize>,
    pub legs: &'a [Leg],
}

/// The checkpoint container as it is on disk (record and arrays: positions, velocities, snapshot positions;
/// images), checksum verified but not checked against a run: for tools that inspect a run's state.
pub fn read_raw(path: &Path) -> Result<Decoded<Checkpoint>> {
    read(path)
}

/// Writes a checkpoint container as `read_raw` returns it (with a fresh checksum).
pub fn write_raw(path: &Path, cp: &Checkpoint, f64s: &[&[f64]], i32s: &[&[i32]]) -> Result<()> {
    crate::io::outdir::write_atomic(path, &encode(cp, f64s, i32s)?)
}

/// Reads the checkpoint of the chunk `expect.chunk`, if there is one, checked against the run: `n` particles,
/// the chunk's replicas, the legs. A checkpoint of an earlier chunk is stale (that chunk finished) and
/// ignored; anything that does not fit is refused rather than resumed into a wrong data set.
pub fn load(
    part: &Path,
    n: usize,
    expect: &Expect,
) -> Result<Option<(Checkpoint, Replicas, Vec<f64>)>> {
    let path = part.join(CHECKPOINT);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).at(&path)?;
    parse(&path, &bytes, n, expect)
}

/// `load` on the bytes of a checkpoint file read from `path`.
pub fn parse(
    path: &Path,
    bytes: &[u8],
    n: usize,
    expect: &Expect,
) -> Result<Option<(Checkpoint, Replicas, Vec<f64>)>> {
    let path = path.to_path_buf();
    let (cp, f, i): Decoded<Checkpoint> = decode(&path, bytes)?;
    if cp.chunk < expect.chunk {
        return Ok(None);
    }
    let [pos, vel, snaps] =
        <[Vec<f64>; 3]>::try_from(f).map_err(|_| corrupt(&path, "wrong arrays"))?;
    let [img] = <[Vec<i32>; 1]>::try_from(i).map_err(|_| corrupt(&path, "wrong arrays"))?;
    check(&path, &cp, expect)?;
    let count = cp.thermo.len();
    let want = count * n * 2;
    if pos.len() != want
        || vel.len() != want
        || img.len() != want
        || snaps.len() != cp.snapshots.len() * 2 * n
    {
        return Err(corrupt(&path, "array sizes do not match the run"));
    }
    // a replica that blew up may hold anything; every other one must be finite to be resumed
    for (k, t) in cp.thermo.iter().enumerate() {
        if t.status != 0 {
            continue;
        }
        let own = k * 2 * n..(k + 1) * 2 * n;
        let scalars = [t.ke, t.pe, t.t_scale];
        let state = pos[own.clone()]
            .iter()
            .chain(&vel[own])
            .chain(&t.eta)
            .chain(&t.veta);
        if let Some(x) = state.chain(&scalars).find(|x| !x.is_finite()) {
            return Err(corrupt(
                &path,
                &format!(
                    "replica {} is marked running but its state holds {x}",
                    expect.replicas.start + k
                ),
            ));
        }
    }
    for (m, p) in cp.snapshots.iter().zip(snaps.chunks_exact(2 * n.max(1))) {
        let k = m.replica - expect.replicas.start;
        if cp.thermo[k].status == 0 && p.iter().any(|x| !x.is_finite()) {
            return Err(corrupt(
                &path,
                &format!(
                    "a snapshot of running replica {} holds a non-finite position",
                    m.replica
                ),
            ));
        }
    }
    let reps = Replicas {
        n,
        pos: pairs(&pos),
        vel: pairs(&vel),
        img: pairs(&img),
        thermo: cp
            .thermo
            .iter()
            .map(|t| t.thermo(&path))
            .collect::<Result<_>>()?,
    };
    Ok(Some((cp, reps, snaps)))
}

/// Checks a checkpoint's record against the run before any array is used: the chunk, one thermostat record
/// per replica, a stage and step the legs can reach, the snapshots those legs took and failures in range.
fn check(path: &Path, cp: &Checkpoint, e: &Expect) -> Result<()> {
    let bad = |what: String| Err(corrupt(path, &what));
    let count = e.replicas.len();
    if cp.chunk != e.chunk {
        return bad(format!(
            "it is for chunk {} but chunk {} is the next to run",
            cp.chunk.saturating_add(1),
            e.chunk + 1
        ));
    }
    if cp.thermo.len() != count {
        return bad(format!(
            "{} thermostat records for the chunk's {count} replicas",
            cp.thermo.len()
        ));
    }
    let Some(st) = e.legs.get(cp.stage) else {
        return bad(format!(
            "stage {} does not exist (the protocol has {})",
            cp.stage,
            e.legs.len()
        ));
    };
    let before = &e.legs[..cp.stage];
    let at = before
        .iter()
        .try_fold(cp.seg_done, |a, s| a.checked_add(s.segment.len));
    if cp.seg_done > st.segment.len || at != Some(cp.step) {
        return bad(format!(
            "step {} with {} steps done of leg {} does not fit the protocol's schedule",
            cp.step, cp.seg_done, cp.stage
        ));
    }
    let taken = before.iter().filter(|s| s.snapshot.is_some()).count() * count;
    if cp.snapshots.len() != taken {
        return bad(format!(
            "{} snapshot records, but the legs before leg {} take {taken}",
            cp.snapshots.len(),
            cp.stage
        ));
    }
    let foreign = cp
        .snapshots
        .iter()
        .map(|s| s.replica)
        .chain(cp.failed.iter().map(|f| f.replica))
        .find(|r| !e.replicas.contains(r));
    if let Some(r) = foreign {
        return bad(format!(
            "it names replica {r}, not one of the chunk's {}..{}",
            e.replicas.start, e.replicas.end
        ));
    }
    for (k, t) in cp.thermo.iter().enumerate() {
        let r = e.replicas.start + k;
        if (t.status != 0) != cp.failed.iter().any(|f| f.replica == r) {
            return bad(format!(
                "replica {r}'s thermostat status ({}) disagrees with the list of failed replicas",
                t.status
            ));
        }
    }
    Ok(())
}

/// Writes a finished chunk.
pub fn save_chunk(part: &Path, c: usize, result: &ChunkResult, positions: &[f64]) -> Result<()> {
    let bytes = encode(result, &[positions], &[])?;
    crate::io::outdir::write_atomic(&part.join(chunk_file(c)), &bytes)
}

/// Reads a finished chunk of `replicas`: its record and snapshot positions (only those of replicas that did not
/// blow up, so every one must be finite).
pub fn load_chunk(
    part: &Path,
    c: usize,
    n: usize,
    replicas: std::ops::Range<usize>,
) -> Result<(ChunkResult, Vec<f64>)> {
    let path = part.join(chunk_file(c));
    let (r, f, _): Decoded<ChunkResult> = read(&path)?;
    let [pos] = <[Vec<f64>; 1]>::try_from(f).map_err(|_| corrupt(&path, "wrong arrays"))?;
    if pos.len() != r.snapshots.len() * n * 2 {
        return Err(corrupt(
            &path,
            "positions do not match its snapshot records",
        ));
    }
    let foreign = r
        .snapshots
        .iter()
        .map(|s| s.replica)
        .chain(r.failed.iter().map(|f| f.replica))
        .find(|x| !replicas.contains(x));
    if let Some(x) = foreign {
        return Err(corrupt(
            &path,
            &format!(
                "it names replica {x}, not one of the chunk's {}..{}",
                replicas.start, replicas.end
            ),
        ));
    }
    if let Some(k) = pos.iter().position(|x| !x.is_finite()) {
        return Err(corrupt(
            &path,
            &format!(
                "snapshot {} (replica {}) holds a non-finite position",
                k / (2 * n),
                r.snapshots[k / (2 * n)].replica
            ),
        ));
    }
    Ok((r, pos))
}

/// Reads `run.json`; an unreadable one is an error that names the file and the fix.
pub fn load_key(part: &Path) -> Result<RunKey> {
    let path = part.join(RUN_KEY);
    let text = std::fs::read_to_string(&path).at(&path)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Input(format!(
            "{}: unreadable ({e}); it identifies an unfinished run: rerun with `force` to start it over \
             (only {} is discarded)",
            path.display(),
            part.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_round_trips_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let meta: Vec<f64> = vec![0.1 + 0.2, 1.0 / 3.0, -7.123456789012345e-300];
        let a = [1.5, f64::MIN_POSITIVE, -0.0];
        let b = [-3, 7];
        let bytes = encode(&meta, &[&a], &[&b]).unwrap();
        let (m, f, i): Decoded<Vec<f64>> = decode(&path, &bytes).unwrap();
        assert_eq!(
            m.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            meta.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(
            f[0].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(i[0], b);
        // a flipped bit anywhere, a truncation, another version: all refused with the file named
        for k in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[k] ^= 0x10;
            let e = decode::<Vec<f64>>(&path, &bad).unwrap_err().to_string();
            assert!(e.contains("x.bin"), "{e}");
        }
        let e = decode::<Vec<f64>>(&path, &bytes[..bytes.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum") || e.contains("truncated"), "{e}");
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&(STATE_VERSION + 1).to_le_bytes());
        let e = decode::<Vec<f64>>(&path, &other).unwrap_err().to_string();
        assert!(e.contains("another glasscam version"), "{e}");
    }
}
