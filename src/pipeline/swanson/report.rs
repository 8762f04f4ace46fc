//! The Swanson pipeline's `results.json` (typed: `SwansonResults`, built from the stages' own files) and its
//! `report.html` (`templates/swanson.html`): the AUC matrices as heatmaps and tables beside the matrix in
//! Swanson's code, the E_IS(T) curves with the tasks, per-task CNN vs graph network, the attention metrics, the
//! attention map beside the Grad-CAM map of one glass configuration, and the time of every stage.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use glasscam_kernels::Compute;
use schemars::JsonSchema;
use serde::Serialize;

use super::preset::{Ramp, SwansonPreset, SwansonTask, TaskInput, UNIT};
use super::records::{AucMatrix, EisPoint, EqualEis, MapsRecord, Matrices, TaskRow, TasksRecord};
use super::stages::SwansonStage;
use super::task::INHERENT_DIR;
use crate::domain::{Class, Preset};
use crate::error::Result;
use crate::io::dataset::{Manifest, MANIFEST};
use crate::io::json::{finite, read_json as read};
use crate::learn::fit::Metrics;
use crate::learn::gnn::attention::AttentionReport;
use crate::learn::model::METRICS;
use crate::pipeline::report::{
    figure, hardware, num, render_template, Figure, Hardware, StageTime,
};
use crate::pipeline::runner::Stage;
use crate::sim::minimize::{InherentFile, INHERENT};

pub const SWANSON_RESULTS_FORMAT_VERSION: u32 = 1;

/// The AUC matrix hard-coded in Swanson's code (`AUC_matrix.py` of github.com/ks8/glassML at a52e432): rows the training task 1-6, columns the test task 1-6 and null. Which model produced
/// it is not stated there.
pub const SWANSON_AUC: [[f64; 7]; 6] = [
    [1.0, 1.0, 1.0, 0.925, 0.793, 0.612, 0.5],
    [1.0, 1.0, 0.999, 0.907, 0.772, 0.644, 0.5],
    [1.0, 1.0, 1.0, 0.982, 0.906, 0.828, 0.5],
    [1.0, 1.0, 1.0, 0.996, 0.983, 0.969, 0.5],
    [1.0, 1.0, 1.0, 1.0, 0.984, 0.979, 0.5],
    [1.0, 1.0, 0.996, 0.979, 0.991, 0.985, 0.5],
];

/// `results.json` of `reproduce swanson`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SwansonResults {
    pub format_version: u32,
    pub pipeline: String,
    pub program_version: String,
    pub preset: Preset,
    /// What the networks saw: the ramps' snapshots (Swanson's) or their inherent structures.
    pub input: TaskInput,
    pub backend: String,
    pub hardware: Hardware,
    /// Every recorded stage, with its time and backend (`system` holds the ramp, the task or `swanson`).
    pub stages: Vec<StageTime<SwansonStage>>,
    pub system: String,
    pub n_particles: usize,
    pub ramps: Vec<RampSummary>,
    pub tasks: Vec<TaskRow>,
    pub equal_eis: EqualEis,
    /// Per task: both networks' own test split.
    pub training: Vec<TaskTraining>,
    /// Train-on-i / test-on-j: `[train][test]` over `matrices.tasks`.
    pub matrices: Matrices,
    /// Swanson's matrix, rows task1-6, columns task1-6 and null.
    pub swanson_auc: Vec<Vec<f64>>,
    /// The qualitative picture of Swanson's matrix, checked on each of ours.
    pub picture: BTreeMap<String, Picture>,
    pub attention: AttentionSummary,
}

/// One ramp's simulation.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RampSummary {
    pub name: String,
    pub cool_rate: f64,
    pub t_start: f64,
    pub replicas: usize,
    pub snapshots: usize,
    pub failed_replicas: usize,
    /// Snapshots whose minimisation did not converge.
    pub not_converged: usize,
    pub curve: Vec<EisPoint>,
}

/// One network's numbers on its own task's test split (null where undefined, e.g. a class absent).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ModelSummary {
    pub n_test: usize,
    pub accuracy: Option<f64>,
    pub accuracy_glass: Option<f64>,
    pub accuracy_liquid: Option<f64>,
    pub roc_auc: Option<f64>,
    pub epochs: usize,
    pub best_epoch: usize,
    pub seconds: f64,
    pub train_samples_per_s: f64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TaskTraining {
    pub task: SwansonTask,
    pub cnn: ModelSummary,
    pub mpnn: ModelSummary,
    /// The graph network's test AUC at least the CNN's on this task (Swanson: the MPNN does better).
    pub mpnn_at_least_cnn: Option<bool>,
}

/// Swanson's qualitative picture on one of our matrices (diagonal = each model on its own task).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Picture {
    /// Minimum diagonal AUC of tasks 1-3 (Swanson: 1.0).
    pub easy_min: Option<f64>,
    /// Mean diagonal AUC of tasks 4-5 (Swanson: 0.990).
    pub hard_mean: Option<f64>,
    /// Task 6's diagonal AUC and the task-6 model's AUC on the null task.
    pub task6: Option<f64>,
    pub task6_on_null: Option<f64>,
    /// Mean |AUC - 0.5| / standard error over the null column (about 1 when the null AUCs are chance).
    pub null_z: Option<f64>,
    /// Mean standard error of the null column's AUCs and the smallest number of test configurations per class
    /// there.
    pub null_se: Option<f64>,
    pub null_n_min: Option<usize>,
    /// The task-1 model on tasks 4, 5 and 6 (Swanson: 0.925, 0.793, 0.612): how far what tells the hottest
    /// liquid from the glass carries to the harder tasks.
    pub task1_on_hard: [Option<f64>; 3],
}

/// The attention stage in numbers.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AttentionSummary {
    pub task: SwansonTask,
    pub threshold: f64,
    pub configurations: usize,
    pub metrics: Vec<MetricRow>,
    /// Mean Pearson C(attention, Gamma), C(attention, Upsilon), C(attention, 1 - Theta) over the glass
    /// configurations.
    pub pearson_glass: [Option<f64>; 3],
    /// The configuration of the two maps and the correlation of the two fields there.
    pub map_snapshot: usize,
    /// Whether the CNN classified that configuration correctly.
    pub map_cnn_correct: bool,
    pub map_pearson: Option<f64>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MetricRow {
    pub metric: String,
    pub auc: Option<f64>,
    pub mean_glass: Option<f64>,
    pub mean_liquid: Option<f64>,
}

/// One network's numbers from its `metrics.json`.
fn model_summary(path: &Path) -> Result<ModelSummary> {
    let m: Metrics = read(path)?;
    let t = &m.test;
    Ok(ModelSummary {
        n_test: t.n,
        accuracy: finite(t.overall()),
        accuracy_glass: finite(t.of(Class::Glass)),
        accuracy_liquid: finite(t.of(Class::Liquid)),
        roc_auc: finite(t.roc_auc),
        epochs: m.epochs,
        best_epoch: m.best_epoch,
        seconds: m.seconds,
        train_samples_per_s: m.train_samples_per_s,
    })
}

fn picture(m: &AucMatrix, tasks: &[SwansonTask]) -> Picture {
    use SwansonTask::{EqualEis, Liquid, Null};
    let at = |t: SwansonTask| tasks.iter().position(|x| *x == t);
    let cell = |i: Option<usize>, j: Option<usize>| {
        i.zip(j)
            .and_then(|(i, j)| m.auc.get(i)?.get(j).copied().flatten())
    };
    let diag = |t: SwansonTask| cell(at(t), at(t));
    let easy: Vec<f64> = [Liquid(1), Liquid(2), Liquid(3)]
        .into_iter()
        .filter_map(diag)
        .collect();
    let hard: Vec<f64> = [Liquid(4), Liquid(5)]
        .into_iter()
        .filter_map(diag)
        .collect();
    let null = at(Null);
    let z: Vec<f64> = null
        .map(|j| {
            (0..m.auc.len())
                .filter_map(|i| Some((m.auc[i][j]? - 0.5).abs() / m.auc_se[i][j]?))
                .filter(|z| z.is_finite())
                .collect()
        })
        .unwrap_or_default();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let null_se: Vec<f64> = null
        .map(|j| {
            m.auc_se
                .iter()
                .filter_map(|row| row.get(j).copied().flatten())
                .collect()
        })
        .unwrap_or_default();
    Picture {
        easy_min: (easy.len() == 3).then(|| easy.iter().cloned().fold(f64::INFINITY, f64::min)),
        hard_mean: mean(&hard),
        task6: diag(EqualEis),
        task6_on_null: cell(at(EqualEis), null),
        null_z: mean(&z),
        null_se: mean(&null_se),
        null_n_min: null.and_then(|j| {
            m.n_test
                .iter()
                .filter_map(|row| row.get(j).map(|n| n[0].min(n[1])))
                .min()
        }),
        task1_on_hard: [Liquid(4), Liquid(5), EqualEis].map(|t| cell(at(Liquid(1)), at(t))),
    }
}

/// One ramp's simulation from its manifest, its minima and the tasks stage's curve.
fn ramp_summary(
    out: &Path,
    preset: &SwansonPreset,
    ramp: Ramp,
    tasks: &TasksRecord,
) -> Result<(RampSummary, usize)> {
    let name = ramp.name();
    let dir = out.join(name).join(SwansonStage::Ramp.dir());
    let manifest: Manifest = read(&dir.join(MANIFEST))?;
    let inh: InherentFile = read(&dir.join(INHERENT_DIR).join(INHERENT))?;
    Ok((
        RampSummary {
            name: name.into(),
            cool_rate: preset.ramps.rate(ramp),
            t_start: preset.ramps.t_start,
            replicas: manifest.n_replicas,
            snapshots: manifest.snapshots.len(),
            failed_replicas: manifest.failed.len(),
            not_converged: inh.not_converged.len(),
            curve: tasks.curves.get(name).cloned().unwrap_or_default(),
        },
        manifest.n_particles,
    ))
}

/// Both networks' numbers on each task's own test split.
fn training(out: &Path) -> Result<Vec<TaskTraining>> {
    SwansonTask::ALL
        .into_iter()
        .map(|task| {
            let summary = |stage: SwansonStage| {
                model_summary(&out.join(task.name()).join(stage.dir()).join(METRICS))
            };
            let cnn = summary(SwansonStage::TrainCnn)?;
            let mpnn = summary(SwansonStage::TrainMpnn)?;
            Ok(TaskTraining {
                task,
                mpnn_at_least_cnn: cnn.roc_auc.zip(mpnn.roc_auc).map(|(c, m)| m >= c),
                cnn,
                mpnn,
            })
        })
        .collect()
}

/// The attention stage in numbers, from its `attention.json` and `maps.json`.
fn attention_summary(att: &AttentionReport, maps: MapsRecord) -> AttentionSummary {
    let glass: Vec<_> = att
        .configs
        .iter()
        .filter(|r| r.class == Class::Glass)
        .collect();
    let pearson_glass = [0, 1, 2].map(|c| {
        let v: Vec<f64> = glass.iter().filter_map(|r| finite(r.pearson[c])).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    });
    AttentionSummary {
        task: maps.task,
        threshold: att.threshold,
        configurations: att.configs.len(),
        metrics: att
            .aucs
            .iter()
            .map(|m| MetricRow {
                metric: m.metric.clone(),
                auc: finite(m.auc),
                mean_glass: finite(m.mean_glass),
                mean_liquid: finite(m.mean_liquid),
            })
            .collect(),
        pearson_glass,
        map_snapshot: maps.snapshot,
        map_cnn_correct: maps.cnn_correct,
        map_pearson: maps.pearson,
    }
}

/// Reads the stages' files under `out` into one `SwansonResults`.
pub fn collect(
    out: &Path,
    preset: &SwansonPreset,
    stages: Vec<StageTime<SwansonStage>>,
    compute: &Compute,
) -> Result<SwansonResults> {
    let own = |stage: SwansonStage, file: &str| out.join(UNIT).join(stage.dir()).join(file);
    let tasks: TasksRecord = read(&own(SwansonStage::Tasks, "tasks.json"))?;
    let matrices: Matrices = read(&own(SwansonStage::Evaluate, "matrices.json"))?;
    let att: AttentionReport = read(&own(SwansonStage::Attention, "attention.json"))?;
    let maps: MapsRecord = read(&own(SwansonStage::Attention, "maps.json"))?;
    let mut ramps = Vec::new();
    let mut n_particles = 0;
    for ramp in Ramp::BOTH {
        let (summary, n) = ramp_summary(out, preset, ramp, &tasks)?;
        ramps.push(summary);
        n_particles = n;
    }
    let mut pic = BTreeMap::new();
    pic.insert("cnn".to_string(), picture(&matrices.cnn, &matrices.tasks));
    pic.insert("mpnn".to_string(), picture(&matrices.mpnn, &matrices.tasks));
    Ok(SwansonResults {
        format_version: SWANSON_RESULTS_FORMAT_VERSION,
        pipeline: "swanson".into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        preset: preset.name,
        input: tasks.input,
        backend: compute.describe(),
        hardware: hardware(),
        stages,
        system: preset.system().name.clone(),
        n_particles,
        ramps,
        tasks: tasks.tasks,
        equal_eis: tasks.equal_eis,
        training: training(out)?,
        matrices,
        swanson_auc: SWANSON_AUC.iter().map(|r| r.to_vec()).collect(),
        picture: pic,
        attention: attention_summary(&att, maps),
    })
}

/// Matplotlib's "Blues" (Swanson's colormap), sampled at 9 stops, at t in [0, 1].
fn blues(t: f64) -> (u8, u8, u8) {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let x = t.clamp(0.0, 1.0) * 8.0;
    let i = (x.floor() as usize).min(7);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An AUC matrix as an inline SVG heatmap (colour from 0.4 to 1, three decimals in each cell).
pub fn heatmap_svg(
    title: &str,
    rows: &[String],
    cols: &[String],
    auc: &[Vec<Option<f64>>],
) -> String {
    let (cw, ch, left, top) = (62.0, 30.0, 70.0, 46.0);
    let w = left + cw * cols.len() as f64 + 10.0;
    let h = top + ch * rows.len() as f64 + 34.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12" role="img"><title>{t}</title><text x="{x}" y="16" text-anchor="middle" font-size="14">{t}</text>"#,
        t = escape(title),
        x = w / 2.0
    );
    for (j, c) in cols.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + cw * (j as f64 + 0.5),
            top - 6.0,
            escape(c)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + ch / 2.0 + 4.0,
            escape(r)
        );
        for j in 0..cols.len() {
            let x = left + cw * j as f64;
            let v = auc.get(i).and_then(|row| row.get(j).copied().flatten());
            let t = v.map_or(0.0, |v| (v - 0.4) / 0.6);
            let (cr, cg, cb) = v.map_or((230, 230, 230), |_| blues(t));
            let ink = if t > 0.6 { "#fff" } else { "#000" };
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="rgb({cr},{cg},{cb})" stroke="#fff"/><text x="{}" y="{}" text-anchor="middle" fill="{ink}">{}</text>"##,
                x + cw / 2.0,
                y + ch / 2.0 + 4.0,
                v.map_or("–".to_string(), |v| format!("{v:.3}"))
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">test task (columns) · training task (rows)</text></svg>"#,
        left + cw * cols.len() as f64 / 2.0,
        h - 8.0
    );
    s
}

#[derive(Serialize)]
struct MatrixView {
    title: String,
    svg: String,
    rows: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
struct SwansonView<'a> {
    r: &'a SwansonResults,
    cols: Vec<String>,
    matrices: Vec<MatrixView>,
    e_is: Figure,
    maps: Vec<Figure>,
    metrics_plot: Figure,
}

fn matrix_view(
    title: &str,
    rows: &[String],
    cols: &[String],
    auc: &[Vec<Option<f64>>],
) -> MatrixView {
    MatrixView {
        title: title.into(),
        svg: heatmap_svg(title, rows, cols, auc),
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    r.clone(),
                    (0..cols.len())
                        .map(|j| num(auc.get(i).and_then(|row| row.get(j).copied().flatten())))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// The self-contained HTML report (figures as data URIs, heatmaps as inline SVG).
pub fn render(out: &Path, r: &SwansonResults) -> Result<String> {
    let names: Vec<String> = r.matrices.tasks.iter().map(|t| t.name()).collect();
    let names = &names;
    let swanson_rows: Vec<String> = names.iter().take(6).cloned().collect();
    let swanson: Vec<Vec<Option<f64>>> = r
        .swanson_auc
        .iter()
        .map(|row| row.iter().map(|&x| Some(x)).collect())
        .collect();
    let matrices = vec![
        matrix_view("CNN (this run)", names, names, &r.matrices.cnn.auc),
        matrix_view(
            "graph network (this run)",
            names,
            names,
            &r.matrices.mpnn.auc,
        ),
        matrix_view(
            "Swanson et al. (their code)",
            &swanson_rows,
            names,
            &swanson,
        ),
    ];
    let att = out.join(UNIT).join(SwansonStage::Attention.dir());
    let view = SwansonView {
        r,
        cols: names.clone(),
        matrices,
        e_is: figure(
            &out.join(UNIT)
                .join(SwansonStage::Tasks.dir())
                .join("e_is.png"),
        ),
        maps: vec![
            figure(&att.join("map_gradcam.png")),
            figure(&att.join("map_attention.png")),
        ],
        metrics_plot: figure(&att.join("attention_metrics.png")),
    };
    render_template(
        "swanson.html",
        include_str!("../../../templates/swanson.html"),
        &view,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heatmap_shows_every_cell_and_escapes_names() {
        let rows = vec!["a<b".to_string(), "c".to_string()];
        let cols = vec!["x".to_string(), "y&z".to_string()];
        let svg = heatmap_svg(
            "t",
            &rows,
            &cols,
            &[vec![Some(1.0), None], vec![Some(0.5), Some(0.25)]],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 4);
        for cell in [">1.000<", ">0.500<", ">0.250<", ">–<", "a&lt;b", "y&amp;z"] {
            assert!(svg.contains(cell), "{cell} missing in {svg}");
        }
        // darkest at 1, lightest at or below 0.4
        assert_eq!(blues(1.0), (8, 48, 107));
        assert_eq!(blues(0.0), (247, 251, 255));
    }
}
