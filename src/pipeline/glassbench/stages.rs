//! The stages of `reproduce glassbench`, in the order they run: the directories they own, the stages they read
//! and the files that mark them done, and the settings each records. Every stage runs once, for the system's unit.

use serde::{Deserialize, Serialize};

use super::preset::EnsembleSettings;
use crate::learn::dynamics::GnConfig;
use crate::pipeline::runner::Stage;
use crate::sim::minimize::MinimizeSettings;
use crate::sim::protocol::Protocol;
use crate::sim::relax::RelaxConfig;
use crate::sim::system::SystemDef;

/// A stage of the GlassBench pipeline.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum GlassbenchStage {
    /// Quenched starts relaxed at T, with the equilibration check.
    Starts,
    /// tau_alpha of the equilibrated starts and the time grid of the targets.
    TauAlpha,
    /// Isoconfigurational ensembles: the targets, their noise ceilings and the train/test subset.
    Targets,
    /// The inherent structures of the targets' configurations.
    Inherent,
    /// The descriptors and the baselines scored on the test configurations.
    Baselines,
    /// The propensity network trained on the training configurations.
    Network,
    /// The network's predictions on the test configurations, Pearson per time point, the figures.
    Score,
}

/// What a stage ran with: its own settings only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GlassbenchSettings {
    Starts {
        system: Box<SystemDef>,
        protocol: Protocol,
        relax: RelaxConfig,
        seed: u64,
    },
    TauAlpha {
        times_tau: Vec<f64>,
    },
    Targets {
        temperature: f64,
        ensembles: EnsembleSettings,
        seed: u64,
    },
    Inherent {
        minimize: MinimizeSettings,
    },
    Baselines {
        target: String,
        lengths: Vec<f64>,
        lambdas: Vec<f64>,
        split: [f64; 3],
        seed: u64,
    },
    Network {
        model: GnConfig,
    },
    Score {
        target: String,
    },
}

impl Stage for GlassbenchStage {
    type Settings = GlassbenchSettings;

    fn name(self) -> &'static str {
        match self {
            GlassbenchStage::Starts => "starts",
            GlassbenchStage::TauAlpha => "tau-alpha",
            GlassbenchStage::Targets => "targets",
            GlassbenchStage::Inherent => "inherent",
            GlassbenchStage::Baselines => "baselines",
            GlassbenchStage::Network => "network",
            GlassbenchStage::Score => "score",
        }
    }

    fn dir(self) -> &'static str {
        self.name()
    }

    fn parents(self) -> &'static [GlassbenchStage] {
        use GlassbenchStage::*;
        match self {
            Starts => &[],
            TauAlpha => &[Starts],
            Targets => &[Starts, TauAlpha],
            Inherent => &[Targets],
            Baselines => &[Targets, Inherent],
            Network => &[Targets],
            Score => &[Targets, Baselines, Network],
        }
    }

    fn outputs(self) -> &'static [&'static str] {
        match self {
            GlassbenchStage::Starts => &["relaxed/manifest.json", "relaxed/relax.json"],
            GlassbenchStage::TauAlpha => &["tau_alpha.json"],
            GlassbenchStage::Targets => &["manifest.json", "targets.json"],
            GlassbenchStage::Inherent => &["inherent.json"],
            GlassbenchStage::Baselines => &["baselines.json"],
            GlassbenchStage::Network => &["config.json", "metrics.json", "model.safetensors"],
            GlassbenchStage::Score => &["predictions.json", "score.json"],
        }
    }

    fn resumes(self) -> bool {
        false
    }
}

impl std::fmt::Display for GlassbenchStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
