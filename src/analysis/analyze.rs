//! The analyze stage: indicators, correlations and their summary for a set of configurations (a data set's, or an
//! imported LAMMPS dump / extended XYZ trajectory's), optionally against a Grad-CAM score (`analyze`), and the
//! files, violin plots and field maps (`write_analysis`).
//!
//! What the output directory receives (S = configurations analysed, N = particles):
//! - `snapshots.npy` int64 [S]: the data-set row (or frame number) of each analysed configuration;
//! - `upsilon.npy`, `theta.npy` float64 [S, N]: raw Voronoi area and Tong-Tanaka Theta;
//!   `upsilon_cg.npy`, `theta_cg.npy` (and `gamma_cg.npy` with `--gradcam`): coarse-grained, normalised to
//!   [0, 1] per configuration (the paper's "1 - Theta" is `1 - theta_cg`); `n_neighbours.npy` uint32 [S, N].
//!   If frames of an imported file differ in N, each is written as `<name>_<snapshot>.npy` instead.
//! - `correlations.csv`: snapshot, replica, class, then Pearson and Spearman of (Gamma, Upsilon),
//!   (Gamma, 1-Theta), (1-Theta, Upsilon); empty where undefined (no Gamma, or a constant field);
//! - `summary.csv` / `summary.json`: mean, standard deviation and count per class, pair and method, with
//!   the paper's value or sign (Oyama et al. 2022, Fig. 3) beside the Pearson rows;
//! - `violin_pearson.{png,svg}`, `violin_spearman.{png,svg}`: coefficients per configuration, glass vs liquid;
//! - `map_*_<snapshot>.{png,svg}`: field maps of one configuration (`map_config`, default the first glass one);
//! - `analysis.json`: settings, source, counts and every skipped frame or configuration with its reason.
//!
//! Configurations the network misclassified (listed in `gradcam.json`) are left out, like the paper does.
use std::borrow::Cow;
use std::path::Path;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plots::{field_map, violin, FieldMap, ViolinClass};
use super::stats::mean_std;
use super::{analyse_config, CoarseGrain, ConfigInput, Correlations, GammaSet, Indicators};
use super::{PAIRS, PAIR_LABELS};
use crate::analysis::paper::Reference;
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::write_json_atomic;
use crate::io::npy;
use crate::sim::system::SystemDef;

/// One configuration to analyse.
#[derive(Clone, Debug)]
pub struct Config<'a> {
    /// Data-set row or frame number.
    pub snapshot: usize,
    pub replica: Option<usize>,
    pub class: Class,
    pub box_l: [f64; 2],
    pub positions: Cow<'a, [f64]>,
    pub species: Cow<'a, [u32]>,
}

/// Every snapshot of a data set, borrowed.
pub fn dataset_configs(ds: &Dataset) -> Vec<Config<'_>> {
    let l = ds.box_l();
    ds.manifest
        .snapshots
        .iter()
        .map(|m| Config {
            snapshot: m.index,
            replica: Some(m.replica),
            class: Class::from_label(m.label),
            box_l: [l, l],
            positions: Cow::Borrowed(ds.snapshot(m.index)),
            species: Cow::Borrowed(&ds.species[..]),
        })
        .collect()
}

/// The frames of an imported trajectory of `system` (class from the file's `class=` key, else `other`); a frame
/// whose density differs from the system's by more than 5 % is kept with a warning through `ctx`.
pub fn imported_configs(
    imported: crate::io::import::Imported,
    system: &SystemDef,
    source: &str,
    ctx: Ctx,
) -> Vec<Config<'static>> {
    imported
        .frames
        .into_iter()
        .map(|f| {
            let density = f.species.len() as f64 / (f.box_l[0] * f.box_l[1]);
            if (density / system.density - 1.0).abs() > 0.05 {
                ctx.warn(&format!(
                    "{source} frame {}: density {density:.4} differs from system `{}`'s {} by more than 5%",
                    f.index, system.name, system.density
                ));
            }
            Config {
                snapshot: f.index,
                replica: None,
                class: f
                    .class
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(Class::Other),
                box_l: f.box_l,
                positions: Cow::Owned(f.positions),
                species: Cow::Owned(f.species),
            }
        })
        .collect()
}

/// What `analyze` works on.
pub struct AnalyzeInput<'a> {
    pub system: &'a SystemDef,
    /// Where the configurations came from (a path), for messages and `analysis.json`.
    pub source: String,
    /// `Dataset::fingerprint` when the configurations are a data set's: recorded in `analysis.json`, and Grad-CAM
    /// scores computed on another data set are refused.
    pub fingerprint: Option<String>,
    pub configs: Vec<Config<'a>>,
    /// Gamma per configuration; configurations it does not cover, or lists as misclassified, are left out.
    pub gamma: Option<&'a GammaSet>,
    pub coarse: CoarseGrain,
    /// Frames or configurations already skipped by the caller (e.g. bad frames of an import), with the reason.
    pub skipped: Vec<String>,
}

/// One analysed configuration.
pub struct Analysed<'a> {
    pub config: Config<'a>,
    pub indicators: Indicators,
    pub correlations: Correlations,
}

/// The result of `analyze`.
pub struct Analysis<'a> {
    pub system: SystemDef,
    pub source: String,
    pub fingerprint: Option<String>,
    pub coarse: CoarseGrain,
    pub with_gamma: bool,
    pub done: Vec<Analysed<'a>>,
    /// One row per analysed configuration, in `done` order.
    pub rows: Vec<CorrelationRow>,
    pub summary: Vec<SummaryRow>,
    /// Everything skipped, with the reason.
    pub skipped: Vec<String>,
}

/// Per-configuration result row.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct CorrelationRow {
    pub snapshot: usize,
    pub replica: Option<usize>,
    pub class: Class,
    pub pearson: [f64; 3],
    pub spearman: [f64; 3],
}

/// One line of the summary table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryRow {
    pub class: Class,
    pub pair: String,
    pub method: String,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Configurations with a defined coefficient.
    pub count: usize,
    /// The paper's value or sign (Oyama et al. 2022, Fig. 3), where it gives one.
    pub paper: Option<Reference>,
    /// Whether the mean has the paper's sign, where the paper gives one.
    pub sign_agrees: Option<bool>,
}

#[derive(Serialize)]
struct RunRecord<'a> {
    program_version: &'a str,
    source: String,
    /// `Dataset::fingerprint` of the analysed data set (absent for imported trajectories).
    #[serde(skip_serializing_if = "Option::is_none")]
    data_fingerprint: Option<String>,
    system: &'a SystemDef,
    xi: f64,
    cutoff_factor: f64,
    gradcam: Option<String>,
    analysed: usize,
    skipped: Vec<String>,
    field_map_snapshot: Option<usize>,
}

fn finite_or_none(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn fmt_csv(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        String::new()
    }
}

/// Voronoi, Tong-Tanaka, coarse-graining and correlations of every configuration (in parallel), and their
/// summary beside the paper's numbers. A configuration that fails is skipped with a warning through `ctx`.
pub fn analyze<'a>(input: AnalyzeInput<'a>, ctx: Ctx) -> Result<Analysis<'a>> {
    let cg = input.coarse;
    cg.validate()?;
    let AnalyzeInput {
        system,
        source,
        fingerprint,
        mut configs,
        gamma,
        mut skipped,
        ..
    } = input;
    let diameters = system.diameters();
    if let (Some(g), Some(f)) = (gamma, &fingerprint) {
        g.check_data(&source, f)?;
    }
    if let Some(g) = gamma {
        let before = configs.len();
        let mis = configs
            .iter()
            .filter(|c| g.row(c.snapshot).is_some() && g.is_misclassified(c.snapshot))
            .count();
        configs.retain(|c| g.row(c.snapshot).is_some() && !g.is_misclassified(c.snapshot));
        ctx.note(&format!(
            "Grad-CAM covers {} of {before} configurations; {mis} misclassified ones are left out",
            configs.len() + mis
        ));
        if let Some(c) = configs.iter().find(|c| c.species.len() != g.n_particles) {
            return Err(Error::Input(format!(
                "gamma.npy has {} particles per row, snapshot {} has {}",
                g.n_particles,
                c.snapshot,
                c.species.len()
            )));
        }
    }
    if configs.is_empty() {
        return Err(Error::Input(format!(
            "{source}: no configuration to analyse"
        )));
    }
    let results: Vec<Result<(Indicators, Correlations)>> = configs
        .par_iter()
        .map(|c| {
            let input = ConfigInput {
                positions: &c.positions,
                box_l: c.box_l,
                species: &c.species,
                diameters: &diameters,
                gamma: gamma.and_then(|g| g.row(c.snapshot)),
            };
            analyse_config(&input, cg)
        })
        .collect();
    let mut done: Vec<Analysed> = Vec::new();
    for (c, r) in configs.into_iter().zip(results) {
        match r {
            Ok((indicators, correlations)) => done.push(Analysed {
                config: c,
                indicators,
                correlations,
            }),
            Err(e) => {
                let msg = format!("{source}: snapshot {}: {e}", c.snapshot);
                ctx.warn(&format!("skipping {msg}"));
                skipped.push(msg);
            }
        }
    }
    if done.is_empty() {
        return Err(Error::Input(format!(
            "{source}: every configuration failed (see the warnings above)"
        )));
    }
    let rows: Vec<CorrelationRow> = done
        .iter()
        .map(|d| CorrelationRow {
            snapshot: d.config.snapshot,
            replica: d.config.replica,
            class: d.config.class,
            pearson: d.correlations.pearson,
            spearman: d.correlations.spearman,
        })
        .collect();
    let summary = summarise(&system.name, &rows);
    Ok(Analysis {
        system: system.clone(),
        source,
        fingerprint,
        coarse: cg,
        with_gamma: gamma.is_some(),
        done,
        rows,
        summary,
        skipped,
    })
}

/// Writes the arrays, `correlations.csv`, `summary.{csv,json}`, `analysis.json` and, with `plots`, the violins
/// and the field maps of snapshot `map_config` (default: the first glass one analysed).
pub fn write_analysis(
    out: &Path,
    a: &Analysis,
    plots: bool,
    map_config: Option<usize>,
    gradcam: Option<&Path>,
) -> Result<()> {
    std::fs::create_dir_all(out).at(out)?;
    write_indicators(out, &a.done)?;
    write_correlations_csv(&out.join("correlations.csv"), &a.rows)?;
    write_summary(out, &a.summary)?;
    let mut map_snapshot = None;
    if plots {
        plot_violins(out, &a.system.name, &a.rows, a.with_gamma)?;
        let pick = match map_config {
            Some(k) => Some(a.done.iter().find(|d| d.config.snapshot == k).ok_or_else(|| {
                Error::Input(format!(
                    "`config` {k}: snapshot {k} was not analysed (not present, skipped or misclassified)"
                ))
            })?),
            None => a
                .done
                .iter()
                .find(|d| d.config.class == Class::Glass)
                .or(a.done.first()),
        };
        if let Some(d) = pick {
            plot_maps(out, &a.system, d)?;
            map_snapshot = Some(d.config.snapshot);
        }
    }
    let record = RunRecord {
        program_version: env!("CARGO_PKG_VERSION"),
        source: a.source.clone(),
        data_fingerprint: a.fingerprint.clone(),
        system: &a.system,
        xi: a.coarse.xi,
        cutoff_factor: a.coarse.cutoff_factor,
        gradcam: gradcam.map(|p| p.display().to_string()),
        analysed: a.done.len(),
        skipped: a.skipped.clone(),
        field_map_snapshot: map_snapshot,
    };
    write_json_atomic(&out.join("analysis.json"), &record)
}

/// Reads one per-particle field of a configuration's indicators.
type FieldGetter = fn(&Indicators) -> Option<&[f64]>;

/// A field map: file stem, title, colour field, opacity field.
type MapSpec<'a> = (String, String, &'a [f64], Option<&'a [f64]>);

/// Per-particle arrays: stacked [S, N] when every configuration has the same N, else one file per snapshot.
fn write_indicators(out: &Path, done: &[Analysed]) -> Result<()> {
    let snaps: Vec<i64> = done.iter().map(|d| d.config.snapshot as i64).collect();
    npy::write(&out.join("snapshots.npy"), &[snaps.len() as u64], &snaps)?;
    let n = done[0].indicators.upsilon.len();
    let same = done.iter().all(|d| d.indicators.upsilon.len() == n);
    let fields: [(&str, FieldGetter); 5] = [
        ("upsilon", |i| Some(&i.upsilon)),
        ("theta", |i| Some(&i.theta)),
        ("upsilon_cg", |i| Some(&i.upsilon_cg)),
        ("theta_cg", |i| Some(&i.theta_cg)),
        ("gamma_cg", |i| i.gamma_cg.as_deref()),
    ];
    for (name, get) in fields {
        if get(&done[0].indicators).is_none() {
            continue;
        }
        if same {
            let mut all = Vec::with_capacity(done.len() * n);
            for d in done {
                all.extend_from_slice(get(&d.indicators).unwrap_or(&[]));
            }
            npy::write(
                &out.join(format!("{name}.npy")),
                &[done.len() as u64, n as u64],
                &all,
            )?;
        } else {
            for d in done {
                let v = get(&d.indicators).unwrap_or(&[]);
                npy::write(
                    &out.join(format!("{name}_{}.npy", d.config.snapshot)),
                    &[v.len() as u64],
                    v,
                )?;
            }
        }
    }
    if same {
        let mut all = Vec::with_capacity(done.len() * n);
        for d in done {
            all.extend_from_slice(&d.indicators.n_neighbours);
        }
        npy::write(
            &out.join("n_neighbours.npy"),
            &[done.len() as u64, n as u64],
            &all,
        )?;
    }
    Ok(())
}

fn write_correlations_csv(path: &Path, rows: &[CorrelationRow]) -> Result<()> {
    let mut s = String::from("snapshot,replica,class");
    for m in ["pearson", "spearman"] {
        for p in PAIRS {
            s.push_str(&format!(",{m}_{p}"));
        }
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{},{},{}",
            r.snapshot,
            r.replica.map(|x| x.to_string()).unwrap_or_default(),
            r.class
        ));
        for v in r.pearson.iter().chain(&r.spearman) {
            s.push(',');
            s.push_str(&fmt_csv(*v));
        }
        s.push('\n');
    }
    std::fs::write(path, s).at(path)
}

/// Mean and standard deviation of each pair per class and method, beside the paper's values.
pub fn summarise(system: &str, rows: &[CorrelationRow]) -> Vec<SummaryRow> {
    let classes = classes_of(rows);
    let paper = crate::analysis::paper::paper(system);
    let mut out = Vec::new();
    for class in &classes {
        for (m, method) in ["pearson", "spearman"].iter().enumerate() {
            for (p, pair) in PAIRS.iter().enumerate() {
                let vals: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.class == *class)
                    .map(|r| if m == 0 { r.pearson[p] } else { r.spearman[p] })
                    .collect();
                let (mean, std, count) = mean_std(&vals);
                // The paper's numbers are Pearson coefficients.
                let reference = if m == 0 {
                    paper.as_ref().and_then(|t| t.correlation(*class, p))
                } else {
                    None
                };
                let mean = finite_or_none(mean);
                out.push(SummaryRow {
                    class: *class,
                    pair: pair.to_string(),
                    method: method.to_string(),
                    mean,
                    std: finite_or_none(std),
                    count,
                    paper: reference,
                    sign_agrees: reference.zip(mean).map(|(r, m)| r.sign_agrees(m)),
                });
            }
        }
    }
    out
}

fn write_summary(out: &Path, rows: &[SummaryRow]) -> Result<()> {
    let mut s = String::from("class,pair,method,mean,std,count,paper,sign_agrees\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.class,
            r.pair,
            r.method,
            r.mean.map(fmt_csv).unwrap_or_default(),
            r.std.map(fmt_csv).unwrap_or_default(),
            r.count,
            r.paper.map(|p| p.to_string()).unwrap_or_default(),
            r.sign_agrees.map(|a| a.to_string()).unwrap_or_default()
        ));
    }
    let path = out.join("summary.csv");
    std::fs::write(&path, s).at(&path)?;
    write_json_atomic(&out.join("summary.json"), &rows)
}

/// The classes present, glass first, then liquid, then other (the order of the summary and the violins).
fn classes_of(rows: &[CorrelationRow]) -> Vec<Class> {
    let mut classes: Vec<Class> = Vec::new();
    for r in rows {
        if !classes.contains(&r.class) {
            classes.push(r.class);
        }
    }
    classes.sort_by_key(|c| match c {
        Class::Glass => 0,
        Class::Liquid => 1,
        Class::Other => 2,
    });
    classes
}

fn plot_violins(out: &Path, system: &str, rows: &[CorrelationRow], with_gamma: bool) -> Result<()> {
    // Without Gamma only C(1-Theta, Upsilon) exists.
    let pairs: Vec<usize> = if with_gamma { vec![0, 1, 2] } else { vec![2] };
    let labels: Vec<&str> = pairs.iter().map(|&p| PAIR_LABELS[p]).collect();
    let classes = classes_of(rows);
    for (m, method) in ["pearson", "spearman"].iter().enumerate() {
        let vc: Vec<ViolinClass> = classes
            .iter()
            .map(|class| ViolinClass {
                class: *class,
                values: pairs
                    .iter()
                    .map(|&p| {
                        rows.iter()
                            .filter(|r| r.class == *class)
                            .map(|r| if m == 0 { r.pearson[p] } else { r.spearman[p] })
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        let paper: Vec<Option<f64>> = pairs
            .iter()
            .map(|&p| {
                if m == 0 {
                    crate::analysis::paper::paper(system)
                        .and_then(|t| t.correlation(Class::Glass, p))
                        .and_then(|r| r.value())
                } else {
                    None
                }
            })
            .collect();
        violin(
            &out.join(format!("violin_{method}")),
            &format!("{system}: {method} coefficients per configuration"),
            &labels,
            &vc,
            &paper,
        )?;
    }
    Ok(())
}

fn plot_maps(out: &Path, system: &SystemDef, a: &Analysed) -> Result<()> {
    let (c, ind) = (&a.config, &a.indicators);
    let diameters = system.diameters();
    let system = &system.name;
    let d = super::plots::particle_diameters(&c.species, &diameters);
    let one_minus_theta: Vec<f64> = ind.theta_cg.iter().map(|t| 1.0 - t).collect();
    let k = c.snapshot;
    let tag = format!("{system} snapshot {k} ({})", c.class);
    let mut maps: Vec<MapSpec> = vec![
        (
            format!("map_upsilon_{k}"),
            format!("{tag}: Voronoi area Υ"),
            ind.upsilon.as_slice(),
            None,
        ),
        (
            format!("map_theta_{k}"),
            format!("{tag}: Tong-Tanaka Θ"),
            ind.theta.as_slice(),
            None,
        ),
        (
            format!("map_upsilon_cg_{k}"),
            format!("{tag}: coarse-grained Υ"),
            ind.upsilon_cg.as_slice(),
            None,
        ),
        (
            format!("map_1mtheta_cg_{k}"),
            format!("{tag}: coarse-grained 1-Θ"),
            one_minus_theta.as_slice(),
            None,
        ),
    ];
    match &ind.gamma_cg {
        Some(g) => {
            maps.push((
                format!("map_gamma_cg_{k}"),
                format!("{tag}: coarse-grained Γ"),
                g.as_slice(),
                None,
            ));
            maps.push((
                format!("map_upsilon_cg_alpha_gamma_{k}"),
                format!("{tag}: Υ (colour), Γ (opacity)"),
                ind.upsilon_cg.as_slice(),
                Some(g.as_slice()),
            ));
            maps.push((
                format!("map_1mtheta_cg_alpha_gamma_{k}"),
                format!("{tag}: 1-Θ (colour), Γ (opacity)"),
                one_minus_theta.as_slice(),
                Some(g.as_slice()),
            ));
        }
        None => maps.push((
            format!("map_upsilon_cg_alpha_1mtheta_{k}"),
            format!("{tag}: Υ (colour), 1-Θ (opacity)"),
            ind.upsilon_cg.as_slice(),
            Some(one_minus_theta.as_slice()),
        )),
    }
    for (stem, title, colour, alpha) in maps {
        field_map(
            &out.join(stem),
            &FieldMap {
                title: &title,
                box_l: c.box_l,
                positions: &c.positions,
                diameters: &d,
                colour,
                alpha,
            },
        )?;
    }
    Ok(())
}
