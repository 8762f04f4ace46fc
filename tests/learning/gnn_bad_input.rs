//! Bad input to the graph network is refused with a message saying what does not match: a model for another
//! species count, k not below the particle count, a corrupt weights file, a non-graph model directory.

use glasscam::domain::Class;
use glasscam::learn::gnn::config::MpnnConfig;
use glasscam::learn::gnn::model::{load, save, Mpnn, MpnnModelFile, LAYOUT, VERSION};
use glasscam::learn::model::{Arch, Header};
use glasscam::learn::split::Split;

fn model_file(n_species: usize) -> (MpnnModelFile, Vec<f32>) {
    let cfg = MpnnConfig {
        hidden: 4,
        ..MpnnConfig::default()
    };
    let spec = cfg.spec(n_species, (1.0, 0.2));
    let file = MpnnModelFile {
        header: Header {
            format: Arch::Mpnn.format().into(),
            version: VERSION,
            classes: Class::BOTH.to_vec(),
            box_l: 10.0,
            data: "none".into(),
            data_fingerprint: String::new(),
            weights_sha256: String::new(),
            split: Split::default(),
            best_epoch: 1,
            validation_accuracy: 1.0,
            tensors: Vec::new(),
            layout: LAYOUT.into(),
        },
        config: cfg,
        n_species,
        dist_mean: 1.0,
        dist_std: 0.2,
    };
    let params = spec.init(1).iter().map(|&x| x as f32).collect();
    (file, params)
}

#[test]
fn saved_model_loads_back_exactly_in_f32() {
    let dir = tempfile::tempdir().unwrap();
    let (file, params) = model_file(2);
    save(dir.path(), &file, &params).unwrap();
    let Mpnn {
        file: f2,
        params: p2,
    } = load(dir.path()).unwrap();
    // saving adds the weights' checksum
    assert!(f2.header.weights_sha256.starts_with("sha256:"));
    let mut want = file.clone();
    want.header.weights_sha256 = f2.header.weights_sha256.clone();
    assert_eq!(f2, want);
    assert_eq!(p2, params);
}

#[test]
fn corrupt_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (file, params) = model_file(2);
    save(dir.path(), &file, &params).unwrap();
    let w = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&w, bytes).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("differs from config.json's `weights_sha256`"),
        "{e}"
    );
    // a non-finite weight is never written
    let mut nan = params.clone();
    nan[1] = f32::NAN;
    let out = dir.path().join("nan");
    let e = save(&out, &file, &nan).unwrap_err().to_string();
    assert!(e.contains("refusing to write: weight 1 is NaN"), "{e}");
    assert!(!out.join("config.json").exists());
}

#[test]
fn weights_of_another_species_count_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (file3, params3) = model_file(3);
    save(dir.path(), &file3, &params3).unwrap();
    // config.json now claims 2 species: W_i and W_o no longer fit
    let (mut file2, _) = model_file(2);
    file2.header.weights_sha256 = load_sum(dir.path());
    let text = serde_json::to_string(&file2).unwrap();
    std::fs::write(dir.path().join("config.json"), text).unwrap();
    let e = load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("W_i.weight") && e.contains("2 species"), "{e}");
}

#[test]
fn a_bad_model_file_is_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, "k = 0\n").unwrap();
    let e = MpnnConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("`k` = 0") && e.contains("isolated"), "{e}");
    std::fs::write(&p, "hidden = 8\nwidth = 3\n").unwrap();
    let e = MpnnConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("width"), "{e}");
}

#[test]
fn absurd_learning_rates_are_refused_with_their_range() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, "max_lr = inf\n").unwrap();
    let e = MpnnConfig::from_file(&p).unwrap_err().to_string();
    assert!(
        e.contains("`max_lr` = inf: learning rates must be finite and > 0"),
        "{e}"
    );
    // a finite but absurd rate, which would overflow the weights, is refused with the range
    std::fs::write(&p, "max_lr = 1e30\n").unwrap();
    let e = MpnnConfig::from_file(&p).unwrap_err().to_string();
    assert!(
        e.contains("`max_lr` = 1e30: learning rates must be finite and > 0 and at most 10"),
        "{e}"
    );
    // and by `train`, before any work, for settings made in code
    let data_dir = dir.path().join("data");
    crate::common::write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 3).unwrap();
    let data = glasscam::io::dataset::Dataset::load(&data_dir).unwrap();
    let cfg = MpnnConfig {
        init_lr: 1e30,
        ..MpnnConfig::default()
    };
    let e = glasscam::learn::gnn::train(
        &data,
        &cfg,
        &glasscam::kernels::Compute::Cpu,
        glasscam::events::quiet(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        e.contains("`init_lr` = 1e30: learning rates must be finite and > 0 and at most 10"),
        "{e}"
    );
}

/// The weights checksum config.json of the model in `dir` records.
fn load_sum(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["weights_sha256"].as_str().unwrap().to_string()
}

/// The graph network's outputs know their data set, as the CNN's do: the model records the fingerprint of its
/// training data, its test split is refused on another data set, and `attention.json` records the one it read.
#[test]
fn the_model_and_its_attention_refuse_another_data_set() {
    use glasscam::learn::gnn::attention::{attention, AttentionInput};
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, other_dir) = (dir.path().join("data"), dir.path().join("other"));
    crate::common::write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 3).unwrap();
    crate::common::write_synthetic(&other_dir, 25, 6, 6.0, 0.3, 4).unwrap();
    let data = glasscam::io::dataset::Dataset::load(&data_dir).unwrap();
    let other = glasscam::io::dataset::Dataset::load(&other_dir).unwrap();
    let cfg = MpnnConfig {
        hidden: 4,
        depth: 2,
        k: 4,
        epochs: 1,
        ..MpnnConfig::default()
    };
    let quiet = glasscam::events::quiet();
    let t =
        glasscam::learn::gnn::train(&data, &cfg, &glasscam::kernels::Compute::Cpu, quiet).unwrap();
    assert_eq!(t.model.file.header.data_fingerprint, data.fingerprint);
    let model = dir.path().join("mpnn");
    glasscam::learn::model::write_model(&model, &t).unwrap();
    let input = |data: &std::path::Path, all: bool, out: &str| AttentionInput {
        model: model.clone(),
        data: data.to_path_buf(),
        all,
        threshold: 0.0025,
        gradcam: None,
        out: dir.path().join(out),
    };
    let e = attention(&input(&other_dir, false, "refused"), quiet)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the model's test split names replicas of its training data set")
            && e.ends_with("set `split` to all for a data set the model was not trained on"),
        "{e}"
    );
    // every snapshot of another data set is fine, and the rows say which data set they describe
    let r = attention(&input(&other_dir, true, "all"), quiet).unwrap();
    assert_eq!(r.data_fingerprint, other.fingerprint);
    r.check_data(&other).unwrap();
    let e = r.check_data(&data).unwrap_err().to_string();
    assert!(e.contains("the attention rows were computed on"), "{e}");
}
