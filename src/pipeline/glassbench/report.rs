//! The GlassBench pipeline's `results.json` (typed: `GlassbenchResults`, built from the stages' own files) and its
//! `report.html` (`templates/glassbench.html`): Pearson per time point for the network, every baseline and the
//! noise ceiling, beside GlassBench's published T = 0.30 curves; the field map; the sizes, the starts left out,
//! and the time and place of every stage.

use std::path::Path;

use glasscam_kernels::Compute;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::preset::{published, GlassbenchPreset, Published};
use super::score::{Curve, MapRecord, Pearson, ScoreFile, SCORE};
use super::stages::GlassbenchStage;
use super::{TauRecord, TAU_ALPHA};
use crate::analysis::baselines::{BaselineReport, BaselineRow, RowKind, BASELINES_JSON};
use crate::error::Result;
use crate::io::json::read_json as read;
use crate::learn::dynamics::model::GnModelFile;
use crate::learn::model::METRICS;
use crate::pipeline::report::{figure, hardware, render_template, Figure, Hardware, StageTime};
use crate::pipeline::runner::Stage;

pub const GLASSBENCH_RESULTS_FORMAT_VERSION: u32 = 1;

/// The sizes of the run.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Sizes {
    /// Quenched starts, and those that passed the equilibration check.
    pub starts: usize,
    pub equilibrated: usize,
    /// Configurations with targets: training, validation and test (the test ones are targets.json's subset).
    pub configurations: usize,
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    /// Isoconfigurational runs per configuration.
    pub runs: usize,
    pub particles: usize,
    pub a_particles: usize,
    pub time_points: usize,
}

/// The network's training as its `metrics.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Training {
    pub epochs: usize,
    pub best_epoch: usize,
    pub seconds: f64,
    pub backend: String,
}

/// `results.json` of `reproduce glassbench`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct GlassbenchResults {
    pub format_version: u32,
    pub pipeline: String,
    pub program_version: String,
    pub preset: String,
    /// Where the MD, FIRE and the network ran (the adapter on a GPU), and the processor.
    pub backend: String,
    pub hardware: Hardware,
    pub stages: Vec<StageTime<GlassbenchStage>>,
    pub system: String,
    pub temperature: f64,
    pub tau: TauRecord,
    pub sizes: Sizes,
    /// The target scored and its time grid.
    pub target: String,
    pub times: Vec<f64>,
    pub times_tau: Vec<f64>,
    /// The target's noise ceiling per time point (A particles).
    pub ceiling: Vec<Option<f64>>,
    /// The network's Pearson per time point on the test configurations.
    pub network: Pearson,
    /// The network's Pearson (A) over the noise ceiling per time point.
    pub network_over_ceiling: Vec<Option<f64>>,
    /// Every baseline's row (`baselines.json`): each descriptor at each length, and ridge.
    pub baselines: Vec<BaselineRow>,
    /// Per time point, the largest |Pearson| (A) of any baseline, and whether the network's Pearson is above it.
    pub best_baseline: Vec<Option<f64>>,
    pub network_above_every_baseline: Vec<Option<bool>>,
    /// Whether the baselines were scored on the network's test configurations (the same replicas).
    pub same_test_configurations: bool,
    pub training: Training,
    /// The network's shape and inputs, in words.
    pub network_model: String,
    pub map: MapRecord,
    /// GlassBench's published curves (another temperature: compare shapes against t / tau_alpha, not values).
    pub published: Published,
}

/// The baselines' curves for the Pearson figure (A particles): ridge, and of each descriptor the coarse-graining
/// length with the largest mean |Pearson| (the table has every row).
pub fn baseline_curves(baselines: &Path, times_tau: &[f64]) -> Result<Vec<Curve>> {
    let r: BaselineReport = read(&baselines.join(BASELINES_JSON))?;
    let strength = |row: &BaselineRow| {
        let v: Vec<f64> = row.pearson_a.iter().flatten().map(|x| x.abs()).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let mut best: Vec<&BaselineRow> = Vec::new();
    for row in r.rows.iter().filter(|x| x.kind == RowKind::Descriptor) {
        let family = |x: &BaselineRow| x.name.split("_cg").next().unwrap_or_default().to_string();
        match best.iter_mut().find(|b| family(b) == family(row)) {
            Some(b) if strength(row) > strength(b) => *b = row,
            Some(_) => {}
            None => best.push(row),
        }
    }
    let ridge = r.rows.iter().filter(|x| x.kind == RowKind::Ridge);
    Ok(ridge
        .chain(best)
        .map(|row| Curve::of(row.name.clone(), times_tau, &row.pearson_a))
        .collect())
}

/// Reads the stages' files under `out/unit` into one `GlassbenchResults`.
pub fn collect(
    out: &Path,
    unit: &str,
    preset: &GlassbenchPreset,
    stages: Vec<StageTime<GlassbenchStage>>,
    compute: &Compute,
) -> Result<GlassbenchResults> {
    let own = |stage: GlassbenchStage, file: &str| out.join(unit).join(stage.dir()).join(file);
    let tau: TauRecord = read(&own(GlassbenchStage::TauAlpha, TAU_ALPHA))?;
    let score: ScoreFile = read(&own(GlassbenchStage::Score, SCORE))?;
    let training: Training = read(&own(GlassbenchStage::Network, METRICS))?;
    let split: SplitSizes = read(&own(GlassbenchStage::Network, METRICS))?;
    let data =
        crate::io::dataset::Dataset::load(&out.join(unit).join(GlassbenchStage::Targets.dir()))?;
    let a_particles = data.species.iter().filter(|&&s| s == 0).count();
    let base: BaselineReport = read(&own(GlassbenchStage::Baselines, BASELINES_JSON))?;
    let model: GnModelFile = read(&own(GlassbenchStage::Network, "config.json"))?;
    let best_baseline: Vec<Option<f64>> = (0..score.times.len())
        .map(|j| {
            base.rows
                .iter()
                .filter_map(|row| row.pearson_a.get(j).copied().flatten())
                .map(f64::abs)
                .reduce(f64::max)
        })
        .collect();
    let network_above_every_baseline = score
        .network
        .a
        .iter()
        .zip(&best_baseline)
        .map(|(r, b)| Some(r.as_ref()? > b.as_ref()?))
        .collect();
    let network_over_ceiling = score
        .network
        .a
        .iter()
        .zip(&score.ceiling)
        .map(|(r, c)| match (r, c) {
            (Some(r), Some(c)) if *c > 0.0 => Some(r / c),
            _ => None,
        })
        .collect();
    Ok(GlassbenchResults {
        format_version: GLASSBENCH_RESULTS_FORMAT_VERSION,
        pipeline: "glassbench".into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        preset: preset.name.clone(),
        backend: compute.describe(),
        hardware: hardware(),
        stages,
        system: unit.into(),
        temperature: preset.temperature,
        sizes: Sizes {
            starts: tau.starts,
            equilibrated: tau.equilibrated,
            configurations: data.n_snapshots(),
            train: split.snapshots[0],
            validation: split.snapshots[1],
            test: split.snapshots[2],
            runs: preset.targets.runs,
            particles: data.n_particles(),
            a_particles,
            time_points: score.times.len(),
        },
        tau,
        target: score.target,
        times: score.times,
        times_tau: score.times_tau,
        ceiling: score.ceiling,
        network: score.network,
        network_over_ceiling,
        same_test_configurations: base.split.test == model.header.split.test,
        baselines: base.rows,
        best_baseline,
        network_above_every_baseline,
        training,
        network_model: describe_network(&model),
        map: score.map,
        published: published()?,
    })
}

/// "3 members of width 16, steps 2, cutoff 2; inputs: the configuration and its inherent structure, 24
/// descriptors; loss on every species".
fn describe_network(model: &GnModelFile) -> String {
    let c = &model.config;
    let mut inputs = match c.inherent {
        true => "the configuration and its inherent structure".to_string(),
        false => "the configuration".to_string(),
    };
    match model.descriptors.len() {
        0 if !c.inherent => inputs.push_str(" (Bapst's)"),
        0 => {}
        f => inputs.push_str(&format!(", {f} descriptors")),
    }
    let members = match c.members {
        1 => String::new(),
        k => format!("{k} members of "),
    };
    let loss = match c.all_species {
        true => "; loss on every species",
        false => "",
    };
    format!(
        "{members}width {}, steps {}, cutoff {}; inputs: {inputs}{loss}",
        c.hidden, c.steps, c.cutoff
    )
}

/// The configurations per part of the network's split (`metrics.json`'s `snapshots`).
#[derive(Deserialize)]
struct SplitSizes {
    snapshots: [usize; 3],
}

/// One row of the Pearson table.
#[derive(Serialize)]
struct Row {
    name: String,
    values: Vec<Option<f64>>,
}

#[derive(Serialize)]
struct View<'a> {
    r: &'a GlassbenchResults,
    rows: Vec<Row>,
    rows_all: Vec<Row>,
    pearson: Figure,
    pearson_glassbench: Figure,
    map: Figure,
}

/// The self-contained HTML report (figures as data URIs).
pub fn render(out: &Path, unit: &str, r: &GlassbenchResults) -> Result<String> {
    let score = out.join(unit).join(GlassbenchStage::Score.dir());
    let mut rows = vec![Row {
        name: "network".into(),
        values: r.network.a.clone(),
    }];
    rows.extend(r.baselines.iter().map(|b| Row {
        name: b.name.clone(),
        values: b.pearson_a.clone(),
    }));
    rows.extend([
        Row {
            name: "noise ceiling".into(),
            values: r.ceiling.clone(),
        },
        Row {
            name: "network / ceiling".into(),
            values: r.network_over_ceiling.clone(),
        },
    ]);
    let mut rows_all = vec![Row {
        name: "network".into(),
        values: r.network.all.clone(),
    }];
    rows_all.extend(r.baselines.iter().map(|b| Row {
        name: b.name.clone(),
        values: b.pearson_all.clone(),
    }));
    let view = View {
        r,
        rows,
        rows_all,
        pearson: figure(&score.join("pearson.png")),
        pearson_glassbench: figure(&score.join("pearson_glassbench.png")),
        map: figure(&score.join("map.png")),
    };
    render_template(
        "glassbench.html",
        include_str!("../../../templates/glassbench.html"),
        &view,
    )
}
