//! `glasscam reproduce` end to end at a tiny size: every stage runs, the report and results.json hold the
//! numbers, and a rerun skips the finished stages.

mod common;

use std::process::Command;

#[test]
fn the_whole_pipeline_runs_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).unwrap();
    let out = dir.path().join("rep");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_glasscam"))
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .args(["reproduce", "--system"])
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
    assert!((0.0..=1.0).contains(&acc));
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
    // the test accuracy is shown as results.json has it
    assert!(html.contains(&format!("{acc:.3}")));

    // a rerun skips every finished stage
    let st = run();
    let err = String::from_utf8_lossy(&st.stderr).to_string();
    assert!(st.status.success(), "{err}");
    assert_eq!(err.matches("done before, skipped").count(), 5, "{err}");
}
