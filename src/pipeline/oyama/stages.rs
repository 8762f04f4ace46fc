//! The stages of `reproduce oyama`, per system, in the order they run: the directories they own, the stages they
//! read and the files that mark them done, and the settings each records.

use serde::{Deserialize, Serialize};

use crate::analysis::CoarseGrain;
use crate::learn::cnn::{ModelConfig, ReplicaSet};
use crate::pipeline::runner::Stage;
use crate::sim::protocol::Protocol;
use crate::sim::system::SystemDef;

/// A stage of the main paper's pipeline.
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
#[serde(rename_all = "lowercase")]
pub enum OyamaStage {
    Simulate,
    Train,
    Gradcam,
    Analyze,
    Propensity,
}

impl OyamaStage {
    pub const ALL: [OyamaStage; 5] = [
        OyamaStage::Simulate,
        OyamaStage::Train,
        OyamaStage::Gradcam,
        OyamaStage::Analyze,
        OyamaStage::Propensity,
    ];
}

/// What a stage ran with: its own settings only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OyamaSettings {
    Simulate {
        system: SystemDef,
        protocol: Protocol,
        seed: u64,
    },
    Train {
        model: ModelConfig,
    },
    Gradcam {
        split: ReplicaSet,
        batch: usize,
    },
    Analyze {
        xi: f64,
        cutoff: f64,
    },
    Propensity {
        runs: usize,
        steps: u64,
        samples: usize,
        seed: u64,
        xi: f64,
    },
}

impl OyamaSettings {
    /// The analyze stage's settings for a coarse-graining.
    pub fn analyze(cg: CoarseGrain) -> OyamaSettings {
        OyamaSettings::Analyze {
            xi: cg.xi,
            cutoff: cg.cutoff_factor,
        }
    }
}

impl Stage for OyamaStage {
    type Settings = OyamaSettings;

    fn name(self) -> &'static str {
        match self {
            OyamaStage::Simulate => "simulate",
            OyamaStage::Train => "train",
            OyamaStage::Gradcam => "gradcam",
            OyamaStage::Analyze => "analyze",
            OyamaStage::Propensity => "propensity",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            OyamaStage::Simulate => "data",
            OyamaStage::Train => "model",
            OyamaStage::Gradcam => "gradcam",
            OyamaStage::Analyze => "analysis",
            OyamaStage::Propensity => "propensity",
        }
    }

    /// Of the same system.
    fn parents(self) -> &'static [OyamaStage] {
        match self {
            OyamaStage::Simulate => &[],
            OyamaStage::Train => &[OyamaStage::Simulate],
            OyamaStage::Gradcam => &[OyamaStage::Simulate, OyamaStage::Train],
            OyamaStage::Analyze | OyamaStage::Propensity => {
                &[OyamaStage::Simulate, OyamaStage::Gradcam]
            }
        }
    }

    fn outputs(self) -> &'static [&'static str] {
        match self {
            OyamaStage::Simulate => &["manifest.json", "positions.npy"],
            OyamaStage::Train => &["metrics.json", "model.safetensors"],
            OyamaStage::Gradcam => &["gradcam.json", "gamma.npy"],
            OyamaStage::Analyze => &["summary.json", "correlations.csv"],
            OyamaStage::Propensity => &["curves.json"],
        }
    }

    fn resumes(self) -> bool {
        self == OyamaStage::Simulate
    }
}

impl std::fmt::Display for OyamaStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
