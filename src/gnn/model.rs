//! A trained graph network on disk: `model.safetensors` (f32, PyTorch names) and `config.json` beside it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use glasscam_kernels::gnn::MpnnSpec;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::config::MpnnConfig;
use crate::dataset::{write_json_readable, Dataset};
use crate::error::{Error, IoContext, Result};
use crate::nn::model::{check_sum, sha256, Split, TensorInfo, CONFIG, WEIGHTS};

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
    if let Some(i) = p32.iter().position(|x| !x.is_finite()) {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message: format!(
                "refusing to write: weight {i} is {} as f32 (training diverged); lower `lr` and check the data",
                params[i]
            ),
        });
    }
    std::fs::create_dir_all(dir).at(dir)?;
    let bytes: &[u8] = bytemuck::cast_slice(&p32);
    let mut views = Vec::new();
    for (name, shape, off) in file.spec().tensors() {
        let n: usize = shape.iter().product();
        let view =
            TensorView::new(Dtype::F32, shape, &bytes[off * 4..(off + n) * 4]).map_err(|e| {
                Error::Model {
                    path: dir.to_path_buf(),
                    message: format!("tensor {name}: {e}"),
                }
            })?;
        views.push((name, view));
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    let path = dir.join(WEIGHTS);
    let weights = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("cannot write weights: {e}"),
    })?;
    crate::outdir::write_atomic(&path, &weights)?;
    let file = MpnnModelFile {
        weights_sha256: sha256(&weights),
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
    check_sum(&wpath, &bytes, &file.weights_sha256)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        bad(
            wpath.clone(),
            format!("corrupt weights file ({e}); retrain or copy the model directory again"),
        )
    })?;
    let mut params = vec![0f64; spec.n_params()];
    for (name, shape, off) in spec.tensors() {
        let t = st.tensor(name).map_err(|_| {
            bad(
                wpath.clone(),
                format!("tensor `{name}` is missing; the weights do not belong to this config"),
            )
        })?;
        if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
            return Err(bad(
                wpath.clone(),
                format!(
                    "tensor `{name}` is {:?} {:?}, config.json gives F32 {shape:?} (hidden {}, {} species)",
                    t.dtype(),
                    t.shape(),
                    spec.hidden,
                    spec.n_species
                ),
            ));
        }
        for (d, c) in params[off..].iter_mut().zip(t.data().chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64;
        }
    }
    if let Some(i) = params.iter().position(|x| !x.is_finite()) {
        return Err(bad(
            wpath,
            format!("parameter {i} is not finite; the weights are corrupt"),
        ));
    }
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
