//! Property tests over every parser and loader: system TOML, model TOML/JSON, model config.json with its
//! safetensors weights, the data set manifest, `.npy`, LAMMPS dump, extended XYZ and checkpoints. Each property
//! takes a valid file, mutates it (numbers replaced by edge values, bytes deleted, inserted, duplicated or
//! flipped) and feeds it to the loader: it must return a value or an error, never panic or abort; what it
//! accepts must satisfy the loader's promises.
//!
//! CI runs a few cases per property (`GLASSCAM_PROPTEST_CASES`, default 48). For a long run:
//! `GLASSCAM_PROPTEST_CASES=120000 cargo test --release --test proptest_parsers` (9 properties).

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use glasscam::io::dataset::Dataset;
use glasscam::io::import::{self, Format, SpeciesMap};
use glasscam::learn::cnn::config::ModelConfig;
use glasscam::learn::cnn::model;
use glasscam::sim::protocol::checkpoint::{self, Expect};
use glasscam::sim::protocol::{run, Leg, RunOptions};
use glasscam::sim::system::{MdSettings, SystemDef};
use glasscam_kernels::Compute;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("GLASSCAM_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Values that break parsers: signs, zero, huge, tiny, non-finite, integer edges, wrong types.
const EDGES: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "99999999999",
    "100000",
    "2",
    "3",
    "\"x\"",
    "[]",
    "{}",
    "null",
    "true",
    "",
    "0.5",
    "1",
];

/// One mutation: kind, position, length, value (interpreted per kind).
type Mutation = (u8, usize, usize, u64);

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec((0u8..6, any::<usize>(), 0usize..16, any::<u64>()), 1..5)
}

/// Byte ranges of the numbers in `b` (runs of digits with sign, point and exponent).
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let mut s = i;
            if s > 0 && b[s - 1] == b'-' {
                s -= 1;
            }
            let mut e = i;
            while e < b.len() && (b[e].is_ascii_digit() || b"+-.eE".contains(&b[e])) {
                e += 1;
            }
            out.push((s, e));
            i = e;
        } else {
            i += 1;
        }
    }
    out
}

/// Applies `ms` to `base`: most mutations replace a number (the values loaders check), the rest edit bytes.
fn mutate(base: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = base.to_vec();
    for &(kind, pos, len, val) in ms {
        let at = if b.is_empty() { 0 } else { pos % b.len() };
        let end = (at + len).min(b.len());
        match kind {
            0..=2 => {
                let nums = numbers(&b);
                if nums.is_empty() {
                    continue;
                }
                let (s, e) = nums[pos % nums.len()];
                let new = match kind {
                    0 => EDGES[(val as usize) % EDGES.len()].to_string(),
                    1 => (val % 1000).to_string(),
                    _ => format!("{:e}", f64::from_bits(val)),
                };
                b.splice(s..e, new.into_bytes());
            }
            3 => {
                b.drain(at..end);
            }
            4 => {
                let bytes = val.to_le_bytes();
                b.splice(at..at, bytes[..len.min(8)].iter().copied());
            }
            _ => {
                if let Some(x) = b.get_mut(at) {
                    *x ^= (val as u8) | 1;
                }
            }
        }
    }
    b
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory per test thread for the loaders that read files.
fn scratch() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"));
    let d = dir
        .path()
        .join(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// The valid inputs the properties start from, made once: a small data set, a tiny trained model and a
/// checkpoint of a stopped run.
struct Fixtures {
    _tmp: tempfile::TempDir,
    data_dir: PathBuf,
    manifest: Vec<u8>,
    positions: Vec<u8>,
    species: Vec<u8>,
    model_dir: PathBuf,
    config: Vec<u8>,
    weights: Vec<u8>,
    checkpoint_path: PathBuf,
    checkpoint: Vec<u8>,
    legs: Vec<Leg>,
}

/// Particles of the checkpointed run.
const N_CP: usize = 100;

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (data, model_dir) = common::trained_tiny(tmp.path());
        let read = |p: &Path| std::fs::read(p).expect("fixture");
        let sys = common::scaled(SystemDef::kam(), N_CP);
        let p = common::tiny_protocol(2);
        let run_dir = tmp.path().join("run");
        let mut o = RunOptions::new(&run_dir, 1, Compute::Cpu);
        o.stop_after_steps = Some(60);
        let r = run(&sys, &p, &o, &glasscam::events::quiet());
        assert!(matches!(r, Err(glasscam::Error::Interrupted)), "{r:?}");
        let checkpoint_path = run_dir.join(".partial").join(checkpoint::CHECKPOINT);
        Fixtures {
            data_dir: data.dir.clone(),
            manifest: read(&data.dir.join("manifest.json")),
            positions: read(&data.dir.join("positions.npy")),
            species: read(&data.dir.join("species.npy")),
            config: read(&model_dir.join(model::CONFIG)),
            weights: read(&model_dir.join(model::WEIGHTS)),
            model_dir,
            checkpoint: read(&checkpoint_path),
            checkpoint_path,
            legs: p.schedule(&sys).expect("legs"),
            _tmp: tmp,
        }
    })
}

/// A checkpoint container with a valid checksum around a mutated record and arrays (the layout of
/// src/protocol/checkpoint.rs: magic, version, JSON record, f64 arrays, i32 arrays, CRC-32).
fn reencode(valid: &[u8], ms: &[Mutation], array_ms: &[Mutation]) -> Vec<u8> {
    let body = &valid[..valid.len() - 4];
    let json_len = u64::from_le_bytes(body[12..20].try_into().expect("len")) as usize;
    let json = mutate(&body[20..20 + json_len], ms);
    let rest = mutate(&body[20 + json_len..], array_ms);
    let mut b = body[..12].to_vec();
    b.extend_from_slice(&(json.len() as u64).to_le_bytes());
    b.extend_from_slice(&json);
    b.extend_from_slice(&rest);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Imports a mutated `base` written to `name`: frames it accepts have a position pair per atom.
fn import_never_panics(
    base: &str,
    name: &str,
    format: Format,
    ms: &[Mutation],
) -> Result<(), TestCaseError> {
    let path = scratch().join(name);
    std::fs::write(&path, mutate(base.as_bytes(), ms)).expect("write");
    let sys = SystemDef::from_toml(common::TINY_SYSTEM, "tiny").expect("tiny");
    let map = SpeciesMap::new(&sys, None).expect("map");
    if let Ok(im) = import::read(&path, format, &map) {
        for fr in &im.frames {
            prop_assert_eq!(fr.positions.len(), 2 * fr.species.len());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn system_toml_never_panics(ms in mutations()) {
        let t = text(&mutate(common::TINY_SYSTEM.as_bytes(), &ms));
        if let Ok(sys) = SystemDef::from_toml(&t, "prop.toml") {
            // an accepted system is usable
            prop_assert!(sys.n_particles() > 0 && sys.box_l().is_finite());
            let setup = sys.md_setup(&MdSettings::default());
            prop_assert_eq!(setup.species.len(), sys.n_particles());
            prop_assert!(sys.diameters().iter().all(|d| *d > 0.0));
        }
    }

    #[test]
    fn model_toml_and_json_never_panic(ms in mutations(), json in any::<bool>()) {
        let base = if json {
            serde_json::to_string_pretty(&ModelConfig::quick()).expect("json")
        } else {
            include_str!("../../presets/quick-model.toml").to_string()
        };
        let t = text(&mutate(base.as_bytes(), &ms));
        let path = Path::new(if json { "m.json" } else { "m.toml" });
        if let Ok(cfg) = ModelConfig::from_text(&t, path) {
            prop_assert!(cfg.grid <= glasscam::learn::cnn::config::MAX_GRID);
            let spec = cfg.net_spec(2);
            if spec.check().is_ok() {
                prop_assert!(spec.n_params() > 0);
            }
        }
    }

    #[test]
    fn model_config_json_never_panics(ms in mutations()) {
        let f = fixtures();
        let c = mutate(&f.config, &ms);
        if let Ok((file, params)) = model::parse(&f.model_dir, &c, &f.weights) {
            prop_assert_eq!(params.len(), file.spec().n_params());
            prop_assert!(params.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn safetensors_weights_never_panic(ms in mutations()) {
        let f = fixtures();
        let w = mutate(&f.weights, &ms);
        // the checksum would refuse any change: give the mutated bytes theirs, to reach the safetensors parser
        let old = glasscam::learn::weights::sha256(&f.weights);
        let c = text(&f.config).replace(&old, &glasscam::learn::weights::sha256(&w));
        if let Ok((file, params)) = model::parse(&f.model_dir, c.as_bytes(), &w) {
            prop_assert_eq!(params.len(), file.spec().n_params());
        }
    }

    #[test]
    fn manifest_and_arrays_never_panic(ms in mutations(), which in 0u8..3) {
        let f = fixtures();
        let (mut m, mut p, mut s) = (f.manifest.clone(), f.positions.clone(), f.species.clone());
        match which {
            0 => m = mutate(&m, &ms),
            1 => p = mutate(&p, &ms),
            _ => s = mutate(&s, &ms),
        }
        if let Ok(d) = Dataset::from_bytes(&f.data_dir, &m, &p, &s) {
            // what loads is consistent: every snapshot row exists, every coordinate is finite and in the box
            let n = d.n_particles();
            prop_assert_eq!(d.positions.len(), d.n_snapshots() * n * 2);
            prop_assert!(d.positions.iter().all(|x| x.is_finite()));
            for k in 0..d.n_snapshots() {
                prop_assert_eq!(d.snapshot(k).len(), 2 * n);
            }
        }
    }

    #[test]
    fn npy_never_panics(ms in mutations()) {
        let f = fixtures();
        let b = mutate(&f.positions, &ms);
        let path = Path::new("prop.npy");
        if let Ok((shape, v)) = glasscam::io::npy::parse::<f64>(path, &b) {
            prop_assert_eq!(shape.iter().product::<u64>(), v.len() as u64);
        }
        let _ = glasscam::io::npy::parse::<u32>(path, &b);
        let _ = glasscam::io::npy::parse::<i64>(path, &b);
    }

    #[test]
    fn lammps_dump_never_panics(ms in mutations()) {
        let base = "ITEM: TIMESTEP\n100\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n0 5.5\n-1 4.5\n-0.5 0.5\n\
                    ITEM: ATOMS id type x y z\n3 2 1.25 2.5 0\n1 1 0.5 0.25 0\n2 1 4.75 3.0 0\n\
                    ITEM: TIMESTEP\n200\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n0 5.5\n-1 4.5\n-0.5 0.5\n\
                    ITEM: ATOMS id type xs ys zs\n1 1 0.1 0.2 0\n2 2 0.3 0.4 0\n3 1 0.9 0.95 0\n";
        import_never_panics(base, "dump.lammpstrj", Format::LammpsDump, &ms)?;
    }

    #[test]
    fn xyz_never_panics(ms in mutations()) {
        let base = "3\nLattice=\"5.5 0.0 0.0 0.0 4.5 0.0 0.0 0.0 1.0\" Properties=species:S:1:pos:R:3 class=glass step=7 \
                    pbc=\"T T F\"\nA 1.25 2.5 0.0\nB 0.5 0.25 0.0\nA 4.75 3.0 0.0\n\
                    2\nLattice=\"5.5 0.0 0.0 0.0 4.5 0.0 0.0 0.0 1.0\" Properties=species:S:1:pos:R:3\nA 1 1 0\nB 2 2 0\n";
        import_never_panics(base, "frames.xyz", Format::Xyz, &ms)?;
    }

    #[test]
    fn checkpoints_never_panic(ms in mutations(), array_ms in prop::collection::vec(
        (0u8..6, any::<usize>(), 0usize..16, any::<u64>()), 0..2), raw in any::<bool>()) {
        let f = fixtures();
        // either raw damage (the checksum must catch it) or a re-encoded, checksummed edit of the record
        let b = if raw { mutate(&f.checkpoint, &ms) } else { reencode(&f.checkpoint, &ms, &array_ms) };
        let expect = Expect { chunk: 0, replicas: 0..2, legs: &f.legs };
        if let Ok(Some((cp, reps, snaps))) = checkpoint::parse(&f.checkpoint_path, &b, N_CP, &expect) {
            prop_assert_eq!(reps.pos.len(), 2 * N_CP);
            prop_assert_eq!(snaps.len(), cp.snapshots.len() * 2 * N_CP);
            prop_assert!(cp.stage < f.legs.len());
        }
    }
}
