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
    /// The loss takes the particles of every species, not only those of `species`: more examples of how
    /// structure sets mobility, on the same standardization (that of `species`' targets). Validation, the kept
    /// epoch and the scores still read `species` alone. false (Bapst): `species` only.
    pub all_species: bool,
    /// Adam's learning rate (Bapst: 1e-4).
    pub lr: f64,
    /// Gradients are scaled down to this global norm when larger (Bapst: 1.0); 0 leaves them as they are.
    pub clip: f64,
    /// Configurations per training step (Bapst: 1).
    pub batch: usize,
    /// Decoupled weight decay (AdamW): every step first scales the parameters by 1 - lr x weight_decay. 0 (Bapst):
    /// none.
    pub weight_decay: f64,
    /// Decay per step of an exponential moving average of the parameters, which validation scores and the saved
    /// model uses in place of the last step's; it averages out the noise of single-configuration steps. 0
    /// (Bapst): the last step's parameters.
    pub average: f64,
    pub epochs: usize,
    /// Seed of the weights, split, shuffling and augmentation.
    pub seed: u64,
    /// Networks trained on the same split from different seeds (`member_seed`), each keeping its best validation
    /// epoch; the model predicts their mean. 1 (Bapst): one network.
    pub members: usize,
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
    /// The descriptor baselines' structural descriptors (`glasscam baselines`: the potential energy, local density,
    /// Voronoi area and perimeter, Tong-Tanaka's Theta and, with `inherent`, the distance to the inherent
    /// structure) as more node inputs, raw (a length of 0) and coarse-grained at each of these lengths, each
    /// standardized over the training configurations. With `inherent` they are those of the inherent structure,
    /// as the baselines' are. Empty (Bapst): none.
    pub descriptor_lengths: Vec<f64>,
}

impl Default for GnConfig {
    fn default() -> Self {
        GnConfig {
            hidden: 64,
            steps: 7,
            cutoff: 2.0,
            target: "propensity".into(),
            species: 0,
            all_species: false,
            lr: 1e-4,
            clip: 1.0,
            batch: 1,
            weight_decay: 0.0,
            average: 0.0,
            epochs: 1000,
            seed: 0,
            members: 1,
            split: [0.8, 0.1, 0.1],
            augment: true,
            symmetrize: true,
            inherent: false,
            descriptor_lengths: Vec::new(),
        }
    }
}

impl GnConfig {
    /// Sized for two CPU cores: width 16, 2 steps, learning rate 1e-3, 200 epochs (Bapst's cutoff, clip and batch),
    /// with the inherent structures and the baselines' descriptors as inputs, the loss on every species, weight
    /// decay 0.5 and a moving average of the parameters.
    pub fn quick() -> GnConfig {
        GnConfig {
            hidden: 16,
            steps: 2,
            lr: 1e-3,
            epochs: 200,
            all_species: true,
            weight_decay: 0.5,
            average: 0.995,
            inherent: true,
            descriptor_lengths: vec![0.0, 1.0, 2.0, 4.0],
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
        if self.hidden == 0 || self.steps == 0 || self.batch == 0 || self.members == 0 {
            return Err("`hidden`, `steps`, `batch` and `members` must be >= 1".into());
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
        if !(self.weight_decay >= 0.0 && self.lr * self.weight_decay < 1.0) {
            return Err(format!(
                "`weight_decay` = {} must be >= 0 with lr x weight_decay below 1, such as 0.01 (0: none)",
                self.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&self.average) {
            return Err(format!(
                "`average` = {} must be in [0, 1): the decay per step of the parameters' moving average, such as \
                 0.995 (0: none)",
                self.average
            ));
        }
        crate::analysis::descriptors::check_lengths(
            "descriptor_lengths",
            &self.descriptor_lengths,
        )?;
        crate::learn::split::check_fractions(self.split)
    }

    /// The species whose particles the loss takes (`gnn::bapst::ALL_SPECIES` for every one).
    pub fn loss_species(&self) -> u32 {
        match self.all_species {
            true => glasscam_kernels::gnn::bapst::ALL_SPECIES,
            false => self.species,
        }
    }

    /// The seed of member `k`'s weights, shuffling and augmentation: `seed` itself for the first, so that one
    /// member is the network `seed` trains alone; the split always comes from `seed`.
    pub fn member_seed(&self, k: usize) -> u64 {
        match k {
            0 => self.seed,
            _ => glasscam_kernels::rng::mix(
                self.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
        }
    }

    /// The descriptor columns among the node inputs.
    pub fn n_descriptors(&self) -> usize {
        crate::analysis::descriptors::n_columns(self.inherent, self.descriptor_lengths.len())
    }

    /// The 2D vectors at the start of each node's inputs, which the rotations and reflections turn: the
    /// displacement to the inherent structure.
    pub fn node_vectors(&self) -> usize {
        usize::from(self.inherent)
    }

    /// The network for `n_species` species and `outputs` time points.
    pub fn spec(&self, n_species: usize, outputs: usize) -> GnSpec {
        let (node_in, edge_in) = match self.inherent {
            true => (INHERENT_NODE_IN, INHERENT_EDGE_IN),
            false => (0, EDGE_IN),
        };
        GnSpec {
            n_species,
            node_in: node_in + self.n_descriptors(),
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
