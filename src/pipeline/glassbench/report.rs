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
use crate::error::Result;
use crate::io::json::read_json as read;
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
    pub training: Training,
    pub map: MapRecord,
    /// GlassBench's published curves (another temperature: compare shapes against t / tau_alpha, not values).
    pub published: Published,
}

/// The baselines' curves for the Pearson figure; none before the baselines stage exists.
pub fn baseline_curves(_baselines: &Path, _times_tau: &[f64]) -> Result<Vec<Curve>> {
    Ok(Vec::new())
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
        training,
        map: score.map,
        published: published()?,
    })
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
    map: Figure,
}

/// The self-contained HTML report (figures as data URIs).
pub fn render(out: &Path, unit: &str, r: &GlassbenchResults) -> Result<String> {
    let score = out.join(unit).join(GlassbenchStage::Score.dir());
    let rows = vec![
        Row {
            name: "network".into(),
            values: r.network.a.clone(),
        },
        Row {
            name: "noise ceiling".into(),
            values: r.ceiling.clone(),
        },
        Row {
            name: "network / ceiling".into(),
            values: r.network_over_ceiling.clone(),
        },
    ];
    let rows_all = vec![Row {
        name: "network".into(),
        values: r.network.all.clone(),
    }];
    let view = View {
        r,
        rows,
        rows_all,
        pearson: figure(&score.join("pearson.png")),
        map: figure(&score.join("map.png")),
    };
    render_template(
        "glassbench.html",
        include_str!("../../../templates/glassbench.html"),
        &view,
    )
}
