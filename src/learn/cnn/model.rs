//! A trained model on disk: `model.safetensors` (f32, PyTorch names and layouts) and `config.json` beside it.

use std::path::{Path, PathBuf};

use glasscam_kernels::nn::NetSpec;
use serde::{Deserialize, Serialize};

use super::config::{ModelConfig, MAX_PARAMS};
use crate::error::{Error, IoContext, Result};
use crate::io::dataset::{write_json_readable, Dataset};
use crate::learn::weights;
use glasscam_kernels::nn::MAX_MAPS;

pub use crate::learn::weights::{check_sum, sha256, WEIGHTS};
pub const CONFIG: &str = "config.json";
pub const FORMAT: &str = "glasscam-cnn";
/// `ModelFile::version` this glasscam writes and reads (2: `weights_sha256` and `data_fingerprint` added).
pub const VERSION: u32 = 2;

/// One tensor's name and shape, listed in config.json for readers without a safetensors library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
}

/// Which replicas went where.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// `config.json` of a model directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelFile {
    /// Always "glasscam-cnn".
    pub format: String,
    pub version: u32,
    pub config: ModelConfig,
    /// Image channels = species of the training data.
    pub in_channels: usize,
    /// Class score order: ["liquid", "glass"].
    pub classes: Vec<String>,
    /// Box side of the training data: with `config.grid` it fixes the pixel size.
    pub box_l: f64,
    /// The training data set directory.
    pub data: String,
    /// `Dataset::fingerprint` of the training data: the split's replicas name replicas of that data set only.
    #[serde(default)]
    pub data_fingerprint: String,
    /// `sha256:<hex>` of model.safetensors, checked on load.
    #[serde(default)]
    pub weights_sha256: String,
    pub split: Split,
    pub best_epoch: usize,
    pub validation_accuracy: f64,
    pub tensors: Vec<TensorInfo>,
    /// Per-channel mean and standard deviation subtracted from and divided into the images before the network
    /// (`config.standardize`); empty when the raw densities go in.
    #[serde(default)]
    pub input_mean: Vec<f64>,
    #[serde(default)]
    pub input_std: Vec<f64>,
    /// How to rebuild the network elsewhere.
    pub layout: String,
}

pub const LAYOUT: &str = "images NCHW float32, one channel per species, Gaussian densities on a G x G periodic grid, \
    each channel c then mapped to (x - input_mean[c]) / input_std[c] when those are given; \
    conv{i}: Conv2d(k x k, padding k/2, padding_mode='circular') + ReLU, weights OIHW; flatten in C,H,W order (head `flatten`) or the mean of each map (head `mean`); \
    fc1: Linear + ReLU; dropout (training only); fc2: Linear giving the class scores [liquid, glass]";

impl ModelFile {
    pub fn spec(&self) -> NetSpec {
        self.config.net_spec(self.in_channels)
    }

    /// The input standardization, if the model has one.
    pub fn standardization(&self) -> Option<Standardization> {
        (!self.input_mean.is_empty()).then(|| Standardization {
            mean: self.input_mean.clone(),
            std: self.input_std.clone(),
        })
    }
}

/// Per-channel affine map of the images, x -> (x - mean[c]) / std[c].
#[derive(Clone, Debug, PartialEq)]
pub struct Standardization {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardization {
    /// Mean and standard deviation of every channel's pixels over all `images` ([k, channels, gg]); a channel
    /// with no spread gets std 1.
    pub fn measure(images: &[f32], channels: usize, gg: usize) -> Standardization {
        let mut mean = vec![0.0; channels];
        let mut std = vec![0.0; channels];
        let k = images.len() / (channels * gg).max(1);
        for c in 0..channels {
            let px = || {
                (0..k).flat_map(move |s| {
                    images[(s * channels + c) * gg..(s * channels + c + 1) * gg].iter()
                })
            };
            let n = (k * gg).max(1) as f64;
            let m = px().map(|&x| x as f64).sum::<f64>() / n;
            let v = px().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
            mean[c] = m;
            std[c] = if v > 0.0 { v.sqrt() } else { 1.0 };
        }
        Standardization { mean, std }
    }

    /// Applies the map in place to images [k, channels, gg].
    pub fn apply(&self, images: &mut [f32], gg: usize) {
        let channels = self.mean.len();
        for (i, img) in images.chunks_mut(gg).enumerate() {
            let c = i % channels;
            let (m, s) = (self.mean[c] as f32, (1.0 / self.std[c]) as f32);
            for x in img {
                *x = (*x - m) * s;
            }
        }
    }
}

/// Writes weights and config into `dir`, with the weights' checksum in config.json. Non-finite weights are
/// refused: such a model cannot predict anything.
pub fn save(dir: &Path, file: &ModelFile, params: &[f32]) -> Result<()> {
    let sum = weights::write(
        dir,
        FORMAT,
        &file.spec().tensors(),
        params,
        "lower `lr`, check `eps` > 0 and the data",
    )?;
    let file = ModelFile {
        version: VERSION,
        weights_sha256: sum,
        ..file.clone()
    };
    write_json_readable(&dir.join(CONFIG), &file)
}

/// Reads a model directory; every mismatch between config and weights is refused with what differs.
pub fn load(dir: &Path) -> Result<(ModelFile, Vec<f32>)> {
    let cpath = dir.join(CONFIG);
    let text = std::fs::read(&cpath).map_err(|e| Error::Model {
        path: cpath.clone(),
        message: format!("cannot read ({e}); is this a directory written by `glasscam train`?"),
    })?;
    let wpath = dir.join(WEIGHTS);
    let bytes = std::fs::read(&wpath).at(&wpath)?;
    parse(dir, &text, &bytes)
}

/// `load` on the bytes of config.json and model.safetensors read from `dir`.
pub fn parse(dir: &Path, text: &[u8], bytes: &[u8]) -> Result<(ModelFile, Vec<f32>)> {
    let bad = |path: PathBuf, message: String| Error::Model { path, message };
    let cpath = dir.join(CONFIG);
    let file: ModelFile = serde_json::from_slice(text)
        .map_err(|e| bad(cpath.clone(), format!("not a model config: {e}")))?;
    if file.format != FORMAT {
        return Err(bad(
            cpath,
            format!("format `{}`, expected `{FORMAT}`", file.format),
        ));
    }
    if file.version != VERSION {
        return Err(bad(
            cpath,
            format!(
                "version {}, this glasscam reads version {VERSION}; retrain the model with this glasscam",
                file.version
            ),
        ));
    }
    file.config
        .check()
        .map_err(|e| bad(cpath.clone(), format!("`config`: {e}")))?;
    if !((1..=MAX_MAPS).contains(&file.in_channels) && file.box_l > 0.0 && file.box_l.is_finite()) {
        return Err(bad(
            cpath,
            format!(
                "`in_channels` {} (1..={MAX_MAPS}) and `box_l` {} (> 0) are out of range",
                file.in_channels, file.box_l
            ),
        ));
    }
    check_split(&file.split).map_err(|e| bad(cpath.clone(), e))?;
    let spec = file.spec();
    spec.check()
        .map_err(|e| bad(cpath.clone(), e.to_string()))?;
    if spec.n_params() > MAX_PARAMS {
        return Err(bad(
            cpath,
            format!(
                "the network has {} parameters, more than glasscam loads ({MAX_PARAMS})",
                spec.n_params()
            ),
        ));
    }
    let fc1_note = |name: &str| {
        if name == "fc1.weight" {
            format!(
                " (config.json says grid {} and {} channels into fc1: the weights were trained for another grid \
                 size or network)",
                spec.grid,
                spec.conv.last().copied().unwrap_or(0)
            )
        } else {
            String::new()
        }
    };
    let params = weights::read(
        &dir.join(WEIGHTS),
        bytes,
        &file.weights_sha256,
        &spec.tensors(),
        spec.n_params(),
        fc1_note,
    )?;
    if !file.input_mean.is_empty()
        && (file.input_mean.len() != file.in_channels
            || file.input_std.len() != file.in_channels
            || file.input_std.iter().any(|&s| !(s > 0.0 && s.is_finite())))
    {
        return Err(bad(
            cpath,
            format!(
                "`input_mean` ({} values) and `input_std` ({} values, all > 0) must give one value per input \
                 channel ({})",
                file.input_mean.len(),
                file.input_std.len(),
                file.in_channels
            ),
        ));
    }
    Ok((file, params))
}

/// A split lists each replica at most once, in one set only.
fn check_split(split: &Split) -> std::result::Result<(), String> {
    let mut seen = std::collections::BTreeMap::new();
    for (set, list) in [
        ("train", &split.train),
        ("validation", &split.validation),
        ("test", &split.test),
    ] {
        for &r in list {
            if let Some(other) = seen.insert(r, set) {
                return Err(format!(
                    "`split`: replica {r} is listed in `{other}` and in `{set}`; the file was edited, retrain"
                ));
            }
        }
    }
    Ok(())
}

/// Refuses data that does not fit a model: species count vs input channels, box side vs pixel size.
pub fn check_fits(file: &ModelFile, model_dir: &Path, data: &Dataset) -> Result<()> {
    let ns = data.manifest.system.n_species();
    let bad = |message: String| Error::Model {
        path: model_dir.to_path_buf(),
        message,
    };
    if ns != file.in_channels {
        return Err(bad(format!(
            "the model takes {} input channels (one per species) but the data set {} has {ns} species",
            file.in_channels,
            data.dir.display()
        )));
    }
    let rel = (data.box_l() - file.box_l).abs() / file.box_l;
    if rel > 1e-6 {
        return Err(bad(format!(
            "the model was trained on a box of side {} on a {}x{} grid (pixel {:.4}); the data set {} has side {} \
             (pixel {:.4}): the grid does not match the data, retrain on this system",
            file.box_l,
            file.config.grid,
            file.config.grid,
            file.box_l / file.config.grid as f64,
            data.dir.display(),
            data.box_l(),
            data.box_l() / file.config.grid as f64
        )));
    }
    Ok(())
}
