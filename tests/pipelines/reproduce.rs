//! `glasscam reproduce` end to end at a tiny size: every stage runs, the report and results.json hold the
//! numbers, a rerun skips the finished stages, a settings change redoes only what it makes stale, and nothing
//! the pipeline did not write is ever deleted.

use crate::common;

use std::path::Path;
use std::process::Command;

use glasscam::domain::Preset;
use glasscam::kernels::Compute;
use glasscam::pipeline::oyama::{run, OyamaStage as Stage, ReproduceConfig, ReproducePreset};
use glasscam::pipeline::runner::{StageStatus, StagesFile};
use glasscam::sim::system::SystemDef;

/// The tiny system at the sizes of the CLI test: seconds per run on a CPU.
fn tiny(out: &Path) -> ReproduceConfig {
    let sys = SystemDef::from_toml(common::TINY_SYSTEM, "tiny.toml").unwrap();
    let mut preset = ReproducePreset::new(Preset::Quick);
    preset.protocol.replicas = 20;
    preset.model.epochs = 2;
    preset.propensity_runs = 2;
    preset.propensity_steps = 100;
    ReproduceConfig {
        systems: vec![sys],
        preset,
        seed: 1,
        analyze: Default::default(),
        out: out.to_path_buf(),
        force: false,
    }
}

/// The error of a run that must be refused.
fn refusal(c: &ReproduceConfig) -> String {
    run(c, &Compute::Cpu, glasscam::events::quiet())
        .unwrap_err()
        .to_string()
}

fn stages(ran: &[(String, Stage)]) -> Vec<Stage> {
    ran.iter().map(|(_, s)| *s).collect()
}

fn read_stages(out: &Path) -> StagesFile<Stage> {
    serde_json::from_str(&std::fs::read_to_string(out.join("stages.json")).unwrap()).unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_settings_change_redoes_only_what_it_makes_stale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let ctx = glasscam::events::quiet();
    let mut c = tiny(&out);
    let first = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(stages(&first.ran), Stage::ALL);
    assert!(first.skipped.is_empty());
    // a file in the data set marks it: deleting the data set would lose it
    let marker = out.join("tiny/data/marker");
    std::fs::write(&marker, "kept").unwrap();
    let positions = std::fs::read(out.join("tiny/data/positions.npy")).unwrap();

    // other epochs: retrain and redo everything after training, never simulate again
    c.preset.model.epochs = 3;
    let second = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(stages(&second.skipped), [Stage::Simulate]);
    assert_eq!(
        stages(&second.ran),
        [
            Stage::Train,
            Stage::Gradcam,
            Stage::Analyze,
            Stage::Propensity
        ]
    );
    assert!(marker.exists(), "the data set was deleted");
    assert_eq!(
        std::fs::read(out.join("tiny/data/positions.npy")).unwrap(),
        positions
    );
    assert_eq!(json(&out.join("tiny/model/metrics.json"))["epochs"], 3);

    // another analysis setting: only the analysis (and the report) is redone
    c.analyze.xi = 2.5;
    let report_before = std::fs::read_to_string(out.join("report.html")).unwrap();
    std::fs::write(out.join("report.html"), "stale").unwrap();
    let third = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(stages(&third.ran), [Stage::Analyze]);
    assert_eq!(
        stages(&third.skipped),
        [
            Stage::Simulate,
            Stage::Train,
            Stage::Gradcam,
            Stage::Propensity
        ]
    );
    assert_eq!(json(&out.join("tiny/analysis/analysis.json"))["xi"], 2.5);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.starts_with("<!DOCTYPE html>") && report.len() > report_before.len() / 2);

    // unchanged settings: nothing runs
    let fourth = run(&c, &Compute::Cpu, ctx).unwrap();
    assert!(fourth.ran.is_empty(), "{:?}", fourth.ran);
    assert_eq!(stages(&fourth.skipped), Stage::ALL);

    // a stage recorded as started whose outputs are all there (killed before its record) is kept ...
    let started = || {
        let mut f = read_stages(&out);
        f.records.get_mut("tiny/analyze").unwrap().status = StageStatus::Started;
        std::fs::write(out.join("stages.json"), serde_json::to_string(&f).unwrap()).unwrap();
    };
    started();
    let fifth = run(&c, &Compute::Cpu, ctx).unwrap();
    assert!(fifth.ran.is_empty(), "{:?}", fifth.ran);
    // ... and one killed while it wrote (an output missing) is redone, and only it
    started();
    std::fs::remove_file(out.join("tiny/analysis/summary.json")).unwrap();
    let fifth = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(stages(&fifth.ran), [Stage::Analyze]);
    assert!(read_stages(&out)
        .records
        .values()
        .all(|r| r.status == StageStatus::Done));
    assert!(marker.exists());
}

#[test]
fn a_data_set_the_pipeline_did_not_write_is_refused_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let foreign = out.join("tiny/data");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("manifest.json"), "{}").unwrap();
    let mut c = tiny(&out);
    let e = refusal(&c);
    assert!(
        e.contains("tiny/data") && e.contains("does not record it") && e.contains("`force`"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("manifest.json")).unwrap(),
        "{}"
    );
    // --force replaces it
    c.force = true;
    let o = run(&c, &Compute::Cpu, glasscam::events::quiet()).unwrap();
    assert_eq!(stages(&o.ran), Stage::ALL);
    assert_eq!(json(&foreign.join("manifest.json"))["n_replicas"], 20);
}

#[test]
fn an_unreadable_stage_record_is_an_error_that_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    std::fs::create_dir_all(out.join("tiny/data")).unwrap();
    std::fs::write(out.join("tiny/data/keep"), "x").unwrap();
    // truncated, as a full disk or a kill in the middle of a copy leaves it
    std::fs::write(
        out.join("stages.json"),
        "{\"format_version\": 2, \"records\": {\"tiny/sim",
    )
    .unwrap();
    let e = refusal(&tiny(&out));
    assert!(
        e.contains("stages.json")
            && e.contains("cannot read the stage records")
            && e.contains("`force`"),
        "{e}"
    );
    assert!(out.join("tiny/data/keep").exists());
    // an older format is refused the same way, with the versions
    std::fs::write(
        out.join("stages.json"),
        "{\"format_version\": 1, \"records\": {}}",
    )
    .unwrap();
    let e = refusal(&tiny(&out));
    assert!(e.contains("format version 1"), "{e}");
    assert!(out.join("tiny/data/keep").exists());
}

#[test]
fn a_system_name_that_is_not_a_plain_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let sibling = dir.path().join("data");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("keep"), "x").unwrap();
    for name in ["..", ".", "", "a/b", "/abs", "a\\b", "a\nb"] {
        let mut c = tiny(&out);
        c.systems[0].name = name.into();
        let e = refusal(&c);
        assert!(
            e.contains("cannot be used as a directory name"),
            "{name}: {e}"
        );
    }
    assert!(sibling.join("keep").exists());
    assert!(
        !out.exists(),
        "nothing is written before the names are checked"
    );
}

#[test]
fn the_whole_pipeline_runs_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).unwrap();
    let out = dir.path().join("rep");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_glasscam"))
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .args(["reproduce", "oyama", "--system"])
            .arg(&sys)
            .args([
                "--replicas",
                "20",
                "--epochs",
                "2",
                "--propensity-runs",
                "2",
                "--propensity-steps",
                "100",
            ])
            .args(["--backend", "cpu", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let st = run();
    let err = String::from_utf8_lossy(&st.stderr).to_string();
    assert!(st.status.success(), "{err}");
    for stage in ["simulate", "train", "gradcam", "analyze", "propensity"] {
        assert!(
            err.contains(&format!("reproduce: tiny/{stage} done in")),
            "{stage} did not run:\n{err}"
        );
    }

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let t = &results["systems"]["tiny"];
    assert_eq!(t["data"]["replicas"], 20);
    assert_eq!(t["data"]["snapshots"], 40);
    let test = &t["classification"]["test"];
    assert!(test["n"].as_u64().unwrap() >= 2, "{test}");
    let acc = test["accuracy"]["glass"].as_f64().unwrap();
    // the accuracy is the confusion matrix's: correct glass over all glass test configurations
    let conf = &test["confusion"];
    let glass_row = [conf[1][0].as_f64().unwrap(), conf[1][1].as_f64().unwrap()];
    assert_eq!(acc, glass_row[1] / (glass_row[0] + glass_row[1]));
    assert!(t["correlations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["pair"] == "1mtheta_upsilon"));
    assert_eq!(t["propensity"]["temps"].as_array().unwrap().len(), 3);
    assert_eq!(results["stages"].as_array().unwrap().len(), 5);
    assert!(results["hardware"]["threads"].as_u64().unwrap() >= 1);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
    for needle in [
        "Table II",
        "Fig. 3",
        "Fig. 4",
        "Stages",
        "<td>tiny</td>",
        "sign as the paper",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    // figures are embedded, not linked
    assert!(html.matches("src=\"data:image/png;base64,").count() >= 4);
    assert!(
        !html.contains("missing)"),
        "a figure is missing from the report"
    );
    // Table II's row shows the test accuracy as results.json has it
    let row = format!("<tr><td>tiny</td><td>{}</td><td>{acc:.3}</td>", test["n"]);
    assert!(html.contains(&row), "no row {row} in the report");

    // a rerun skips every finished stage
    let st = run();
    let err = String::from_utf8_lossy(&st.stderr).to_string();
    assert!(st.status.success(), "{err}");
    assert_eq!(err.matches("done before, skipped").count(), 5, "{err}");
    let f = read_stages(&out);
    assert_eq!(f.records.len(), 5);
    assert!(f.records.values().all(|r| r.status == StageStatus::Done));
}
