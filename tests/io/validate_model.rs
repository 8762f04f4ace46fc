//! Model files and Grad-CAM output are checked on load: config.json's grid within a stated limit, its learning
//! rate within its range, its version,
//! its split, the weights' checksum; non-finite weights are never written; Grad-CAM output and a model's test
//! split are refused on another data set than theirs, with a message naming both.

use crate::common;

use std::path::Path;

use crate::common::write_synthetic;
use glasscam::analysis::{analyze, dataset_configs, AnalyzeInput, CoarseGrain, GammaSet};
use glasscam::domain::Class;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::gradcam::{Covered, ReplicaSet};
use glasscam::learn::cnn::{gradcam, model, select_snapshots, write_gradcam, Precision};

use common::{err_of, trained_tiny as trained};

/// Edits config.json of the model in `dir`.
fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(model::CONFIG);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("config")).expect("json");
    f(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).expect("json")).expect("write");
}

#[test]
fn edited_model_configs_are_refused_before_anything_is_allocated() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, m) = trained(tmp.path());
    let good = std::fs::read(m.join(model::CONFIG)).expect("config");
    let cases: [(&str, serde_json::Value, &str); 5] = [
        (
            "/config/grid",
            serde_json::json!(100000),
            "`config`: field `grid` is 100000; use 1..=1024 pixels a side (an image is grid^2 floats per species)",
        ),
        (
            "/version",
            serde_json::json!(99),
            "version 99, this glasscam reads version 2; retrain the model with this glasscam",
        ),
        (
            "/split/test/0",
            serde_json::json!(0),
            "is listed in `train` and in `test`; the file was edited, retrain",
        ),
        (
            "/config/hidden",
            serde_json::json!(1usize << 40),
            "`config`: field `hidden` is 1099511627776; use 1..=4096",
        ),
        (
            "/config/lr",
            serde_json::json!(1e30),
            "`config`: field `lr` = 1e30: learning rates must be finite and > 0 and at most 10 (default 1e-3)",
        ),
    ];
    for (pointer, value, want) in cases {
        std::fs::write(m.join(model::CONFIG), &good).expect("restore");
        edit_config(&m, |v| {
            // the train split holds replica 0 or not: make sure the test edit collides with it
            if pointer == "/split/test/0" {
                v["split"]["train"][0] = serde_json::json!(0);
            }
            *v.pointer_mut(pointer).expect("field") = value;
        });
        let e = err_of(model::load(&m));
        assert!(e.ends_with(want), "{pointer}: {e}");
    }
}

#[test]
fn the_weights_checksum_is_verified() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, m) = trained(tmp.path());
    let (file, _) = model::load(&m).expect("a fresh model loads");
    assert!(
        file.header.weights_sha256.starts_with("sha256:"),
        "{}",
        file.header.weights_sha256
    );
    // a valid safetensors file with other numbers: one weight changed by one ulp
    let path = m.join(model::WEIGHTS);
    let mut bytes = std::fs::read(&path).expect("weights");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let e = err_of(model::load(&m));
    assert!(
        e.starts_with(&format!("model {}: checksum sha256:", path.display()))
            && e.contains(&format!(
                "differs from config.json's `weights_sha256` ({})",
                file.header.weights_sha256
            )),
        "{e}"
    );
}

#[test]
fn a_model_with_non_finite_weights_is_never_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, m) = trained(tmp.path());
    let (file, mut params) = model::load(&m).expect("load");
    params[3] = f32::NAN;
    let out = tmp.path().join("nan-model");
    let e = err_of(model::save(&out, &file, &params));
    assert_eq!(
        e,
        format!(
            "model {}: refusing to write: weight 3 is NaN (training diverged); lower `lr`, check `eps` > 0 and \
             the data",
            out.display()
        )
    );
    assert!(!out.join(model::CONFIG).exists());
    // a NaN anywhere in config.json would be written as null: refused too
    params[3] = 0.0;
    let mut bad = file.clone();
    bad.header.validation_accuracy = f64::NAN;
    let e = err_of(model::save(&out, &bad, &params));
    assert!(
        e.starts_with(&format!(
            "{}: refusing to write a value that is not finite",
            out.join(model::CONFIG).display()
        )),
        "{e}"
    );
}

/// Grad-CAM of the glass class over every glass snapshot of `data`, written to `out`.
fn gradcam_into(m: &Path, data: &Dataset, out: &Path) {
    let (file, _) = model::load(m).expect("model");
    let snaps = select_snapshots(data, &file, Covered::Glass, ReplicaSet::All).expect("snapshots");
    let r = gradcam(
        (&Compute::Cpu, Precision::F32),
        m,
        data,
        Class::Glass,
        &snaps,
        8,
    )
    .expect("gradcam");
    write_gradcam(out, &r).expect("write");
}

#[test]
fn gradcam_output_of_another_data_set_of_the_same_n_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, m) = trained(tmp.path());
    // another run: the same system, N and snapshot count, other positions
    let other_dir = tmp.path().join("other");
    write_synthetic(&other_dir, 25, 6, 6.0, 0.3, 4).expect("data");
    let other = Dataset::load(&other_dir).expect("load");
    let g_dir = tmp.path().join("gradcam-other");
    gradcam_into(&m, &other, &g_dir);
    let g = GammaSet::load(&g_dir).expect("gamma");
    let input = AnalyzeInput {
        system: &data.manifest.system,
        source: data.dir.display().to_string(),
        fingerprint: Some(data.fingerprint.clone()),
        configs: dataset_configs(&data),
        gamma: Some(&g),
        coarse: CoarseGrain::default(),
        skipped: Vec::new(),
    };
    let e = err_of(analyze(input, glasscam::events::quiet()));
    let short = |f: &str| f[..19].to_string();
    assert_eq!(
        e,
        format!(
            "the Grad-CAM output {} was computed on the data set {} ({}), not on {} ({}): give the Grad-CAM \
             directory made from {}, or run `glasscam gradcam --data {}` first",
            g_dir.display(),
            other_dir.display(),
            short(&other.fingerprint),
            data.dir.display(),
            short(&data.fingerprint),
            data.dir.display(),
            data.dir.display()
        )
    );
    // propensity checks the same before running anything
    let cfg = glasscam::sim::propensity::EnsembleConfig {
        temps: vec![0.5],
        runs: 1,
        ..glasscam::sim::propensity::EnsembleConfig::short(0.5)
    };
    let glass = data.of_class(Class::Glass)[0];
    let e = err_of(glasscam::sim::propensity::propensity(
        &data,
        glass,
        &cfg,
        Some(&g),
        1.0,
        &Compute::Cpu,
        glasscam::events::quiet(),
    ));
    assert!(
        e.starts_with(&format!(
            "the Grad-CAM output {} was computed on the data set",
            g_dir.display()
        )),
        "{e}"
    );
    // the matching pair is accepted
    let g_dir = tmp.path().join("gradcam-own");
    gradcam_into(&m, &data, &g_dir);
    let g = GammaSet::load(&g_dir).expect("gamma");
    g.check_data(&data.dir.display().to_string(), &data.fingerprint)
        .expect("own Grad-CAM output is accepted");
}

#[test]
fn a_models_test_split_is_refused_on_another_data_set() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, m) = trained(tmp.path());
    let (file, _) = model::load(&m).expect("model");
    assert_eq!(file.header.data_fingerprint, data.fingerprint);
    let other_dir = tmp.path().join("other");
    write_synthetic(&other_dir, 25, 6, 6.0, 0.3, 4).expect("data");
    let other = Dataset::load(&other_dir).expect("load");
    let e = err_of(select_snapshots(
        &other,
        &file,
        Covered::Glass,
        ReplicaSet::Test,
    ));
    assert!(
        e.ends_with("set `split` to all for a data set the model was not trained on")
            && e.contains(&format!("its training data set {}", data.dir.display())),
        "{e}"
    );
    select_snapshots(&other, &file, Covered::Glass, ReplicaSet::All).expect("--split all is fine");
    select_snapshots(&data, &file, Covered::Glass, ReplicaSet::Test).expect("its own data is fine");
}
