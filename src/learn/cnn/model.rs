//! A trained CNN on disk: `model.safetensors` (f32, PyTorch names and layouts) and `config.json` beside it (the
//! shared `Header` and the CNN's own settings), and the CNN as a `Model`.

use std::path::{Path, PathBuf};

use glasscam_kernels::nn::fast::Isa;
use glasscam_kernels::nn::net::Net;
use glasscam_kernels::nn::{NetSpec, MAX_MAPS};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::config::{ModelConfig, Precision, MAX_PARAMS};
use super::data::images;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::write_json_readable;
use crate::learn::fit::Classification;
use crate::learn::model::{read_config, Arch, Header, Model, Trained};
pub use crate::learn::model::{CONFIG, WEIGHTS};
use crate::learn::weights;

/// `ModelFile::header.version` this glasscam writes and reads (2: `weights_sha256` and `data_fingerprint` added).
pub const VERSION: u32 = 2;

/// `config.json` of a CNN model directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelFile {
    #[serde(flatten)]
    pub header: Header,
    pub config: ModelConfig,
    /// Image channels = species of the training data.
    pub in_channels: usize,
    /// Per-channel mean and standard deviation subtracted from and divided into the images before the network
    /// (`config.standardize`); empty when the raw densities go in.
    #[serde(default)]
    pub input_mean: Vec<f64>,
    #[serde(default)]
    pub input_std: Vec<f64>,
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

/// A trained CNN: its file and its parameters in `file.header.tensors` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Cnn {
    pub file: ModelFile,
    pub params: Vec<f32>,
}

/// Writes weights and config into `dir`, with the weights' checksum in config.json. Non-finite weights are
/// refused: such a model cannot predict anything.
pub fn save(dir: &Path, file: &ModelFile, params: &[f32]) -> Result<()> {
    let sum = weights::write(
        dir,
        (
            Arch::Cnn.format(),
            &[(GRID_KEY, file.config.grid.to_string())],
        ),
        &file.spec().tensors(),
        params,
        "lower `lr`, check `eps` > 0 and the data",
    )?;
    let mut file = file.clone();
    file.header.version = VERSION;
    file.header.weights_sha256 = sum;
    write_json_readable(&dir.join(CONFIG), &file)
}

/// The safetensors metadata key of the grid a CNN's weights were trained on: the learned filters (and with the
/// `flatten` head, fc1's shape) belong to one pixel size, so config.json's `grid` cannot be changed after training.
pub const GRID_KEY: &str = "grid";

/// Reads a model directory; every mismatch between config and weights is refused with what differs.
pub fn load(dir: &Path) -> Result<(ModelFile, Vec<f32>)> {
    let (_, text) = read_config(dir, Arch::Cnn)?;
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
    file.header.check(Arch::Cnn, VERSION, &cpath)?;
    file.config
        .check()
        .map_err(|e| bad(cpath.clone(), format!("`config`: {e}")))?;
    let box_l = file.header.box_l;
    if !((1..=MAX_MAPS).contains(&file.in_channels) && box_l > 0.0 && box_l.is_finite()) {
        return Err(bad(
            cpath,
            format!(
                "`in_channels` {} (1..={MAX_MAPS}) and `box_l` {} (> 0) are out of range",
                file.in_channels, box_l
            ),
        ));
    }
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
    let wpath = dir.join(WEIGHTS);
    if let Some(trained) = weights::fixed(bytes, GRID_KEY) {
        if trained != spec.grid.to_string() {
            return Err(bad(
                cpath,
                format!(
                    "`config.grid` is {} but the weights ({}) were trained on a {trained}x{trained} grid, which \
                     they fix: restore `grid` = {trained} in config.json, or train a new model with grid {}",
                    spec.grid,
                    wpath.display(),
                    spec.grid
                ),
            ));
        }
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
        &wpath,
        bytes,
        &file.header.weights_sha256,
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
    let box_l = file.header.box_l;
    let rel = (data.box_l() - box_l).abs() / box_l;
    if rel > 1e-6 {
        return Err(bad(format!(
            "the model was trained on a box of side {} on a {}x{} grid (pixel {:.4}); the data set {} has side {} \
             (pixel {:.4}): the grid does not match the data, retrain on this system",
            box_l,
            file.config.grid,
            file.config.grid,
            box_l / file.config.grid as f64,
            data.dir.display(),
            data.box_l(),
            data.box_l() / file.config.grid as f64
        )));
    }
    Ok(())
}

/// Where the CNN runs on `compute` in `precision`, as metrics.json and the stage records say it: "cpu f32
/// (avx512, 2 threads)", "cpu twin f64 (2 threads)" or the GPU's line.
pub fn backend(precision: Precision, compute: &Compute) -> String {
    let threads = rayon::current_num_threads();
    match (compute, precision) {
        (Compute::Gpu(_), _) => compute.describe(),
        (Compute::Cpu, Precision::F32) => {
            format!("cpu f32 ({}, {threads} threads)", Isa::detect().name())
        }
        (Compute::Cpu, Precision::F64) => format!("cpu twin f64 ({threads} threads)"),
    }
}

/// Class scores of every image, in batches of the net's capacity.
pub fn predict_all(net: &mut Net, imgs: &[f32]) -> Result<Vec<f64>> {
    let per = net.spec.act_len(0);
    let mut out = Vec::with_capacity(imgs.len() / per * 2);
    for chunk in imgs.chunks(per * net.capacity) {
        out.extend(net.predict(chunk)?);
    }
    Ok(out)
}

impl Model for Cnn {
    const ARCH: Arch = Arch::Cnn;
    type Config = ModelConfig;
    /// Standardized images [snapshots, channels, G, G].
    type Inputs = Vec<f32>;
    type Objective = Classification;

    fn train(
        data: &Dataset,
        cfg: &ModelConfig,
        compute: &Compute,
        ctx: Ctx,
    ) -> Result<Trained<Cnn>> {
        super::train::train(data, cfg, compute, ctx)
    }

    fn header(&self) -> &Header {
        &self.file.header
    }

    fn split_rule(&self) -> ([f64; 3], u64) {
        (self.file.config.split, self.file.config.seed)
    }

    fn load(dir: &Path) -> Result<Cnn> {
        load(dir).map(|(file, params)| Cnn { file, params })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save(dir, &self.file, &self.params)
    }

    fn check_fits(&self, dir: &Path, data: &Dataset) -> Result<()> {
        check_fits(&self.file, dir, data)
    }

    fn input_key(&self) -> String {
        format!(
            "cnn {:?} mean {:?} std {:?}",
            self.file.config.grid_spec(self.file.header.box_l),
            self.file.input_mean,
            self.file.input_std
        )
    }

    fn inputs(&self, compute: &Compute, data: &Dataset, snapshots: &[usize]) -> Result<Vec<f32>> {
        let grid = self.file.config.grid_spec(data.box_l());
        let mut imgs = images(
            (compute, self.file.config.precision),
            data,
            &grid,
            snapshots,
            64,
        )?;
        if let Some(norm) = self.file.standardization() {
            norm.apply(&mut imgs, self.file.spec().pixels());
        }
        Ok(imgs)
    }

    fn logits(&self, compute: &Compute, imgs: &Vec<f32>) -> Result<Vec<f64>> {
        let mut net = Net::with_precision(
            compute,
            self.file.config.precision.kernel(),
            self.file.spec(),
            &self.params,
            self.file.config.batch.max(1),
        )?;
        predict_all(&mut net, imgs)
    }

    /// Everything on `compute`: training, Grad-CAM and scoring, on the CPU in `cfg.precision`.
    fn backend(cfg: &ModelConfig, compute: &Compute) -> String {
        backend(cfg.precision, compute)
    }
}
