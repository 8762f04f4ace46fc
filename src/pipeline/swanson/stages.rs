//! The stages of `reproduce swanson`, in the order they run: the directories they own, the stages they read and
//! the files that mark them done, and the settings each records. The ramp and inherent stages run per ramp, the
//! training stages per task, the others once for the pipeline's own unit.

use serde::{Deserialize, Serialize};

use super::preset::{RampSettings, SwansonTask, TaskInput};
use crate::learn::cnn::ModelConfig;
use crate::learn::gnn::MpnnConfig;
use crate::pipeline::runner::Stage;
use crate::sim::minimize::MinimizeSettings;
use crate::sim::system::SystemDef;

/// A stage of Swanson et al.'s pipeline.
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
pub enum SwansonStage {
    /// One cooling ramp with snapshots along it (the MD).
    Ramp,
    /// The ramp's snapshots minimised (FIRE) to their inherent structures; a stage of its own, so that an
    /// interrupted minimisation never runs the finished ramp again.
    Inherent,
    /// The six liquid-vs-glass tasks and the null task, from the two ramps.
    Tasks,
    /// The CNN trained on one task.
    #[serde(rename = "train-cnn")]
    TrainCnn,
    /// The graph network trained on one task.
    #[serde(rename = "train-mpnn")]
    TrainMpnn,
    /// Every model scored on every task's test split: the AUC matrices.
    Evaluate,
    /// The graph network's attention metrics and Grad-CAM of the same configurations.
    Attention,
}

/// What a stage ran with: its own settings only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwansonSettings {
    /// A ramp (its protocol carries the ramp's snapshot temperatures).
    Ramp {
        system: Box<SystemDef>,
        ramp: RampSettings,
        seed: u64,
    },
    /// FIRE on the snapshots of a ramp's first `replicas` replicas (`None`: all).
    Inherent {
        minimize: MinimizeSettings,
        replicas: Option<usize>,
    },
    Tasks {
        tasks: Vec<SwansonTask>,
        /// Seed of the null task's labels.
        seed: u64,
        /// Left out when `snapshots`, so that the stage's fingerprint is the one it had before the choice existed.
        #[serde(default, skip_serializing_if = "TaskInput::is_snapshots")]
        input: TaskInput,
    },
    #[serde(rename = "train-cnn")]
    TrainCnn {
        model: ModelConfig,
    },
    #[serde(rename = "train-mpnn")]
    TrainMpnn {
        model: MpnnConfig,
    },
    Evaluate {
        tasks: Vec<SwansonTask>,
    },
    Attention {
        task: SwansonTask,
        threshold: f64,
    },
}

impl Stage for SwansonStage {
    type Settings = SwansonSettings;

    fn name(self) -> &'static str {
        match self {
            SwansonStage::Ramp => "ramp",
            SwansonStage::Inherent => "inherent",
            SwansonStage::Tasks => "tasks",
            SwansonStage::TrainCnn => "train-cnn",
            SwansonStage::TrainMpnn => "train-mpnn",
            SwansonStage::Evaluate => "evaluate",
            SwansonStage::Attention => "attention",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            SwansonStage::Ramp => "data",
            // inside the ramp's data set, where a data set's minima are looked for (`DIR/inherent`)
            SwansonStage::Inherent => "data/inherent",
            SwansonStage::Tasks => "tasks",
            SwansonStage::TrainCnn => "cnn",
            SwansonStage::TrainMpnn => "mpnn",
            SwansonStage::Evaluate => "evaluate",
            SwansonStage::Attention => "attention",
        }
    }

    /// Across ramps and tasks: the pipeline passes the fingerprints of the units it reads.
    fn parents(self) -> &'static [SwansonStage] {
        match self {
            SwansonStage::Ramp => &[],
            SwansonStage::Inherent => &[SwansonStage::Ramp],
            SwansonStage::Tasks => &[SwansonStage::Ramp, SwansonStage::Inherent],
            SwansonStage::TrainCnn | SwansonStage::TrainMpnn => &[SwansonStage::Tasks],
            SwansonStage::Evaluate | SwansonStage::Attention => &[
                SwansonStage::Tasks,
                SwansonStage::TrainCnn,
                SwansonStage::TrainMpnn,
            ],
        }
    }

    fn outputs(self) -> &'static [&'static str] {
        match self {
            SwansonStage::Ramp => &["manifest.json", "positions.npy"],
            SwansonStage::Inherent => &["manifest.json", "positions.npy", "inherent.json"],
            SwansonStage::TrainCnn | SwansonStage::TrainMpnn => {
                &["metrics.json", "model.safetensors"]
            }
            SwansonStage::Tasks => &["tasks.json"],
            SwansonStage::Evaluate => &["matrices.json"],
            SwansonStage::Attention => &["attention.json", "gradcam/gradcam.json"],
        }
    }

    fn resumes(self) -> bool {
        self == SwansonStage::Ramp
    }
}

impl std::fmt::Display for SwansonStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
