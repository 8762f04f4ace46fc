//! End to end on a synthetic data set (lattice "glasses", uniform random "liquids"): train, the model directory
//! round trip, metrics, and the Grad-CAM output contract; once through the library, once through the CLI.

use std::path::Path;

use crate::common::write_synthetic;
use glasscam::domain::Class;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::nn::net::Net;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::config::ModelConfig;
use glasscam::learn::cnn::data::images;
use glasscam::learn::cnn::gradcam::GradcamFile;
use glasscam::learn::cnn::model::predict_all;
use glasscam::learn::cnn::{
    gradcam, model, select_snapshots, train, write_gradcam, Covered, Precision, ReplicaSet,
};
use glasscam::learn::metrics::evaluate;
use glasscam::learn::model::write_model;

fn small_config() -> ModelConfig {
    ModelConfig {
        grid: 16,
        width: 0.3,
        cutoff: 3.0,
        conv_channels: vec![4, 4],
        kernel: 3,
        hidden: 8,
        dropout: 0.25,
        lr: 3e-3,
        batch: 8,
        epochs: 8,
        seed: 5,
        ..ModelConfig::default()
    }
}

#[test]
fn train_then_gradcam_on_synthetic_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    write_synthetic(&data_dir, 25, 8, 8.0, 0.3, 1).expect("synthetic data");
    let data = Dataset::load(&data_dir).expect("load");
    let cfg = small_config();
    let out = tmp.path().join("model");
    let t = train(&data, &cfg, &Compute::Cpu, glasscam::events::quiet()).expect("train");
    write_model(&out, &t).expect("write model");
    let m = &t.metrics;
    // the CPU's default is the f32 backend, and the record says so
    assert_eq!(cfg.precision, Precision::F32);
    assert!(m.backend.starts_with("cpu f32 ("), "{}", m.backend);
    // 25 replicas: 20 / 2 / 3 (80 / 8 / 12 %)
    assert_eq!(m.replicas, [20, 2, 3]);
    assert_eq!(m.snapshots, [40, 4, 6]);
    assert_eq!(m.history.len(), 8);
    assert!(
        m.test.accuracy["overall"] >= 0.99,
        "lattice vs random not learnt: {:?}",
        m.test
    );
    assert!(m.test.roc_auc >= 0.99, "AUC {}", m.test.roc_auc);
    assert_eq!(m.test.confusion.iter().flatten().sum::<usize>(), 6);
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("metrics.json")).expect("metrics.json"),
    )
    .expect("json");
    assert!(metrics["test"]["roc_auc"].is_number());

    // the model directory round trip: the saved weights give the same test scores
    let (file, params) = model::load(&out).expect("load model");
    assert_eq!(file.in_channels, 2);
    assert_eq!(params.len(), file.spec().n_params());
    assert_eq!(file.header.split.test.len(), 3);

    // a model reloaded from disk predicts what it predicted before saving, bit for bit (saving adds the weights'
    // checksum)
    assert!(file.header.weights_sha256.starts_with("sha256:"));
    let mut saved = t.model.file.clone();
    saved.header.weights_sha256 = file.header.weights_sha256.clone();
    assert_eq!(file, saved);
    let grid = cfg.grid_spec(data.box_l());
    let test_snaps: Vec<usize> = data
        .manifest
        .snapshots
        .iter()
        .filter(|s| file.header.split.test.contains(&s.replica))
        .map(|s| s.index)
        .collect();
    let mut imgs = images(
        (&Compute::Cpu, cfg.precision),
        &data,
        &grid,
        &test_snaps,
        64,
    )
    .expect("images");
    if let Some(norm) = file.standardization() {
        norm.apply(&mut imgs, grid.grid * grid.grid);
    }
    let predict = |params: &[f32]| {
        let mut net = Net::with_precision(
            &Compute::Cpu,
            file.config.precision.kernel(),
            file.spec(),
            params,
            8,
        )
        .expect("net");
        predict_all(&mut net, &imgs).expect("predict")
    };
    let before = predict(&t.model.params);
    let after = predict(&params);
    assert_eq!(before.len(), 2 * test_snaps.len());
    assert!(
        before
            .iter()
            .zip(&after)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "reloaded model predicts differently: {before:?} vs {after:?}"
    );
    let labels: Vec<u32> = test_snaps
        .iter()
        .map(|&k| data.manifest.snapshots[k].label as u32)
        .collect();
    assert_eq!(evaluate(&after, &labels).confusion, m.test.confusion);

    let gc = |covered: Covered, dir: &str| {
        let snaps = select_snapshots(&data, &file, covered, ReplicaSet::Test).expect("snapshots");
        let r = gradcam(
            (&Compute::Cpu, Precision::F32),
            &out,
            &data,
            Class::Glass,
            &snaps,
            4,
        )
        .expect("gradcam");
        write_gradcam(&tmp.path().join(dir), &r).expect("write gradcam");
        r
    };
    gc(Covered::Glass, "gc");
    check_gradcam_output(&tmp.path().join("gc"), &data, 3, 16);

    // the glass score explained on both classes' test configurations
    let f = gc(Covered::Both, "gc_both").file;
    assert_eq!(f.class, Class::Glass);
    let mut classes: Vec<&str> = f
        .snapshots
        .iter()
        .map(|&k| data.manifest.snapshots[k].class.name())
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        ["glass", "glass", "glass", "liquid", "liquid", "liquid"]
    );
    // the file on disk is the one returned
    let disk: GradcamFile = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("gc_both/gradcam.json")).expect("gradcam.json"),
    )
    .expect("json");
    assert_eq!(disk.snapshots, f.snapshots);
    // every liquid test configuration covered, none of another split
    let e = select_snapshots(&data, &file, Covered::Liquid, ReplicaSet::All).expect("all");
    assert_eq!(e.len(), 25);
}

fn check_gradcam_output(dir: &Path, data: &Dataset, rows: usize, g: u64) {
    let f: GradcamFile = serde_json::from_str(
        &std::fs::read_to_string(dir.join("gradcam.json")).expect("gradcam.json"),
    )
    .expect("json");
    assert_eq!(f.class, Class::Glass);
    assert_eq!(f.snapshots.len(), rows);
    assert_eq!(f.predicted.len(), rows);
    for &k in &f.snapshots {
        assert_eq!(data.manifest.snapshots[k].class, Class::Glass);
    }
    let (shape, gamma) = glasscam::io::npy::read::<f64>(&dir.join("gamma.npy")).expect("gamma.npy");
    assert_eq!(shape, vec![rows as u64, data.n_particles() as u64]);
    assert!(
        gamma.iter().all(|x| x.is_finite() && *x >= 0.0),
        "Gamma is a ReLU map read back: finite, >= 0"
    );
    let (shape, maps) = glasscam::io::npy::read::<f32>(&dir.join("maps.npy")).expect("maps.npy");
    assert_eq!(shape, vec![rows as u64, g, g]);
    assert!(maps.iter().all(|x| x.is_finite() && *x >= 0.0));
}

#[test]
fn the_cli_trains_and_explains() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    write_synthetic(&data_dir, 25, 8, 8.0, 0.3, 2).expect("synthetic data");
    let model_file = tmp.path().join("model.toml");
    std::fs::write(
        &model_file,
        "grid = 16\ncutoff = 3.0\nconv_channels = [4, 4]\nkernel = 3\nhidden = 8\ndropout = 0.25\nlr = 3e-3\nbatch = 8\n",
    )
    .expect("write model file");
    let exe = env!("CARGO_BIN_EXE_glasscam");
    let train_cli = |out: &Path, extra: &[&str]| {
        let st = std::process::Command::new(exe)
            .args(["train", "--backend", "cpu", "--epochs", "3", "--data"])
            .arg(&data_dir)
            .arg("--model")
            .arg(&model_file)
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .expect("run glasscam train");
        let err = String::from_utf8_lossy(&st.stderr).to_string();
        assert!(st.status.success(), "{err}");
        let json = |name: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(out.join(name)).expect(name))
                .expect("json")
        };
        (err, json("metrics.json"), json("config.json"))
    };
    let out = tmp.path().join("model");
    let (err, metrics, config) = train_cli(&out, &[]);
    // one line per epoch in a batch log too (stderr is not a terminal here)
    for e in 1..=3 {
        assert!(err.contains(&format!("epoch {e}/3: loss ")), "{err}");
    }
    assert!(out.join("model.safetensors").exists() && out.join("config.json").exists());
    // on the CPU the f32 backend by default, the f64 twin when asked; the records say which ran
    let backend = |m: &serde_json::Value| m["backend"].as_str().expect("backend").to_string();
    assert!(backend(&metrics).starts_with("cpu f32 ("), "{metrics}");
    assert_eq!(config["config"]["precision"], "f32");
    let out64 = tmp.path().join("model64");
    let (_, metrics64, config64) = train_cli(&out64, &["--precision", "f64"]);
    assert!(
        backend(&metrics64).starts_with("cpu twin f64 ("),
        "{metrics64}"
    );
    assert_eq!(config64["config"]["precision"], "f64");
    // the switch changed the path: the same seeds, other bits
    let (_, p32) = model::load(&out).expect("f32 model");
    let (_, p64) = model::load(&out64).expect("f64 model");
    assert_ne!(
        p32, p64,
        "--precision f64 gave the f32 backend's parameters"
    );
    let gc = tmp.path().join("gc");
    let o = std::process::Command::new(exe)
        .args([
            "gradcam",
            "--backend",
            "cpu",
            "--precision",
            "f64",
            "--split",
            "all",
            "--class",
            "liquid",
            "--model",
        ])
        .arg(&out)
        .arg("--data")
        .arg(&data_dir)
        .arg("--out")
        .arg(&gc)
        .output()
        .expect("run glasscam gradcam");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f: GradcamFile = serde_json::from_str(
        &std::fs::read_to_string(gc.join("gradcam.json")).expect("gradcam.json"),
    )
    .expect("json");
    assert_eq!(f.class, Class::Liquid);
    assert_eq!(f.snapshots.len(), 25);
}

#[test]
fn train_and_gradcam_on_the_gpu_path() {
    let Some(ctx) = glasscam::kernels::gpu::test_context("train_and_gradcam_on_the_gpu_path")
    else {
        return;
    };
    let gpu = Compute::Gpu(ctx);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    write_synthetic(&data_dir, 25, 8, 8.0, 0.3, 1).expect("synthetic data");
    let data = Dataset::load(&data_dir).expect("load");
    let out = tmp.path().join("model");
    let t = train(&data, &small_config(), &gpu, glasscam::events::quiet()).expect("train");
    write_model(&out, &t).expect("write model");
    let m = &t.metrics;
    assert!(
        m.test.accuracy["overall"] >= 0.99,
        "GPU path did not learn lattice vs random: {:?}",
        m.test
    );
    let snaps = data.of_class(Class::Glass);
    let r = gradcam((&gpu, Precision::F32), &out, &data, Class::Glass, &snaps, 8).expect("gradcam");
    assert_eq!(r.gamma.len(), snaps.len() * data.n_particles());
    assert_eq!(r.maps.len(), snaps.len() * 16 * 16);
    // the same model on the CPU twin gives the same Grad-CAM read-back
    let c = gradcam(
        (&Compute::Cpu, Precision::F64),
        &out,
        &data,
        Class::Glass,
        &snaps,
        8,
    )
    .expect("gradcam");
    let scale = c
        .gamma
        .iter()
        .fold(0.0f64, |a, b| a.max(b.abs()))
        .max(1e-30);
    glasscam::kernels::tolerance::assert_close(
        "Gamma, GPU vs CPU twin",
        &r.gamma,
        &c.gamma,
        glasscam::kernels::tolerance::Tolerance {
            abs: 1e-3 * scale,
            rel: 1e-3,
        },
    );
    assert_eq!(r.file.misclassified, c.file.misclassified);
}
