//! `glasscam reproduce`: simulate, train, Grad-CAM, analyze and propensity for one or both systems, each stage
//! recorded (outputs, time, backend) so that a rerun skips finished stages and redoes an interrupted one, then
//! one self-contained `report.html` and `results.json` with every number in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::{BackendChoice, Compute};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::analysis::{GammaSet, GradcamIndex};
use crate::dataset::write_json_atomic;
use crate::error::{Error, IoContext, Result};
use crate::nn::ModelConfig;
use crate::protocol::{Protocol, RunOptions};
use crate::system::SystemDef;

#[derive(Clone, Debug, clap::Args)]
pub struct ReproduceArgs {
    /// `abm`, `kam` or `both`.
    #[arg(long, default_value = "both")]
    pub system: String,
    /// `quick` (minutes on a laptop CPU) or `paper` (the paper's sizes, for a GPU).
    #[arg(long, default_value = "quick")]
    pub preset: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replicas per system (default: the preset's).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Training epochs (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Propensity: runs per temperature and steps (default: the preset's).
    #[arg(long)]
    pub propensity_runs: Option<usize>,
    #[arg(long)]
    pub propensity_steps: Option<u64>,
}

/// The sizes of a reproduce preset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReproducePreset {
    pub name: String,
    pub protocol: Protocol,
    pub model: ModelConfig,
    pub propensity_runs: usize,
    pub propensity_steps: u64,
    pub propensity_samples: usize,
}

impl ReproducePreset {
    pub fn quick() -> ReproducePreset {
        ReproducePreset {
            name: "quick".into(),
            protocol: Protocol::quick(),
            // G 64, small network with the mean head, 300 epochs (see ModelConfig::quick): about 40 s on a CPU
            model: ModelConfig::quick(),
            propensity_runs: 10,
            propensity_steps: 3000,
            propensity_samples: 16,
        }
    }

    pub fn paper() -> ReproducePreset {
        ReproducePreset {
            name: "paper".into(),
            protocol: Protocol::paper(),
            model: ModelConfig::default(),
            propensity_runs: 30,
            propensity_steps: 300_000_000,
            propensity_samples: 40,
        }
    }
}

/// What one finished stage left behind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub system: String,
    pub stage: String,
    pub seconds: f64,
    pub backend: String,
    /// Files (relative to the output directory) that must exist for the stage to count as done.
    pub outputs: Vec<String>,
    /// The settings it ran with; other settings make it run again.
    pub settings: Value,
}

const STAGES: [&str; 5] = ["simulate", "train", "gradcam", "analyze", "propensity"];

fn stages_path(out: &Path) -> PathBuf {
    out.join("stages.json")
}

fn load_records(out: &Path) -> BTreeMap<String, StageRecord> {
    std::fs::read_to_string(stages_path(out))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// Grad-CAM of each class over its own test configurations, joined into one directory for `analyze`.
fn gradcam_both(model: &Path, data: &Path, out: &Path, backend: BackendChoice) -> Result<()> {
    let mut rows: Vec<f64> = Vec::new();
    let mut index = GradcamIndex {
        format_version: crate::analysis::gamma::GRADCAM_FORMAT_VERSION,
        snapshots: Vec::new(),
        misclassified: Vec::new(),
        target_class: "own class (glass for glass configurations, liquid for liquid ones)".into(),
    };
    let mut n = 0;
    for class in ["glass", "liquid"] {
        let dir = out.join(class);
        crate::nn::run_gradcam(&crate::nn::GradcamArgs {
            model: model.to_path_buf(),
            data: data.to_path_buf(),
            class: class.into(),
            configs: None,
            split: "test".into(),
            out: dir.clone(),
            batch: 32,
            backend,
        })?;
        let g = GammaSet::load(&dir)?;
        n = g.n_particles;
        rows.extend_from_slice(&g.gamma);
        index.snapshots.extend(&g.index.snapshots);
        index.misclassified.extend(&g.index.misclassified);
    }
    GammaSet::write(out, &index, n, &rows)
}

/// Runs one stage; returns the files it produced (relative to `root`).
fn run_stage(
    stage: &str,
    sys: &SystemDef,
    preset: &ReproducePreset,
    a: &ReproduceArgs,
    root: &Path,
    compute: &Compute,
) -> Result<Vec<String>> {
    let dir = root.join(&sys.name);
    let rel = |p: &str| format!("{}/{p}", sys.name);
    match stage {
        "simulate" => {
            let mut o = RunOptions::new(&dir.join("data"), a.seed, compute.clone());
            // a killed simulation continues from its checkpoint
            o.resume = dir.join("data/.partial").exists();
            crate::protocol::run(sys, &preset.protocol, &o, &crate::protocol::shared_ctx())?;
            Ok(vec![rel("data/manifest.json"), rel("data/positions.npy")])
        }
        "train" => {
            std::fs::create_dir_all(&dir).at(&dir)?;
            let model_file = dir.join("model.toml");
            let text = toml::to_string(&preset.model).map_err(|e| Error::Input(e.to_string()))?;
            std::fs::write(&model_file, text).at(&model_file)?;
            crate::nn::run_train(&crate::nn::TrainArgs {
                data: dir.join("data"),
                model: Some(model_file),
                epochs: None,
                out: dir.join("model"),
                backend: a.backend,
                quiet: false,
            })?;
            Ok(vec![
                rel("model/metrics.json"),
                rel("model/model.safetensors"),
            ])
        }
        "gradcam" => {
            gradcam_both(
                &dir.join("model"),
                &dir.join("data"),
                &dir.join("gradcam"),
                a.backend,
            )?;
            Ok(vec![rel("gradcam/gradcam.json"), rel("gradcam/gamma.npy")])
        }
        "analyze" => {
            crate::analysis::cli::run(&crate::analysis::cli::AnalyzeArgs {
                data: Some(dir.join("data")),
                input: None,
                format: None,
                system: None,
                types: None,
                gradcam: Some(dir.join("gradcam")),
                out: dir.join("analysis"),
                xi: 3.0,
                cutoff: 3.0,
                config: first_good_glass(&dir)?,
                no_plots: false,
            })?;
            Ok(vec![
                rel("analysis/summary.json"),
                rel("analysis/correlations.csv"),
            ])
        }
        "propensity" => {
            // A glass configuration the network got right carries a Gamma to correlate with; without one the
            // propensity still runs (on the first glass test configuration), with no correlation.
            let (snapshot, gradcam) = match first_good_glass(&dir)? {
                Some(k) => (k, Some(dir.join("gradcam"))),
                None => {
                    let g = GammaSet::load(&dir.join("gradcam/glass"))?;
                    let k = *g.index.snapshots.first().ok_or_else(|| {
                        Error::Input(format!(
                            "{}: no glass configuration in the test split",
                            sys.name
                        ))
                    })?;
                    eprintln!(
                        "reproduce: {}: the network misclassified every glass test configuration; the propensity \
                         runs on snapshot {k} without C(Gamma, 1 - Delta)",
                        sys.name
                    );
                    (k, None)
                }
            };
            crate::propensity::run_cli(&crate::propensity::PropensityArgs {
                data: dir.join("data"),
                snapshot,
                temps: Vec::new(),
                runs: Some(a.propensity_runs.unwrap_or(preset.propensity_runs)),
                steps: Some(a.propensity_steps.unwrap_or(preset.propensity_steps)),
                samples: Some(preset.propensity_samples),
                preset: "short".into(),
                gradcam,
                xi: 3.0,
                seed: a.seed,
                backend: a.backend,
                out: dir.join("propensity"),
                no_plots: false,
            })?;
            Ok(vec![rel("propensity/curves.json")])
        }
        other => Err(Error::Input(format!("unknown stage {other}"))),
    }
}

/// The first glass configuration of the Grad-CAM set the network got right.
fn first_good_glass(dir: &Path) -> Result<Option<usize>> {
    let g = GammaSet::load(&dir.join("gradcam/glass"))?;
    Ok(g.index
        .snapshots
        .iter()
        .copied()
        .find(|s| !g.index.misclassified.contains(s)))
}

/// Runs the pipeline; returns the path of the report.
pub fn run(a: &ReproduceArgs) -> Result<PathBuf> {
    let mut preset = match a.preset.as_str() {
        "quick" => ReproducePreset::quick(),
        "paper" => ReproducePreset::paper(),
        other => {
            return Err(Error::Input(format!(
                "unknown preset `{other}`: use quick or paper"
            )))
        }
    };
    if let Some(r) = a.replicas {
        preset.protocol.replicas = r;
    }
    if let Some(e) = a.epochs {
        preset.model.epochs = e;
    }
    let systems: Vec<SystemDef> = match a.system.as_str() {
        "both" => vec![SystemDef::abm(), SystemDef::kam()],
        s => vec![SystemDef::resolve(s)?],
    };
    std::fs::create_dir_all(&a.out).at(&a.out)?;
    let compute = Compute::select(a.backend)?;
    crate::protocol::catch_interrupts();
    let mut records = load_records(&a.out);
    let settings = json!({"preset": &preset, "seed": a.seed, "propensity_runs": a.propensity_runs,
                          "propensity_steps": a.propensity_steps});
    let total = Instant::now();
    for sys in &systems {
        for stage in STAGES {
            let key = format!("{}/{stage}", sys.name);
            let done = records.get(&key).is_some_and(|r| {
                r.settings == settings && r.outputs.iter().all(|f| a.out.join(f).exists())
            });
            if done {
                eprintln!("reproduce: {key}: done before, skipped");
                continue;
            }
            // A stage that did not finish is redone from scratch, and so is everything after it
            // (simulate resumes its own checkpoint instead).
            let stale = records.get(&key).is_some_and(|r| r.settings != settings);
            for later in STAGES.iter().skip_while(|s| **s != stage) {
                records.remove(&format!("{}/{later}", sys.name));
            }
            let stage_dir = a.out.join(&sys.name).join(match stage {
                "simulate" => "data",
                "train" => "model",
                s => s,
            });
            // Only an interrupted simulation with these settings is continued; anything else starts over.
            let resumable = stage == "simulate" && stage_dir.join(".partial").exists() && !stale;
            if stage_dir.exists() && !resumable {
                std::fs::remove_dir_all(&stage_dir).at(&stage_dir)?;
            }
            eprintln!("reproduce: {key} ...");
            let t0 = Instant::now();
            let outputs = run_stage(stage, sys, &preset, a, &a.out, &compute)?;
            let rec = StageRecord {
                system: sys.name.clone(),
                stage: stage.into(),
                seconds: t0.elapsed().as_secs_f64(),
                backend: compute.describe(),
                outputs,
                settings: settings.clone(),
            };
            eprintln!("reproduce: {key} done in {:.1} s", rec.seconds);
            records.insert(key, rec);
            write_json_atomic(&stages_path(&a.out), &records)?;
        }
    }
    let results = collect_results(&a.out, &systems, &records, &preset, &compute)?;
    write_json_atomic(&a.out.join("results.json"), &results)?;
    let html = report_html(&a.out, &results)?;
    let report = a.out.join("report.html");
    std::fs::write(&report, html).at(&report)?;
    eprintln!(
        "reproduce: report in {} ({:.1} s this run)",
        report.display(),
        total.elapsed().as_secs_f64()
    );
    Ok(report)
}

/// The paper's numbers (Table II and §3's correlations) beside which ours are shown.
fn paper_numbers(system: &str) -> Value {
    match system {
        "abm" => json!({
            "accuracy": {"glass": 1.00, "liquid": 1.00},
            "correlation_glass_mean": {"gamma_upsilon": 0.552, "gamma_1mtheta": 0.403, "1mtheta_upsilon": 0.355},
            "signs": "C(Gamma, 1 - Theta) > 0 for glasses, < 0 for liquids",
            "propensity_peak": 0.61,
        }),
        "kam" => json!({
            "accuracy": {"glass": 1.00, "liquid": 0.998},
            "signs": "C(Gamma, Upsilon) < 0 and C(Gamma, 1 - Theta) < 0 for glasses; only C(Gamma, Upsilon) changes sign between glass and liquid",
            "propensity_peak": 0.68,
        }),
        _ => json!({}),
    }
}

fn hardware() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    json!({"cpu": cpu, "threads": rayon::current_num_threads(), "os": std::env::consts::OS})
}

fn collect_results(
    out: &Path,
    systems: &[SystemDef],
    records: &BTreeMap<String, StageRecord>,
    preset: &ReproducePreset,
    compute: &Compute,
) -> Result<Value> {
    let mut per = serde_json::Map::new();
    for sys in systems {
        let dir = out.join(&sys.name);
        let metrics = read_json(&dir.join("model/metrics.json"))?;
        let summary = read_json(&dir.join("analysis/summary.json"))?;
        let curves = read_json(&dir.join("propensity/curves.json"))?;
        let manifest = read_json(&dir.join("data/manifest.json"))?;
        let gc = read_json(&dir.join("gradcam/gradcam.json"))?;
        per.insert(
            sys.name.clone(),
            json!({
                "data": {
                    "replicas": manifest["n_replicas"],
                    "snapshots": manifest["snapshots"].as_array().map_or(0, |v| v.len()),
                    "failed_replicas": manifest["failed"],
                    "backend": manifest["backend"],
                },
                "classification": {
                    "test": metrics["test"],
                    "validation": metrics["validation"],
                    "epochs": metrics["epochs"],
                    "best_epoch": metrics["best_epoch"],
                    "train_samples_per_s": metrics["train_samples_per_s"],
                },
                "gradcam": {
                    "configurations": gc["snapshots"].as_array().map_or(0, |v| v.len()),
                    "misclassified": gc["misclassified"],
                },
                "correlations": summary,
                "propensity": {
                    "snapshot": curves["snapshot"],
                    "temps": curves["temps"],
                    "runs": curves["runs"],
                    "times": curves["times"],
                    "delta": curves["delta"],
                    "correlation": curves["correlation"],
                    "peaks": curves["peaks"],
                    "particle_steps_per_s": curves["particle_steps_per_s"],
                },
                "paper": paper_numbers(&sys.name),
            }),
        );
    }
    Ok(json!({
        "program_version": env!("CARGO_PKG_VERSION"),
        "preset": preset,
        "backend": compute.describe(),
        "hardware": hardware(),
        "stages": records.values().collect::<Vec<_>>(),
        "systems": per,
    }))
}

fn img(path: &Path) -> String {
    use base64::Engine;
    match std::fs::read(path) {
        Ok(bytes) => format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            path.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
        Err(_) => format!(
            "<p class=\"missing\">(figure {} missing)</p>",
            path.display()
        ),
    }
}

fn num(v: &Value) -> String {
    v.as_f64().map_or("&ndash;".into(), |x| format!("{x:.3}"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The self-contained HTML report (figures embedded as data URIs).
pub fn report_html(out: &Path, r: &Value) -> Result<String> {
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>glasscam report</title><style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\
         th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:520px;margin:4px}\
         .missing{color:#a00}.note{color:#555;font-size:90%}</style></head><body>",
    );
    h.push_str("<h1>glasscam: what deep networks find in glasses</h1>");
    h.push_str(&format!(
        "<p>Reproduction of Oyama, Koyama &amp; Kawasaki (2022). Preset <b>{}</b>, glasscam {}, backend {}, \
         hardware: {} ({} threads).</p>",
        esc(r["preset"]["name"].as_str().unwrap_or("?")),
        esc(r["program_version"].as_str().unwrap_or("?")),
        esc(r["backend"].as_str().unwrap_or("?")),
        esc(r["hardware"]["cpu"].as_str().unwrap_or("?")),
        r["hardware"]["threads"]
    ));
    let systems = r["systems"].as_object().cloned().unwrap_or_default();

    h.push_str("<h2>Classification (the paper's Table II)</h2><table><tr><th>system</th><th>test configurations</th>\
                <th>accuracy glass</th><th>paper</th><th>accuracy liquid</th><th>paper</th><th>ROC AUC</th><th>epochs (best)</th></tr>");
    for (name, s) in &systems {
        let t = &s["classification"]["test"];
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td></tr>",
            esc(name),
            t["n"],
            num(&t["accuracy"]["glass"]),
            num(&s["paper"]["accuracy"]["glass"]),
            num(&t["accuracy"]["liquid"]),
            num(&s["paper"]["accuracy"]["liquid"]),
            num(&t["roc_auc"]),
            s["classification"]["epochs"],
            s["classification"]["best_epoch"]
        ));
    }
    h.push_str("</table>");

    h.push_str("<h2>Correlations between Gamma and the structural indicators (Fig. 3)</h2>\
                <p class=\"note\">Pearson coefficients per configuration, coarse-grained (xi = 3) and normalised; \
                mean &plusmn; standard deviation over the test configurations the network classified correctly.</p>\
                <table><tr><th>system</th><th>class</th><th>pair</th><th>mean</th><th>std</th><th>n</th><th>paper</th>\
                <th>sign as the paper</th></tr>");
    let (mut agree, mut compared) = (0, 0);
    for (name, s) in &systems {
        for row in s["correlations"].as_array().cloned().unwrap_or_default() {
            if row["method"] != "pearson" {
                continue;
            }
            let pair = row["pair"].as_str().unwrap_or("");
            let paper = match (&row["paper"], row["class"].as_str(), name.as_str()) {
                (Value::String(p), _, _) => esc(p),
                (_, Some("glass"), "abm") => num(&s["paper"]["correlation_glass_mean"][pair]),
                _ => "&ndash;".into(),
            };
            let agrees = row["sign_agrees"].as_bool();
            if let Some(a) = agrees {
                compared += 1;
                agree += usize::from(a);
            }
            let sign = match agrees {
                Some(true) => "yes",
                Some(false) => "<b>no</b>",
                None => "&ndash;",
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>C({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(row["class"].as_str().unwrap_or("")),
                esc(&pair.replace("gamma", "Gamma").replace("1mtheta", "1 - Theta").replace("upsilon", "Upsilon").replace('_', ", ")),
                num(&row["mean"]),
                num(&row["std"]),
                row["count"],
                paper,
                sign
            ));
        }
    }
    h.push_str("</table>");
    if compared > 0 {
        h.push_str(&format!(
            "<p class=\"note\">{agree} of {compared} means have the paper's sign.{}</p>",
            if agree < compared && r["preset"]["name"] == "quick" {
                " At the quick preset's cooling rate (about 2000 times the paper's) the glasses keep the liquid's \
                 structure: the ordering of the larger particles' regions that the paper's ABM glasses show \
                 (C(1 - Theta, Upsilon) = 0.355) has not formed, and signs that depend on it can differ (measured \
                 in docs/reproduce.md)."
            } else {
                ""
            }
        ));
    }
    for (name, s) in &systems {
        h.push_str(&format!(
            "<p class=\"note\">{}: the paper says {}.</p>",
            esc(name),
            esc(s["paper"]["signs"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("<h3>Violin plots</h3>");
    for name in systems.keys() {
        h.push_str(&format!(
            "<p><b>{}</b><br>{}</p>",
            esc(name),
            img(&out.join(name).join("analysis/violin_pearson.png"))
        ));
    }

    h.push_str("<h2>Field maps (Figs. 1-2)</h2>");
    for name in systems.keys() {
        let an = out.join(name).join("analysis");
        let mut maps: Vec<PathBuf> = std::fs::read_dir(&an)
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
        h.push_str(&format!("<h3>{}</h3><p>", esc(name)));
        for m in maps {
            h.push_str(&img(&m));
        }
        h.push_str("</p>");
    }

    h.push_str("<h2>Grad-CAM and dynamic propensity (Fig. 4)</h2><table><tr><th>system</th><th>temperature</th>\
                <th>max C(Gamma, 1 - Delta)</th><th>at delta</th><th>at time</th><th>paper's peak</th><th>MD particle-steps/s</th></tr>");
    for (name, s) in &systems {
        for p in s["propensity"]["peaks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3e}</td></tr>",
                esc(name),
                num(&p["temp"]),
                num(&p["c_max"]),
                num(&p["delta_at_max"]),
                num(&p["time_at_max"]),
                num(&s["paper"]["propensity_peak"]),
                s["propensity"]["particle_steps_per_s"].as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    h.push_str("</table>");
    for name in systems.keys() {
        let p = out.join(name).join("propensity");
        h.push_str(&format!("<p><b>{}</b><br>", esc(name)));
        if !p.join("correlation_vs_delta.png").exists() {
            h.push_str(
                "<span class=\"note\">No C(Gamma, 1 - Delta): the network classified no glass test configuration \
                 correctly, so there was no Gamma to compare with.</span><br>",
            );
        }
        for f in [
            "correlation_vs_delta.png",
            "delta_vs_time.png",
            "field_gamma.png",
            "field_one_minus_delta.png",
        ] {
            if p.join(f).exists() || f == "delta_vs_time.png" {
                h.push_str(&img(&p.join(f)));
            }
        }
        h.push_str("</p>");
    }

    h.push_str("<h2>Stages</h2><table><tr><th>system</th><th>stage</th><th>seconds</th><th>backend</th></tr>");
    for st in r["stages"].as_array().cloned().unwrap_or_default() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(st["system"].as_str().unwrap_or("")),
            esc(st["stage"].as_str().unwrap_or("")),
            st["seconds"].as_f64().unwrap_or(f64::NAN),
            esc(st["backend"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("</table><p class=\"note\">Every number on this page is in results.json beside it.</p></body></html>");
    Ok(h)
}
