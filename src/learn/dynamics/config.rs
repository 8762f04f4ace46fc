//! The propensity network's model file (`train --arch gn --model FILE`, TOML or JSON): every field with its
//! default (Bapst et al.'s settings) and the quick preset.

use std::path::Path;

use glasscam_kernels::gnn::bapst::{GnSpec, EDGE_IN};
use serde::{Deserialize, Serialize};

use super::graph::{INHERENT_EDGE_IN, INHERENT_NODE_IN};
use crate::error::{Error, Result};

/// Everything `glasscam train --arch gn` needs besides the data. Every field may be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GnConfig {
    /// Width of every MLP layer (Bapst: 64).
    pub hidden: usize,
    /// Message-passing steps with shared weights (Bapst: 7).
    pub steps: usize,
    /// Edges join particles closer than this (length units, minimum image; Bapst: 2.0).
    pub cutoff: f64,
    /// The target trained on: an array of the data set's targets (`propensity`, `bond_breaking`, ...).
    pub target: String,
    /// The species index whose particles are scored (0, A: GlassBench scores A only).
    pub species: u32,
    /// Adam's learning rate (Bapst: 1e-4).
    pub lr: f64,
    /// Gradients are scaled down to this global norm when larger (Bapst: 1.0); 0 leaves them as they are.
    pub clip: f64,
    /// Configurations per training step (Bapst: 1).
    pub batch: usize,
    pub epochs: usize,
    /// Seed of the weights, split, shuffling and augmentation.
    pub seed: u64,
    /// Fractions of replicas for training, validation and test. With the targets' own `subset`, its test
    /// configurations are the test set and its training configurations are cut into training and validation in
    /// the ratio of the first two fractions.
    pub split: [f64; 3],
    /// A random rotation and reflection of every configuration's edge vectors in every training step.
    pub augment: bool,
    /// Predictions averaged over the square box's 8 rotations and reflections of the edge vectors, so that they
    /// do not change when the configuration is rotated by 90 degrees or mirrored.
    pub symmetrize: bool,
    /// The inherent structure of each configuration as more inputs (`train` and `predict` then need
    /// `--inherent`, the output of `glasscam minimize`): each edge carries the relative vector in the inherent
    /// structure beside the configuration's, and each node its displacement to the inherent structure, the
    /// length of it, and its energy there (standardized over the training configurations). Bapst: false.
    pub inherent: bool,
}

impl Default for GnConfig {
    fn default() -> Self {
        GnConfig {
            hidden: 64,
            steps: 7,
            cutoff: 2.0,
            target: "propensity".into(),
            species: 0,
            lr: 1e-4,
            clip: 1.0,
            batch: 1,
            epochs: 1000,
            seed: 0,
            split: [0.8, 0.1, 0.1],
            augment: true,
            symmetrize: true,
            inherent: false,
        }
    }
}

impl GnConfig {
    /// Sized for two CPU cores: width 16, 2 steps, learning rate 1e-3, 200 epochs (Bapst's cutoff, clip and batch),
    /// with the inherent structures as inputs.
    pub fn quick() -> GnConfig {
        GnConfig {
            hidden: 16,
            steps: 2,
            lr: 1e-3,
            epochs: 200,
            inherent: true,
            ..GnConfig::default()
        }
    }

    /// Reads a TOML (or, by extension, JSON) model file.
    pub fn from_file(path: &Path) -> Result<GnConfig> {
        let bad = |message: String| Error::Model {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read the model file: {e}")))?;
        let cfg: GnConfig = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        }
        .map_err(bad)?;
        cfg.check().map_err(bad)?;
        Ok(cfg)
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.hidden == 0 || self.steps == 0 || self.batch == 0 {
            return Err("`hidden`, `steps` and `batch` must be >= 1".into());
        }
        if !(self.cutoff > 0.0 && self.cutoff.is_finite()) {
            return Err(format!(
                "`cutoff` = {} must be finite and > 0 (Bapst: 2.0)",
                self.cutoff
            ));
        }
        crate::learn::check_lr("lr", self.lr, "Bapst: 1e-4")?;
        if !(self.clip >= 0.0 && self.clip.is_finite()) {
            return Err(format!(
                "`clip` = {} must be finite and >= 0 (0: no clipping)",
                self.clip
            ));
        }
        crate::learn::split::check_fractions(self.split)
    }

    /// The network for `n_species` species and `outputs` time points.
    pub fn spec(&self, n_species: usize, outputs: usize) -> GnSpec {
        let (node_in, edge_in) = match self.inherent {
            true => (INHERENT_NODE_IN, INHERENT_EDGE_IN),
            false => (0, EDGE_IN),
        };
        GnSpec {
            n_species,
            node_in,
            edge_in,
            hidden: self.hidden,
            steps: self.steps,
            outputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_preset_file_is_gn_config_quick() {
        let file: GnConfig =
            toml::from_str(include_str!("../../../presets/quick-gn.toml")).unwrap();
        assert_eq!(file, GnConfig::quick());
        let paper: GnConfig =
            toml::from_str(include_str!("../../../presets/paper-gn.toml")).unwrap();
        assert_eq!(paper, GnConfig::default());
    }
}
