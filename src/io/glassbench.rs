//! Import of GlassBench's KA2D archive (Jung et al., arXiv:2311.14752; docs/guide/glassbench.md) into a data set
//! with targets: the trajectory files `{train,test}/N{N}T{T}_{id}_tc{XX}.npz` (keys `box`, `types`,
//! `initial_positions`, `positions` [runs, N, 2] at time code XX) and, optionally, the models files (`md_prop`,
//! `bb_prop` [NT, N]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::dynamics::{bond_fraction, bonds, displacement, noise_ceiling};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::{Dataset, Manifest, SnapshotMeta, FORMAT_VERSION};
use crate::io::npz::Npz;
use crate::io::outdir::{self, OutDir};
use crate::io::targets::{
    definition, write_targets, Program, Source, Subset, TargetsMeta, BOND_BREAKING, PROPENSITY,
};
use crate::sim::system::SystemDef;

/// The archive's time of each time code (`KA2D_results/times_{T}.dat`) at its two temperatures.
pub fn archive_times(temperature: &str) -> Option<Vec<(u32, f64)>> {
    match temperature {
        "0.30" | "0.3" => Some(vec![
            (1, 0.11),
            (2, 1.25),
            (3, 14.14),
            (4, 158.74),
            (5, 1781.79),
            (6, 20000.0),
        ]),
        "0.23" => Some(vec![
            (5, 0.1),
            (10, 1.1),
            (15, 11.64),
            (20, 122.47),
            (25, 1288.41),
            (30, 13554.0),
            (35, 142587.0),
            (40, 1.5e6),
        ]),
        _ => None,
    }
}

/// The archive's tau_alpha at its temperatures, as its README gives it.
fn archive_tau_alpha(temperature: &str) -> Option<f64> {
    match temperature {
        "0.30" | "0.3" => Some(2200.0),
        "0.23" => Some(918_306.0),
        _ => None,
    }
}

/// What to import.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GlassbenchImport {
    /// A temperature folder of `KA2D_trajectories` (holding `train/` and `test/`), or of `KA2D_models` alone.
    pub dir: PathBuf,
    /// The matching temperature folder of `KA2D_models`: its `md_prop`/`bb_prop` become the targets.
    pub models: Option<PathBuf>,
    /// Times of the time codes present, ascending, when the temperature is not one of the archive's.
    pub times: Option<Vec<f64>>,
    /// The temperature, when no file name or folder gives it (`T0.30`).
    pub temperature: Option<String>,
}

/// One configuration of the archive: where it came from and its t = 0 state, permuted to species blocks.
struct Config {
    subset: Subset,
    id: String,
    /// t = 0 positions, species-blocked order.
    pos0: Vec<[f64; 2]>,
    /// `order[k]`: the archive index of row k.
    order: Vec<u32>,
    /// [T][N] targets, species-blocked order.
    prop: Vec<Vec<f64>>,
    bb: Vec<Vec<f64>>,
    /// [T] noise ceilings (trajectories only).
    ceiling_prop: Vec<Option<f64>>,
    ceiling_bb: Vec<Option<f64>>,
}

/// A trajectory file's name: `N{N}T{T}_{id}_tc{XX}.npz` -> (T, id, XX).
fn parse_name(name: &str) -> Option<(String, String, u32)> {
    let stem = name.strip_suffix(".npz")?;
    let mut parts = stem.split('_');
    let head = parts.next()?;
    let id = parts.next()?;
    let tc = parts.next()?.strip_prefix("tc")?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let t = head.strip_prefix('N')?.split_once('T')?.1;
    t.parse::<f64>().ok()?;
    Some((t.to_string(), id.to_string(), tc))
}

fn input(path: &Path, m: String) -> Error {
    Error::Input(format!("{}: {m}", path.display()))
}

/// How messages name array `key` of `z`.
fn member(z: &Npz, key: &str) -> PathBuf {
    PathBuf::from(format!("{}: key `{key}`", z.path().display()))
}

/// A float array of `key` with `shape` (None: any), widened to f64.
fn floats(z: &Npz, key: &str, shape: Option<&[u64]>) -> Result<(Vec<u64>, Vec<f64>)> {
    let bytes = z.npy_bytes(key)?;
    let (got, v) = crate::io::npy::parse_float(&member(z, key), &bytes)?;
    if let Some(want) = shape {
        if got != want {
            return Err(input(
                z.path(),
                format!("key `{key}` has shape {got:?}, expected {want:?}"),
            ));
        }
    }
    if let Some(k) = v.iter().position(|x| !x.is_finite()) {
        return Err(input(
            z.path(),
            format!("key `{key}`: value {k} is not finite"),
        ));
    }
    Ok((got, v))
}

/// `types` [N] as integers (int64 or int32).
fn types(z: &Npz) -> Result<Vec<i64>> {
    let bytes = z.npy_bytes("types")?;
    let at = member(z, "types");
    let (shape, v) = crate::io::npy::parse::<i64>(&at, &bytes)
        .or_else(|_| {
            crate::io::npy::parse::<i32>(&at, &bytes)
                .map(|(s, v)| (s, v.into_iter().map(i64::from).collect()))
        })
        .map_err(|_| {
            input(
                z.path(),
                "key `types` must hold integers (int64 or int32)".into(),
            )
        })?;
    if shape.len() != 1 {
        return Err(input(
            z.path(),
            format!("key `types` has shape {shape:?}, expected [N]"),
        ));
    }
    Ok(v)
}

fn slices(v: &[Vec<f64>]) -> Vec<&[f64]> {
    v.iter().map(Vec::as_slice).collect()
}

fn pairs(v: &[f64]) -> Vec<[f64; 2]> {
    v.chunks_exact(2).map(|c| [c[0], c[1]]).collect()
}

/// The species of the archive's types: sorted distinct values are A, B, C. Returns the species per archive index.
fn species_of(path: &Path, types: &[i64]) -> Result<Vec<u32>> {
    let mut kinds: Vec<i64> = types.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.len() != 3 {
        return Err(input(
            path,
            format!(
                "key `types` holds {} distinct types ({kinds:?}); KA2D has three (A, B, C)",
                kinds.len()
            ),
        ));
    }
    Ok(types
        .iter()
        .map(|t| kinds.iter().position(|k| k == t).unwrap_or(0) as u32)
        .collect())
}

/// The order that puts particles in species blocks (stable within a species).
fn block_order(species: &[u32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..species.len() as u32).collect();
    order.sort_by_key(|&i| species[i as usize]);
    order
}

fn permute<T: Copy>(v: &[T], order: &[u32]) -> Vec<T> {
    order.iter().map(|&i| v[i as usize]).collect()
}

/// The `.npz` files of `dir/{train,test}`, by subset.
fn listing(dir: &Path) -> Result<Vec<(Subset, PathBuf)>> {
    let mut out = Vec::new();
    for (subset, name) in [(Subset::Train, "train"), (Subset::Test, "test")] {
        let d = dir.join(name);
        if !d.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .at(&d)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "npz"))
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|p| (subset, p)));
    }
    if out.is_empty() {
        return Err(input(
            dir,
            "no .npz files in train/ or test/; give a temperature folder of the archive (e.g. KA2D_trajectories/T0.30)"
                .into(),
        ));
    }
    Ok(out)
}

/// What an import produced.
pub struct ImportSummary {
    pub configurations: usize,
    pub n_particles: usize,
    pub runs: usize,
    pub times: Vec<f64>,
    pub temperature: f64,
    pub noise_ceiling_propensity: Vec<Option<f64>>,
    /// Largest |archive md_prop - propensity from the runs| when both were read.
    pub models_vs_runs: Option<f64>,
}

/// Imports the archive folder `imp.dir` into a data set with targets at `out`.
pub fn import_glassbench(
    imp: &GlassbenchImport,
    out: &Path,
    force: bool,
    ctx: Ctx,
) -> Result<ImportSummary> {
    let out_dir = OutDir::lock(out)?;
    outdir::no_overwrite(&out.join(crate::io::dataset::MANIFEST), force, "a data set")?;
    let files = listing(&imp.dir)?;
    let trajectories = files.iter().any(|(_, p)| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_name)
            .is_some()
    });
    let mut temps = BTreeMap::new();
    let mut configs: Vec<Config>;
    let mut runs = 0;
    let mut box_l = None;
    let mut species: Option<Vec<u32>> = None;
    let codes: Vec<u32>;
    let mut models_vs_runs = None;
    let mut check_box = |path: &Path, l: f64| -> Result<()> {
        match box_l {
            None => box_l = Some(l),
            Some(b) if (b - l).abs() > 1e-9 * b => {
                return Err(input(
                    path,
                    format!(
                        "key `box` is {l}, other files give {b}; import one temperature folder"
                    ),
                ))
            }
            _ => {}
        }
        Ok(())
    };
    let mut check_species = |path: &Path, sp: Vec<u32>| -> Result<()> {
        let mut sorted = sp;
        sorted.sort_unstable();
        match &species {
            None => species = Some(sorted),
            Some(s) if *s != sorted => {
                return Err(input(
                    path,
                    "key `types` has other species counts than the other files".into(),
                ))
            }
            _ => {}
        }
        Ok(())
    };
    if trajectories {
        // group by configuration
        // configurations in numeric id order within each subset
        type Key = (Subset, u64, String);
        let mut groups: BTreeMap<Key, Vec<(u32, PathBuf)>> = BTreeMap::new();
        for (subset, p) in &files {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let (t, id, tc) = parse_name(name).ok_or_else(|| {
                input(p, "not a trajectory file name N{N}T{T}_{id}_tc{XX}.npz; remove it from the folder".into())
            })?;
            temps.insert(t, p.clone());
            let num = id.parse().unwrap_or(u64::MAX);
            groups
                .entry((*subset, num, id))
                .or_default()
                .push((tc, p.clone()));
        }
        let first: Vec<u32> = groups
            .values()
            .next()
            .map(|v| v.iter().map(|x| x.0).collect())
            .unwrap_or_default();
        for ((_, _, id), v) in &groups {
            let have: Vec<u32> = v.iter().map(|x| x.0).collect();
            if have != first {
                return Err(input(
                    &imp.dir,
                    format!("configuration {id} has time codes {have:?}, others {first:?}; the folder is incomplete"),
                ));
            }
        }
        codes = first;
        configs = Vec::with_capacity(groups.len());
        for (k, ((subset, _, id), v)) in groups.into_iter().enumerate() {
            ctx.cancel.check()?;
            let mut c: Option<Config> = None;
            let mut archive_pos0 = Vec::new();
            let mut sp = Vec::new();
            let mut archive_types = Vec::new();
            for (_, path) in &v {
                let z = Npz::open(path)?;
                let (_, b) = floats(&z, "box", None)?;
                let l = *b
                    .first()
                    .ok_or_else(|| input(path, "key `box` is empty".into()))?;
                if b.len() != 1 || l <= 0.0 {
                    return Err(input(
                        path,
                        format!("key `box` must be one positive number, got {b:?}"),
                    ));
                }
                check_box(path, l)?;
                let ty = types(&z)?;
                let n = ty.len() as u64;
                let (_, p0) = floats(&z, "initial_positions", Some(&[n, 2]))?;
                let (shape, p) = floats(&z, "positions", None)?;
                if shape.len() != 3 || shape[1] != n || shape[2] != 2 || shape[0] == 0 {
                    return Err(input(
                        path,
                        format!("key `positions` has shape {shape:?}, expected [runs, {n}, 2]"),
                    ));
                }
                let r = shape[0] as usize;
                if runs == 0 {
                    runs = r;
                } else if runs != r {
                    return Err(input(
                        path,
                        format!("key `positions` holds {r} runs, other files {runs}"),
                    ));
                }
                if c.is_none() {
                    sp = species_of(path, &ty)?;
                    check_species(path, sp.clone())?;
                    let order = block_order(&sp);
                    archive_pos0 = pairs(&p0);
                    archive_types = ty.clone();
                    c = Some(Config {
                        subset,
                        id: id.clone(),
                        pos0: permute(&archive_pos0, &order),
                        order,
                        prop: Vec::new(),
                        bb: Vec::new(),
                        ceiling_prop: Vec::new(),
                        ceiling_bb: Vec::new(),
                    });
                } else if ty != archive_types || pairs(&p0) != archive_pos0 {
                    return Err(input(
                        path,
                        format!(
                            "keys `types`/`initial_positions` differ from configuration {id}'s other time codes; \
                             the files do not belong together"
                        ),
                    ));
                }
                let cfg = c.as_mut().expect("set above");
                let sys = SystemDef::ka2d();
                let sigma: Vec<f64> = (0..9).map(|ab| sys.pair(ab / 3, ab % 3).0).collect();
                let bnd = bonds(&archive_pos0, &sp, &sigma, 3, l);
                let nn = n as usize;
                let mut dr: Vec<Vec<f64>> = Vec::with_capacity(r);
                let mut bf: Vec<Vec<f64>> = Vec::with_capacity(r);
                for run in 0..r {
                    let pr = pairs(&p[run * nn * 2..(run + 1) * nn * 2]);
                    dr.push(displacement(&archive_pos0, &pr, l));
                    bf.push(bond_fraction(&bnd, &pr, &sp, &sigma, 3, l));
                }
                // the ceiling over A particles, the benchmark's scored species
                let mask: Vec<bool> = sp.iter().map(|&s| s == 0).collect();
                let mean = |v: &[Vec<f64>]| -> Vec<f64> {
                    let m: Vec<f64> = (0..nn)
                        .map(|i| v.iter().map(|x| x[i]).sum::<f64>() / r as f64)
                        .collect();
                    permute(&m, &cfg.order)
                };
                cfg.ceiling_prop.push(noise_ceiling(&slices(&dr), &mask));
                cfg.ceiling_bb.push(noise_ceiling(&slices(&bf), &mask));
                cfg.prop.push(mean(&dr));
                cfg.bb.push(mean(&bf));
            }
            configs.push(c.expect("a configuration has files"));
            ctx.note(&format!(
                "import glassbench: configuration {} of the archive read ({})",
                k + 1,
                v.len()
            ));
        }
    } else {
        codes = Vec::new();
        configs = Vec::new();
    }
    let temperature = match (&imp.temperature, temps.keys().next()) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) if temps.len() == 1 => t.clone(),
        (None, Some(_)) => {
            return Err(input(
                &imp.dir,
                format!(
                    "files of several temperatures ({}); import one temperature folder",
                    temps.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
        (None, None) => imp
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('T'))
            .filter(|t| t.parse::<f64>().is_ok())
            .map(str::to_string)
            .ok_or_else(|| {
                input(
                    &imp.dir,
                    "no temperature in the file or folder names; give --temperature".into(),
                )
            })?,
    };
    let t_value: f64 = temperature
        .parse()
        .map_err(|_| Error::Input(format!("temperature `{temperature}` is not a number")))?;

    // the models files: the archive's own targets, matched to configurations by their t = 0 positions
    let model_root = if trajectories {
        imp.models.clone()
    } else {
        Some(imp.dir.clone())
    };
    let mut nt_models = None;
    if let Some(mdir) = &model_root {
        let mfiles = listing(mdir)?;
        for (subset, path) in &mfiles {
            ctx.cancel.check()?;
            let z = Npz::open(path)?;
            let ty = types(&z)?;
            let n = ty.len() as u64;
            let (_, p0) = floats(&z, "initial_positions", Some(&[n, 2]))?;
            let (shape, md) = floats(&z, "md_prop", None)?;
            if shape.len() != 2 || shape[1] != n || shape[0] == 0 {
                return Err(input(
                    path,
                    format!("key `md_prop` has shape {shape:?}, expected [NT, {n}]"),
                ));
            }
            let (_, bb) = floats(&z, "bb_prop", Some(&shape))?;
            let nt = shape[0] as usize;
            match nt_models {
                None => nt_models = Some(nt),
                Some(x) if x != nt => {
                    return Err(input(
                        path,
                        format!("key `md_prop` has {nt} time points, other files {x}"),
                    ))
                }
                _ => {}
            }
            let archive_pos0 = pairs(&p0);
            let rows = |v: &[f64], order: &[u32]| -> Vec<Vec<f64>> {
                v.chunks_exact(n as usize)
                    .map(|row| permute(row, order))
                    .collect()
            };
            if trajectories {
                let c = configs
                    .iter_mut()
                    .find(|c| c.subset == *subset && permute(&archive_pos0, &c.order) == c.pos0)
                    .ok_or_else(|| {
                        input(path, "key `initial_positions` matches no configuration of the trajectories in the same subset".into())
                    })?;
                if nt != c.prop.len() {
                    return Err(input(
                        path,
                        format!(
                            "key `md_prop` has {nt} time points, the trajectories {}",
                            c.prop.len()
                        ),
                    ));
                }
                let (md_rows, bb_rows) = (rows(&md, &c.order), rows(&bb, &c.order));
                let dev = md_rows
                    .iter()
                    .flatten()
                    .zip(c.prop.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f64, f64::max);
                models_vs_runs = Some(models_vs_runs.unwrap_or(0.0f64).max(dev));
                c.prop = md_rows;
                c.bb = bb_rows;
            } else {
                let sp = species_of(path, &ty)?;
                check_species(path, sp.clone())?;
                let order = block_order(&sp);
                let id = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                configs.push(Config {
                    subset: *subset,
                    id,
                    pos0: permute(&archive_pos0, &order),
                    prop: rows(&md, &order),
                    bb: rows(&bb, &order),
                    ceiling_prop: vec![None; nt],
                    ceiling_bb: vec![None; nt],
                    order,
                });
            }
        }
    }
    if configs.is_empty() {
        return Err(input(&imp.dir, "no configuration found".into()));
    }
    let nt = configs[0].prop.len();
    let times: Vec<f64> = match (&imp.times, archive_times(&temperature)) {
        (Some(t), _) => {
            if t.len() != nt {
                return Err(Error::Input(format!(
                    "--times gives {} times but the archive has {nt} time points; give one per time code, ascending",
                    t.len()
                )));
            }
            t.clone()
        }
        (None, Some(table)) => {
            if trajectories {
                codes
                    .iter()
                    .map(|c| {
                        table.iter().find(|(k, _)| k == c).map(|x| x.1).ok_or_else(|| {
                            Error::Input(format!(
                                "time code tc{c:02} is not in the archive's table at T = {temperature}; give --times"
                            ))
                        })
                    })
                    .collect::<Result<_>>()?
            } else if table.len() == nt {
                table.iter().map(|x| x.1).collect()
            } else {
                return Err(Error::Input(format!(
                    "the models files have {nt} time points, the archive's table at T = {temperature} {}; give --times",
                    table.len()
                )));
            }
        }
        (None, None) => {
            return Err(Error::Input(format!(
                "no time table for T = {temperature} (the archive has 0.30 and 0.23); give --times with one time per \
                 time code"
            )))
        }
    };
    let n = configs[0].pos0.len();
    // every configuration's particles are in species blocks: one species array for all
    let species = species.unwrap_or_default();
    let mut counts = [0usize; 3];
    for &s in &species {
        counts[s as usize] += 1;
    }
    let l = box_l.unwrap_or_else(|| SystemDef::ka2d().box_l() * (n as f64 / 1290.0).sqrt());
    let mut system = SystemDef::ka2d();
    for (sp, &c) in system.species.iter_mut().zip(&counts) {
        sp.count = c;
    }
    system.n = Some(n);
    system.density = n as f64 / (l * l);
    let box_side = system.box_l();
    let s = configs.len();
    let snapshots: Vec<SnapshotMeta> = (0..s)
        .map(|k| SnapshotMeta {
            index: k,
            replica: k,
            class: Class::Other,
            label: Class::Other.label(),
            step: 0,
            target_t: t_value,
            kinetic_t: t_value,
            pe_per_particle: 0.0,
        })
        .collect();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
        system,
        protocol: serde_json::json!({
            "source": "glassbench",
            "configurations": configs.iter().map(|c| format!("{}/{}", subset_name(c.subset), c.id)).collect::<Vec<_>>(),
        }),
        seed: 0,
        n_particles: n,
        box_l: box_side,
        n_replicas: s,
        replica_range: (0, s),
        snapshot_temps: vec![t_value],
        backend: "glassbench archive".into(),
        failed: Vec::new(),
        snapshots,
    };
    let wrapped: Vec<f64> = configs
        .iter()
        .flat_map(|c| {
            c.pos0
                .iter()
                .flat_map(|p| [p[0].rem_euclid(l), p[1].rem_euclid(l)])
        })
        .collect();
    Dataset::write(out, &manifest, &wrapped, &species)?;
    let order: Vec<u32> = configs
        .iter()
        .flat_map(|c| c.order.iter().copied())
        .collect();
    crate::io::npy::write(
        &out.join("glassbench_index.npy"),
        &[s as u64, n as u64],
        &order,
    )?;
    let data = Dataset::load(out)?;
    let flat = |f: &dyn Fn(&Config) -> &Vec<Vec<f64>>| -> Vec<f32> {
        configs
            .iter()
            .flat_map(|c| f(c).iter().flatten().map(|&x| x as f32))
            .collect()
    };
    let prop = flat(&|c| &c.prop);
    let bb = flat(&|c| &c.bb);
    let mean_ceiling = |f: &dyn Fn(&Config) -> &Vec<Option<f64>>| -> Vec<Option<f64>> {
        (0..nt)
            .map(|t| {
                let v: Option<Vec<f64>> = configs.iter().map(|c| f(c)[t]).collect();
                v.map(|v| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    };
    let ceiling_prop = mean_ceiling(&|c| &c.ceiling_prop);
    let meta = TargetsMeta {
        format_version: crate::io::targets::FORMAT_VERSION,
        data_fingerprint: data.fingerprint.clone(),
        temperature: t_value,
        times: times.clone(),
        tau_alpha: archive_tau_alpha(&temperature),
        tau_alpha_spread: None,
        n_runs: runs.max(1),
        targets: [PROPENSITY, BOND_BREAKING]
            .iter()
            .map(|k| (k.to_string(), definition(k).unwrap_or_default().to_string()))
            .collect(),
        noise_ceiling: [
            (PROPENSITY.to_string(), ceiling_prop.clone()),
            (BOND_BREAKING.to_string(), mean_ceiling(&|c| &c.ceiling_bb)),
        ]
        .into(),
        subset: Some(configs.iter().map(|c| c.subset).collect()),
        source: Source {
            program: Program::Glassbench,
            settings: serde_json::to_value(imp).unwrap_or_default(),
        },
    };
    write_targets(
        &out_dir,
        &data,
        &meta,
        &[(PROPENSITY, &prop), (BOND_BREAKING, &bb)],
        true,
    )?;
    Ok(ImportSummary {
        configurations: s,
        n_particles: n,
        runs,
        times,
        temperature: t_value,
        noise_ceiling_propensity: ceiling_prop,
        models_vs_runs,
    })
}

fn subset_name(s: Subset) -> &'static str {
    match s {
        Subset::Train => "train",
        Subset::Test => "test",
    }
}
