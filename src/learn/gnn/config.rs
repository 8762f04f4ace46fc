//! The graph network's model file (`train --arch mpnn --model FILE`, TOML or JSON): every field with its default.

use std::path::Path;

use glasscam_kernels::gnn::{Attention, MpnnSpec, Schedule};
use serde::{Deserialize, Serialize};

use super::graph::Region;
use crate::error::{Error, Result};

/// `attention` in the model file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionMode {
    /// No bond attention.
    None,
    /// Softmax over each graph's edges (default: a graph's output does not depend on the other graphs of its
    /// batch, so training and evaluation see the same function).
    #[default]
    Graph,
    /// Softmax over all edges of the mini-batch, as Swanson's code does.
    Batch,
}

/// Everything `glasscam train --arch mpnn` needs besides the data. Every field may be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MpnnConfig {
    /// Hidden width of messages, readout and head (docs/methods.md, "Graph network": 64).
    pub hidden: usize,
    /// T: T - 1 message updates with shared weights, then the readout (3).
    pub depth: usize,
    /// Nearest neighbours per particle before symmetrisation (6).
    pub k: usize,
    pub attention: AttentionMode,
    /// Dropout after every update, the readout and the hidden head layer (0.1).
    pub dropout: f64,
    /// Learning rate schedule: linear warm-up init_lr -> max_lr over warmup_epochs, then exponential decay to
    /// final_lr at the last step (Swanson: 1e-4, 1e-3, 1e-4, 2 epochs).
    pub init_lr: f64,
    pub max_lr: f64,
    pub final_lr: f64,
    pub warmup_epochs: f64,
    /// Graphs per training step (8).
    pub batch: usize,
    pub epochs: usize,
    /// Seed of the weights, split, shuffling and dropout.
    pub seed: u64,
    /// Fractions of replicas for training, validation and test (the CNN's).
    pub split: [f64; 3],
    /// Side of Swanson's square window (length units); absent: the whole periodic box.
    pub window: Option<f64>,
}

impl Default for MpnnConfig {
    fn default() -> Self {
        MpnnConfig {
            hidden: 64,
            depth: 3,
            k: 6,
            attention: AttentionMode::Graph,
            dropout: 0.1,
            init_lr: 1e-4,
            max_lr: 1e-3,
            final_lr: 1e-4,
            warmup_epochs: 2.0,
            batch: 8,
            epochs: 10,
            seed: 0,
            split: [0.8, 0.08, 0.12],
            window: None,
        }
    }
}

impl MpnnConfig {
    /// The network for data sets of the `quick` simulation preset (`presets/quick-mpnn.toml`, the same values):
    /// hidden 16 (a quarter of the default's), no dropout, peak learning rate 1e-2 after one warm-up epoch, decaying
    /// to 1e-3, batches of 4, 10 epochs. The pooled graph features of a quick glass and liquid differ by a few per
    /// cent, so the head needs large weights: at the default 1e-3 the loss sat at ln 2 for 10 epochs (test AUC 1.0
    /// on quick kam, but uncalibrated), at 1e-2 it leaves the plateau near epoch 7 and ends at 0.13 (docs/reference/model-files.md).
    pub fn quick() -> MpnnConfig {
        MpnnConfig {
            hidden: 16,
            dropout: 0.0,
            max_lr: 1e-2,
            final_lr: 1e-3,
            warmup_epochs: 1.0,
            batch: 4,
            ..MpnnConfig::default()
        }
    }

    /// Reads a TOML (or, by extension, JSON) model file.
    pub fn from_file(path: &Path) -> Result<MpnnConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            message: format!("cannot read the model file: {e}"),
        })?;
        let cfg: MpnnConfig = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        }
        .map_err(|message| Error::Model {
            path: path.to_path_buf(),
            message,
        })?;
        cfg.check().map_err(|message| Error::Model {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.hidden == 0 || self.depth == 0 || self.batch == 0 {
            return Err("`hidden`, `depth` and `batch` must be >= 1".into());
        }
        if self.k == 0 {
            return Err("`k` = 0 leaves every node isolated; use k >= 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("`dropout` = {} must be in [0, 1)", self.dropout));
        }
        for (field, x) in [
            ("init_lr", self.init_lr),
            ("max_lr", self.max_lr),
            ("final_lr", self.final_lr),
        ] {
            crate::learn::check_lr(field, x, "Swanson: 1e-4, 1e-3, 1e-4")?;
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs.is_finite()) {
            return Err(format!(
                "`warmup_epochs` = {} must be finite and >= 0",
                self.warmup_epochs
            ));
        }
        if let Some(w) = self.window {
            if w.is_nan() || w <= 0.0 {
                return Err(format!("`window` = {w} must be > 0"));
            }
        }
        Ok(())
    }

    /// The network for `n_species` species and distance standardization (mean, std).
    pub fn spec(&self, n_species: usize, (dist_mean, dist_std): (f64, f64)) -> MpnnSpec {
        MpnnSpec {
            n_species,
            hidden: self.hidden,
            depth: self.depth,
            attention: match self.attention {
                AttentionMode::None => Attention::Off,
                AttentionMode::Graph => Attention::Graph,
                AttentionMode::Batch => Attention::Batch,
            },
            dropout: self.dropout,
            classes: 2,
            dist_mean,
            dist_std,
        }
    }

    /// The schedule for `steps_per_epoch` steps per epoch.
    pub fn schedule(&self, steps_per_epoch: usize) -> Schedule {
        Schedule {
            init_lr: self.init_lr,
            max_lr: self.max_lr,
            final_lr: self.final_lr,
            warmup: (self.warmup_epochs * steps_per_epoch as f64).round() as u64,
            total: (self.epochs * steps_per_epoch) as u64,
        }
    }

    /// The graph region of snapshot `snapshot` (a window seeded by the model seed and the snapshot).
    pub fn region(&self, snapshot: usize) -> Region {
        match self.window {
            None => Region::Periodic,
            Some(side) => Region::Window {
                side,
                seed: self.seed ^ (snapshot as u64).wrapping_mul(glasscam_kernels::rng::GOLDEN),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_preset_file_is_mpnn_config_quick() {
        let file: MpnnConfig =
            toml::from_str(include_str!("../../../presets/quick-mpnn.toml")).unwrap();
        assert_eq!(file, MpnnConfig::quick());
        // the abm variant changes only the peak rate and the epochs
        let abm: MpnnConfig =
            toml::from_str(include_str!("../../../presets/quick-mpnn-abm.toml")).unwrap();
        let want = MpnnConfig {
            max_lr: 5e-3,
            epochs: 60,
            ..MpnnConfig::quick()
        };
        assert_eq!(abm, want);
    }
}
