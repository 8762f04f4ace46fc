//! `glasscam train --arch gn --target propensity`, `glasscam predict` and `glasscam baselines` as a user runs them
//! on a data set with targets, and their refusals (no targets, another time grid, a target for a classifier, an
//! unknown target, a result already there).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn glasscam(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    // every "{}" in args takes the next path
    let mut p = paths.iter();
    for a in args {
        match *a {
            "{}" => c.arg(p.next().unwrap()),
            _ => c.arg(a),
        };
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const MODEL: &str =
    "hidden = 8\nsteps = 1\ncutoff = 1.6\nlr = 2e-3\nepochs = 3\nsplit = [0.75, 0.25, 0.0]\n";

#[test]
fn train_then_predict_writes_scored_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (d, _) = common::write_annotated(&data, 8, 6, 2, 4).unwrap();
    let model_file = dir.path().join("gn.toml");
    std::fs::write(&model_file, MODEL).unwrap();
    let model = dir.path().join("model");
    let train = [
        "train",
        "--arch",
        "gn",
        "--target",
        "propensity",
        "--data",
        "{}",
        "--model",
        "{}",
        "--out",
        "{}",
        "--backend",
        "cpu",
    ];
    let o = glasscam(&train, &[&data, &model_file, &model]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("test: Pearson per time point ["));
    let out = dir.path().join("pred");
    let predict = ["predict", "--model", "{}", "--data", "{}", "--out", "{}"];
    let o = glasscam(&predict, &[&model, &data, &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("predictions.json")).unwrap()).unwrap();
    assert_eq!(json["data_fingerprint"], d.fingerprint.as_str());
    assert_eq!(json["snapshots"], serde_json::json!([1, 3, 5, 7]));
    assert_eq!(json["pearson"].as_array().unwrap().len(), 2);
    let bytes = std::fs::read(out.join("predictions.npy")).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("4, 2, 36"));
    // predictions are not overwritten without --force
    let o = glasscam(&predict, &[&model, &data, &out]);
    assert!(
        !o.status.success() && stderr(&o).contains("already holds predictions"),
        "{}",
        stderr(&o)
    );
    let forced = [
        "predict", "--model", "{}", "--data", "{}", "--out", "{}", "--force",
    ];
    assert!(glasscam(&forced, &[&model, &data, &out]).status.success());
    // targets on another time grid are refused
    let (d2, _) = common::write_annotated(&dir.path().join("other"), 8, 6, 3, 4).unwrap();
    let all = [
        "predict", "--model", "{}", "--data", "{}", "--split", "all", "--out", "{}",
    ];
    let o = glasscam(&all, &[&model, &d2.dir, &dir.path().join("p2")]);
    assert!(
        !o.status.success() && stderr(&o).contains("the model predicts at times [1.0, 10.0]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn training_without_targets_or_a_target_for_a_classifier_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_synthetic(&data, 4, 4, 4.0, 0.3, 5).unwrap();
    let out = dir.path().join("m");
    let o = glasscam(
        &["train", "--arch", "gn", "--data", "{}", "--out", "{}"],
        &[&data, &out],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("targets.json: cannot read"),
        "{}",
        stderr(&o)
    );
    let o = glasscam(
        &[
            "train",
            "--target",
            "propensity",
            "--data",
            "{}",
            "--out",
            "{}",
        ],
        &[&data, &out],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("is learned with `--arch gn`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn baselines_print_the_table_write_the_json_and_refuse_with_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_annotated(&data, 8, 8, 2, 4).unwrap();
    let out = dir.path().join("baselines");
    let run = [
        "baselines",
        "--data",
        "{}",
        "--split",
        "0.5,0.25,0.25",
        "--out",
        "{}",
    ];
    let o = glasscam(&run, &[&data, &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for row in [
        "epot ",
        "density_cg2",
        "tong_tanaka_cg4",
        "ridge",
        "noise ceiling",
    ] {
        assert!(stdout.contains(row), "no row {row} in\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("baselines.json")).unwrap())
            .unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 21);
    assert_eq!(json["sizes"]["test"], 4, "the targets' test subset");
    // again without --force: refused, naming the flag
    let o = glasscam(&run, &[&data, &out]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let o = glasscam(
        &[
            "baselines",
            "--data",
            "{}",
            "--target",
            "nope",
            "--out",
            "{}",
        ],
        &[&data, &dir.path().join("b2")],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no target `nope`"), "{}", stderr(&o));
}

#[test]
fn a_network_on_inherent_structures_trains_and_predicts_with_them_and_refuses_without() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // a box of 8: minimisation needs twice the neighbour radius
    common::write_annotated(&data, 8, 8, 2, 4).unwrap();
    let inh = dir.path().join("inherent");
    let o = glasscam(&["minimize", "--data", "{}", "--out", "{}"], &[&data, &inh]);
    assert!(o.status.success(), "{}", stderr(&o));
    let with = dir.path().join("with.toml");
    std::fs::write(
        &with,
        format!("{MODEL}inherent = true\ndescriptor_lengths = [0.0, 2.0]\n"),
    )
    .unwrap();
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, MODEL).unwrap();
    let model = dir.path().join("model");
    let train = |file: &Path, inherent: Option<&Path>, out: &Path| {
        let mut args = vec!["train", "--arch", "gn", "--data", "{}", "--model", "{}"];
        let mut paths = vec![data.as_path(), file];
        if let Some(i) = inherent {
            args.extend(["--inherent", "{}"]);
            paths.push(i);
        }
        args.extend(["--out", "{}", "--backend", "cpu"]);
        paths.push(out);
        glasscam(&args, &paths)
    };
    let o = train(&with, None, &model);
    assert!(
        !o.status.success()
            && stderr(&o).contains("give those of this data set with `--inherent DIR`"),
        "{}",
        stderr(&o)
    );
    let o = train(&plain, Some(&inh), &dir.path().join("m2"));
    assert!(
        !o.status.success() && stderr(&o).contains("the network does not take them"),
        "{}",
        stderr(&o)
    );
    let o = train(&with, Some(&inh), &model);
    assert!(o.status.success(), "{}", stderr(&o));
    // the synthetic lattice overlaps, so FIRE fails on some of its snapshots: said, not hidden
    assert!(
        stderr(&o).contains("warning: ") && stderr(&o).contains("minima in"),
        "{}",
        stderr(&o)
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["config"]["inherent"], true);
    let [mean, std] = [0, 1].map(|i| cfg["inherent_energy"][i].as_f64().unwrap());
    // the synthetic lattice overlaps, so its minima are poor: only the scale's form is checked
    assert!(mean.is_finite() && std > 0.0, "energy scale {mean} {std}");
    // the node encoder takes the species, the 4 inherent-structure inputs and 6 descriptors at 2 lengths
    let tensors = cfg["tensors"].as_array().unwrap();
    let enc = tensors
        .iter()
        .find(|t| t["name"] == "node_encoder.0.weight")
        .unwrap();
    assert_eq!(enc["shape"], serde_json::json!([8, 18]));
    assert_eq!(cfg["descriptors"][11]["name"], "is_distance_cg2");
    let out = dir.path().join("pred");
    let o = glasscam(
        &["predict", "--model", "{}", "--data", "{}", "--out", "{}"],
        &[&model, &data, &out],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("`--inherent DIR`"),
        "{}",
        stderr(&o)
    );
    let o = glasscam(
        &[
            "predict",
            "--model",
            "{}",
            "--data",
            "{}",
            "--inherent",
            "{}",
            "--out",
            "{}",
        ],
        &[&model, &data, &inh, &out],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("predictions.npy").exists());
    // the descriptor columns it read, raw, beside the predictions
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("predictions.json")).unwrap()).unwrap();
    assert_eq!(p["descriptors"][0], "epot_is");
    let (shape, d) = glasscam::io::npy::read::<f64>(&out.join("descriptors.npy")).unwrap();
    let s = p["snapshots"].as_array().unwrap().len() as u64;
    assert_eq!(shape, [s, 64, 12]);
    // is_distance (raw) is a distance: >= 0, and not all 0 (the particles moved to their minima)
    let dist: Vec<f64> = d.iter().skip(10).step_by(12).copied().collect();
    assert!(dist.iter().all(|&x| x >= 0.0) && dist.iter().any(|&x| x > 1e-3));
}
