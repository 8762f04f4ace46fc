//! `glasscam analyze`: indicators, correlations, summary, violin plots and field maps of a data set (or of an
//! imported LAMMPS dump / extended XYZ trajectory), optionally against a Grad-CAM score.
//!
//! What `--out DIR` receives (S = configurations analysed, N = particles):
//! - `snapshots.npy` int64 [S]: the data-set row (or frame number) of each analysed configuration;
//! - `upsilon.npy`, `theta.npy` float64 [S, N]: raw Voronoi area and Tong-Tanaka Theta;
//!   `upsilon_cg.npy`, `theta_cg.npy` (and `gamma_cg.npy` with `--gradcam`): coarse-grained, normalised to
//!   [0, 1] per configuration (the paper's "1 - Theta" is `1 - theta_cg`); `n_neighbours.npy` uint32 [S, N].
//!   If frames of an imported file differ in N, each is written as `<name>_<snapshot>.npy` instead.
//! - `correlations.csv`: snapshot, replica, class, then Pearson and Spearman of (Gamma, Upsilon),
//!   (Gamma, 1-Theta), (1-Theta, Upsilon); empty where undefined (no Gamma, or a constant field);
//! - `summary.csv` / `summary.json`: mean, standard deviation and count per class, pair and method, with
//!   the paper's value or sign (SPEC §8) beside the Pearson rows;
//! - `violin_pearson.{png,svg}`, `violin_spearman.{png,svg}`: coefficients per configuration, glass vs liquid;
//! - `map_*_<snapshot>.{png,svg}`: field maps of one configuration (`--config`, default the first glass one);
//! - `analysis.json`: settings, source, counts and every skipped frame or configuration with its reason.
//!
//! Configurations the network misclassified (listed in `gradcam.json`) are left out, like the paper does.
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::plots::{field_map, violin, FieldMap, ViolinClass};
use super::stats::mean_std;
use super::{
    analyse_config, paper_reference, sign_agrees, CoarseGrain, ConfigInput, Correlations, GammaSet,
    Indicators,
};
use super::{PAIRS, PAIR_LABELS};
use crate::dataset::{write_json_atomic, Dataset};
use crate::error::{Error, IoContext, Result};
use crate::import::{self, Format, SpeciesMap};
use crate::npy;
use crate::system::SystemDef;

/// Options of `glasscam analyze`.
#[derive(Clone, Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Data set directory written by `glasscam simulate`.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub data: Option<PathBuf>,
    /// A trajectory written by another program (every frame is analysed).
    #[arg(long, requires = "format", requires = "system")]
    pub input: Option<PathBuf>,
    /// Format of --input.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// System of --input: `abm`, `kam` or a TOML system file (gives the Tong-Tanaka diameters).
    #[arg(long)]
    pub system: Option<String>,
    /// Map the file's atom types to species, e.g. `1=A,2=B` (default: a type named like a species is that
    /// species, else integer type t is species t-1).
    #[arg(long)]
    pub types: Option<String>,
    /// Grad-CAM directory (`gamma.npy` + `gradcam.json`); without it only Upsilon and Theta are analysed.
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Coarse-graining length xi.
    #[arg(long, default_value_t = 3.0)]
    pub xi: f64,
    /// Coarse-graining cut-off in units of xi.
    #[arg(long, default_value_t = 3.0)]
    pub cutoff: f64,
    /// Snapshot (data set row, or frame number) drawn as field maps; default: the first glass one analysed.
    #[arg(long)]
    pub config: Option<usize>,
    /// Skip the figures.
    #[arg(long)]
    pub no_plots: bool,
}

/// One configuration to analyse.
struct Config<'a> {
    /// Data-set row or frame number.
    snapshot: usize,
    replica: Option<usize>,
    class: String,
    box_l: [f64; 2],
    positions: Cow<'a, [f64]>,
    species: Cow<'a, [u32]>,
}

/// Per-configuration result row.
#[derive(Clone, Debug, Serialize)]
pub struct CorrelationRow {
    pub snapshot: usize,
    pub replica: Option<usize>,
    pub class: String,
    pub pearson: [f64; 3],
    pub spearman: [f64; 3],
}

/// One line of the summary table.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryRow {
    pub class: String,
    pub pair: String,
    pub method: String,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Configurations with a defined coefficient.
    pub count: usize,
    /// The paper's value or sign (SPEC §8), where it gives one.
    pub paper: Option<String>,
    /// Whether the mean has the paper's sign, where the paper gives one.
    pub sign_agrees: Option<bool>,
}

#[derive(Serialize)]
struct RunRecord<'a> {
    program_version: &'a str,
    source: String,
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

/// Runs `glasscam analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<()> {
    if !(args.xi > 0.0 && args.xi.is_finite() && args.cutoff > 0.0 && args.cutoff.is_finite()) {
        return Err(Error::Input(format!(
            "--xi and --cutoff must be positive, got {} and {}",
            args.xi, args.cutoff
        )));
    }
    let cg = CoarseGrain {
        xi: args.xi,
        cutoff_factor: args.cutoff,
    };
    let mut skipped: Vec<String> = Vec::new();
    // Keeps the data set alive for the borrowed configurations.
    let dataset;
    let (system, source, mut configs): (SystemDef, String, Vec<Config>) = if let Some(dir) =
        &args.data
    {
        dataset = Dataset::load(dir)?;
        let l = dataset.box_l();
        let configs = dataset
            .manifest
            .snapshots
            .iter()
            .map(|m| Config {
                snapshot: m.index,
                replica: Some(m.replica),
                class: m.class.clone(),
                box_l: [l, l],
                positions: Cow::Borrowed(dataset.snapshot(m.index)),
                species: Cow::Borrowed(&dataset.species[..]),
            })
            .collect();
        (
            dataset.manifest.system.clone(),
            dir.display().to_string(),
            configs,
        )
    } else if let (Some(input), Some(format), Some(sys)) = (&args.input, args.format, &args.system)
    {
        let system = SystemDef::resolve(sys)?;
        let map = SpeciesMap::new(&system, args.types.as_deref())?;
        let imported = import::read(input, format, &map)?;
        for e in &imported.errors {
            eprintln!("warning: skipping {e}");
            skipped.push(e.to_string());
        }
        if imported.frames.is_empty() {
            return Err(Error::Input(format!(
                "{}: no usable frame ({} bad; see the warnings above)",
                input.display(),
                imported.errors.len()
            )));
        }
        let configs = imported
            .frames
            .into_iter()
            .map(|f| {
                let density = f.species.len() as f64 / (f.box_l[0] * f.box_l[1]);
                if (density / system.density - 1.0).abs() > 0.05 {
                    eprintln!(
                        "warning: {} frame {}: density {density:.4} differs from system `{}`'s {} by more than 5%",
                        input.display(),
                        f.index,
                        system.name,
                        system.density
                    );
                }
                Config {
                    snapshot: f.index,
                    replica: None,
                    class: f.class.unwrap_or_else(|| "other".into()),
                    box_l: f.box_l,
                    positions: Cow::Owned(f.positions),
                    species: Cow::Owned(f.species),
                }
            })
            .collect();
        (system, input.display().to_string(), configs)
    } else {
        return Err(Error::Input(
            "give --data DIR, or --input FILE with --format and --system".into(),
        ));
    };
    let diameters = system.diameters();
    let gamma = match &args.gradcam {
        Some(dir) => Some(GammaSet::load(dir)?),
        None => None,
    };
    if let Some(g) = &gamma {
        let before = configs.len();
        let mis = configs
            .iter()
            .filter(|c| g.row(c.snapshot).is_some() && g.is_misclassified(c.snapshot))
            .count();
        configs.retain(|c| g.row(c.snapshot).is_some() && !g.is_misclassified(c.snapshot));
        println!(
            "Grad-CAM covers {} of {before} configurations; {mis} misclassified ones are left out",
            configs.len() + mis
        );
        if let Some(c) = configs.iter().find(|c| c.species.len() != g.n_particles) {
            return Err(Error::Input(format!(
                "{}: gamma.npy has {} particles per row, snapshot {} has {}",
                args.gradcam.as_deref().unwrap_or(Path::new("")).display(),
                g.n_particles,
                c.snapshot,
                c.species.len()
            )));
        }
    }
    if configs.is_empty() {
        return Err(Error::Input("no configuration to analyse".into()));
    }
    let results: Vec<Result<(Indicators, Correlations)>> = configs
        .par_iter()
        .map(|c| {
            let input = ConfigInput {
                positions: &c.positions,
                box_l: c.box_l,
                species: &c.species,
                diameters: &diameters,
                gamma: gamma.as_ref().and_then(|g| g.row(c.snapshot)),
            };
            analyse_config(&input, cg)
        })
        .collect();
    let mut done: Vec<(&Config, Indicators, Correlations)> = Vec::new();
    for (c, r) in configs.iter().zip(results) {
        match r {
            Ok((ind, cor)) => done.push((c, ind, cor)),
            Err(e) => {
                let msg = format!("{source}: snapshot {}: {e}", c.snapshot);
                eprintln!("warning: skipping {msg}");
                skipped.push(msg);
            }
        }
    }
    if done.is_empty() {
        return Err(Error::Input(format!(
            "{source}: every configuration failed (see the warnings above)"
        )));
    }
    let out = &args.out;
    std::fs::create_dir_all(out).at(out)?;
    write_indicators(out, &done)?;
    let rows: Vec<CorrelationRow> = done
        .iter()
        .map(|(c, _, cor)| CorrelationRow {
            snapshot: c.snapshot,
            replica: c.replica,
            class: c.class.clone(),
            pearson: cor.pearson,
            spearman: cor.spearman,
        })
        .collect();
    write_correlations_csv(&out.join("correlations.csv"), &rows)?;
    let summary = summarise(&system.name, &rows);
    write_summary(out, &summary)?;
    print_summary(&summary);
    let mut map_snapshot = None;
    if !args.no_plots {
        plot_violins(out, &system.name, &rows, gamma.is_some())?;
        let pick = match args.config {
            Some(k) => Some(done.iter().find(|d| d.0.snapshot == k).ok_or_else(|| {
                Error::Input(format!("--config {k}: snapshot {k} was not analysed (not present, skipped or misclassified)"))
            })?),
            None => done.iter().find(|d| d.0.class == "glass").or(done.first()),
        };
        if let Some((c, ind, _)) = pick {
            plot_maps(out, &system.name, c, ind, &diameters)?;
            map_snapshot = Some(c.snapshot);
        }
    }
    let record = RunRecord {
        program_version: env!("CARGO_PKG_VERSION"),
        source,
        system: &system,
        xi: cg.xi,
        cutoff_factor: cg.cutoff_factor,
        gradcam: args.gradcam.as_ref().map(|p| p.display().to_string()),
        analysed: done.len(),
        skipped,
        field_map_snapshot: map_snapshot,
    };
    write_json_atomic(&out.join("analysis.json"), &record)?;
    println!(
        "wrote {} configurations' analysis to {}",
        done.len(),
        out.display()
    );
    Ok(())
}

/// Reads one per-particle field of a configuration's indicators.
type FieldGetter = fn(&Indicators) -> Option<&[f64]>;

/// A field map: file stem, title, colour field, opacity field.
type MapSpec<'a> = (String, String, &'a [f64], Option<&'a [f64]>);

/// Per-particle arrays: stacked [S, N] when every configuration has the same N, else one file per snapshot.
fn write_indicators(out: &Path, done: &[(&Config, Indicators, Correlations)]) -> Result<()> {
    let snaps: Vec<i64> = done.iter().map(|d| d.0.snapshot as i64).collect();
    npy::write(&out.join("snapshots.npy"), &[snaps.len() as u64], &snaps)?;
    let n = done[0].1.upsilon.len();
    let same = done.iter().all(|d| d.1.upsilon.len() == n);
    let fields: [(&str, FieldGetter); 5] = [
        ("upsilon", |i| Some(&i.upsilon)),
        ("theta", |i| Some(&i.theta)),
        ("upsilon_cg", |i| Some(&i.upsilon_cg)),
        ("theta_cg", |i| Some(&i.theta_cg)),
        ("gamma_cg", |i| i.gamma_cg.as_deref()),
    ];
    for (name, get) in fields {
        if get(&done[0].1).is_none() {
            continue;
        }
        if same {
            let mut all = Vec::with_capacity(done.len() * n);
            for d in done {
                all.extend_from_slice(get(&d.1).unwrap_or(&[]));
            }
            npy::write(
                &out.join(format!("{name}.npy")),
                &[done.len() as u64, n as u64],
                &all,
            )?;
        } else {
            for d in done {
                let v = get(&d.1).unwrap_or(&[]);
                npy::write(
                    &out.join(format!("{name}_{}.npy", d.0.snapshot)),
                    &[v.len() as u64],
                    v,
                )?;
            }
        }
    }
    if same {
        let mut all = Vec::with_capacity(done.len() * n);
        for d in done {
            all.extend_from_slice(&d.1.n_neighbours);
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
    let mut classes: Vec<String> = Vec::new();
    for r in rows {
        if !classes.contains(&r.class) {
            classes.push(r.class.clone());
        }
    }
    classes.sort_by_key(|c| match c.as_str() {
        "glass" => 0,
        "liquid" => 1,
        _ => 2,
    });
    let mut out = Vec::new();
    for class in &classes {
        for (m, method) in ["pearson", "spearman"].iter().enumerate() {
            for (p, pair) in PAIRS.iter().enumerate() {
                let vals: Vec<f64> = rows
                    .iter()
                    .filter(|r| &r.class == class)
                    .map(|r| if m == 0 { r.pearson[p] } else { r.spearman[p] })
                    .collect();
                let (mean, std, count) = mean_std(&vals);
                // The paper's numbers are Pearson coefficients.
                let paper = if m == 0 {
                    paper_reference(system, class, p)
                } else {
                    None
                };
                let mean = finite_or_none(mean);
                out.push(SummaryRow {
                    class: class.clone(),
                    pair: pair.to_string(),
                    method: method.to_string(),
                    mean,
                    std: finite_or_none(std),
                    count,
                    paper: paper.map(String::from),
                    sign_agrees: sign_agrees(paper, mean),
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
            r.paper.clone().unwrap_or_default(),
            r.sign_agrees.map(|a| a.to_string()).unwrap_or_default()
        ));
    }
    let path = out.join("summary.csv");
    std::fs::write(&path, s).at(&path)?;
    write_json_atomic(&out.join("summary.json"), &rows)
}

fn print_summary(rows: &[SummaryRow]) {
    println!(
        "{:<8} {:<16} {:<9} {:>9} {:>9} {:>6} {:>7} {:>5}",
        "class", "pair", "method", "mean", "std", "n", "paper", "sign"
    );
    for r in rows.iter().filter(|r| r.count > 0) {
        println!(
            "{:<8} {:<16} {:<9} {:>9.4} {:>9.4} {:>6} {:>7} {:>5}",
            r.class,
            r.pair,
            r.method,
            r.mean.unwrap_or(f64::NAN),
            r.std.unwrap_or(f64::NAN),
            r.count,
            r.paper.clone().unwrap_or_default(),
            match r.sign_agrees {
                Some(true) => "ok",
                Some(false) => "DIFF",
                None => "",
            }
        );
    }
}

fn plot_violins(out: &Path, system: &str, rows: &[CorrelationRow], with_gamma: bool) -> Result<()> {
    // Without Gamma only C(1-Theta, Upsilon) exists.
    let pairs: Vec<usize> = if with_gamma { vec![0, 1, 2] } else { vec![2] };
    let labels: Vec<&str> = pairs.iter().map(|&p| PAIR_LABELS[p]).collect();
    let mut classes: Vec<String> = Vec::new();
    for r in rows {
        if !classes.contains(&r.class) {
            classes.push(r.class.clone());
        }
    }
    classes.sort_by_key(|c| match c.as_str() {
        "glass" => 0,
        "liquid" => 1,
        _ => 2,
    });
    for (m, method) in ["pearson", "spearman"].iter().enumerate() {
        let vc: Vec<ViolinClass> = classes
            .iter()
            .map(|class| ViolinClass {
                class: class.clone(),
                values: pairs
                    .iter()
                    .map(|&p| {
                        rows.iter()
                            .filter(|r| &r.class == class)
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
                    paper_reference(system, "glass", p).and_then(|v| v.parse().ok())
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

fn plot_maps(
    out: &Path,
    system: &str,
    c: &Config,
    ind: &Indicators,
    diameters: &[f64],
) -> Result<()> {
    let d: Vec<f64> = c.species.iter().map(|&s| diameters[s as usize]).collect();
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
