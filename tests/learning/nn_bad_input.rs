//! Bad input is refused with a message that says what does not match: model channels vs species, grid size,
//! box (pixel size), corrupt weights, an empty split, a bad model file.

use crate::common;

use crate::common::write_synthetic;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::Compute;
use glasscam::learn::cnn::config::ModelConfig;
use glasscam::learn::cnn::{gradcam, model, train};

use common::{err_of, trained_tiny as trained};

#[test]
fn model_channels_must_match_the_species_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, model_dir) = trained(tmp.path());
    // the same snapshots declared as a three-species system (the last particle becomes species C)
    let mut m = data.manifest.clone();
    let mut extra = m.system.species[1].clone();
    extra.name = "C".into();
    extra.count = 1;
    m.system.species[1].count -= 1;
    m.system.species.push(extra);
    for other in ["A", "B", "C"] {
        let mut p = m.system.pairs[0].clone();
        (p.a, p.b) = ("C".into(), other.into());
        m.system.pairs.push(p);
    }
    let mut species = data.species.clone();
    *species.last_mut().expect("particles") = 2;
    let other = tmp.path().join("three");
    Dataset::write(&other, &m, &data.positions, &species).expect("write");
    let three = Dataset::load(&other).expect("load");
    let msg = err_of(gradcam::gradcam(
        (&Compute::Cpu, glasscam::learn::cnn::Precision::F32),
        &model_dir,
        &three,
        glasscam::domain::Class::Glass,
        &[1],
        4,
    ));
    assert!(
        msg.contains("2 input channels") && msg.contains("3 species"),
        "{msg}"
    );
}

#[test]
fn grid_size_must_match_the_weights() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, model_dir) = trained(tmp.path());
    // the grid goes into the weights file's one metadata value: two trainings still give the same bytes
    let again = tempfile::tempdir().expect("tempdir");
    let (_, other) = trained(again.path());
    assert!(
        std::fs::read(model_dir.join(model::WEIGHTS)).expect("weights")
            == std::fs::read(other.join(model::WEIGHTS)).expect("weights"),
        "two trainings wrote different weight files"
    );
    let path = model_dir.join(model::CONFIG);
    let text = std::fs::read_to_string(&path).expect("config");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["config"]["grid"] = serde_json::json!(32);
    std::fs::write(&path, serde_json::to_string(&v).expect("json")).expect("write");
    // the weights record the grid they were trained on: the edit is named, not a tensor shape that differs
    let msg = err_of(model::load(&model_dir));
    assert!(
        msg.contains(
            "`config.grid` is 32 but the weights (" 
        ) && msg.ends_with(
            "were trained on a 16x16 grid, which they fix: restore `grid` = 16 in config.json, or train a new \
             model with grid 32"
        ),
        "{msg}"
    );
}

#[test]
fn the_box_must_give_the_trained_pixel_size() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, model_dir) = trained(tmp.path());
    let other = tmp.path().join("bigger");
    write_synthetic(&other, 4, 6, 7.0, 0.3, 4).expect("data");
    let data = Dataset::load(&other).expect("load");
    let msg = err_of(gradcam::gradcam(
        (&Compute::Cpu, glasscam::learn::cnn::Precision::F32),
        &model_dir,
        &data,
        glasscam::domain::Class::Glass,
        &[1],
        4,
    ));
    assert!(msg.contains("grid does not match the data"), "{msg}");
}

#[test]
fn corrupt_weights_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, model_dir) = trained(tmp.path());
    let path = model_dir.join(model::WEIGHTS);
    let bytes = std::fs::read(&path).expect("weights");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    // the checksum in config.json catches both before the weights are parsed
    let msg = err_of(model::load(&model_dir));
    assert!(
        msg.contains("differs from config.json's `weights_sha256`"),
        "{msg}"
    );
    std::fs::write(&path, b"not a safetensors file at all").expect("garbage");
    let msg = err_of(model::load(&model_dir));
    assert!(
        msg.contains("differs from config.json's `weights_sha256`"),
        "{msg}"
    );
}

#[test]
fn an_empty_split_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    // 3 replicas: 8 % of them rounds to no validation replica
    write_synthetic(&data_dir, 3, 6, 6.0, 0.3, 5).expect("data");
    let data = Dataset::load(&data_dir).expect("load");
    let msg = err_of(train::train(
        &data,
        &common::tiny_model_config(),
        &Compute::Cpu,
        glasscam::events::quiet(),
    ));
    assert!(
        msg.contains("validation split is empty") && msg.contains("3 replicas"),
        "{msg}"
    );
}

#[test]
fn a_bad_model_file_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("m.toml");
    std::fs::write(&p, "grid = 16\nchannels = [1]\n").expect("write");
    let msg = err_of(ModelConfig::from_file(&p));
    assert!(msg.contains("channels"), "{msg}");
    std::fs::write(&p, "split = [0.5, 0.5, 0.5]\n").expect("write");
    let msg = err_of(ModelConfig::from_file(&p));
    assert!(msg.contains("split"), "{msg}");
    // an even kernel has no centre for the circular padding
    let spec = ModelConfig {
        kernel: 4,
        ..ModelConfig::default()
    }
    .net_spec(2);
    let msg = spec.check().expect_err("even kernel size").to_string();
    assert!(msg.contains("must be odd"), "{msg}");
    // a window that does not fit the grid
    let data_dir = tmp.path().join("data");
    write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 6).expect("data");
    let data = Dataset::load(&data_dir).expect("load");
    let bad = ModelConfig {
        grid: 4,
        width: 1.0,
        ..common::tiny_model_config()
    };
    let msg = err_of(train::train(
        &data,
        &bad,
        &Compute::Cpu,
        glasscam::events::quiet(),
    ));
    assert!(msg.contains("does not fit"), "{msg}");
}
