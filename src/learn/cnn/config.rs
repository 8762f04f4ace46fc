//! The model configuration (`--model FILE`, TOML or JSON): gridization, network, optimiser and split, each field
//! with its default (docs/methods.md, "Gridization" and "CNN").

use std::path::Path;

use glasscam_kernels::nn::{self, AdamSpec, GridSpec, Head, NetSpec, MAX_MAPS};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest image side `grid` accepted (a 1024^2 image is 4 MiB per species channel).
pub const MAX_GRID: usize = 1024;
/// Largest hidden layer accepted.
pub const MAX_HIDDEN: usize = 4096;
/// Most convolution layers accepted.
pub const MAX_CONV_LAYERS: usize = 16;
/// Most network parameters accepted (1 GiB of f32): checked before weights are allocated or read.
pub const MAX_PARAMS: usize = 1 << 28;

/// Everything `glasscam train` needs besides the data. Every field may be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Pixels per side G of the images (docs/methods.md, "Gridization": 128).
    pub grid: usize,
    /// Gaussian width w in length units (docs/methods.md, "Gridization": 0.3 sigma_c; sigma_c = 1 in the presets' units).
    pub width: f64,
    /// Gaussian window half-width in widths (the window is normalised, so each particle adds exactly 1).
    pub cutoff: f64,
    /// Output channels of the convolutions (docs/methods.md, "CNN": 8, 16, 16).
    pub conv_channels: Vec<usize>,
    /// Convolution kernel size, odd (docs/methods.md, "CNN": 5).
    pub kernel: usize,
    /// What joins the convolutions to the hidden layer: `flatten`, every pixel of every map (the paper;
    /// docs/methods.md, "CNN"), or `mean`, the mean of each map (global average pooling; the hidden layer then sees one value
    /// per map, far fewer weights to learn from a small data set). Grad-CAM is the same for both.
    pub head: HeadKind,
    /// Width of the hidden fully connected layer (docs/methods.md, "CNN": 64).
    pub hidden: usize,
    /// Dropout probability after the hidden layer (docs/methods.md, "CNN": 0.5).
    pub dropout: f64,
    /// Adam learning rate (1e-3), betas (0.9, 0.999) and epsilon (1e-8).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Images per training step (32).
    pub batch: usize,
    /// Training epochs (the paper: 250).
    pub epochs: usize,
    /// Seed of the initial weights, the replica split, the shuffling and dropout.
    pub seed: u64,
    /// Fractions of replicas for training, validation and test (the paper: 4000 / 400 / 600 of 5000).
    pub split: [f64; 3],
    /// Augment the training snapshots with the system's exact symmetries: every epoch each training snapshot
    /// gets a fresh random periodic translation and one of the 8 symmetries of the square (seeded from `seed`,
    /// the epoch and the snapshot). Validation and test snapshots are never augmented. Not in the paper;
    /// `false` gives the paper's plain training.
    pub augment: bool,
    /// Standardize the images channel by channel before the network: subtract the mean pixel value and divide
    /// by the pixel standard deviation, both measured on the (unaugmented) training images and stored in
    /// config.json as `input_mean` and `input_std`. Makes the input scale independent of the grid size and the
    /// particle count. Not in the paper; `false` feeds the raw densities.
    pub standardize: bool,
    /// The float type of the network on the CPU: `f32`, the fast backend (the default), or `f64`, the twin the
    /// other paths are tested against (about 3 to 10 times slower). Training, Grad-CAM and scoring all run in
    /// it; the two agree within the spread over seeds, not bit for bit. The GPU path computes in f32 whatever
    /// this says.
    pub precision: Precision,
}

/// `ModelConfig::head`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    #[default]
    Flatten,
    Mean,
}

/// `ModelConfig::precision`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    /// The kernels crate's name for it (which CPU executor runs the plans).
    pub fn kernel(self) -> nn::Precision {
        match self {
            Precision::F32 => nn::Precision::F32,
            Precision::F64 => nn::Precision::F64,
        }
    }
}

/// Most images per training step: the network's buffers grow with it (1e6 images of 64 x 64 would ask for
/// over 100 GB).
pub const MAX_BATCH: usize = 4096;
/// Most training epochs (the paper trains 250).
pub const MAX_EPOCHS: usize = 1_000_000;

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            grid: 128,
            width: 0.3,
            cutoff: 4.0,
            conv_channels: vec![8, 16, 16],
            kernel: 5,
            head: HeadKind::Flatten,
            hidden: 64,
            dropout: 0.5,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            batch: 32,
            epochs: 250,
            seed: 0,
            split: [0.8, 0.08, 0.12],
            augment: true,
            standardize: true,
            precision: Precision::F32,
        }
    }
}

impl ModelConfig {
    /// The model for data sets of the `quick` simulation preset (`presets/quick-model.toml`): a 64 x 64 grid with
    /// a Gaussian width of 0.5 (just under a pixel for the quick boxes, L ~ 41-43), a small network (three 3 x 3
    /// convolutions of 4 maps, the `mean` head, 16 hidden units, no dropout), batches of 8 and 300 epochs,
    /// augmentation and standardization on. About 20 to 30 s per system on a 2-core CPU (f32 backend; benches/RESULTS.md).
    ///
    /// Why not the default network: the quick glasses are quenched so fast that they keep the liquid's structure and
    /// differ from it mostly in the amplitude of thermal vibrations, a few per cent of the images' short-wavelength
    /// power. From the ~100 training images of a quick data set the flattened head (260k inputs per hidden unit at
    /// G 64) cannot find that, while the mean head sees it directly.
    pub fn quick() -> ModelConfig {
        ModelConfig {
            grid: 64,
            width: 0.5,
            conv_channels: vec![4, 4, 4],
            kernel: 3,
            head: HeadKind::Mean,
            hidden: 16,
            dropout: 0.0,
            batch: 8,
            epochs: 300,
            augment: true,
            standardize: true,
            ..ModelConfig::default()
        }
    }

    /// Reads a TOML (or, by extension, JSON) model file.
    pub fn from_file(path: &Path) -> Result<ModelConfig> {
        let bad = |message: String| Error::Model {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read the model file: {e}")))?;
        Self::from_text(&text, path)
    }

    /// Parses and checks the text of a model file; `path` names it in messages and its extension picks JSON
    /// (`.json`) or TOML.
    pub fn from_text(text: &str, path: &Path) -> Result<ModelConfig> {
        let bad = |message: String| Error::Model {
            path: path.to_path_buf(),
            message,
        };
        let cfg: ModelConfig = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(text).map_err(|e| bad(format!("not a valid model file: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| {
                bad(format!(
                    "not a valid model file: {}",
                    e.to_string().trim_end()
                ))
            })?
        };
        cfg.check().map_err(bad)?;
        Ok(cfg)
    }

    /// Checks the values that do not depend on the data; the message names the field.
    pub fn check(&self) -> std::result::Result<(), String> {
        // bounds first: every size below is multiplied out into allocations
        if !(1..=MAX_GRID).contains(&self.grid) {
            return Err(format!(
                "field `grid` is {}; use 1..={MAX_GRID} pixels a side (an image is grid^2 floats per species)",
                self.grid
            ));
        }
        if !(1..=MAX_HIDDEN).contains(&self.hidden) {
            return Err(format!(
                "field `hidden` is {}; use 1..={MAX_HIDDEN}",
                self.hidden
            ));
        }
        if self.conv_channels.is_empty()
            || self.conv_channels.len() > MAX_CONV_LAYERS
            || self
                .conv_channels
                .iter()
                .any(|&c| !(1..=MAX_MAPS).contains(&c))
        {
            return Err(format!(
                "field `conv_channels` {:?}: give 1..={MAX_CONV_LAYERS} layers of 1..={MAX_MAPS} channels",
                self.conv_channels
            ));
        }
        if self.kernel.is_multiple_of(2) || self.kernel > self.grid {
            return Err(format!(
                "field `kernel` is {}; it must be odd and at most `grid` ({})",
                self.kernel, self.grid
            ));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(format!(
                "field `batch` = {}: give 1 to {MAX_BATCH} images per step (the paper: 32)",
                self.batch
            ));
        }
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Err(format!(
                "field `epochs` = {}: give 1 to {MAX_EPOCHS} (the paper: 250)",
                self.epochs
            ));
        }
        // Adam: a step of lr * m / (sqrt(v) + eps); an infinite lr or eps = 0 (0/0 on an unused weight) makes
        // the weights NaN at once
        crate::learn::check_lr("lr", self.lr, "default 1e-3").map_err(|e| format!("field {e}"))?;
        for (field, x, hint) in [
            ("eps", self.eps, "1e-8"),
            ("width", self.width, "0.3"),
            ("cutoff", self.cutoff, "4"),
        ] {
            if !(x > 0.0 && x.is_finite()) {
                return Err(format!(
                    "field `{field}` = {x}: give a finite number > 0 (default {hint})"
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "field `dropout` = {} must be in [0, 1) (the paper: 0.5)",
                self.dropout
            ));
        }
        if self.split.iter().any(|&f| f.is_nan() || f < 0.0)
            || (self.split.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(format!(
                "field `split` {:?} must be three non-negative fractions summing to 1",
                self.split
            ));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return Err(format!(
                "fields `beta1` = {} and `beta2` = {} must be in [0, 1) (default 0.9 and 0.999)",
                self.beta1, self.beta2
            ));
        }
        Ok(())
    }

    pub fn net_spec(&self, in_channels: usize) -> NetSpec {
        NetSpec {
            in_channels,
            grid: self.grid,
            conv: self.conv_channels.clone(),
            kernel: self.kernel,
            hidden: self.hidden,
            classes: 2,
            dropout: self.dropout,
            head: match self.head {
                HeadKind::Flatten => Head::Flatten,
                HeadKind::Mean => Head::Mean,
            },
        }
    }

    pub fn grid_spec(&self, box_l: f64) -> GridSpec {
        GridSpec {
            grid: self.grid,
            box_l,
            width: self.width,
            cutoff: self.cutoff,
        }
    }

    pub fn adam(&self) -> AdamSpec {
        AdamSpec {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
        }
    }
}
