//! `import glassbench` on small archives written here with the archive's keys, shapes and dtypes (numpy's zip
//! layout, stored and deflated members): the data set and targets round-trip the files, and every bad file is
//! refused naming the key or shape.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::common::err_of;
use glasscam::io::dataset::Dataset;
use glasscam::io::glassbench::{import_glassbench, GlassbenchImport};
use glasscam::io::targets::{Subset, Targets, BOND_BREAKING, PROPENSITY};

/// A zip archive of (name, bytes) members as numpy writes it (`force_zip64`: zip64 sizes in the local headers);
/// `deflate` compresses them like `savez_compressed`.
fn zip(members: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let crc = crc32fast::hash(data);
        let body = if deflate {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.clone()
        };
        let method: u16 = if deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
        let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
        le32(&mut out, 0x0403_4b50);
        le16(&mut out, 45);
        le16(&mut out, 0);
        le16(&mut out, method);
        le32(&mut out, 0);
        le32(&mut out, crc);
        le32(&mut out, u32::MAX);
        le32(&mut out, u32::MAX);
        le16(&mut out, name.len() as u16);
        le16(&mut out, 20);
        out.extend_from_slice(name.as_bytes());
        le16(&mut out, 1);
        le16(&mut out, 16);
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        le32(&mut central, 0x0201_4b50);
        le16(&mut central, 45);
        le16(&mut central, 20);
        le16(&mut central, 0);
        le16(&mut central, method);
        le32(&mut central, 0);
        le32(&mut central, crc);
        le32(&mut central, body.len() as u32);
        le32(&mut central, data.len() as u32);
        le16(&mut central, name.len() as u16);
        for _ in 0..4 {
            le16(&mut central, 0);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out
}

/// The bytes of a .npy file of `data` with `shape`.
fn npy<T: npyz::AutoSerialize + npyz::Serialize>(shape: &[u64], data: &[T]) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("a.npy");
    glasscam::io::npy::write(&p, shape, data).unwrap();
    std::fs::read(p).unwrap()
}

/// An archive file's members: (name, .npy bytes).
type Members = Vec<(String, Vec<u8>)>;

const N: usize = 129;
const RUNS: usize = 4;
const L: f64 = 10.4;

/// A uniform draw in [0, 1) from a seeded counter.
fn uni(s: &mut u64) -> f64 {
    *s = glasscam::kernels::rng::mix(*s);
    (*s >> 11) as f64 / (1u64 << 53) as f64
}

/// One synthetic configuration: types 1, 2, 3 shuffled (60 A, 33 B, 36 C), t = 0 positions on a jittered
/// lattice, and per time code the positions of every run (t = 0 plus a displacement growing with the code,
/// wrapped into the box).
struct Synth {
    types: Vec<i64>,
    pos0: Vec<f64>,
    /// [tc][run][N * 2]
    pos: Vec<Vec<Vec<f64>>>,
}

fn synth(seed: u64, codes: usize) -> Synth {
    let mut s = seed;
    let mut types: Vec<i64> = (0..N)
        .map(|i| {
            if i < 60 {
                1
            } else if i < 93 {
                2
            } else {
                3
            }
        })
        .collect();
    for i in (1..N).rev() {
        let j = (uni(&mut s) * (i + 1) as f64) as usize;
        types.swap(i, j);
    }
    let side = 12;
    let a = L / side as f64;
    let pos0: Vec<f64> = (0..N)
        .flat_map(|i| {
            [
                ((i % side) as f64 + 0.3 * uni(&mut s)) * a,
                ((i / side) as f64 + 0.3 * uni(&mut s)) * a,
            ]
        })
        .collect();
    let pos = (0..codes)
        .map(|c| {
            (0..RUNS)
                .map(|_| {
                    pos0.iter()
                        .map(|x| (x + (0.05 + 0.4 * c as f64) * (uni(&mut s) - 0.5)).rem_euclid(L))
                        .collect()
                })
                .collect()
        })
        .collect();
    Synth { types, pos0, pos }
}

/// The trajectory file of configuration `id` at code `tc`, with `edit` applied to its members.
fn write_file(
    dir: &Path,
    sub: &str,
    id: u32,
    tc: usize,
    c: &Synth,
    edit: &dyn Fn(&mut Members),
) -> PathBuf {
    let flat: Vec<f64> = c.pos[tc - 1].iter().flatten().copied().collect();
    let mut members = vec![
        ("box.npy".to_string(), npy(&[], &[L])),
        ("types.npy".to_string(), npy(&[N as u64], &c.types)),
        (
            "initial_positions.npy".to_string(),
            npy(&[N as u64, 2], &c.pos0),
        ),
        (
            "positions.npy".to_string(),
            npy(&[RUNS as u64, N as u64, 2], &flat),
        ),
    ];
    edit(&mut members);
    let d = dir.join(sub);
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(format!("N{N}T0.30_{id}_tc{tc:02}.npz"));
    std::fs::write(&path, zip(&members, id % 2 == 1)).unwrap();
    path
}

/// An archive folder: configurations 3 and 10 in train, 151 in test, time codes 1-3.
fn archive(dir: &Path) -> Vec<(Subset, Synth)> {
    let mut out = Vec::new();
    for (sub, subset, id) in [
        ("train", Subset::Train, 3),
        ("train", Subset::Train, 10),
        ("test", Subset::Test, 151),
    ] {
        let c = synth(id as u64, 3);
        for tc in 1..=3 {
            write_file(dir, sub, id, tc, &c, &|_| {});
        }
        out.push((subset, c));
    }
    out
}

fn import(dir: &Path, out: &Path) -> glasscam::Result<glasscam::io::glassbench::ImportSummary> {
    let imp = GlassbenchImport {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    import_glassbench(&imp, out, false, glasscam::events::quiet())
}

#[test]
fn an_archive_folder_imports_as_a_data_set_with_targets_that_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("T0.30");
    let configs = archive(&src);
    let out = tmp.path().join("out");
    let s = import(&src, &out).expect("import");
    assert_eq!((s.configurations, s.n_particles, s.runs), (3, N, RUNS));
    assert_eq!(s.times, vec![0.11, 1.25, 14.14]);
    let d = Dataset::load(&out).expect("data set");
    let t = Targets::load(&out, &d).expect("targets");
    assert_eq!(
        t.meta.subset,
        Some(vec![Subset::Train, Subset::Train, Subset::Test])
    );
    assert_eq!(
        (t.meta.temperature, t.meta.n_runs, t.meta.tau_alpha),
        (0.3, RUNS, Some(2200.0))
    );
    let counts: Vec<usize> = d.manifest.system.species.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![60, 33, 36]);
    let (_, index) = glasscam::io::npy::read::<u32>(&out.join("glassbench_index.npy")).unwrap();
    let prop = t.values(PROPENSITY).unwrap();
    let bb = t.values(BOND_BREAKING).unwrap();
    for (k, (_, c)) in configs.iter().enumerate() {
        for row in 0..N {
            let i = index[k * N + row] as usize;
            // species blocks, A first, and the archive's positions (to f32)
            assert_eq!(d.species[row] as i64 + 1, c.types[i]);
            for a in 0..2 {
                assert!((d.snapshot(k)[row * 2 + a] - c.pos0[i * 2 + a]).abs() < 1e-5);
            }
            for tc in 0..3 {
                // the propensity written out by hand: mean over runs of the minimum-image |r - r0|
                let want: f64 = (0..RUNS)
                    .map(|r| {
                        let d = |a: usize| {
                            let x = c.pos[tc][r][i * 2 + a] - c.pos0[i * 2 + a];
                            x - L * (x / L).round()
                        };
                        d(0).hypot(d(1))
                    })
                    .sum::<f64>()
                    / RUNS as f64;
                let got = prop[(k * 3 + tc) * N + row] as f64;
                assert!(
                    (got - want).abs() < 1e-5,
                    "config {k} tc {tc} particle {i}: {got} vs {want}"
                );
                let b = bb[(k * 3 + tc) * N + row];
                assert!((0.0..=1.0).contains(&b));
            }
        }
    }
    // bonds break more at the later codes, and the ceiling is defined at every time
    let mean = |tc: usize| {
        (0..3)
            .flat_map(|k| (0..N).map(move |r| (k, r)))
            .map(|(k, r)| bb[(k * 3 + tc) * N + r])
            .sum::<f32>()
    };
    assert!(mean(2) < mean(0), "{} {}", mean(2), mean(0));
    assert!(t.meta.noise_ceiling[PROPENSITY].iter().all(|c| c.is_some()));
    // a second import into the same place is refused without --force
    let e = err_of(import(&src, &out));
    assert!(e.contains("already holds a data set; use `force`"), "{e}");
}

#[test]
fn the_models_files_alone_import_with_their_md_prop_and_bb_prop() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("T0.30");
    let d = src.join("test");
    std::fs::create_dir_all(&d).unwrap();
    let c = synth(7, 0);
    let md: Vec<f64> = (0..6 * N).map(|k| 0.01 * k as f64).collect();
    let bb: Vec<f64> = (0..6 * N).map(|k| 1.0 - 0.0001 * k as f64).collect();
    let members = vec![
        ("types.npy".to_string(), npy(&[N as u64], &c.types)),
        (
            "initial_positions.npy".to_string(),
            npy(&[N as u64, 2], &c.pos0),
        ),
        ("md_prop.npy".to_string(), npy(&[6, N as u64], &md)),
        ("bb_prop.npy".to_string(), npy(&[6, N as u64], &bb)),
    ];
    std::fs::write(d.join("KA2D_T0.30_7.npz"), zip(&members, true)).unwrap();
    let out = tmp.path().join("out");
    let s = import(&src, &out).expect("import");
    assert_eq!(s.times.len(), 6);
    let data = Dataset::load(&out).unwrap();
    let t = Targets::load(&out, &data).unwrap();
    let (_, index) = glasscam::io::npy::read::<u32>(&out.join("glassbench_index.npy")).unwrap();
    let p = t.values(PROPENSITY).unwrap();
    for tc in 0..6 {
        for row in 0..N {
            let i = index[row] as usize;
            assert_eq!(p[tc * N + row], md[tc * N + i] as f32);
        }
    }
    assert!(
        t.meta.noise_ceiling[PROPENSITY].iter().all(|c| c.is_none()),
        "no runs, no ceiling"
    );
}

#[test]
fn each_bad_file_is_refused_naming_the_key_or_shape() {
    type Edit = Box<dyn Fn(&mut Members)>;
    let c = synth(5, 3);
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(|m| m.retain(|x| x.0 != "positions.npy")),
            "no key `positions` (it has box, initial_positions, types)".into(),
        ),
        (
            Box::new(|m| {
                m[3].1 = npy(
                    &[RUNS as u64, N as u64 - 1, 2],
                    &vec![0.5f64; RUNS * (N - 1) * 2],
                )
            }),
            format!(
                "key `positions` has shape [{RUNS}, {}, 2], expected [runs, {N}, 2]",
                N - 1
            ),
        ),
        (
            Box::new(|m| m[2].1 = npy(&[N as u64, 3], &vec![0.5f64; N * 3])),
            format!("key `initial_positions` has shape [{N}, 3], expected [{N}, 2]"),
        ),
        (
            Box::new(|m| m[1].1 = npy(&[N as u64], &vec![1i64; N])),
            "key `types` holds 1 distinct types ([1]); KA2D has three (A, B, C)".into(),
        ),
        (
            Box::new(|m| m[0].1 = npy(&[2], &[L, L])),
            format!("key `box` must be one positive number, got [{L}, {L}]"),
        ),
        (
            Box::new(|m| m[1].1 = npy(&[N as u64], &vec![0.5f64; N])),
            "key `types` must hold integers (int64 or int32)".into(),
        ),
    ];
    for (edit, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("T0.30");
        let bad = write_file(&src, "train", 4, 1, &c, &*edit);
        write_file(&src, "train", 4, 2, &c, &|_| {});
        let e = err_of(import(&src, &tmp.path().join("out")));
        assert_eq!(e, format!("{}: {want}", bad.display()));
    }
    // a truncated file
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("T0.30");
    let p = write_file(&src, "train", 4, 1, &c, &|_| {});
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = err_of(import(&src, &tmp.path().join("out")));
    assert!(e.ends_with("not a .npz file glasscam can read (no valid zip central directory); is the file complete?"), "{e}");
}

#[test]
fn models_files_beside_the_trajectories_give_the_targets_matched_by_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("T0.30");
    let configs = archive(&src);
    let models = tmp.path().join("models");
    for (k, (subset, c)) in configs.iter().enumerate() {
        let d = models.join(if *subset == Subset::Train {
            "train"
        } else {
            "test"
        });
        std::fs::create_dir_all(&d).unwrap();
        let md = vec![1.0 + k as f64; 3 * N];
        let members = vec![
            ("types.npy".to_string(), npy(&[N as u64], &c.types)),
            (
                "initial_positions.npy".to_string(),
                npy(&[N as u64, 2], &c.pos0),
            ),
            ("md_prop.npy".to_string(), npy(&[3, N as u64], &md)),
            (
                "bb_prop.npy".to_string(),
                npy(&[3, N as u64], &vec![0.5f64; 3 * N]),
            ),
        ];
        std::fs::write(d.join(format!("m{k}.npz")), zip(&members, false)).unwrap();
    }
    let imp = GlassbenchImport {
        dir: src,
        models: Some(models),
        ..Default::default()
    };
    let out = tmp.path().join("out");
    let s = import_glassbench(&imp, &out, false, glasscam::events::quiet()).expect("import");
    assert!(
        s.models_vs_runs.is_some_and(|d| d > 0.5),
        "{:?}",
        s.models_vs_runs
    );
    let data = Dataset::load(&out).unwrap();
    let t = Targets::load(&out, &data).unwrap();
    let p = t.values(PROPENSITY).unwrap();
    for k in 0..3 {
        assert!(p[k * 3 * N..(k + 1) * 3 * N]
            .iter()
            .all(|&x| x == 1.0 + k as f32));
    }
    // the ceiling still comes from the runs
    assert!(t.meta.noise_ceiling[PROPENSITY].iter().all(|c| c.is_some()));
}

#[test]
fn an_imported_archive_trains_the_propensity_network_and_scores_its_test_folder_with_the_baselines()
{
    use glasscam::analysis::baselines::{baselines, BaselineSettings};
    use glasscam::events::quiet;
    use glasscam::learn::dynamics::{targets, train, GnConfig};
    use glasscam_kernels::Compute;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("T0.30");
    for (sub, id) in [
        ("train", 3),
        ("train", 10),
        ("train", 11),
        ("train", 12),
        ("test", 151u32),
    ] {
        let c = synth(id as u64, 3);
        for tc in 1..=3 {
            write_file(&src, sub, id, tc, &c, &|_| {});
        }
    }
    let out = tmp.path().join("gb");
    import(&src, &out).expect("import");
    let data = Dataset::load(&out).unwrap();
    let cfg = GnConfig {
        hidden: 8,
        steps: 1,
        cutoff: 1.6,
        epochs: 2,
        split: [0.75, 0.25, 0.0],
        ..GnConfig::default()
    };
    let set = targets::load(&data, PROPENSITY).unwrap();
    let trained = train(&data, &set, &cfg, None, &Compute::Cpu, quiet()).expect("train");
    // the archive's test folder is the network's test part, and training never saw it
    let split = &trained.model.file.header.split;
    assert_eq!(split.test, vec![4]);
    assert_eq!(split.train.len() + split.validation.len(), 4);
    let y = trained.model.predict(&data, &[4], None).unwrap();
    assert_eq!(y.len(), 3 * N);
    assert!(y.iter().all(|v| v.is_finite()));
    // the baselines score the same configuration with the same split
    let settings = BaselineSettings {
        split: cfg.split,
        seed: cfg.seed,
        ..BaselineSettings::default()
    };
    let t = Targets::load(&out, &data).unwrap();
    let report = baselines(&data, &t, None, &settings, &quiet()).expect("baselines");
    assert_eq!(report.split.test, split.test);
    assert_eq!(report.times, vec![0.11, 1.25, 14.14]);
}
