//! `results.json` (typed: `Results`, built from the stages' own files) and `report.html`, rendered from
//! `templates/report.html` with minijinja (HTML escaping on). Every number in the report is in `results.json`.

use std::collections::BTreeMap;
use std::path::Path;

use glasscam_kernels::Compute;
use schemars::JsonSchema;
use serde::Serialize;

use super::stages::OyamaStage;
use crate::analysis::paper::Paper;
use crate::analysis::{GradcamIndex, SummaryRow, PAIRS};
use crate::domain::{Class, Preset};
use crate::error::Result;
use crate::io::dataset::Manifest;
use crate::io::json::read_json as read;
use crate::learn::fit::Metrics;
use crate::learn::metrics::Evaluation;
use crate::pipeline::report::{figure, hardware, render_template, Figure, Hardware, StageTime};
use crate::sim::propensity::Curves;

pub const RESULTS_FORMAT_VERSION: u32 = 1;

/// `results.json`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Results {
    pub format_version: u32,
    pub program_version: String,
    pub preset: Preset,
    pub backend: String,
    pub hardware: Hardware,
    /// Every recorded stage, with its time and backend.
    pub stages: Vec<StageTime<OyamaStage>>,
    pub systems: BTreeMap<String, SystemResults>,
}

/// One system's numbers.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SystemResults {
    pub data: DataSummary,
    pub classification: Classification,
    pub gradcam: GradcamSummary,
    /// The analysis summary (`analysis/summary.json`).
    pub correlations: Vec<SummaryRow>,
    /// The propensity curves (`propensity/curves.json`).
    pub propensity: Curves,
    /// The paper's numbers for this system, where it has them.
    pub paper: Option<Paper>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DataSummary {
    pub replicas: usize,
    pub snapshots: usize,
    pub failed_replicas: usize,
    pub backend: String,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Classification {
    pub test: Evaluation,
    pub validation: Evaluation,
    pub epochs: usize,
    pub best_epoch: usize,
    pub train_samples_per_s: f64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct GradcamSummary {
    pub configurations: usize,
    pub misclassified: Vec<usize>,
}

/// Reads the stages' files of every system under `out` into one `Results`, with the stages' timings.
pub fn collect(
    out: &Path,
    systems: &[&str],
    stages: Vec<StageTime<OyamaStage>>,
    preset: Preset,
    compute: &Compute,
) -> Result<Results> {
    let mut per = BTreeMap::new();
    for &name in systems {
        let dir = out.join(name);
        let metrics: Metrics = read(&dir.join("model/metrics.json"))?;
        let manifest: Manifest = read(&dir.join("data/manifest.json"))?;
        let gc: GradcamIndex = read(&dir.join("gradcam/gradcam.json"))?;
        per.insert(
            name.to_string(),
            SystemResults {
                data: DataSummary {
                    replicas: manifest.n_replicas,
                    snapshots: manifest.snapshots.len(),
                    failed_replicas: manifest.failed.len(),
                    backend: manifest.backend,
                },
                classification: Classification {
                    test: metrics.test,
                    validation: metrics.validation,
                    epochs: metrics.epochs,
                    best_epoch: metrics.best_epoch,
                    train_samples_per_s: metrics.train_samples_per_s,
                },
                gradcam: GradcamSummary {
                    configurations: gc.snapshots.len(),
                    misclassified: gc.misclassified,
                },
                correlations: read(&dir.join("analysis/summary.json"))?,
                propensity: read(&dir.join("propensity/curves.json"))?,
                paper: crate::analysis::paper::paper(name),
            },
        );
    }
    Ok(Results {
        format_version: RESULTS_FORMAT_VERSION,
        program_version: env!("CARGO_PKG_VERSION").into(),
        preset,
        backend: compute.describe(),
        hardware: hardware(),
        stages,
        systems: per,
    })
}

/// A row of the correlation table.
#[derive(Serialize)]
struct CorrelationView {
    system: String,
    class: Class,
    pair: String,
    mean: Option<f64>,
    std: Option<f64>,
    count: usize,
    paper: Option<String>,
    sign_agrees: Option<bool>,
}

#[derive(Serialize)]
struct SystemView<'a> {
    name: &'a str,
    s: &'a SystemResults,
    violin: Figure,
    maps: Vec<Figure>,
    propensity: Vec<Figure>,
    has_correlation: bool,
}

#[derive(Serialize)]
struct ReportView<'a> {
    r: &'a Results,
    systems: Vec<SystemView<'a>>,
    correlations: Vec<CorrelationView>,
    agree: usize,
    compared: usize,
    quick: bool,
}

fn pair_label(pair: &str) -> String {
    let p = PAIRS.iter().position(|p| *p == pair);
    match p {
        Some(0) => "C(Gamma, Upsilon)".into(),
        Some(1) => "C(Gamma, 1 - Theta)".into(),
        Some(2) => "C(1 - Theta, Upsilon)".into(),
        _ => pair.into(),
    }
}

/// The self-contained HTML report (figures embedded as data URIs).
pub fn render(out: &Path, r: &Results) -> Result<String> {
    let mut correlations = Vec::new();
    let mut systems = Vec::new();
    for (name, s) in &r.systems {
        for row in s.correlations.iter().filter(|row| row.method == "pearson") {
            correlations.push(CorrelationView {
                system: name.clone(),
                class: row.class,
                pair: pair_label(&row.pair),
                mean: row.mean,
                std: row.std,
                count: row.count,
                paper: row.paper.map(|p| p.to_string()),
                sign_agrees: row.sign_agrees,
            });
        }
        let an = out.join(name).join("analysis");
        let mut maps: Vec<std::path::PathBuf> = std::fs::read_dir(&an)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        maps.retain(|p| {
            let f = p
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            f.starts_with("map_") && f.ends_with(".png")
        });
        maps.sort();
        let p = out.join(name).join("propensity");
        let propensity = [
            "correlation_vs_delta.png",
            "delta_vs_time.png",
            "field_gamma.png",
            "field_one_minus_delta.png",
        ]
        .iter()
        .filter(|f| p.join(f).exists() || **f == "delta_vs_time.png")
        .map(|f| figure(&p.join(f)))
        .collect();
        systems.push(SystemView {
            name,
            s,
            violin: figure(&an.join("violin_pearson.png")),
            maps: maps.iter().map(|m| figure(m)).collect(),
            propensity,
            has_correlation: s.propensity.correlation.is_some(),
        });
    }
    let compared = correlations
        .iter()
        .filter(|c| c.sign_agrees.is_some())
        .count();
    let agree = correlations
        .iter()
        .filter(|c| c.sign_agrees == Some(true))
        .count();
    let view = ReportView {
        r,
        systems,
        correlations,
        agree,
        compared,
        quick: r.preset == Preset::Quick,
    };
    render_template(
        "report.html",
        include_str!("../../../templates/report.html"),
        &view,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_escapes_what_it_shows() {
        let r = Results {
            format_version: RESULTS_FORMAT_VERSION,
            program_version: "0".into(),
            preset: Preset::Quick,
            backend: "cpu & <twin>".into(),
            hardware: Hardware {
                cpu: "<script>\"x\"".into(),
                threads: 2,
                os: "linux".into(),
            },
            stages: vec![StageTime {
                system: "a'b".into(),
                stage: OyamaStage::Train,
                seconds: 1.25,
                backend: "cpu".into(),
            }],
            systems: BTreeMap::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let html = render(dir.path(), &r).unwrap();
        assert!(html.contains("backend cpu &amp; &lt;twin&gt;"), "{html}");
        assert!(html.contains("&lt;script&gt;&quot;x&quot;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(
            html.contains("<td>a&#x27;b</td><td>train</td><td>1.2</td>"),
            "{html}"
        );
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    }
}
