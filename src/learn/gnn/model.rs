//! A trained graph network on disk: `model.safetensors` (f32, PyTorch names) and `config.json` beside it.

use std::path::{Path, PathBuf};

use glasscam_kernels::gnn::MpnnSpec;
use serde::{Deserialize, Serialize};

use super::config::MpnnConfig;
use crate::error::{Error, IoContext, Result};
use crate::io::dataset::{write_json_readable, Dataset};
use crate::learn::cnn::model::{Split, TensorInfo, CONFIG};
use crate::learn::weights::{self, WEIGHTS};

pub const FORMAT: &str = "glasscam-mpnn";

pub const LAYOUT: &str = "directed kNN graph (both directions of every symmetrised pair), edge e = v->w; \
    f_e = [onehot(species v); (|r_w - r_v| - dist_mean) / dist_std]; a = W_i f (no bias); h = ReLU(a); \
    repeat depth-1 times: s_v = sum of h over edges into v, m_vw = s_v - h_wv, u = ReLU(a + W_h m) (no bias), \
    with attention: alpha = E_g * softmax over the graph's edges (or the batch's, attention = batch) of \
    v_a(ReLU(W_a u)), u = alpha u; h = u; readout r_v = ReLU(W_o [onehot(species v); sum of h over edges into v]); \
    g = mean of r over the graph's nodes; scores [liquid, glass] = ffn2(ReLU(ffn1 g)); dropout only in training";

/// `config.json` of a graph-network model directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MpnnModelFile {
    /// Always "glasscam-mpnn".
    pub format: String,
    pub version: u32,
    pub config: MpnnConfig,
    /// Species of the training data (width of the one-hot features).
    pub n_species: usize,
    /// The distance feature is (d - dist_mean) / dist_std (training graphs' mean and standard deviation).
    pub dist_mean: f64,
    pub dist_std: f64,
    /// Class score order: ["liquid", "glass"].
    pub classes: Vec<String>,
    pub box_l: f64,
    pub data: String,
    /// `sha256:<hex>` of model.safetensors, checked on load (see `nn::model::ModelFile`).
    #[serde(default)]
    pub weights_sha256: String,
    pub split: Split,
    pub best_epoch: usize,
    pub validation_accuracy: f64,
    pub tensors: Vec<TensorInfo>,
    pub layout: String,
}

impl MpnnModelFile {
    pub fn spec(&self) -> MpnnSpec {
        self.config
            .spec(self.n_species, (self.dist_mean, self.dist_std))
    }
}

/// Writes weights (as f32) and config into `dir`.
pub fn save(dir: &Path, file: &MpnnModelFile, params: &[f64]) -> Result<()> {
    let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
    let sum = weights::write(
        dir,
        FORMAT,
        &file.spec().tensors(),
        &p32,
        "lower `lr` and check the data",
    )?;
    let file = MpnnModelFile {
        weights_sha256: sum,
        ..file.clone()
    };
    write_json_readable(&dir.join(CONFIG), &file)
}

/// Reads a graph-network model directory; every mismatch between config and weights is refused with what differs.
pub fn load(dir: &Path) -> Result<(MpnnModelFile, Vec<f64>)> {
    let bad = |path: PathBuf, message: String| Error::Model { path, message };
    let cpath = dir.join(CONFIG);
    let text = std::fs::read_to_string(&cpath).map_err(|e| {
        bad(
            cpath.clone(),
            format!(
                "cannot read ({e}); is this a directory written by `glasscam train --arch mpnn`?"
            ),
        )
    })?;
    let file: MpnnModelFile = serde_json::from_str(&text).map_err(|e| {
        bad(
            cpath.clone(),
            format!(
                "not a graph-network model config ({e}); a CNN model directory cannot be used here"
            ),
        )
    })?;
    if file.format != FORMAT {
        return Err(bad(
            cpath,
            format!("format `{}`, expected `{FORMAT}`", file.format),
        ));
    }
    file.config.check().map_err(|m| bad(cpath.clone(), m))?;
    let spec = file.spec();
    spec.check()
        .map_err(|e| bad(cpath.clone(), e.to_string()))?;
    let wpath = dir.join(WEIGHTS);
    let bytes = std::fs::read(&wpath).at(&wpath)?;
    let note = |_: &str| format!(" (hidden {}, {} species)", spec.hidden, spec.n_species);
    let p32 = weights::read(
        &wpath,
        &bytes,
        &file.weights_sha256,
        &spec.tensors(),
        spec.n_params(),
        note,
    )?;
    let params = p32.iter().map(|&x| x as f64).collect();
    Ok((file, params))
}

/// Refuses data that does not fit a model: species count, k against the particles of a graph.
pub fn check_fits(file: &MpnnModelFile, model_dir: &Path, data: &Dataset) -> Result<()> {
    let ns = data.manifest.system.n_species();
    let bad = |message: String| Error::Model {
        path: model_dir.to_path_buf(),
        message,
    };
    if ns != file.n_species {
        return Err(bad(format!(
            "the model takes {} species (one-hot node features) but the data set {} has {ns}; retrain on this system",
            file.n_species,
            data.dir.display()
        )));
    }
    if file.config.k >= data.n_particles() {
        return Err(bad(format!(
            "the model uses k = {} neighbours but the data set {} has only {} particles",
            file.config.k,
            data.dir.display(),
            data.n_particles()
        )));
    }
    Ok(())
}
